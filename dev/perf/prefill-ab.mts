// A/B of a prompt's prefill inside one process: "stack" runs every layer in one native call (prefillDecoderLayers →
// native/prefill_layer.c zy_prefill_stack), "layer" one native call a layer, "mlp" keeps the layer ops off (session 11's path: the tensor ops for the attention
// sublayer, the MLP sublayer as one call), "tensor" turns both ops off. Interleaved passes of one prompt (the order
// alternates by round); prints per arm the median process CPU ms and wall ms per pass and the B/A speed of each arm
// against the first (the baseline: name it first), and checks every arm's logits agree bit for bit.
// "rows" / "cols": "stack" with panel layers split by rows around every product (ZHIYU_PREFILL_SPLIT=rows) / by weight
// columns inside the products (=cols); "auto": the default (cols up to 160 rows, paused while threads arrive late).
// usage: node --import tsx dev/perf/prefill-ab.mts MODEL.gguf [--threads 2] [--rounds 15] [--tokens 128] [--kv-type f32] [--arms mlp,layer,stack]
// (one arm alone, e.g. --arms layer --rounds 40: a steady load for `perf record` / `perf stat`).
// Leaves out: comparing builds (dev/perf/checkout-ab.mjs does).
import { createBackend } from "../../src/backend/index.js";
import { loadModel } from "../../src/infer/load.js";
import type { KvCacheType } from "../../src/models/kv-cache.js";
import { setDefaultBackend } from "../../src/tensor/index.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const threads = Number(opt("threads", "2")), rounds = Number(opt("rounds", "15")), tokens = Number(opt("tokens", "128"));
const backend = createBackend({ threads });
setDefaultBackend(backend);
const model = await loadModel(args[0]!, { backend, contextLength: tokens + 8, kvCacheType: opt("kv-type", "f32") as KvCacheType });
const prompt = Array.from({ length: tokens }, (_, i) => 100 + ((i * 7919) % 5000));
const proto = Object.getPrototypeOf(backend) as object;
const getter = (name: string) => Object.getOwnPropertyDescriptor(proto, name)!.get!.call(backend) as unknown;
const layerOp = getter("prefillLayerPanels"), stackOp = getter("prefillStackPanels"), mlpOp = getter("prefillMlpPanels");
const set = (name: string, v: unknown) => Object.defineProperty(backend, name, { value: v, configurable: true });
const stackOn = () => { delete process.env.ZHIYU_PREFILL_SPLIT; set("prefillStackPanels", stackOp); set("prefillLayerPanels", layerOp); set("prefillMlpPanels", mlpOp); };
const arms = {
  stack: stackOn,
  layer: () => { set("prefillStackPanels", undefined); set("prefillLayerPanels", layerOp); set("prefillMlpPanels", mlpOp); },
  mlp: () => { set("prefillStackPanels", undefined); set("prefillLayerPanels", undefined); set("prefillMlpPanels", mlpOp); },
  tensor: () => { set("prefillStackPanels", undefined); set("prefillLayerPanels", undefined); set("prefillMlpPanels", undefined); },
  // ZHIYU_PREFILL_SPLIT is read by each native call
  rows: () => { stackOn(); process.env.ZHIYU_PREFILL_SPLIT = "rows"; },
  cols: () => { stackOn(); process.env.ZHIYU_PREFILL_SPLIT = "cols"; },
  auto: stackOn,
} as const;
type Arm = keyof typeof arms;
const chosen = opt("arms", "mlp,layer,stack").split(",") as Arm[];

const pass = () => {
  const seq = model.createSequence();
  const c0 = process.cpuUsage(), t0 = performance.now();
  const logits = model.forward([{ seq, tokens: prompt }])[0]!;
  const wall = performance.now() - t0, c = process.cpuUsage(c0);
  seq.dispose();
  return { wall, cpu: (c.user + c.system) / 1000, logits };
};

const res = Object.fromEntries(chosen.map((a) => [a, { wall: [] as number[], cpu: [] as number[] }])) as Record<Arm, { wall: number[]; cpu: number[] }>;
let reference: Float32Array | null = null;
let mismatch = "";
for (const a of chosen) { arms[a](); pass(); } // warm-up: panels packed, scratch grown
for (let r = 0; r < rounds; r++) {
  for (const a of r % 2 === 0 ? chosen : [...chosen].reverse()) {
    arms[a]();
    const p = pass();
    res[a].wall.push(p.wall), res[a].cpu.push(p.cpu);
    if (!reference) reference = p.logits;
    else if (!mismatch && !p.logits.every((v, i) => Object.is(v, reference![i]))) mismatch = `${a} (round ${r})`;
  }
}
const med = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1]!;
const base = chosen[0]!;
console.log(`${args[0]} pp${tokens}, ${threads} threads, ${rounds} rounds (median ms per pass; speed = ${base} / arm time)`);
for (const a of chosen) {
  const w = med(res[a].wall), c = med(res[a].cpu);
  console.log(`  ${a.padEnd(7)} wall ${w.toFixed(1).padStart(8)}  cpu ${c.toFixed(1).padStart(8)}  | ${base}/arm: wall ${(med(res[base].wall) / w).toFixed(3)}x cpu ${(med(res[base].cpu) / c).toFixed(3)}x`);
}
console.log(mismatch ? `logits DIFFER: ${mismatch}` : "logits: every arm bit-identical");

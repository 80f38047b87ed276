// Where a BERT embedding pass spends its time: wall time per backend op (every Backend method wrapped), the rest
// (JS: tensor graph, packing, pooling) as the difference to the pass's wall time. Batch B × T tokens, as
// `zhiyu bench embed` feeds it (T − 2 copies of one ordinary token between [CLS] and [SEP]).
// With --ab: no per-op split; the fused "encoder-layer-forward" path and the tensor path (BertOptions.fusedLayers
// false) alternate round by round, and the medians of both are printed (an A/B that a loaded machine cannot skew).
// With --ab-packed: the same, fused on weights packed once into GEMM panels (BertOptions.packWeights, the default)
// vs fused on the unpacked weights; also the median process CPU time per pass of each (robust to a loaded machine
// with --threads 1).
// usage: node --import tsx dev/bert/profile-embed.ts --model FILE.gguf [--batch 1] [--tokens 128] [--threads 2] [--rounds 5] [--ab | --ab-packed]
// Leaves out: per-call size splits (bench train --profile-sizes has them).
import { parseArgs } from "node:util";
import { createBackend, type Backend } from "../../src/backend/index.js";
import { loadEncoder } from "../../src/infer/encoder.js";
import { BertModel, packSequences } from "../../src/models/bert/model.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";

const { values } = parseArgs({ options: { model: { type: "string" }, batch: { type: "string" }, tokens: { type: "string" },
  threads: { type: "string" }, rounds: { type: "string" }, ab: { type: "boolean" }, "ab-packed": { type: "boolean" } } });
if (!values.model) throw new Error("--model FILE is required");
const batch = Number(values.batch ?? 1), tokens = Number(values.tokens ?? 128), rounds = Number(values.rounds ?? 5);
const totals = new Map<string, { calls: number; ms: number }>();
let on = false;
const base = createBackend({ threads: Number(values.threads ?? 2) });
const backend = new Proxy(base, {
  get(target, prop, receiver) {
    const value = Reflect.get(target, prop, receiver) as unknown;
    if (typeof value !== "function" || typeof prop !== "string") return value;
    const fn = value as (...args: unknown[]) => unknown;
    return (...args: unknown[]) => {
      if (!on) return fn.apply(target, args);
      const t0 = performance.now();
      try {
        return fn.apply(target, args);
      } finally {
        const key = prop === "unary" || prop === "binary" ? `${prop}:${String(args[0])}`
          : prop === "matmul" ? `matmul:${String(args[4])}` : prop === "quantMatmul" ? `quantMatmul:${String(args[1])}` : prop;
        const t = totals.get(key) ?? { calls: 0, ms: 0 };
        t.calls++; t.ms += performance.now() - t0; totals.set(key, t);
      }
    };
  },
}) as Backend;
setDefaultBackend(backend);
const enc = loadEncoder(values.model, { backend });
const word = enc.tokenize("hello").ids[1]!;
const seqs = Array.from({ length: batch }, () => enc.tokenize("x").ids.length === 3
  ? { ids: [enc.tokenize("x").ids[0]!, ...new Array<number>(tokens - 2).fill(word), enc.tokenize("x").ids[2]!] } : { ids: [word] });
enc.embedSequences(seqs); // warm-up
if (values["ab-packed"]) {
  const unpacked = new BertModel(enc.model.config, enc.model.params, { packWeights: false });
  const batchPacked = packSequences(enc.model.config, seqs);
  const time = (m: BertModel): [number, number] => {
    const c0 = process.cpuUsage(), t0 = performance.now();
    noGrad(() => tidy(() => m.encode(batchPacked).toFloat32Array()));
    const c = process.cpuUsage(c0);
    return [performance.now() - t0, (c.user + c.system) / 1000];
  };
  const packed: [number, number][] = [], plain: [number, number][] = [];
  time(unpacked);
  for (let r = 0; r < rounds; r++) { packed.push(time(enc.model)); plain.push(time(unpacked)); }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  const wall = (a: [number, number][]) => med(a.map((t) => t[0])), cpu = (a: [number, number][]) => med(a.map((t) => t[1]));
  console.log(`${values.model}: batch ${batch} × ${tokens} tokens, ${rounds} alternating rounds, encoder pass median: ` +
    `packed ${wall(packed).toFixed(1)} ms, unpacked ${wall(plain).toFixed(1)} ms (${(wall(plain) / wall(packed)).toFixed(2)}×); ` +
    `min ${Math.min(...packed.map((t) => t[0])).toFixed(1)} / ${Math.min(...plain.map((t) => t[0])).toFixed(1)} ms; ` +
    `CPU ${cpu(packed).toFixed(1)} / ${cpu(plain).toFixed(1)} ms (${(cpu(plain) / cpu(packed)).toFixed(2)}×)`);
  process.exit(0);
}
if (values.ab) {
  const reference = new BertModel(enc.model.config, enc.model.params, { fusedLayers: false });
  const batchPacked = packSequences(enc.model.config, seqs);
  const time = (m: BertModel) => { const t0 = performance.now(); noGrad(() => tidy(() => m.encode(batchPacked).toFloat32Array())); return performance.now() - t0; };
  const fused: number[] = [], ref: number[] = [];
  time(reference);
  for (let r = 0; r < rounds; r++) { fused.push(time(enc.model)); ref.push(time(reference)); }
  const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1]!;
  console.log(`${values.model}: batch ${batch} × ${tokens} tokens, ${rounds} alternating rounds, encoder pass median: ` +
    `fused ${med(fused).toFixed(1)} ms, tensor path ${med(ref).toFixed(1)} ms (${(med(ref) / med(fused)).toFixed(2)}×); ` +
    `min ${Math.min(...fused).toFixed(1)} / ${Math.min(...ref).toFixed(1)} ms`);
  process.exit(0);
}
let wall = 0;
const passes: number[] = [];
for (let r = 0; r < rounds; r++) {
  on = true;
  const t0 = performance.now();
  enc.embedSequences(seqs);
  const dt = performance.now() - t0;
  on = false;
  wall += dt; passes.push(dt);
}
const ops = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms);
const inOps = ops.reduce((s, [, t]) => s + t.ms, 0);
console.log(`${values.model}: batch ${batch} × ${tokens} tokens, ${rounds} rounds, per pass ${(wall / rounds).toFixed(1)} ms ` +
  `(min ${Math.min(...passes).toFixed(1)}), ${(batch * rounds / wall * 1000).toFixed(2)} sentences/s`);
for (const [k, t] of ops) console.log(`${k.padEnd(28)} ${String(t.calls / rounds).padStart(6)} calls/pass ${(t.ms / rounds).toFixed(2).padStart(9)} ms/pass ${(100 * t.ms / wall).toFixed(1).padStart(5)} %`);
console.log(`${"outside backend ops (JS)".padEnd(28)} ${"".padStart(6)}            ${((wall - inOps) / rounds).toFixed(2).padStart(9)} ms/pass ${(100 * (wall - inOps) / wall).toFixed(1).padStart(5)} %`);
enc.dispose();

// A/B of the decode step's layer stack inside one process: "stack" runs every layer of a step and the output norm and
// head in one native call (DecoderLayerRun.stack with a head; LLaMA-family models), "nohead" the layers in one call
// and the head on the tensor path, "layers" one call per layer (the op's step(), the fallback), on the same model
// and the same prepared layers; "calls" is "stack" kept off its rows path (stack(…, rows = false): a pool dispatch
// per product instead of the products split by rows inside one task between attention calls), "always" the rows
// path even while its threads keep arriving late ("stack" then steps aside for a while). Interleaved arms of 64 greedy decode tokens each (the
// order alternates by round); prints per arm the median process CPU ms per token and the median wall ms per token
// (on a shared machine CPU time is the steadier figure: time not scheduled does not count, pool spinning does), and
// checks both arms' logits agree bit for bit; also the 10th percentile and minimum of the per-token wall ms over all
// rounds (step_p10, step_min: the least loaded tokens, the nearest a loaded machine gets to a quiet figure).
// usage: node --import tsx dev/perf/stack-ab.mts MODEL.gguf [--threads 2] [--rounds 8] [--tokens 64] [--depth 0] [--arms stack,nohead,layers,calls,always,fresh,apart,intask,pf8,pf32]
// The ratios printed are each arm's over the first arm named.
// --depth N: each arm decodes after an N-token prompt (the prompt's prefill is not timed). --arms a,b: those arms only
// (one arm alone: for `perf stat` at two --rounds, whose difference is the per-token cost).
// "fresh": "always" with a fresh logits array from every step (forward() without ForwardOptions.into; the other arms
// reuse one buffer, as generation, the server and bench decode do). "apart": "always" with attention between the
// rows path's dispatches at every depth, "intask": inside the task (split by kv heads) at every depth; the others
// the addon's default (inside up to 512 keys); "keysN" (e.g. keys32): "always" with attention inside up to N keys.
// Knobs through the addon's decoderOptions (process-wide, set per arm).
// Leaves out: comparing builds (dev/perf/checkout-ab.mjs does).
import { createBackend } from "../../src/backend/index.js";
import { loadNative } from "../../src/backend/native.js";
import type { DecoderLayerRun } from "../../src/backend/backend.js";
import { loadModel } from "../../src/infer/load.js";
import { argmax } from "../../src/infer/sampler.js";
import { setDefaultBackend } from "../../src/tensor/index.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1]! : def; };
const threads = Number(opt("threads", "2")), rounds = Number(opt("rounds", "8")), tokens = Number(opt("tokens", "64"));
const depth = Number(opt("depth", "0"));
const backend = createBackend({ threads });
setDefaultBackend(backend);
const model = await loadModel(args[0]!, { backend, kvCacheType: depth > 0 ? "f16" : "f32", contextLength: Math.max(depth, 4) + tokens + 8 });
// The model asks the backend for its layer shape's op; every shape the cpu backend offers shares one run object.
const run = backend.fused?.("decoder-layer-decode", { norm: "pre-rms", attention: "rotary-gqa", mlp: "swiglu" }) as DecoderLayerRun | null;
if (!run?.stack) throw new Error("the backend's decoder-layer-decode op has no stack() (addon without decoderStackStep)");
const stack = run.stack;
const prompt = Array.from({ length: Math.max(4, depth) }, (_, i) => (i * 7919 + 13) % model.vocabSize);

let reuseLogits = true; // every arm but "fresh": one logits buffer for all steps (ForwardOptions.into, as generation does)
let steps: number[] = []; // this arm's per-token wall ms (the 10th percentile over all rounds: the least loaded steps)
const decode = () => {
  const seq = model.createSequence();
  const into = reuseLogits ? new Float32Array(model.vocabSize) : undefined;
  let logits = model.forward([{ seq, tokens: prompt }], { into })[0]!;
  const kept: Float32Array[] = [];
  const c0 = process.cpuUsage(), t0 = performance.now();
  for (let i = 0; i < tokens; i++) {
    const s0 = performance.now();
    logits = model.forward([{ seq, tokens: [argmax(logits)] }], { into })[0]!;
    steps.push(performance.now() - s0);
    if (i % 16 === 15) kept.push(logits.slice());
  }
  const wall = performance.now() - t0, c = process.cpuUsage(c0);
  seq.dispose();
  return { wallMs: wall / tokens, cpuMs: (c.user + c.system) / 1000 / tokens, kept };
};

// "nohead": the model's one-call decode forward (stack + head) switched off, so its trunk runs the stack alone.
const net = model.model as unknown as { fusedDecodeForward: unknown };
const fused = net.fusedDecodeForward;
// "pf8" / "pf32": "always" with the rows path's prefetch of each thread's next product range at 8 / 32 KB (the other
// arms run the addon's default, off).
const always = () => { run.stack = (...a) => stack(a[0], a[1], a[2], a[3], a[4], a[5], a[6], "always"); net.fusedDecodeForward = fused; };
const addon = loadNative();
if (!addon?.decoderOptions) throw new Error("the addon has no decoderOptions (built before session 13): rebuild it");
const defaults = addon.decoderOptions();
const knobs = (o: { prefetchKb?: number; attnInTaskKeys?: number }) => addon.decoderOptions!({ ...defaults, ...o });
const prefetchKb = (kb: number) => knobs({ prefetchKb: kb });
const arms = {
  stack: () => { run.stack = stack; net.fusedDecodeForward = fused; },
  nohead: () => { run.stack = stack; net.fusedDecodeForward = () => null; },
  layers: () => { delete run.stack; net.fusedDecodeForward = fused; },
  calls: () => { run.stack = (...a) => stack(a[0], a[1], a[2], a[3], a[4], a[5], a[6], false); net.fusedDecodeForward = fused; },
  always: () => { always(); },
  fresh: () => { always(); reuseLogits = false; },
  apart: () => { always(); knobs({ attnInTaskKeys: 0 }); },
  intask: () => { always(); knobs({ attnInTaskKeys: 1 << 30 }); },
  pf8: () => { prefetchKb(8); always(); },
  pf32: () => { prefetchKb(32); always(); },
} as const;
type Arm = keyof typeof arms;
const chosen = opt("arms", opt("only", "stack,nohead,layers")).split(",") as Arm[];
for (const a of chosen) { // "keysN": attention inside the rows task up to N keys
  const keys = /^keys(\d+)$/.exec(a);
  if (keys) (arms as Record<string, () => void>)[a] = () => { always(); knobs({ attnInTaskKeys: Number(keys[1]) }); };
  else if (!(a in arms)) throw new Error(`unknown arm ${a}: expected one of ${Object.keys(arms).join(", ")}, keysN`);
}
const res = Object.fromEntries(Object.keys(arms).map((a) => [a, { wall: [] as number[], cpu: [] as number[], steps: [] as number[] }])) as Record<Arm, { wall: number[]; cpu: number[]; steps: number[] }>;
let reference: Float32Array[] | null = null;
const order = (r: number) => (r % 2 ? [...chosen].reverse() : chosen);
for (const a of order(0)) { reuseLogits = true; knobs({}); arms[a](); decode(); } // warm-up
for (let r = 0; r < rounds; r++) {
  for (const a of order(r)) {
    reuseLogits = true;
    knobs({});
    arms[a]();
    steps = res[a].steps;
    const d = decode();
    res[a].wall.push(d.wallMs), res[a].cpu.push(d.cpuMs);
    if (!reference) reference = d.kept;
    else if (!d.kept.every((l, i) => l.every((v, k) => Object.is(v, reference![i]![k])))) throw new Error(`arm ${a}: logits differ`);
  }
}
run.stack = stack;
knobs({});
const median = (xs: number[]) => [...xs].sort((x, y) => x - y)[xs.length >> 1]!;
const p10 = (xs: number[]) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 10)]!;
const out = Object.fromEntries(Object.entries(res).filter(([, r]) => r.cpu.length > 0).map(([a, r]) => [a, { cpu_ms_per_tok: +median(r.cpu).toFixed(3),
  wall_ms_per_tok: +median(r.wall).toFixed(3), cpu_min: +Math.min(...r.cpu).toFixed(3), wall_min: +Math.min(...r.wall).toFixed(3),
  step_p10: +p10(r.steps).toFixed(3), step_min: +Math.min(...r.steps).toFixed(3) }]));
console.log(JSON.stringify({ model: args[0]!.split("/").pop(), threads, rounds, tokens, depth, ...out,
  ...Object.fromEntries(chosen.filter((a) => a !== chosen[0]).map((a) => [`${a}_over_${chosen[0]}`,
    { cpu: +(median(res[a].cpu) / median(res[chosen[0]!].cpu)).toFixed(3), wall: +(median(res[a].wall) / median(res[chosen[0]!].wall)).toFixed(3),
      step_p10: +(p10(res[a].steps) / p10(res[chosen[0]!].steps)).toFixed(3) }])), load: (await import("node:os")).loadavg()[0] }));

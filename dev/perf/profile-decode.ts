// Per-op time inside decode steps: wraps a cpu backend so every method call is timed, runs N greedy decode
// steps on a model, and prints milliseconds per step for each backend op and the untimed rest (JS: tensor
// bookkeeping, argmax). Usage: node --import tsx dev/perf/profile-decode.ts MODEL.gguf [steps] [threads] [prompt] [batch]
// With prompt > 4 it profiles one prefill forward of that many tokens instead; with batch > 1 every decode step
// carries that many sequences in one forward (the server's continuous batching).
// Leaves out: per-layer attribution (ops are summed over the whole step).
import { createBackend, type Backend } from "../../src/backend/index.js";
import { loadModel } from "../../src/infer/load.js";
import { argmax } from "../../src/infer/sampler.js";
import { setDefaultBackend } from "../../src/tensor/index.js";

const [modelPath, stepsArg, threadsArg, promptArg, batchArg] = process.argv.slice(2);
if (!modelPath) throw new Error("usage: profile-decode.ts MODEL.gguf [steps] [threads] [prompt]");
const steps = Number(stepsArg ?? 16), threads = Number(threadsArg ?? 2), prompt = Number(promptArg ?? 4);
const batch = Number(batchArg ?? 1);

const inner = createBackend({ threads });
const times = new Map<string, { ms: number; calls: number }>();
let on = false;
const timed = new Proxy(inner, {
  get(target, prop, receiver) {
    const v = Reflect.get(target, prop, receiver);
    if (typeof v !== "function") return v;
    return (...args: unknown[]) => {
      if (!on) return v.apply(target, args);
      const t0 = performance.now();
      const r = v.apply(target, args);
      const key = prop === "quantMatmul" ? `quantMatmul ${String(args[1])} ${args[2]}x${args[3]} m=${args[6]}` : String(prop);
      const e = times.get(key) ?? { ms: 0, calls: 0 };
      e.ms += performance.now() - t0;
      e.calls++;
      times.set(key, e);
      return r;
    };
  },
}) as Backend;

setDefaultBackend(timed);
const model = await loadModel(modelPath, { backend: timed, threads });
const vocab = model.vocabSize;
const ids = Array.from({ length: prompt }, (_, i) => (i * 7919 + 13) % vocab);
for (let round = 0; round < 2; round++) {
  times.clear();
  const seqs = Array.from({ length: batch }, () => model.createSequence());
  on = prompt > 4;
  const t0 = performance.now();
  let logits = model.forward(seqs.map((seq, b) => ({ seq, tokens: ids.map((t) => (t + b) % vocab) })));
  const prefillMs = performance.now() - t0;
  let n = 0, total = 0, cpuMs = NaN;
  if (prompt <= 4) {
    on = true;
    const c1 = process.cpuUsage();
    const t1 = performance.now();
    for (; n < steps; n++) {
      logits = model.forward(seqs.map((seq, b) => ({ seq, tokens: [argmax(logits[b]!)] })));
    }
    total = performance.now() - t1;
    const c = process.cpuUsage(c1);
    cpuMs = (c.user + c.system) / 1e3;
  } else {
    n = 1;
    total = prefillMs;
  }
  on = false;
  for (const seq of seqs) seq.dispose();
  if (round === 0) continue;
  let opsMs = 0;
  const rows = [...times.entries()].sort((a, b) => b[1].ms - a[1].ms);
  for (const [, e] of rows) opsMs += e.ms;
  console.log(`${prompt > 4 ? `prefill ${prompt}` : `decode ${steps} steps × ${batch} sequences`}: ${(total / n).toFixed(2)} ms/step (CPU ${(cpuMs / n).toFixed(2)} ms/step, all threads), ops ${(opsMs / n).toFixed(2)} ms, rest ${((total - opsMs) / n).toFixed(2)} ms`);
  for (const [k, e] of rows) console.log(`  ${(e.ms / n).toFixed(3).padStart(8)} ms  ${String(e.calls / n).padStart(5)}×  ${k}`);
}
model.dispose();

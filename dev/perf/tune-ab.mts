// A/B of the decode kernels' tuning variants (native/zy_tune.c) inside one process: loads a GGUF once, then runs
// interleaved arms of 64 greedy decode tokens each — "fallback" (variant 0 everywhere), "vN" (variant N, or the
// family's last, forced on every matrix shape the decode uses) — and prints per arm the median wall tok/s and the
// median process CPU ms per token (on a shared machine CPU time per token is the steadier figure: time the process
// was not scheduled does not count; memory stalls do). Also checks each arm's logits equal the fallback's bit for bit.
// usage: node --import tsx dev/perf/tune-ab.mts MODEL.gguf [--threads 1] [--rounds 6] [--arms 0,1,2]
import { createBackend, tunable } from "../../src/backend/index.js";
import { loadNative } from "../../src/backend/native.js";
import { loadModel } from "../../src/infer/load.js";
import { argmax } from "../../src/infer/sampler.js";
import { setDefaultBackend } from "../../src/tensor/index.js";

const args = process.argv.slice(2);
const opt = (name: string, def: string) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const addon = loadNative()!;
const backend = createBackend({ threads: Number(opt("threads", "1")) });
setDefaultBackend(backend);
const rounds = Number(opt("rounds", "6"));
// Tuning on with a throwaway cache only to learn the shapes the decode multiplies (their choices are then forced).
const model = await loadModel(args[0], { backend, tuning: { enabled: true, cacheFile: null, version: "ab", warn: () => {}, rounds: 1, maxRingBytes: 1 << 20 } });
const decode = () => {
  const seq = model.createSequence();
  let logits = model.forward([{ seq, tokens: [1, 2, 3, 4] }])[0];
  const c0 = process.cpuUsage(), t0 = performance.now();
  let sum = 0;
  for (let i = 0; i < 64; i++) { logits = model.forward([{ seq, tokens: [argmax(logits)] }])[0]; sum += logits[7]; }
  const wall = (performance.now() - t0) / 1000, c = process.cpuUsage(c0);
  seq.dispose();
  return { tokS: 64 / wall, cpuMsPerTok: (c.user + c.system) / 1000 / 64, sum };
};
decode();
const shapes = tunable(backend)!.tuningChoices();
const arms = opt("arms", "0,1,2,3,4,5,6").split(",").map(Number);
const set = (v: number) => { for (const s of shapes) addon.tuneSet!(s.type, s.rows, s.cols, Math.min(v, addon.tuneVariants!(s.type).length - 1)); };
const res = new Map<number, { tokS: number[]; cpu: number[] }>(arms.map((a) => [a, { tokS: [], cpu: [] }]));
let ref: number | null = null;
for (let r = 0; r < rounds; r++) {
  for (const a of (r % 2 ? [...arms].reverse() : arms)) {
    set(a);
    const d = decode();
    if (ref === null) ref = d.sum; else if (d.sum !== ref) throw new Error(`arm ${a}: logits differ from the first arm's`);
    res.get(a)!.tokS.push(d.tokS);
    res.get(a)!.cpu.push(d.cpuMsPerTok);
  }
}
const med = (x: number[]) => [...x].sort((p, q) => p - q)[x.length >> 1];
const base = res.get(arms[0])!;
console.log(`${args[0].split("/").pop()} threads ${opt("threads", "1")}, ${rounds} rounds × 64 tokens per arm; shapes: ${shapes.map((s) => `${s.type} ${s.rows}x${s.cols}`).join(", ")}`);
for (const a of arms) {
  const x = res.get(a)!;
  const names = [...new Set(shapes.map((s) => addon.tuneVariants!(s.type)[Math.min(a, addon.tuneVariants!(s.type).length - 1)]))].join("/");
  console.log(`arm ${a} (${names}): ${med(x.tokS).toFixed(1)} tok/s wall (${(med(x.tokS) / med(base.tokS)).toFixed(3)}×), ` +
    `${med(x.cpu).toFixed(3)} CPU ms/token (${(med(base.cpu) / med(x.cpu)).toFixed(3)}× less)`);
}

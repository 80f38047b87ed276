// Decoder prefill with f16 / bf16 projections packed once into GEMM panels (the default of loadModel for GGUF files,
// QuantWeight.packPanels) vs the same file loaded with repack: false (the file's layout; for f16 weights the only
// difference), rounds alternating so a loaded machine slows both alike: median wall time and median process CPU time
// of a T-token prefill (a fresh sequence each round), and the ratio. Also the resident memory after each load.
// usage: node --import tsx dev/bert/prefill-panels-ab.ts --model FILE.gguf [--tokens 128] [--threads 2] [--rounds 7]
// Leaves out: llama.cpp (zhiyu bench infer --llama-bench), decode (panels are not used there).
import { parseArgs } from "node:util";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";

const { values } = parseArgs({ options: { model: { type: "string" }, tokens: { type: "string" }, threads: { type: "string" }, rounds: { type: "string" } } });
if (!values.model) throw new Error("--model FILE.gguf is required");
const tokens = Number(values.tokens ?? 128), rounds = Number(values.rounds ?? 7);
const backend = createBackend({ threads: Number(values.threads ?? 2) });
setDefaultBackend(backend);
const rss = () => (process.memoryUsage().rss / 2 ** 20).toFixed(0);
const plain = await loadModel(values.model, { repack: false, contextLength: tokens + 8 });
const rssPlain = rss();
const packed = await loadModel(values.model, { contextLength: tokens + 8 });
const prompt = Array.from({ length: tokens }, (_, i) => 100 + ((i * 7919) % 5000));
const time = (m: typeof plain): [number, number] => {
  const seq = m.createSequence();
  const c0 = process.cpuUsage(), t0 = performance.now();
  m.forward([{ seq, tokens: prompt }]);
  const c = process.cpuUsage(c0);
  return [performance.now() - t0, (c.user + c.system) / 1000];
};
time(plain); time(packed); // warm-up; the packed model packs its panels here
const rssBoth = rss();
const a: [number, number][] = [], b: [number, number][] = [];
for (let r = 0; r < rounds; r++) { a.push(time(packed)); b.push(time(plain)); }
const med = (v: number[]) => [...v].sort((x, y) => x - y)[v.length >> 1]!;
const w = (v: [number, number][]) => med(v.map((t) => t[0])), c = (v: [number, number][]) => med(v.map((t) => t[1]));
console.log(`${values.model}: prefill ${tokens} tokens, ${rounds} alternating rounds: packed ${w(a).toFixed(1)} ms ` +
  `(${(tokens / w(a) * 1000).toFixed(1)} tok/s), unpacked ${w(b).toFixed(1)} ms (${(tokens / w(b) * 1000).toFixed(1)} tok/s), ` +
  `${(w(b) / w(a)).toFixed(2)}×; CPU ${c(a).toFixed(1)} / ${c(b).toFixed(1)} ms (${(c(b) / c(a)).toFixed(2)}×); ` +
  `RSS ${rssPlain} MiB with the unpacked model, ${rssBoth} MiB with both after packing`);

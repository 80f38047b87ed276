// Decode steps in a loop for profiling (perf record -D …) and quick A/B timing: loads a GGUF, prefills 4 tokens,
// then decodes greedily for --seconds, restarting the sequence every 64 tokens (depth stays near 0).
// Prints the median and the best 64-token rate (on a shared machine the best run is the nearest to a quiet one).
// usage: node dev/perf/decode-loop.mjs MODEL.gguf [--threads 2] [--seconds 10 | --runs R] [--no-repack] [--root CHECKOUT]
// --runs R: exactly R timed runs after the warm-up (for CPU-time accounting: `perf stat -e task-clock` of R = 1
// and R = 5 differ by 256 decoded tokens, whatever else the machine runs).
// --root: run another checkout's dist/ and addon (an A/B of two builds, e.g. main against a branch).
// --depth N [--kv-type f32|f16|q8_0] (with --runs): prefill N tokens once, then every run decodes 64 more on it (depth N,
// N + 64, …: the decode attention at depth); also prints the process CPU ms per decoded token (median over runs; the
// steadier figure on a loaded machine, run the two builds' processes alternately).
import { readFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const root = path.resolve(opt("root", path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "..")));
const { loadModel } = await import(pathToFileURL(path.join(root, "dist", "infer", "load.js")).href);
const depth = Number(opt("depth", "0"));
const model = await loadModel(args[0], { threads: Number(opt("threads", "2")), repack: !args.includes("--no-repack"),
  ...(opt("kv-type") ? { kvCacheType: opt("kv-type") } : {}),
  ...(depth > 0 ? { contextLength: depth + 64 * (Number(opt("runs", "0")) + 1) + 1 } : {}) });
const argmax = (a) => { let b = 0; for (let i = 1; i < a.length; i++) if (a[i] > a[b]) b = i; return b; };
const seconds = Number(opt("seconds", "10"));
const rates = [], cpuMs = [];
let deep = null, deepLogits = null; // --depth: the one long sequence
const t0 = performance.now();
const runs = Number(opt("runs", "0"));
for (let r = -1; r < 0 || (runs > 0 ? r < runs : performance.now() - t0 < seconds * 1000); r++) { // r = −1: warm-up
  if (r === 0) rates.length = 0, cpuMs.length = 0;
  if (depth > 0 && !deep) {
    deep = model.createSequence();
    deepLogits = model.forward([{ seq: deep, tokens: Array.from({ length: depth }, (_, i) => 10 + ((i * 7919) % 1000)) }])[0];
  }
  const seq = depth > 0 ? deep : model.createSequence();
  let logits = depth > 0 ? deepLogits : model.forward([{ seq, tokens: [1, 2, 3, 4] }])[0];
  const s0 = performance.now(), c0 = process.cpuUsage();
  for (let i = 0; i < 64; i++) logits = model.forward([{ seq, tokens: [argmax(logits)] }])[0];
  const c = process.cpuUsage(c0);
  rates.push(64 / ((performance.now() - s0) / 1000));
  cpuMs.push((c.user + c.system) / 1000 / 64);
  if (depth > 0) deepLogits = logits;
  else seq.dispose();
}
cpuMs.sort((a, b) => a - b);
rates.sort((a, b) => a - b);
console.log(JSON.stringify({ root, model: args[0].split("/").pop(), median_tok_s: +rates[rates.length >> 1].toFixed(1), max_tok_s: +rates[rates.length - 1].toFixed(1), runs: rates.length,
  depth, cpu_ms_per_token: +cpuMs[cpuMs.length >> 1].toFixed(3), anon_huge_mb: anonHugeMb() }));

/** MB of this process's memory on transparent huge pages (the KV caches ask for them), null off Linux. */
function anonHugeMb() {
  try {
    const m = /AnonHugePages:\s+(\d+) kB/.exec(readFileSync("/proc/self/smaps_rollup", "utf8"));
    return m ? Math.round(Number(m[1]) / 1024) : null;
  } catch {
    return null;
  }
}

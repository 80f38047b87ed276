// A/B of the weight-matrix product (addon quantMatmul: out[m, rows] = x[m, cols] · Wᵀ) between two builds of the
// addon, in one process, interleaved round by round, on random f16 (or bf16) weights: decode (m = 1) and prefill
// (m = 128) shapes of the F16 paths. Random bit patterns for W would hold NaNs, so W is made from f32 values here.
// usage: node dev/perf/qmatmul-ab.mjs OLD.node NEW.node [--type f16|bf16] [--rows 3072] [--cols 768] [--m 1]
//   [--threads 1] [--rounds 15] [--clock wall|cpu] (cpu: the process's CPU time per call — steadier on a loaded
//   machine; use with --threads 1)
// Prints per build the median and min ms per call, new/old speed ratios, the weight GB/s of the faster build, and
// the largest difference between the two builds' outputs (0 when a change keeps the bits).
import path from "node:path";

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const [oldPath, newPath] = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && args[i - 1].startsWith("--")));
const type = opt("type", "f16"), rows = Number(opt("rows", "3072")), cols = Number(opt("cols", "768"));
const m = Number(opt("m", "1")), threads = Number(opt("threads", "1")), rounds = Number(opt("rounds", "15"));
const cpuClock = opt("clock", "wall") === "cpu";
const load = (p) => { const mod = { exports: {} }; process.dlopen(mod, path.resolve(p)); return mod.exports; };
const builds = { old: load(oldPath), new: load(newPath) };
for (const a of Object.values(builds)) a.setThreads(threads);
const rnd = (n, s) => { const x = new Float32Array(n); for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; x[i] = s / 2 ** 32 - 0.5; } return x; };
// f32 → f16 / bf16 bits through the addon's own cast (opsCast: dtype codes f32 0, bf16 1, f16 2)
const w16 = new Uint16Array(rows * cols);
builds.new.opsCast(rnd(rows * cols, 7), 0, w16, type === "bf16" ? 1 : 2, rows * cols);
const w = new Uint8Array(w16.buffer), x = rnd(m * cols, 3);
const out = { old: new Float32Array(m * rows), new: new Float32Array(m * rows) };
const call = (name) => builds[name].quantMatmul(w, type, rows, cols, x, out[name], m);
const reps = Math.max(1, Math.round(2e8 / (rows * cols * Math.max(m, 16))));
const times = { old: [], new: [] };
for (let r = 0; r < rounds; r++) {
  for (const name of r % 2 ? ["new", "old"] : ["old", "new"]) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) call(name);
    const c = process.cpuUsage(c0);
    times[name].push((cpuClock ? (c.user + c.system) / 1000 : performance.now() - t0) / reps);
  }
}
let maxDiff = 0;
for (let i = 0; i < out.old.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.old[i] - out.new[i]));
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1], min = (a) => Math.min(...a);
const gbps = (ms) => +((rows * cols * 2) / (ms / 1000) / 1e9).toFixed(1);
console.log(JSON.stringify({ type, rows, cols, m, threads, old_ms: { median: +med(times.old).toFixed(4), min: +min(times.old).toFixed(4) },
  new_ms: { median: +med(times.new).toFixed(4), min: +min(times.new).toFixed(4) },
  speedup_median: +(med(times.old) / med(times.new)).toFixed(2), speedup_min: +(min(times.old) / min(times.new)).toFixed(2),
  weight_gb_per_s_best: gbps(Math.min(min(times.old), min(times.new))),
  gflop_per_s_best: +((2 * rows * cols * m) / (Math.min(min(times.old), min(times.new)) / 1000) / 1e9).toFixed(1), max_abs_diff: maxDiff }));

// A/B of the packed-panel GEMM (addon gemmPacked: out[m, n] = x[m, k] · Wᵀ on W packed once by gemmPackWeights)
// between two builds of the addon, in one process, interleaved round by round: the f16-panel path of the BERT
// encoder and F16 prefill (activations packed over the pool, 16-bit panels widened per block, the next block
// prefetched). W random f16 (from f32 values through the addon's cast), x f16-rounded like the encoder's.
// usage: node dev/perf/packed-gemm-ab.mjs OLD.node NEW.node [--type f16|bf16|f32] [--n 3072] [--k 768] [--m 128]
//   [--threads 1] [--rounds 15] [--clock wall|cpu]
// Prints per build the median and min ms per call, GFLOP/s, the speed ratio and the largest difference between the
// builds' outputs (0 when the change keeps the bits). Leaves out: the epilogue (bias, residual, activation).
import path from "node:path";

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const [oldPath, newPath] = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && args[i - 1].startsWith("--")));
const type = opt("type", "f16"), n = Number(opt("n", "3072")), k = Number(opt("k", "768")), m = Number(opt("m", "128"));
const threads = Number(opt("threads", "1")), rounds = Number(opt("rounds", "15")), cpuClock = opt("clock", "cpu") === "cpu";
const load = (p) => { const mod = { exports: {} }; process.dlopen(mod, path.resolve(p)); return mod.exports; };
const builds = { old: load(oldPath), new: load(newPath) };
for (const a of Object.values(builds)) a.setThreads(threads);
const rnd = (len, s) => { const x = new Float32Array(len); for (let i = 0; i < len; i++) { s = (s * 1103515245 + 12345) >>> 0; x[i] = s / 2 ** 32 - 0.5; } return x; };
const wf = rnd(n * k, 7);
let w = new Uint8Array(wf.buffer);
const x = rnd(m * k, 3);
if (type !== "f32") {
  const code = type === "bf16" ? 1 : 2, h = new Uint16Array(n * k), xh = new Uint16Array(m * k);
  builds.new.opsCast(wf, 0, h, code, n * k);
  builds.new.opsCast(x, 0, xh, code, m * k);
  builds.new.opsCast(xh, code, x, 0, m * k);
  w = new Uint8Array(h.buffer);
}
const panels = { old: builds.old.gemmPackWeights(w, type, n, k, type), new: builds.new.gemmPackWeights(w, type, n, k, type) };
const out = { old: new Float32Array(m * n), new: new Float32Array(m * n) };
const call = (name) => builds[name].gemmPacked(x, m, panels[name], type, n, k, out[name]);
const reps = Math.max(1, Math.round(4e9 / (2 * m * n * k)));
const times = { old: [], new: [] };
call("old"); call("new");
for (let r = 0; r < rounds; r++)
  for (const name of r % 2 ? ["new", "old"] : ["old", "new"]) {
    const c0 = process.cpuUsage(), t0 = performance.now();
    for (let i = 0; i < reps; i++) call(name);
    const c = process.cpuUsage(c0);
    times[name].push((cpuClock ? (c.user + c.system) / 1000 : performance.now() - t0) / reps);
  }
const med = (a) => [...a].sort((p, q) => p - q)[a.length >> 1];
let diff = 0;
for (let i = 0; i < out.old.length; i++) diff = Math.max(diff, Math.abs(out.old[i] - out.new[i]));
for (const name of ["old", "new"])
  console.log(`${name}: median ${med(times[name]).toFixed(3)} ms, min ${Math.min(...times[name]).toFixed(3)} ms per call ` +
    `(${(2 * m * n * k / med(times[name]) / 1e6).toFixed(0)} GFLOP/s), ${type} ${n} × ${k}, m = ${m}, ${threads} thread(s), ${cpuClock ? "CPU" : "wall"} clock`);
console.log(`new / old speed: median ${(med(times.old) / med(times.new)).toFixed(3)}×, min ${(Math.min(...times.old) / Math.min(...times.new)).toFixed(3)}×; max |difference| ${diff}`);

// A/B of the attention kernel between two builds of the addon, in one process, interleaved: decode (tq = 1) and
// a prefill block over a long cache, LLaMA-110M shaped (12 heads, head dim 64) unless told otherwise.
// usage: node dev/perf/attention-ab.mjs OLD.node NEW.node [--threads 1] [--tk 2000] [--tq 1] [--heads 12/12] [--d 64]
//   [--clock wall|cpu] (cpu: the process's CPU time per call — steadier on a loaded machine; use with --threads 1)
//   [--kv f32|f16|q8_0] [--kv-old T] [--kv-new T] (the k/v cache type of both sides or of one; q8_0 needs a build
//   that has it — pass the same addon twice to compare cache types; the max difference is then that of the types)
//   [--layers L] (L copies of the cache, called in turn like a decode step's layers: with L = 12 at 2,048 keys f16 the
//   caches stream from DRAM as in a 110M step, where one layer's cache alone would stay in L3)
//   [--huge-new] (the new side's caches on 2 MiB pages: see hugeCopies)
// Prints per build the median and min ms per call over interleaved rounds, new/old speed ratios, and the largest
// difference between the two builds' outputs and lse (0 when a change keeps the bits).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";

const args = process.argv.slice(2);
const opt = (name, def) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : def; };
const [oldPath, newPath] = args.filter((a, i) => !a.startsWith("--") && !(i > 0 && args[i - 1].startsWith("--")));
const threads = Number(opt("threads", "1")), tk = Number(opt("tk", "2000")), tq = Number(opt("tq", "1"));
const cpuClock = opt("clock", "wall") === "cpu";
const [nh, nkv] = opt("heads", "12/12").split("/").map(Number), d = Number(opt("d", "64"));
const load = (p) => { const m = { exports: {} }; process.dlopen(m, path.resolve(p)); return m.exports; };
const builds = { old: load(oldPath), new: load(newPath) };
for (const a of Object.values(builds)) a.setThreads(threads);
const rnd = (n, s) => { const x = new Float32Array(n); for (let i = 0; i < n; i++) { s = (s * 1103515245 + 12345) >>> 0; x[i] = s / 2 ** 32 - 0.5; } return x; };
const q = rnd(tq * nh * d, 1), k = rnd(tk * nkv * d, 2), v = rnd(tk * nkv * d, 3);
const kvOf = { old: opt("kv-old", opt("kv", "f32")), new: opt("kv-new", opt("kv", "f32")) };
const TYPE_CODE = { f32: 0, f16: 1, q8_0: 2 };
/** k and v in a side's cache type: f32 as drawn, f16 bits (round to nearest even), q8_0 blocks (the addon's quantize). */
const encode = (name, x) => {
  const t = kvOf[name];
  if (!(t in TYPE_CODE)) throw new Error(`--kv ${t}: expected f32, f16 or q8_0`);
  if (t === "f32") return x;
  if (t === "q8_0") {
    if (typeof builds.new.quantize !== "function") throw new Error("q8_0 needs an addon with quantize");
    const b = new Uint8Array((x.length / 32) * 34);
    builds.new.quantize(x, "q8_0", b, x.length);
    return b;
  }
  const h = new Uint8Array(x.length * 2);
  builds.new.quantize(x, "f16", h, x.length);
  return new Uint16Array(h.buffer);
};
const layers = Number(opt("layers", "1"));
const copies = (x) => Array.from({ length: layers }, () => x.slice());
/** --huge-new: the new side's caches in fresh buffers advised onto 2 MiB pages before their first write (the addon's
 *  opsAdviseHugePages, native/kv_memory.c), the old side's on ordinary pages — pass one addon twice to see what huge
 *  pages alone change. Prints the MB the process holds on huge pages. */
const hugeNew = args.includes("--huge-new");
const hugeCopies = (x) => { // all layers in one buffer (as src/models/kv-cache.ts keeps them), each layer a view
  const all = new x.constructor(x.length * layers);
  if (!builds.new.opsAdviseHugePages?.(all)) console.error("--huge-new: the caches were not advised (too small, or no THP)");
  return Array.from({ length: layers }, (_, l) => { const y = all.subarray(l * x.length, (l + 1) * x.length); y.set(x); return y; });
};
// One set of caches for both builds when their types agree: separate copies put the two arms' caches at different
// addresses, and that alone made the second build look ~1.1× faster with two copies of one addon (session 10).
const kvOld = [copies(encode("old", k)), copies(encode("old", v))];
const kv = { old: kvOld, new: kvOf.old === kvOf.new && !hugeNew ? kvOld : [(hugeNew ? hugeCopies : copies)(encode("new", k)),
  (hugeNew ? hugeCopies : copies)(encode("new", v))] };
const out = { old: new Float32Array(tq * nh * d), new: new Float32Array(tq * nh * d) };
const lse = { old: new Float32Array(nh * tq), new: new Float32Array(nh * tq) };
const call = (name, l) => builds[name].opsAttention(q, kv[name][0][l], kv[name][1][l], out[name], lse[name], 1, tq, tk, nh, nkv, d, 1 / Math.sqrt(d), true, tk,
  TYPE_CODE[kvOf[name]]);
const times = { old: [], new: [] };
const reps = Math.max(layers, Math.round(2e8 / (tq * tk * nh * d) / layers) * layers);
for (let r = 0; r < 15; r++) {
  for (const name of r % 2 ? ["new", "old"] : ["old", "new"]) {
    const t0 = performance.now(), c0 = process.cpuUsage();
    for (let i = 0; i < reps; i++) call(name, i % layers);
    const c = process.cpuUsage(c0);
    times[name].push((cpuClock ? (c.user + c.system) / 1000 : performance.now() - t0) / reps);
  }
}
let maxDiff = 0;
for (let i = 0; i < out.old.length; i++) maxDiff = Math.max(maxDiff, Math.abs(out.old[i] - out.new[i]));
for (let i = 0; i < lse.old.length; i++) maxDiff = Math.max(maxDiff, Math.abs(lse.old[i] - lse.new[i]));
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1], min = (a) => Math.min(...a);
console.log(JSON.stringify({ tk, tq, nh, nkv, d, threads, layers, kv: kvOf, old_ms: { median: +med(times.old).toFixed(4), min: +min(times.old).toFixed(4) },
  new_ms: { median: +med(times.new).toFixed(4), min: +min(times.new).toFixed(4) },
  speedup_median: +(med(times.old) / med(times.new)).toFixed(2), speedup_min: +(min(times.old) / min(times.new)).toFixed(2), max_abs_diff: maxDiff,
  ...(hugeNew ? { anon_huge_mb: Math.round(Number(/AnonHugePages:\s+(\d+)/.exec(readFileSync("/proc/self/smaps_rollup", "utf8"))?.[1] ?? 0) / 1024) } : {}) }));

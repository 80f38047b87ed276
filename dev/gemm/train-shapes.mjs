// gemmF32 vs gemmF32RoundBf16 on the GEMMs of one GPT-2 124M training step at B = 4, T = 64 (forward, dX and dW of
// an MLP layer and of the tied LM head), alternating rounds; the time is process CPU time per thread, so that other
// jobs on a shared machine do not swamp the ratio. Run from the repository root after `npm run build`:
//   node dev/gemm/train-shapes.mjs [rounds=5] [threads=2] [--no-bf16]   (--no-bf16: AVX512_BF16 treated as absent)
// Leaves out: the attention products and the few-row paths (not in this step).
import { loadNative } from "../../dist/backend/native.js";

const args = process.argv.slice(2).filter((x) => !x.startsWith("--"));
const rounds = Number(args[0] ?? 5), threads = Number(args[1] ?? 2);
const addon = loadNative();
if (!addon?.gemmF32RoundBf16) throw new Error("native addon with gemmF32RoundBf16 not built (npm run build:native)");
addon.setThreads(threads);
if (process.argv.includes("--no-bf16")) addon.limitIsa(2, true);
console.log(`kernels: f32 ${addon.gemmImpl(false)}, rounded bf16 ${addon.gemmImpl(true)}, ${threads} threads`);
const shapes = [ // [name, m, n, k, transA, transB]
  ["qkv fwd", 256, 2304, 768, false, true], ["fc fwd", 256, 3072, 768, false, true], ["proj fwd", 256, 768, 3072, false, true],
  ["fc dX", 256, 768, 3072, false, false], ["fc dW", 3072, 768, 256, true, false], ["lmhead fwd", 256, 50257, 768, false, true],
  ["lmhead dW", 50257, 768, 256, true, false], ["lmhead dX", 256, 768, 50257, false, false],
];
const median = (x) => [...x].sort((p, q) => p - q)[x.length >> 1];
for (const [name, m, n, k, transA, transB] of shapes) {
  const a = new Float32Array(m * k).map(() => Math.random() - 0.5), b = new Float32Array(k * n).map(() => Math.random() - 0.5);
  const c = new Float32Array(m * n);
  const t = { f32: [], bf16: [] };
  for (let r = 0; r < rounds; r++) {
    for (const [key, fn] of [["f32", addon.gemmF32], ["bf16", addon.gemmF32RoundBf16]]) {
      const s = process.cpuUsage();
      fn(a, b, c, 1, m, n, k, transA, transB, 0, 0, 0, 1, 0);
      const u = process.cpuUsage(s);
      t[key].push((u.user + u.system) / 1e3 / threads);
    }
  }
  const f = median(t.f32), h = median(t.bf16), gflop = (2 * m * n * k) / 1e9;
  console.log(`${name.padEnd(11)} m ${m} n ${n} k ${k}: f32 ${f.toFixed(1)} ms (${(gflop / f * 1e3).toFixed(0)} GFLOP/s), ` +
    `bf16 ${h.toFixed(1)} ms (${(gflop / h * 1e3).toFixed(0)} GFLOP/s), ${(f / h).toFixed(2)}×`);
}

// GFLOP/s of the f32 GEMMs of one BERT-base layer at 128 tokens (the linear layout: x [m, k] · Wᵀ, W [n, k]),
// best of R repetitions, on the default CPU backend: the ceiling a batch-1 embedding pass can reach.
// usage: node --import tsx dev/bert/gemm-shapes.ts [--m 128] [--threads 2] [--reps 20]
// Leaves out: quantized weights (bench infer covers those).
import { parseArgs } from "node:util";
import { createBackend } from "../../src/backend/index.js";

const { values } = parseArgs({ options: { m: { type: "string" }, threads: { type: "string" }, reps: { type: "string" } } });
const m = Number(values.m ?? 128), reps = Number(values.reps ?? 20);
const be = createBackend({ threads: Number(values.threads ?? 2) });
for (const [n, k] of [[768, 768], [2304, 768], [3072, 768], [768, 3072]] as const) {
  const a = new Float32Array(m * k).map((_, i) => Math.sin(i)), b = new Float32Array(n * k).map((_, i) => Math.cos(i)), c = new Float32Array(m * n);
  const p = { batch: 1, m, n, k, transA: false, transB: true, strideA: 0, strideB: 0, strideC: 0, alpha: 1, beta: 0 };
  be.matmul(a, b, c, p, "f32");
  let best = Infinity;
  for (let r = 0; r < reps; r++) { const t0 = performance.now(); be.matmul(a, b, c, p, "f32"); best = Math.min(best, performance.now() - t0); }
  console.log(`m ${m} n ${n} k ${k}: ${best.toFixed(3)} ms, ${(2 * m * n * k / best / 1e6).toFixed(0)} GFLOP/s`);
}

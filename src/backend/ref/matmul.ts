// Reference batched matmul: C = alpha·op(A)·op(B) + beta·C by a triple loop with float64 accumulation; bf16
// operands are widened exactly to f32 first. The specification the native GEMM is tested against.
// Leaves out: argument validation (checks.ts), blocking, threads.

import type { MatmulParams, Storage } from "../backend.js";
import { bf16ToF32 } from "../../core/dtype.js";

/** Layouts: A [m, k] (or [k, m] when transA), B [k, n] (or [n, k] when transB), C [m, n]; all row-major. */
export function matmul(a: Storage, b: Storage, c: Float32Array, p: MatmulParams, dtype: "f32" | "bf16"): void {
  const { batch, m, n, k, transA, transB, alpha, beta } = p;
  const A = dtype === "bf16" ? widen(a as Uint16Array, (batch - 1) * p.strideA + m * k) : (a as Float32Array);
  const B = dtype === "bf16" ? widen(b as Uint16Array, (batch - 1) * p.strideB + k * n) : (b as Float32Array);
  for (let bi = 0; bi < batch; bi++) {
    const a0 = bi * p.strideA, b0 = bi * p.strideB, c0 = bi * p.strideC;
    for (let i = 0; i < m; i++) {
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let q = 0; q < k; q++) {
          const av = transA ? A[a0 + q * m + i] : A[a0 + i * k + q];
          const bv = transB ? B[b0 + j * k + q] : B[b0 + q * n + j];
          sum += av * bv;
        }
        const ci = c0 + i * n + j;
        c[ci] = beta === 0 ? alpha * sum : alpha * sum + beta * c[ci];
      }
    }
  }
}

function widen(src: Uint16Array, n: number): Float32Array {
  const out = new Float32Array(Math.max(n, 0));
  for (let i = 0; i < out.length; i++) out[i] = bf16ToF32(src[i]);
  return out;
}

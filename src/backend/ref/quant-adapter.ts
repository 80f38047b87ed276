// Where the reference backend finds the quantized-weight kernels (refQuantMatmul, refDequantize), which live in
// ref/quant.ts on the quant/io side. Until that file lands this returns null and the ops say "not available yet".
// Leaves out: the kernels themselves.

import type { QuantType, WeightType } from "../backend.js";

export interface RefQuantOps {
  refQuantMatmul(w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array, out: Float32Array,
    m: number): void;
  refDequantize(w: Uint8Array, type: QuantType, out: Float32Array, n: number): void;
}

export function refQuantOps(): RefQuantOps | null {
  return null;
}

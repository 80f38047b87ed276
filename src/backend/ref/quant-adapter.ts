// Where the reference backend finds the quantized-weight kernels: refQuantMatmul and refDequantize of
// ref/quant.ts (owned by the quant/io side). One seam, so the backends do not depend on that file's other exports.
// Leaves out: the kernels themselves.

import type { QuantType, WeightType } from "../backend.js";
import { refDequantize, refQuantMatmul } from "./quant.js";

export interface RefQuantOps {
  refQuantMatmul(w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array, out: Float32Array,
    m: number): void;
  refDequantize(w: Uint8Array, type: QuantType, out: Float32Array, n: number): void;
}

const ops: RefQuantOps = { refQuantMatmul, refDequantize };

/** The reference quantized kernels (never null now that ref/quant.ts exists; kept nullable for the callers). */
export function refQuantOps(): RefQuantOps | null {
  return ops;
}

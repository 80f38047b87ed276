// Integer codes the native kernels use for op and dtype names; must match the enums in native/ops_common.h.
// Leaves out: anything else.

import type { BinaryOp, DType, UnaryOp } from "../backend.js";

export const UNARY_CODE: Record<UnaryOp, number> = {
  neg: 0, exp: 1, log: 2, sqrt: 3, rsqrt: 4, recip: 5, abs: 6, tanh: 7, sigmoid: 8, relu: 9,
  gelu_tanh: 10, gelu_erf: 11, silu: 12, square: 13,
};

export const BINARY_CODE: Record<BinaryOp, number> = { add: 0, sub: 1, mul: 2, div: 3, max: 4, min: 5, pow: 6 };

export const DTYPE_CODE: Record<DType, number> = { f32: 0, bf16: 1, f16: 2, i32: 3 };

// Reference layout ops: strided copy and strided f32 add-into (any rank, broadcasting 0 strides, negative strides), dtype casts, fill.
// Leaves out: argument validation (checks.ts) and anything faster than a plain index walk.

import { BackendError, type DType, type Storage } from "../backend.js";
import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../core/dtype.js";

/** Calls row(s, t) with the source and destination offsets of every innermost row of shape (rank ≥ 1, no zero
 *  dims), advancing the outer index like an odometer over dims rank−2 … 0. */
function forEachStridedRow(srcOffset: number, srcStrides: readonly number[], dstOffset: number, dstStrides: readonly number[],
  shape: readonly number[], row: (s: number, t: number) => void): void {
  const rank = shape.length;
  const index = new Array<number>(rank).fill(0);
  let s = srcOffset, t = dstOffset;
  for (;;) {
    row(s, t);
    let d = rank - 2;
    for (; d >= 0; d--) {
      index[d]++;
      s += srcStrides[d];
      t += dstStrides[d];
      if (index[d] < shape[d]) break;
      s -= srcStrides[d] * shape[d];
      t -= dstStrides[d] * shape[d];
      index[d] = 0;
    }
    if (d < 0) return;
  }
}

/** dst[dstOffset + Σ i·dstStrides] = src[srcOffset + Σ i·srcStrides] over every index i of shape. */
export function copyStrided(src: Storage, srcOffset: number, srcStrides: readonly number[], dst: Storage,
  dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void {
  const rank = shape.length;
  for (const d of shape) if (d === 0) return;
  if (rank === 0) {
    dst[dstOffset] = src[srcOffset];
    return;
  }
  const inner = shape[rank - 1], sInner = srcStrides[rank - 1], tInner = dstStrides[rank - 1];
  forEachStridedRow(srcOffset, srcStrides, dstOffset, dstStrides, shape, (s, t) => {
    for (let i = 0; i < inner; i++) dst[t + i * tInner] = src[s + i * sInner];
  });
}

/** dst[dstOffset + Σ i·dstStrides] += src[srcOffset + Σ i·srcStrides] (f32). The double sum rounded to f32 is
 *  the correctly rounded f32 sum (53 ≥ 2·24 + 2 bits), so the bits match the native f32 add. */
export function addStrided(src: Float32Array, srcOffset: number, srcStrides: readonly number[], dst: Float32Array,
  dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void {
  const rank = shape.length;
  for (const d of shape) if (d === 0) return;
  if (rank === 0) {
    dst[dstOffset] += src[srcOffset];
    return;
  }
  const inner = shape[rank - 1], sInner = srcStrides[rank - 1], tInner = dstStrides[rank - 1];
  forEachStridedRow(srcOffset, srcStrides, dstOffset, dstStrides, shape, (s, t) => {
    for (let i = 0; i < inner; i++) dst[t + i * tInner] += src[s + i * sInner];
  });
}

function toF32(src: Storage, srcType: DType, i: number): number {
  switch (srcType) {
    case "bf16": return bf16ToF32(src[i]);
    case "f16": return f16ToF32(src[i]);
    default: return src[i];
  }
}

/** Element-wise conversion; float → i32 truncates toward zero (NaN → 0, saturating), like a C cast made safe. */
export function cast(src: Storage, srcType: DType, dst: Storage, dstType: DType, n: number): void {
  for (let i = 0; i < n; i++) {
    const v = toF32(src, srcType, i);
    switch (dstType) {
      case "f32": dst[i] = v; break;
      case "bf16": dst[i] = f32ToBf16(v); break;
      case "f16": dst[i] = f32ToF16(v); break;
      case "i32": dst[i] = Number.isNaN(v) ? 0 : Math.max(-2147483648, Math.min(2147483647, Math.trunc(v))); break;
      default: throw new BackendError("cast", `unknown dtype ${String(dstType)}`);
    }
  }
}

export function fill(dst: Storage, value: number, n: number): void {
  dst.fill(value, 0, n);
}

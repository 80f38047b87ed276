// Element types and exact scalar conversions: f32, bf16 and f16 (both stored as raw Uint16 bits) and i32.
// f32→bf16 rounds to nearest even (NaN stays a quiet NaN); f32↔f16 is IEEE 754 binary16 with subnormals,
// infinities and NaN, rounding to nearest even. This is the single implementation; backends import it.
// Leaves out: quantized GGUF block types (the backend's dequantize owns those), f64 and 8-bit floats.

export type DType = "f32" | "bf16" | "f16" | "i32";
export type TypedStorage = Float32Array | Uint16Array | Int32Array;

export const DTYPES: readonly DType[] = ["f32", "bf16", "f16", "i32"];

// One shared scratch word for bit reinterpretation (module-local, never escapes a call).
const f32Scratch = new Float32Array(1);
const u32Scratch = new Uint32Array(f32Scratch.buffer);

export function f32Bits(x: number): number {
  f32Scratch[0] = x;
  return u32Scratch[0];
}

export function f32FromBits(bits: number): number {
  u32Scratch[0] = bits >>> 0;
  return f32Scratch[0];
}

/** f32 → bf16 bits, round to nearest even: f32ToBf16(1) = 0x3f80. NaN → 0x7fc0 (sign kept). */
export function f32ToBf16(x: number): number {
  const bits = f32Bits(x);
  if ((bits & 0x7fffffff) > 0x7f800000) return ((bits >>> 16) & 0x8000) | 0x7fc0;
  const rounded = bits + 0x7fff + ((bits >>> 16) & 1);
  return (rounded >>> 16) & 0xffff;
}

/** bf16 bits → f32 value (exact). */
export function bf16ToF32(h: number): number {
  return f32FromBits((h & 0xffff) << 16);
}

/** f32 → IEEE binary16 bits, round to nearest even, overflow → ±inf, tiny → subnormal or ±0. */
export function f32ToF16(x: number): number {
  const bits = f32Bits(x);
  const sign = (bits >>> 16) & 0x8000;
  const exp = (bits >>> 23) & 0xff;
  const mant = bits & 0x7fffff;
  if (exp === 0xff) return mant !== 0 ? sign | 0x7e00 | (mant >>> 13) : sign | 0x7c00; // NaN keeps its top payload bits
  const e = exp - 127 + 15; // rebiased exponent
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half (or zero): value = m · 2^-24 with the implicit bit made explicit.
    if (e < -10) return sign;
    const m = mant | 0x800000;
    const shift = 14 - e; // 14..24
    const half = 1 << (shift - 1);
    let r = m >>> shift;
    const rest = m & ((1 << shift) - 1);
    if (rest > half || (rest === half && (r & 1))) r++;
    return sign | r; // r may round up into the smallest normal, which is the right encoding
  }
  let r = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  if (rest > 0x1000 || (rest === 0x1000 && (r & 1))) r++; // may carry into the exponent, up to inf: correct
  return sign | r;
}

/** IEEE binary16 bits → f32 value (exact; subnormals, ±inf and NaN included). */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant ? NaN : sign * Infinity;
  return sign * (1 + mant / 1024) * 2 ** (exp - 15);
}

/** Converts n f32 values to bf16 bits. */
export function f32ArrayToBf16(src: Float32Array, dst: Uint16Array, n: number): void {
  for (let i = 0; i < n; i++) dst[i] = f32ToBf16(src[i]);
}


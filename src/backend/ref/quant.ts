// Quantized GGUF weights in plain TypeScript: the specification the native kernels (native/quant*.c) are tested
// against. Block layouts are ggml's exactly (ggml-common.h); every float step is rounded to f32 (Math.fround) in
// the order ggml's scalar code uses, so results are deterministic and close to llama.cpp's bit patterns.
//
// - refDequantize: blocks → f32 (f16, bf16, f32, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k).
// - refQuantize: f32 → blocks, as ggml's reference quantizers do it (quantize_row_*_ref: what llama-quantize uses
//   for q8_0/q4_0/q4_1/q5_0/q5_1 without an importance matrix), plus f16 and bf16 (round to nearest even).
// - Activation quantizers, as ggml-cpu rounds activations before a dot product with quantized weights:
//   Q8_0 (q8_0, q4_0, q5_0 weights) and Q8_1 (q4_1, q5_1 weights): blocks of 32, d = amax/127 stored as f16,
//   q = round-half-even(x · (127/amax)), and for Q8_1 also s = f16(d · Σq);
//   Q8_K (k-quants): blocks of 256, iscale = −127/max (max: the signed value of largest magnitude),
//   q = min(127, round-half-even(iscale · x)), d = 1/iscale as f32, bsums = sums of 16 q's.
//   f16 / bf16 weights: activations rounded to f16 / bf16. f32 weights: exact.
// - refQuantMatmul: out[i, r] = dot(W row r, x row i) with those roundings; integer block dot products, then one
//   f32 multiply-add per block (per super-block for k-quants), accumulated left to right.
// - refRepackR16 / refUnpackR16: the r16 layout of q8_0, q4_0, q4_k and q6_k matrices (16 rows interleaved per block, for
//   SIMD kernels that advance 16 dot products per instruction; see native/quant_r16.c); refQuantMatmul of an r16
//   matrix is refQuantMatmul of the rows it holds.
// Leaves out: k-quant quantization (llama-quantize's search for scales), the iq*/tq* types, q2_k/q3_k.

import { bf16ToF32, f16ToF32, f32ToBf16, f32ToF16 } from "../../core/dtype.js";
import { BackendError, type PackedType, type QuantType, type WeightType } from "../backend.js";

export type DequantType = QuantType | "f16" | "bf16" | "f32";
export type RefQuantizeType = "q8_0" | "q4_0" | "q4_1" | "q5_0" | "q5_1" | "f16" | "bf16";

const fround = Math.fround;

/** Elements and bytes per block of each type handled here. */
export const QUANT_BLOCK: Record<DequantType, { elements: number; bytes: number }> = {
  f32: { elements: 1, bytes: 4 }, f16: { elements: 1, bytes: 2 }, bf16: { elements: 1, bytes: 2 },
  q8_0: { elements: 32, bytes: 34 }, q4_0: { elements: 32, bytes: 18 }, q4_1: { elements: 32, bytes: 20 },
  q5_0: { elements: 32, bytes: 22 }, q5_1: { elements: 32, bytes: 24 },
  q4_k: { elements: 256, bytes: 144 }, q5_k: { elements: 256, bytes: 176 }, q6_k: { elements: 256, bytes: 210 },
};

// f16 bits → f32 value, as a table (every block scale goes through it).
const F16_TABLE = new Float32Array(65536);
for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16ToF32(h);

function f16At(w: Uint8Array, o: number): number {
  return F16_TABLE[w[o] | (w[o + 1] << 8)];
}

/** Bytes that n elements of `type` take; throws BackendError unless n is a whole number of blocks. */
export function quantBytes(op: string, type: DequantType, n: number): number {
  const b = QUANT_BLOCK[type];
  if (!b) throw new BackendError(op, `unknown type "${String(type)}" (known: ${Object.keys(QUANT_BLOCK).join(", ")})`);
  if (!Number.isInteger(n) || n < 0 || n % b.elements !== 0) {
    throw new BackendError(op, `n = ${n} must be a non-negative multiple of the ${type} block size ${b.elements}`);
  }
  return (n / b.elements) * b.bytes;
}

function checkLen(op: string, what: string, have: number, need: number, how: string): void {
  if (have < need) throw new BackendError(op, `${what} has ${have} elements/bytes, needs ${need} (${how})`);
}

/** Round half to even of a value (an f32 product), like _mm256_round_ps(_MM_ROUND_NEAREST) and nearest_int(). */
function roundEven(v: number): number {
  let r = Math.round(v);
  if (r - v === 0.5 && (r & 1) !== 0) r -= 1;
  return r;
}

/** C roundf: half away from zero. */
function roundAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

// ---- 6-bit scales of q4_k / q5_k (get_scale_min_k4) ----

function scaleMinK4(j: number, q: Uint8Array, o: number, out: Int32Array): void {
  if (j < 4) {
    out[0] = q[o + j] & 63;
    out[1] = q[o + j + 4] & 63;
  } else {
    out[0] = (q[o + j + 4] & 0xf) | ((q[o + j - 4] >> 6) << 4);
    out[1] = (q[o + j + 4] >> 4) | ((q[o + j] >> 6) << 4);
  }
}

// ---- dequantization ----

/** Decodes n elements of `type` blocks (raw GGUF bytes) to f32. */
export function refDequantize(w: Uint8Array, type: DequantType, out: Float32Array, n: number): void {
  const op = "dequantize";
  const bytes = quantBytes(op, type, n);
  checkLen(op, "w", w.length, bytes, `${n} elements of ${type}`);
  checkLen(op, "out", out.length, n, `n = ${n}`);
  const sm = new Int32Array(2);
  switch (type) {
    case "f32": {
      const dv = new DataView(w.buffer, w.byteOffset, bytes);
      for (let i = 0; i < n; i++) out[i] = dv.getFloat32(4 * i, true);
      return;
    }
    case "f16":
      for (let i = 0; i < n; i++) out[i] = F16_TABLE[w[2 * i] | (w[2 * i + 1] << 8)];
      return;
    case "bf16":
      for (let i = 0; i < n; i++) out[i] = bf16ToF32(w[2 * i] | (w[2 * i + 1] << 8));
      return;
    case "q8_0":
      for (let b = 0, o = 0; b < n / 32; b++, o += 34) {
        const d = f16At(w, o);
        for (let j = 0; j < 32; j++) out[b * 32 + j] = fround(((w[o + 2 + j] << 24) >> 24) * d);
      }
      return;
    case "q4_0":
      for (let b = 0, o = 0; b < n / 32; b++, o += 18) {
        const d = f16At(w, o);
        for (let j = 0; j < 16; j++) {
          const q = w[o + 2 + j];
          out[b * 32 + j] = fround(((q & 0xf) - 8) * d);
          out[b * 32 + j + 16] = fround(((q >> 4) - 8) * d);
        }
      }
      return;
    case "q4_1":
      for (let b = 0, o = 0; b < n / 32; b++, o += 20) {
        const d = f16At(w, o), m = f16At(w, o + 2);
        for (let j = 0; j < 16; j++) {
          const q = w[o + 4 + j];
          out[b * 32 + j] = fround(fround((q & 0xf) * d) + m);
          out[b * 32 + j + 16] = fround(fround((q >> 4) * d) + m);
        }
      }
      return;
    case "q5_0":
      for (let b = 0, o = 0; b < n / 32; b++, o += 22) {
        const d = f16At(w, o);
        const qh = (w[o + 2] | (w[o + 3] << 8) | (w[o + 4] << 16) | (w[o + 5] << 24)) >>> 0;
        for (let j = 0; j < 16; j++) {
          const q = w[o + 6 + j];
          const h0 = ((qh >>> j) << 4) & 0x10, h1 = (qh >>> (j + 12)) & 0x10;
          out[b * 32 + j] = fround((((q & 0xf) | h0) - 16) * d);
          out[b * 32 + j + 16] = fround((((q >> 4) | h1) - 16) * d);
        }
      }
      return;
    case "q5_1":
      for (let b = 0, o = 0; b < n / 32; b++, o += 24) {
        const d = f16At(w, o), m = f16At(w, o + 2);
        const qh = (w[o + 4] | (w[o + 5] << 8) | (w[o + 6] << 16) | (w[o + 7] << 24)) >>> 0;
        for (let j = 0; j < 16; j++) {
          const q = w[o + 8 + j];
          const h0 = ((qh >>> j) << 4) & 0x10, h1 = (qh >>> (j + 12)) & 0x10;
          out[b * 32 + j] = fround(fround(((q & 0xf) | h0) * d) + m);
          out[b * 32 + j + 16] = fround(fround(((q >> 4) | h1) * d) + m);
        }
      }
      return;
    case "q4_k":
      for (let b = 0, o = 0; b < n / 256; b++, o += 144) {
        const d = f16At(w, o), dmin = f16At(w, o + 2);
        let y = b * 256, q = o + 16;
        for (let j = 0; j < 4; j++, q += 32) {
          scaleMinK4(2 * j, w, o + 4, sm);
          const d1 = fround(d * sm[0]), m1 = fround(dmin * sm[1]);
          scaleMinK4(2 * j + 1, w, o + 4, sm);
          const d2 = fround(d * sm[0]), m2 = fround(dmin * sm[1]);
          for (let l = 0; l < 32; l++) out[y++] = fround(fround(d1 * (w[q + l] & 0xf)) - m1);
          for (let l = 0; l < 32; l++) out[y++] = fround(fround(d2 * (w[q + l] >> 4)) - m2);
        }
      }
      return;
    case "q5_k":
      for (let b = 0, o = 0; b < n / 256; b++, o += 176) {
        const d = f16At(w, o), dmin = f16At(w, o + 2);
        const qh = o + 16;
        let y = b * 256, ql = o + 48, u1 = 1, u2 = 2;
        for (let j = 0; j < 4; j++, ql += 32, u1 <<= 2, u2 <<= 2) {
          scaleMinK4(2 * j, w, o + 4, sm);
          const d1 = fround(d * sm[0]), m1 = fround(dmin * sm[1]);
          scaleMinK4(2 * j + 1, w, o + 4, sm);
          const d2 = fround(d * sm[0]), m2 = fround(dmin * sm[1]);
          for (let l = 0; l < 32; l++) out[y++] = fround(fround(d1 * ((w[ql + l] & 0xf) + (w[qh + l] & u1 ? 16 : 0))) - m1);
          for (let l = 0; l < 32; l++) out[y++] = fround(fround(d2 * ((w[ql + l] >> 4) + (w[qh + l] & u2 ? 16 : 0))) - m2);
        }
      }
      return;
    case "q6_k":
      for (let b = 0, o = 0; b < n / 256; b++, o += 210) {
        const d = f16At(w, o + 208);
        for (let half = 0; half < 2; half++) {
          const ql = o + half * 64, qh = o + 128 + half * 32, sc = o + 192 + half * 8, y = b * 256 + half * 128;
          for (let l = 0; l < 32; l++) {
            const is = l >> 4;
            const q1 = ((w[ql + l] & 0xf) | (((w[qh + l] >> 0) & 3) << 4)) - 32;
            const q2 = ((w[ql + l + 32] & 0xf) | (((w[qh + l] >> 2) & 3) << 4)) - 32;
            const q3 = ((w[ql + l] >> 4) | (((w[qh + l] >> 4) & 3) << 4)) - 32;
            const q4 = ((w[ql + l + 32] >> 4) | (((w[qh + l] >> 6) & 3) << 4)) - 32;
            out[y + l] = fround(fround(d * ((w[sc + is] << 24) >> 24)) * q1);
            out[y + l + 32] = fround(fround(d * ((w[sc + is + 2] << 24) >> 24)) * q2);
            out[y + l + 64] = fround(fround(d * ((w[sc + is + 4] << 24) >> 24)) * q3);
            out[y + l + 96] = fround(fround(d * ((w[sc + is + 6] << 24) >> 24)) * q4);
          }
        }
      }
      return;
    default:
      throw new BackendError(op, `unsupported type "${String(type)}"`);
  }
}

// ---- reference quantizers (llama-quantize's, no importance matrix) ----

function putF16(out: Uint8Array, o: number, v: number): void {
  const h = f32ToF16(v);
  out[o] = h & 0xff;
  out[o + 1] = h >> 8;
}

/** Quantizes n f32 values (a multiple of the block size) the way ggml's quantize_row_*_ref functions do. */
export function refQuantize(x: Float32Array, type: RefQuantizeType, out: Uint8Array, n: number): void {
  const op = "quantize";
  const bytes = quantBytes(op, type, n);
  checkLen(op, "x", x.length, n, `n = ${n}`);
  checkLen(op, "out", out.length, bytes, `${n} elements of ${type}`);
  switch (type) {
    case "f16":
      for (let i = 0; i < n; i++) putF16(out, 2 * i, x[i]);
      return;
    case "bf16":
      for (let i = 0; i < n; i++) {
        const h = f32ToBf16(x[i]);
        out[2 * i] = h & 0xff;
        out[2 * i + 1] = h >> 8;
      }
      return;
    case "q8_0":
      for (let b = 0; b < n / 32; b++) {
        const o = b * 34, xo = b * 32;
        let amax = 0;
        for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[xo + j]));
        const d = fround(amax / 127);
        const id = d ? fround(1 / d) : 0;
        putF16(out, o, d);
        for (let j = 0; j < 32; j++) out[o + 2 + j] = roundAway(fround(x[xo + j] * id)) & 0xff;
      }
      return;
    case "q4_0":
    case "q5_0": {
      const nmax = type === "q4_0" ? 8 : 16; // values stored as q + nmax in [0, 2·nmax)
      const bsz = type === "q4_0" ? 18 : 22;
      for (let b = 0; b < n / 32; b++) {
        const o = b * bsz, xo = b * 32;
        let amax = 0, max = 0;
        for (let j = 0; j < 32; j++) {
          const v = x[xo + j];
          if (amax < Math.abs(v)) { amax = Math.abs(v); max = v; }
        }
        const d = fround(max / -nmax);
        const id = d ? fround(1 / d) : 0;
        putF16(out, o, d);
        const top = 2 * nmax - 1;
        const half = fround(nmax + 0.5);
        let qh = 0;
        for (let j = 0; j < 16; j++) {
          // (int8_t)(x·id + nmax + 0.5) truncates toward zero; the argument is ≥ 0.5 here.
          const q0 = Math.min(top, Math.trunc(fround(fround(x[xo + j] * id) + half)));
          const q1 = Math.min(top, Math.trunc(fround(fround(x[xo + 16 + j] * id) + half)));
          if (type === "q4_0") {
            out[o + 2 + j] = q0 | (q1 << 4);
          } else {
            out[o + 6 + j] = (q0 & 0xf) | ((q1 & 0xf) << 4);
            qh |= ((q0 & 0x10) >> 4) << j;
            qh |= ((q1 & 0x10) >> 4) << (j + 16);
          }
        }
        if (type === "q5_0") for (let k = 0; k < 4; k++) out[o + 2 + k] = (qh >>> (8 * k)) & 0xff;
      }
      return;
    }
    case "q4_1":
    case "q5_1": {
      const levels = type === "q4_1" ? 15 : 31;
      const bsz = type === "q4_1" ? 20 : 24;
      for (let b = 0; b < n / 32; b++) {
        const o = b * bsz, xo = b * 32;
        let min = Infinity, max = -Infinity;
        for (let j = 0; j < 32; j++) {
          const v = x[xo + j];
          if (v < min) min = v;
          if (v > max) max = v;
        }
        const d = fround(fround(max - min) / levels);
        const id = d ? fround(1 / d) : 0;
        putF16(out, o, d);
        putF16(out, o + 2, min);
        let qh = 0;
        for (let j = 0; j < 16; j++) {
          const a = Math.trunc(fround(fround(fround(x[xo + j] - min) * id) + 0.5));
          const c = Math.trunc(fround(fround(fround(x[xo + 16 + j] - min) * id) + 0.5));
          if (type === "q4_1") {
            out[o + 4 + j] = Math.min(15, a) | (Math.min(15, c) << 4);
          } else {
            // quantize_row_q5_1_ref casts to uint8_t without clamping; values stay ≤ 31 here.
            out[o + 8 + j] = (a & 0xf) | ((c & 0xf) << 4);
            qh |= ((a & 0x10) >> 4) << j;
            qh |= ((c & 0x10) >> 4) << (j + 16);
          }
        }
        if (type === "q5_1") for (let k = 0; k < 4; k++) out[o + 4 + k] = (qh >>> (8 * k)) & 0xff;
      }
      return;
    }
    default:
      throw new BackendError(op, `unsupported type "${String(type)}" (quantize handles q8_0, q4_0, q4_1, q5_0, q5_1, f16, bf16)`);
  }
}

// ---- activation quantizers (ggml-cpu) ----

/** A row of activations quantized to Q8_0 / Q8_1 blocks: q (int8 per element), d (block scale as stored: f16
 *  rounded, as f32), s (Q8_1 only: f16(d·Σq) as f32). */
export interface Q8Row {
  q: Int8Array;
  d: Float32Array;
  s: Float32Array;
}

/** ggml-cpu's quantize_row_q8_0 / q8_1 on one row of n values (n a multiple of 32). */
export function quantizeRowQ8(x: Float32Array, xo: number, n: number, withSum: boolean, out: Q8Row): void {
  for (let b = 0; b < n / 32; b++) {
    const base = xo + b * 32;
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(x[base + j]));
    const d = fround(amax / 127);
    const id = amax !== 0 ? fround(127 / amax) : 0;
    let sum = 0;
    for (let j = 0; j < 32; j++) {
      const q = roundEven(fround(x[base + j] * id));
      out.q[b * 32 + j] = q;
      sum += q;
    }
    out.d[b] = F16_TABLE[f32ToF16(d)];
    if (withSum) out.s[b] = F16_TABLE[f32ToF16(fround(d * sum))];
  }
}

/** A row of activations quantized to Q8_K blocks: q, d (f32 per 256), bsums (per 16). */
export interface Q8KRow {
  q: Int8Array;
  d: Float32Array;
  bsums: Int32Array;
}

/** ggml's quantize_row_q8_K on one row of n values (n a multiple of 256). */
export function quantizeRowQ8K(x: Float32Array, xo: number, n: number, out: Q8KRow): void {
  for (let b = 0; b < n / 256; b++) {
    const base = xo + b * 256;
    let amax = 0, max = 0;
    for (let j = 0; j < 256; j++) {
      const ax = Math.abs(x[base + j]);
      if (ax > amax) { amax = ax; max = x[base + j]; }
    }
    if (amax === 0) {
      out.d[b] = 0;
      out.q.fill(0, b * 256, b * 256 + 256);
      out.bsums.fill(0, b * 16, b * 16 + 16);
      continue;
    }
    const iscale = fround(-127 / max);
    for (let j = 0; j < 256; j++) out.q[b * 256 + j] = Math.min(127, roundEven(fround(iscale * x[base + j])));
    for (let j = 0; j < 16; j++) {
      let s = 0;
      for (let k = 0; k < 16; k++) s += out.q[b * 256 + j * 16 + k];
      out.bsums[b * 16 + j] = s;
    }
    out.d[b] = fround(1 / iscale);
  }
}

// ---- matmul ----

/** A weight row unpacked to integers: q (one per element) and per-block float parameters. */
interface UnpackedRow {
  q: Int8Array;
  d: Float32Array; // q4_0..q8_0: block scale; k-quants: super-block d
  m: Float32Array; // q4_1/q5_1: block min; q4_k/q5_k: super-block dmin
  sc: Int32Array; // k-quants: sub-block scales (8 for q4_k/q5_k, 16 for q6_k)
  mn: Int32Array; // q4_k/q5_k: sub-block mins
}

function unpackRow(w: Uint8Array, o: number, type: QuantType, cols: number, u: UnpackedRow): void {
  const sm = new Int32Array(2);
  switch (type) {
    case "q8_0":
      for (let b = 0; b < cols / 32; b++, o += 34) {
        u.d[b] = f16At(w, o);
        for (let j = 0; j < 32; j++) u.q[b * 32 + j] = w[o + 2 + j];
      }
      return;
    case "q4_0":
    case "q4_1": {
      const bsz = type === "q4_0" ? 18 : 20, qo = type === "q4_0" ? 2 : 4, off = type === "q4_0" ? 8 : 0;
      for (let b = 0; b < cols / 32; b++, o += bsz) {
        u.d[b] = f16At(w, o);
        if (type === "q4_1") u.m[b] = f16At(w, o + 2);
        for (let j = 0; j < 16; j++) {
          const q = w[o + qo + j];
          u.q[b * 32 + j] = (q & 0xf) - off;
          u.q[b * 32 + j + 16] = (q >> 4) - off;
        }
      }
      return;
    }
    case "q5_0":
    case "q5_1": {
      const bsz = type === "q5_0" ? 22 : 24, ho = type === "q5_0" ? 2 : 4, off = type === "q5_0" ? 16 : 0;
      for (let b = 0; b < cols / 32; b++, o += bsz) {
        u.d[b] = f16At(w, o);
        if (type === "q5_1") u.m[b] = f16At(w, o + 2);
        const qh = (w[o + ho] | (w[o + ho + 1] << 8) | (w[o + ho + 2] << 16) | (w[o + ho + 3] << 24)) >>> 0;
        for (let j = 0; j < 16; j++) {
          const q = w[o + ho + 4 + j];
          u.q[b * 32 + j] = ((q & 0xf) | (((qh >>> j) << 4) & 0x10)) - off;
          u.q[b * 32 + j + 16] = ((q >> 4) | ((qh >>> (j + 12)) & 0x10)) - off;
        }
      }
      return;
    }
    case "q4_k":
    case "q5_k": {
      const bsz = type === "q4_k" ? 144 : 176;
      for (let b = 0; b < cols / 256; b++, o += bsz) {
        u.d[b] = f16At(w, o);
        u.m[b] = f16At(w, o + 2);
        for (let j = 0; j < 8; j++) {
          scaleMinK4(j, w, o + 4, sm);
          u.sc[b * 8 + j] = sm[0];
          u.mn[b * 8 + j] = sm[1];
        }
        const qs = type === "q4_k" ? o + 16 : o + 48, qh = o + 16;
        for (let c = 0; c < 4; c++) {
          for (let l = 0; l < 32; l++) {
            const q = w[qs + c * 32 + l];
            let lo = q & 0xf, hi = q >> 4;
            if (type === "q5_k") {
              if (w[qh + l] & (1 << (2 * c))) lo += 16;
              if (w[qh + l] & (2 << (2 * c))) hi += 16;
            }
            u.q[b * 256 + c * 64 + l] = lo;
            u.q[b * 256 + c * 64 + 32 + l] = hi;
          }
        }
      }
      return;
    }
    case "q6_k":
      for (let b = 0; b < cols / 256; b++, o += 210) {
        u.d[b] = f16At(w, o + 208);
        for (let j = 0; j < 16; j++) u.sc[b * 16 + j] = (w[o + 192 + j] << 24) >> 24;
        for (let half = 0; half < 2; half++) {
          const ql = o + half * 64, qh = o + 128 + half * 32, y = b * 256 + half * 128;
          for (let l = 0; l < 32; l++) {
            u.q[y + l] = ((w[ql + l] & 0xf) | ((w[qh + l] & 3) << 4)) - 32;
            u.q[y + l + 32] = ((w[ql + l + 32] & 0xf) | (((w[qh + l] >> 2) & 3) << 4)) - 32;
            u.q[y + l + 64] = ((w[ql + l] >> 4) | (((w[qh + l] >> 4) & 3) << 4)) - 32;
            u.q[y + l + 96] = ((w[ql + l + 32] >> 4) | (((w[qh + l] >> 6) & 3) << 4)) - 32;
          }
        }
      }
      return;
  }
}

/** The activation format ggml-cpu pairs with each weight type. */
export function activationFormat(type: WeightType): "exact" | "f16" | "bf16" | "q8_0" | "q8_1" | "q8_k" {
  switch (type) {
    case "f32": return "exact";
    case "f16": return "f16";
    case "bf16": return "bf16";
    case "q8_0": case "q4_0": case "q5_0": return "q8_0";
    case "q4_1": case "q5_1": return "q8_1";
    default: return "q8_k";
  }
}

/** The type each repacked type holds. */
export const PACKED_SOURCE: Record<PackedType, R16Source> = {
  q8_0_r16: "q8_0", q4_0_r16: "q4_0", q4_k_r16: "q4_k", q6_k_r16: "q6_k",
};
export type R16Source = "q8_0" | "q4_0" | "q4_k" | "q6_k";

export function isPacked(type: WeightType): type is PackedType {
  return type in PACKED_SOURCE;
}

// The r16 layout. Rows 16g … 16g+15 (group g) become nb tiles in block order; tile b holds block b of each of the
// 16 rows ("lanes") in exactly their bytes (16 × the block size), arranged so that a 64-byte vector holds the same
// 4 weights of all 16 rows:
//   q8_0 (544 bytes): 16 × f16 d (lane l at 2l), then 8 chunks of 64: chunk k holds lane l's weights 4k … 4k+3 at
//     4l … 4l+3, each plus 128 (unsigned).
//   q4_0 (288): 16 × f16 d, then 4 chunks: chunk k holds lane l's packed bytes 4k … 4k+3 as stored (low nibbles:
//     weights 4k …, high nibbles: 16+4k …).
//   q4_k (2304): 16 × f16 d, 16 × f16 dmin, 8 scale records of 24 bytes (sub-block s at 64 + 24s: byte l =
//     scale | (min & 3) << 6, byte 16 + l/2 holds min >> 2 in its low nibble for even l, high for odd), then 32
//     chunks: chunk 8p + k holds lane l's quant bytes 32p + 4k … +3 as stored (low nibbles: sub-block 2p, weights
//     4k …; high: sub-block 2p+1).
//   q6_k (3360): 16 × f16 d, 16 × 16 int8 scales (sub-block g at 32 + 16g, lane l at byte l), then per 16-weight
//     sub-block g three chunks at 288 + 192g, over the 6-bit values u = q + 32 of weights 16g + i: chunk A byte
//     4l+i = u[i] & 15 | (u[4+i] & 15) << 4, chunk B the same for u[8+i], u[12+i], chunk H = u[i] >> 4 |
//     (u[4+i] >> 4) << 2 | (u[8+i] >> 4) << 4 | (u[12+i] >> 4) << 6 (i = 0 … 3).
// A group takes exactly the bytes of its 16 rows, so repacking happens in place.

/** Lane l of the tile at `t` in `p` ⇄ the GGUF block at `o` in `w`: pack (w → p) or unpack (p → w). */
function laneCodec(type: R16Source, pack: boolean, w: Uint8Array, o: number, p: Uint8Array, t: number, l: number): void {
  const mv = (wi: number, pi: number, flip = 0) => {
    if (pack) p[pi] = w[wi] ^ flip;
    else w[wi] = p[pi] ^ flip;
  };
  switch (type) {
    case "q8_0": case "q4_0": {
      mv(o, t + 2 * l);
      mv(o + 1, t + 2 * l + 1);
      for (let k = 0; k < (type === "q8_0" ? 8 : 4); k++) {
        for (let i = 0; i < 4; i++) mv(o + 2 + 4 * k + i, t + 32 + 64 * k + 4 * l + i, type === "q8_0" ? 0x80 : 0);
      }
      return;
    }
    case "q4_k": {
      mv(o, t + 2 * l);
      mv(o + 1, t + 2 * l + 1);
      mv(o + 2, t + 32 + 2 * l);
      mv(o + 3, t + 33 + 2 * l);
      const sc = new Int32Array(8), mn = new Int32Array(8), sm = new Int32Array(2);
      const nibShift = (l & 1) * 4;
      for (let s = 0; s < 8; s++) {
        const rec = t + 64 + 24 * s, nib = rec + 16 + (l >> 1);
        if (pack) {
          scaleMinK4(s, w, o + 4, sm);
          p[rec + l] = sm[0] | ((sm[1] & 3) << 6);
          p[nib] = (p[nib] & ~(15 << nibShift)) | ((sm[1] >> 2) << nibShift);
        } else {
          sc[s] = p[rec + l] & 63;
          mn[s] = (p[rec + l] >> 6) | (((p[nib] >> nibShift) & 15) << 2);
        }
      }
      if (!pack) {
        for (let j = 0; j < 4; j++) {
          w[o + 4 + j] = sc[j] | ((sc[j + 4] >> 4) << 6);
          w[o + 8 + j] = mn[j] | ((mn[j + 4] >> 4) << 6);
          w[o + 12 + j] = (sc[j + 4] & 15) | ((mn[j + 4] & 15) << 4);
        }
      }
      for (let c = 0; c < 32; c++) for (let i = 0; i < 4; i++) mv(o + 16 + 4 * c + i, t + 256 + 64 * c + 4 * l + i);
      return;
    }
    case "q6_k": {
      mv(o + 208, t + 2 * l);
      mv(o + 209, t + 2 * l + 1);
      for (let g = 0; g < 16; g++) mv(o + 192 + g, t + 32 + 16 * g + l);
      // u[e]: the 6-bit value of weight e; in GGUF, ql/qh hold each 128-weight half as 4 runs of 32.
      const where = (e: number) => {
        const half = e >> 7, r = e & 127, run = r >> 5, idx = r & 31;
        return { ql: o + 64 * half + idx + (run & 1) * 32, hiNib: run >= 2, qh: o + 128 + 32 * half + idx, qhShift: 2 * run };
      };
      if (pack) {
        const u = (e: number) => {
          const x = where(e);
          return (x.hiNib ? w[x.ql] >> 4 : w[x.ql] & 15) | (((w[x.qh] >> x.qhShift) & 3) << 4);
        };
        for (let g = 0; g < 16; g++) {
          const c = t + 288 + 192 * g + 4 * l;
          for (let i = 0; i < 4; i++) {
            const e = 16 * g + i;
            p[c + i] = (u(e) & 15) | ((u(e + 4) & 15) << 4);
            p[c + 64 + i] = (u(e + 8) & 15) | ((u(e + 12) & 15) << 4);
            p[c + 128 + i] = (u(e) >> 4) | ((u(e + 4) >> 4) << 2) | ((u(e + 8) >> 4) << 4) | ((u(e + 12) >> 4) << 6);
          }
        }
      } else {
        for (let g = 0; g < 16; g++) {
          const c = t + 288 + 192 * g + 4 * l;
          for (let i = 0; i < 4; i++) {
            const A = p[c + i], B = p[c + 64 + i], H = p[c + 128 + i];
            const vals = [(A & 15) | ((H & 3) << 4), (A >> 4) | (((H >> 2) & 3) << 4), (B & 15) | (((H >> 4) & 3) << 4), (B >> 4) | (((H >> 6) & 3) << 4)];
            vals.forEach((v, q) => {
              const x = where(16 * g + 4 * q + i);
              w[x.ql] = x.hiNib ? (w[x.ql] & 15) | ((v & 15) << 4) : (w[x.ql] & 0xf0) | (v & 15);
              w[x.qh] = (w[x.qh] & ~(3 << x.qhShift)) | ((v >> 4) << x.qhShift);
            });
          }
        }
      }
      return;
    }
  }
}

/** Walks every (row, block) of an r16 matrix: (byte offset of the GGUF block, tile offset, lane). */
function r16Walk(type: R16Source, rows: number, cols: number, visit: (o: number, t: number, l: number) => void): void {
  const bytes = QUANT_BLOCK[type].bytes, nb = cols / QUANT_BLOCK[type].elements;
  for (let r = 0; r < rows; r++) {
    const l = r % 16, base = (r - l) * nb * bytes;
    for (let b = 0; b < nb; b++) visit((r * nb + b) * bytes, base + b * 16 * bytes, l);
  }
}

function checkR16(op: string, type: R16Source, w: Uint8Array, rows: number, cols: number): void {
  const bs = QUANT_BLOCK[type].elements;
  if (!Number.isInteger(rows) || rows <= 0 || rows % 16 !== 0 || !Number.isInteger(cols) || cols <= 0 || cols % bs !== 0) {
    throw new BackendError(op, `an r16 matrix needs rows a positive multiple of 16 and cols of ${bs}, got [${rows}, ${cols}]`);
  }
  checkLen(op, "w", w.length, quantBytes(op, type, cols) * rows, `${rows} rows × ${cols} cols of ${type}`);
}

/** A q8_0 / q4_0 / q4_k / q6_k matrix [rows, cols] in the r16 layout (a new array). */
export function refRepackR16(w: Uint8Array, type: R16Source, rows: number, cols: number): Uint8Array {
  checkR16("repackWeight", type, w, rows, cols);
  const out = new Uint8Array(w.length);
  r16Walk(type, rows, cols, (o, t, l) => laneCodec(type, true, w, o, out, t, l));
  return out;
}

/** The rows an r16 matrix holds, in their GGUF layout (a new array). */
export function refUnpackR16(w: Uint8Array, type: PackedType, rows: number, cols: number): Uint8Array {
  const source = PACKED_SOURCE[type];
  checkR16("unpackR16", source, w, rows, cols);
  const out = new Uint8Array(w.length);
  r16Walk(source, rows, cols, (o, t, l) => laneCodec(source, false, out, o, w, t, l));
  return out;
}

/** Row r of an r16 matrix with `cols` columns, in the GGUF blocks of the type it holds (a new array): how a
 *  repacked embedding table is read by token id. */
export function refR16Row(w: Uint8Array, type: PackedType, cols: number, r: number): Uint8Array {
  const source = PACKED_SOURCE[type], { bytes, elements } = QUANT_BLOCK[source], nb = cols / elements;
  if (!Number.isInteger(r) || r < 0 || ((r - (r % 16)) + 16) * nb * bytes > w.length) {
    throw new BackendError("r16Row", `row ${r} is outside the ${type} matrix of ${w.length} bytes with ${cols} columns`);
  }
  const out = new Uint8Array(nb * bytes), l = r % 16, base = (r - l) * nb * bytes;
  for (let b = 0; b < nb; b++) laneCodec(source, false, out, b * bytes, w, base + b * 16 * bytes, l);
  return out;
}

/** out[i, r] = dot(W row r, x row i) for W [rows, cols] of `type` (raw GGUF bytes), x [m, cols], out [m, rows],
 *  with activations rounded the way ggml-cpu does (see the file header). */
export function refQuantMatmul(w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array,
  out: Float32Array, m: number): void {
  const op = "quantMatmul";
  if (isPacked(type)) return refQuantMatmul(refUnpackR16(w, type, rows, cols), PACKED_SOURCE[type], rows, cols, x, out, m);
  for (const [k, v] of [["rows", rows], ["cols", cols], ["m", m]] as const) {
    if (!Number.isInteger(v) || v < 0) throw new BackendError(op, `${k} = ${v} must be a non-negative integer`);
  }
  const rowBytes = quantBytes(op, type, cols);
  checkLen(op, "w", w.length, rowBytes * rows, `${rows} rows × ${cols} cols of ${type}`);
  checkLen(op, "x", x.length, m * cols, `m·cols = ${m}·${cols}`);
  checkLen(op, "out", out.length, m * rows, `m·rows = ${m}·${rows}`);
  const fmt = activationFormat(type);

  if (fmt === "exact" || fmt === "f16" || fmt === "bf16") {
    // Float weights: round the activations (f16/bf16), then exact products summed in f64, rounded once.
    const xr = new Float64Array(m * cols);
    for (let i = 0; i < m * cols; i++) {
      xr[i] = fmt === "f16" ? F16_TABLE[f32ToF16(x[i])] : fmt === "bf16" ? bf16ToF32(f32ToBf16(x[i])) : x[i];
    }
    const wr = new Float32Array(cols);
    for (let r = 0; r < rows; r++) {
      refDequantize(w.subarray(r * rowBytes, (r + 1) * rowBytes), type as DequantType, wr, cols);
      for (let i = 0; i < m; i++) {
        let s = 0;
        for (let k = 0; k < cols; k++) s += wr[k] * xr[i * cols + k];
        out[i * rows + r] = fround(s);
      }
    }
    return;
  }

  const qt = type as QuantType;
  const isK = fmt === "q8_k";
  const bs = isK ? 256 : 32;
  const nb = cols / bs;
  // Quantize every activation row once.
  const xq = new Int8Array(m * cols);
  const xd = new Float32Array(m * nb);
  const xs = new Float32Array(m * nb);
  const xb = new Int32Array(m * nb * 16);
  for (let i = 0; i < m; i++) {
    if (isK) {
      quantizeRowQ8K(x, i * cols, cols, { q: xq.subarray(i * cols), d: xd.subarray(i * nb), bsums: xb.subarray(i * nb * 16) });
    } else {
      quantizeRowQ8(x, i * cols, cols, fmt === "q8_1", { q: xq.subarray(i * cols), d: xd.subarray(i * nb), s: xs.subarray(i * nb) });
    }
  }
  const u: UnpackedRow = {
    q: new Int8Array(cols), d: new Float32Array(nb), m: new Float32Array(nb), sc: new Int32Array(nb * 16), mn: new Int32Array(nb * 8),
  };
  for (let r = 0; r < rows; r++) {
    unpackRow(w, r * rowBytes, qt, cols, u);
    for (let i = 0; i < m; i++) {
      const xo = i * cols;
      let acc = 0;
      if (!isK) {
        for (let b = 0; b < nb; b++) {
          let sumi = 0;
          for (let j = b * 32; j < b * 32 + 32; j++) sumi += u.q[j] * xq[xo + j];
          const dd = fround(u.d[b] * xd[i * nb + b]);
          acc = fround(acc + fround(dd * sumi));
          if (fmt === "q8_1") acc = fround(acc + fround(u.m[b] * xs[i * nb + b]));
        }
      } else {
        let accMin = 0;
        for (let b = 0; b < nb; b++) {
          let isum = 0;
          if (qt === "q6_k") {
            for (let g = 0; g < 16; g++) {
              let s = 0;
              for (let j = b * 256 + g * 16; j < b * 256 + g * 16 + 16; j++) s += u.q[j] * xq[xo + j];
              isum += u.sc[b * 16 + g] * s;
            }
          } else {
            for (let g = 0; g < 8; g++) {
              let s = 0;
              for (let j = b * 256 + g * 32; j < b * 256 + g * 32 + 32; j++) s += u.q[j] * xq[xo + j];
              isum += u.sc[b * 8 + g] * s;
            }
            let msum = 0;
            for (let j = 0; j < 16; j++) msum += xb[(i * nb + b) * 16 + j] * u.mn[b * 8 + (j >> 1)];
            accMin = fround(accMin + fround(fround(u.m[b] * xd[i * nb + b]) * msum));
          }
          acc = fround(acc + fround(fround(u.d[b] * xd[i * nb + b]) * isum));
        }
        acc = fround(acc - accMin);
      }
      out[i * rows + r] = acc;
    }
  }
}

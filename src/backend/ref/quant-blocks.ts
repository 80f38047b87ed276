// Quantized GGUF block formats in plain TypeScript: the block-size table, the f16 scale table, the byte counts and
// length checks every quantized op shares, the rounding rules, and refDequantize (blocks → f32 for f16, bf16, f32,
// q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k). Block layouts are ggml's exactly (ggml-common.h); every float
// step is rounded to f32 (Math.fround) in the order ggml's scalar code uses.
// Leaves out: quantizers (quant-quantize.ts), the r16 layout (quant-r16.ts), the matmul (quant.ts).

import { bf16ToF32, f16ToF32 } from "../../core/dtype.js";
import { BackendError, type QuantType } from "../backend.js";

export type DequantType = QuantType | "f16" | "bf16" | "f32";

const fround = Math.fround;

/** Elements and bytes per block of each type handled here. */
export const QUANT_BLOCK: Record<DequantType, { elements: number; bytes: number }> = {
  f32: { elements: 1, bytes: 4 }, f16: { elements: 1, bytes: 2 }, bf16: { elements: 1, bytes: 2 },
  q8_0: { elements: 32, bytes: 34 }, q4_0: { elements: 32, bytes: 18 }, q4_1: { elements: 32, bytes: 20 },
  q5_0: { elements: 32, bytes: 22 }, q5_1: { elements: 32, bytes: 24 },
  q4_k: { elements: 256, bytes: 144 }, q5_k: { elements: 256, bytes: 176 }, q6_k: { elements: 256, bytes: 210 },
};

/** f16 bits → f32 value, as a table (every block scale goes through it). */
export const F16_TABLE = new Float32Array(65536);
for (let h = 0; h < 65536; h++) F16_TABLE[h] = f16ToF32(h);

export function f16At(w: Uint8Array, o: number): number {
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

/** Throws BackendError naming the op and the array unless it has at least `need` elements (or bytes). */
export function checkLen(op: string, what: string, have: number, need: number, how: string): void {
  if (have < need) throw new BackendError(op, `${what} has ${have} elements/bytes, needs ${need} (${how})`);
}

/** Round half to even of a value (an f32 product), like _mm256_round_ps(_MM_ROUND_NEAREST) and nearest_int(). */
export function roundEven(v: number): number {
  let r = Math.round(v);
  if (r - v === 0.5 && (r & 1) !== 0) r -= 1;
  return r;
}

/** C roundf: half away from zero. */
export function roundAway(v: number): number {
  return v < 0 ? -Math.floor(-v + 0.5) : Math.floor(v + 0.5);
}

// ---- 6-bit scales of q4_k / q5_k (get_scale_min_k4) ----

export function scaleMinK4(j: number, q: Uint8Array, o: number, out: Int32Array): void {
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

// Quantizers in plain TypeScript, as ggml does them: refQuantize (f32 → blocks, ggml's quantize_row_*_ref — what
// llama-quantize uses for q8_0/q4_0/q4_1/q5_0/q5_1 without an importance matrix — plus f16 and bf16, round to
// nearest even) and the activation quantizers ggml-cpu applies before a dot product with quantized weights:
//   Q8_0 (q8_0, q4_0, q5_0 weights) and Q8_1 (q4_1, q5_1 weights): blocks of 32, d = amax/127 stored as f16,
//   q = round-half-even(x · (127/amax)), and for Q8_1 also s = f16(d · Σq);
//   Q8_K (k-quants): blocks of 256, iscale = −127/max (max: the signed value of largest magnitude),
//   q = min(127, round-half-even(iscale · x)), d = 1/iscale as f32, bsums = sums of 16 q's.
// Leaves out: k-quant quantization (llama-quantize's search for scales), importance matrices.

import { f32ToBf16, f32ToF16 } from "../../core/dtype.js";
import { BackendError } from "../backend.js";
import { checkLen, F16_TABLE, quantBytes, roundAway, roundEven } from "./quant-blocks.js";

export type RefQuantizeType = "q8_0" | "q4_0" | "q4_1" | "q5_0" | "q5_1" | "f16" | "bf16";

const fround = Math.fround;

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

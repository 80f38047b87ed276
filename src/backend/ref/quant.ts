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
// The parts live in quant-blocks.ts (layouts, refDequantize), quant-quantize.ts and quant-r16.ts; this file
// holds the matmul and re-exports them, so callers import every quantized reference from here.
// Leaves out: k-quant quantization (llama-quantize's search for scales), the iq*/tq* types, q2_k/q3_k.

import { bf16ToF32, f32ToBf16, f32ToF16 } from "../../core/dtype.js";
import { BackendError, type QuantType, type WeightType } from "../backend.js";
import { checkLen, F16_TABLE, f16At, quantBytes, refDequantize, scaleMinK4, type DequantType } from "./quant-blocks.js";
import { quantizeRowQ8, quantizeRowQ8K } from "./quant-quantize.js";
import { isPacked, PACKED_SOURCE, refUnpackR16 } from "./quant-r16.js";

export { QUANT_BLOCK, quantBytes, refDequantize, type DequantType } from "./quant-blocks.js";
export { quantizeRowQ8, quantizeRowQ8K, refQuantize, type Q8KRow, type Q8Row, type RefQuantizeType } from "./quant-quantize.js";
export { isPacked, PACKED_SOURCE, refR16Row, refRepackR16, refUnpackR16, type R16Source } from "./quant-r16.js";

const fround = Math.fround;

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

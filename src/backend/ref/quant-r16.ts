// The r16 layout of q8_0, q4_0, q4_k and q6_k matrices in plain TypeScript (16 rows interleaved per block, for
// SIMD kernels that advance 16 dot products per instruction; see native/quant_r16.c): repacking, unpacking, and
// reading one row of a repacked embedding table. The specification native/quant_r16.c is tested against.
// Leaves out: matmul over r16 matrices (quant.ts unpacks and runs the plain matmul).

import { BackendError, type PackedType, type WeightType } from "../backend.js";
import { checkLen, QUANT_BLOCK, quantBytes, scaleMinK4 } from "./quant-blocks.js";

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

// Token-embedding lookup that works for a trainable f32 table (autograd through the embedding op) and for a
// table kept in its GGUF encoding (f16, bf16, q8_0, q4_k, ...), where only the looked-up rows are decoded —
// as llama.cpp's get_rows does — so a quantized embedding never needs an f32 copy of the whole table.
// Leaves out: gradients for encoded tables (inference only).
import type { QuantType } from "../backend/backend.js";
import { bf16ToF32, f16ToF32 } from "../core/dtype.js";
import { type QuantWeight, type Tensor, embedding, fromTypedArray, getDefaultBackend, isQuantWeight } from "../tensor/index.js";
import { ggmlRowSize } from "../io/ggml-types.js";

export type Weight = Tensor | QuantWeight;

/** Rows `ids` of the table [vocab, dim] → [ids.length, dim] f32. */
export function embedRows(table: Weight, ids: Int32Array, dim: number): Tensor {
  if (!isQuantWeight(table)) return embedding(table, fromTypedArray(ids, [ids.length]));
  if (table.cols !== dim) throw new Error(`[embedRows] table has ${table.cols} columns, expected ${dim}`);
  const out = new Float32Array(ids.length * dim);
  const rowBytes = ggmlRowSize(table.type, dim);
  const backend = getDefaultBackend();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= table.rows) {
      throw new RangeError(`[embedRows] token id ${id} is outside the vocabulary [0, ${table.rows})`);
    }
    const row = table.data.subarray(id * rowBytes, (id + 1) * rowBytes);
    const dst = out.subarray(i * dim, (i + 1) * dim);
    decodeRow(row, table.type, dst, dim, backend.dequantize.bind(backend));
  }
  return fromTypedArray(out, [ids.length, dim]);
}

function decodeRow(row: Uint8Array, type: QuantWeight["type"], dst: Float32Array, n: number,
  dequantize: (w: Uint8Array, type: QuantType, out: Float32Array, n: number) => void): void {
  if (type === "f32") {
    dst.set(new Float32Array(row.buffer.slice(row.byteOffset, row.byteOffset + n * 4)));
  } else if (type === "f16" || type === "bf16") {
    const bits = new Uint16Array(row.buffer.slice(row.byteOffset, row.byteOffset + n * 2));
    for (let j = 0; j < n; j++) dst[j] = type === "f16" ? f16ToF32(bits[j]) : bf16ToF32(bits[j]);
  } else {
    dequantize(row, type, dst, n);
  }
}

// Token-embedding lookup that works for a trainable f32 table (autograd through the embedding op) and for a
// table kept in its GGUF encoding (f16, bf16, q8_0, q4_k, ...), where only the looked-up rows are decoded —
// as llama.cpp's get_rows does — so a quantized embedding never needs an f32 copy of the whole table. A table
// repacked for matmuls (an r16 type, when tied to the output layer) gives each row back in GGUF blocks.
// Leaves out: gradients for encoded tables (inference only).
import { type AdaptedWeight, type QuantWeight, type Tensor, decodeWeightInto, embedding, fromTypedArray, getDefaultBackend, isAdaptedWeight, isQuantWeight } from "../tensor/index.js";
import { ggmlRowSize } from "../io/ggml-types.js";
import { PACKED_SOURCE, isPacked, refR16Row } from "../backend/ref/quant.js";
import type { PackedType } from "../backend/backend.js";

/** A parameter as a network holds it: f32 tensor, GGUF-encoded matrix, or a frozen matrix with LoRA adapters. */
export type Weight = Tensor | QuantWeight | AdaptedWeight;

/** Rows `ids` of the table [vocab, dim] → [ids.length, dim] f32. */
export function embedRows(weight: Weight, ids: Int32Array, dim: number): Tensor {
  // A table tied to an adapted output layer: the lookup reads the frozen base (adapters act on the matmul).
  const table = isAdaptedWeight(weight) ? weight.base : weight;
  if (!isQuantWeight(table)) return embedding(table, fromTypedArray(ids, [ids.length]));
  if (table.cols !== dim) throw new Error(`[embedRows] table has ${table.cols} columns, expected ${dim}`);
  const packed = isPacked(table.type) ? table.type : null;
  const type = packed ? PACKED_SOURCE[packed] : (table.type as Exclude<typeof table.type, PackedType>);
  const out = new Float32Array(ids.length * dim);
  const rowBytes = ggmlRowSize(type, dim);
  const backend = getDefaultBackend();
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i];
    if (!Number.isInteger(id) || id < 0 || id >= table.rows) {
      throw new RangeError(`[embedRows] token id ${id} is outside the vocabulary [0, ${table.rows})`);
    }
    const row = packed ? refR16Row(table.data, packed, dim, id) : table.data.subarray(id * rowBytes, (id + 1) * rowBytes);
    const dst = out.subarray(i * dim, (i + 1) * dim);
    decodeWeightInto(row, type, dst, dim, backend);
  }
  return fromTypedArray(out, [ids.length, dim]);
}

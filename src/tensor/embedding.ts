// Row lookups with their derivative: embedding(table [V, D], ids i32 [...]) → [..., D] and indexSelect (the
// same gather for any tensor's leading dim). The backward scatters-adds rows into a zeroed table gradient, or,
// when the table already has a gradient from another use (an LM head tied to the embedding), into that one.
// Leaves out: sparse gradients, padding_idx, max_norm.
import { OpError, fmtShape } from "../core/errors.js";
import type { Shape } from "../core/shape.js";
import type { AccumulatorTable, DerivativeTable } from "./graph.js";
import { Tensor } from "./tensor.js";
import { record, save } from "./autograd.js";
import { backendOf, denseF32, denseI32, outF32 } from "./operands.js";

declare module "./graph.js" {
  interface SavedByOp {
    embedding: { ids: Tensor; tableShape: Shape };
  }
}

/** out[..., :] = table[ids[...], :]; throws on an id outside [0, V). */
export function embedding(table: Tensor, ids: Tensor): Tensor {
  const backend = backendOf("embedding", table, ids);
  if (table.rank !== 2) throw new OpError("embedding", `table must be [vocab, dim], got ${fmtShape(table.shape)}`);
  const [vocab, dim] = table.shape;
  return gatherRows("embedding", backend, table, ids, vocab, dim, [...ids.shape, dim]);
}

/** Rows of x along dim 0: indexSelect(x, ids)[i] = x[ids[i]]; result [...ids.shape, ...x.shape.slice(1)]. */
export function indexSelect(x: Tensor, ids: Tensor): Tensor {
  const backend = backendOf("indexSelect", x, ids);
  if (x.rank < 1) throw new OpError("indexSelect", "x must have at least one dim");
  const dim = x.size / (x.shape[0] || 1);
  return gatherRows("indexSelect", backend, x, ids, x.shape[0], dim, [...ids.shape, ...x.shape.slice(1)]);
}

function gatherRows(op: string, backend: Tensor["backend"], table: Tensor, ids: Tensor, vocab: number, dim: number,
  outShape: Shape): Tensor {
  const ts = denseF32(op, table, "table");
  const is = denseI32(op, ids);
  const out = Tensor.uninit(backend, "f32", outShape);
  try {
    for (let i = 0; i < ids.size; i++) {
      const id = is.data[i];
      if (!(id >= 0 && id < vocab)) {
        throw new OpError(op, `id ${id} at position ${i} is outside [0, ${vocab}) for table ${fmtShape(table.shape)}`);
      }
    }
    if (out.size > 0) backend.embedding(ts.data, is.data, outF32(out), ids.size, dim, vocab);
  } finally {
    ts.release(); is.release();
  }
  return record(out, "embedding", [table, null], () => ({ ids: save(ids), tableShape: table.shape }));
}

/** dTable[ids[i], :] += dy[i, :] (dTable: a dense f32 gradient of the table). */
function scatterRows(ids: Tensor, tableShape: Shape, dy: Tensor, dTable: Tensor): void {
  const dim = dTable.size / (tableShape[0] || 1);
  const is = denseI32("embedding", ids);
  const ds = denseF32("embedding", dy);
  if (dy.size > 0) dy.backend.embeddingBackward(is.data, ds.data, outF32(dTable), ids.size, dim);
  is.release(); ds.release();
}

export const embeddingDerivatives: DerivativeTable<"embedding"> = {
  embedding: ({ saved: { ids, tableShape } }, dy) => {
    const dTable = Tensor.empty(dy.backend, "f32", tableShape);
    scatterRows(ids, tableShape, dy, dTable);
    return [dTable, null];
  },
};

/** A tied table's gradient (V × D, 38.6M floats for GPT-2) already exists when the lookup's backward runs: adding
 *  the looked-up rows into it skips a zero-filled table and a full-size sum. */
export const embeddingAccumulators: AccumulatorTable<"embedding"> = {
  embedding: ({ saved: { ids, tableShape } }, dy, acc) => {
    scatterRows(ids, tableShape, dy, acc);
    return [null, null];
  },
};

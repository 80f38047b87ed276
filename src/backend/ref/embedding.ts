// Reference embedding lookup (gather rows of a [vocab, dim] table) and its backward (scatter-add).
// Leaves out: argument validation incl. id range checks (checks.ts), padding_idx and max_norm.

export function embedding(table: Float32Array, ids: Int32Array, out: Float32Array, n: number, dim: number): void {
  for (let i = 0; i < n; i++) out.set(table.subarray(ids[i] * dim, ids[i] * dim + dim), i * dim);
}

/** dTable[ids[i], :] += dOut[i, :]. */
export function embeddingBackward(ids: Int32Array, dOut: Float32Array, dTable: Float32Array, n: number, dim: number): void {
  for (let i = 0; i < n; i++) {
    const row = ids[i] * dim;
    for (let j = 0; j < dim; j++) dTable[row + j] += dOut[i * dim + j];
  }
}

// Reference cross-entropy over rows of logits with an ignore index: per-row loss logsumexp − logit[target] and
// its gradient (softmax − onehot)·dLoss. float64 sums.
// Leaves out: argument validation incl. target range (checks.ts), label smoothing, the mean (done by the caller).

function logSumExp(logits: Float32Array, base: number, cols: number): number {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) if (logits[base + j] > max) max = logits[base + j];
  if (max === -Infinity) return -Infinity;
  let sum = 0;
  for (let j = 0; j < cols; j++) sum += Math.exp(logits[base + j] - max);
  return max + Math.log(sum);
}

/** Returns the number of rows whose target is not ignoreIndex. */
export function crossEntropy(logits: Float32Array, targets: Int32Array, losses: Float32Array, rows: number,
  cols: number, ignoreIndex: number): number {
  let counted = 0;
  for (let r = 0; r < rows; r++) {
    if (targets[r] === ignoreIndex) {
      losses[r] = 0;
      continue;
    }
    losses[r] = logSumExp(logits, r * cols, cols) - logits[r * cols + targets[r]];
    counted++;
  }
  return counted;
}

export function crossEntropyBackward(logits: Float32Array, targets: Int32Array, dLoss: Float32Array,
  dLogits: Float32Array, rows: number, cols: number, ignoreIndex: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    if (targets[r] === ignoreIndex) {
      dLogits.fill(0, base, base + cols);
      continue;
    }
    const lse = logSumExp(logits, base, cols);
    for (let j = 0; j < cols; j++) {
      const p = Math.exp(logits[base + j] - lse);
      dLogits[base + j] = (p - (j === targets[r] ? 1 : 0)) * dLoss[r];
    }
  }
}

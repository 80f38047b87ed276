// Reference row softmax and log-softmax (max-subtracted, float64 sums) and their backward passes.
// A row that is all -inf has no probability mass: softmax and logSoftmax both write zeros there (never NaN).
// Leaves out: argument validation (checks.ts), masking (callers put -inf where they mask).

function rowMax(x: Float32Array, base: number, cols: number): number {
  let max = -Infinity;
  for (let j = 0; j < cols; j++) if (x[base + j] > max) max = x[base + j];
  return max;
}

export function softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const max = rowMax(x, base, cols);
    if (max === -Infinity) {
      out.fill(0, base, base + cols);
      continue;
    }
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(x[base + j] - max);
    for (let j = 0; j < cols; j++) out[base + j] = Math.exp(x[base + j] - max) / sum;
  }
}

/** dx += y ⊙ (dy − Σ dy⊙y). */
export function softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let dot = 0;
    for (let j = 0; j < cols; j++) dot += dy[base + j] * y[base + j];
    for (let j = 0; j < cols; j++) dx[base + j] += y[base + j] * (dy[base + j] - dot);
  }
}

/** out = x − max − log Σ exp(x − max). */
export function logSoftmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    const max = rowMax(x, base, cols);
    if (max === -Infinity) {
      out.fill(0, base, base + cols);
      continue;
    }
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(x[base + j] - max);
    const logSum = Math.log(sum);
    for (let j = 0; j < cols; j++) out[base + j] = x[base + j] - max - logSum;
  }
}

/** dx += dy − exp(y)·Σ dy. */
export function logSoftmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += dy[base + j];
    for (let j = 0; j < cols; j++) dx[base + j] += dy[base + j] - Math.exp(y[base + j]) * sum;
  }
}

// Reference LayerNorm and RMSNorm over the last dim (rows × cols), forward saving per-row statistics and
// backward accumulating into dx, dw, db. Statistics in float64; variance is the biased (÷cols) one, like torch.
// Leaves out: argument validation (checks.ts), group/batch norms.

export function layerNorm(x: Float32Array, w: Float32Array | null, b: Float32Array | null, out: Float32Array,
  mean: Float32Array, rstd: Float32Array, rows: number, cols: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += x[base + j];
    const mu = sum / cols;
    let sq = 0;
    for (let j = 0; j < cols; j++) sq += (x[base + j] - mu) ** 2;
    const rs = 1 / Math.sqrt(sq / cols + eps);
    for (let j = 0; j < cols; j++) {
      const xhat = (x[base + j] - mu) * rs;
      out[base + j] = xhat * (w ? w[j] : 1) + (b ? b[j] : 0);
    }
    mean[r] = mu;
    rstd[r] = rs;
  }
}

/** dx += rstd·(g − mean(g) − x̂·mean(g⊙x̂)) with g = dy⊙w; dw += Σ_rows dy⊙x̂; db += Σ_rows dy. */
export function layerNormBackward(x: Float32Array, w: Float32Array | null, mean: Float32Array, rstd: Float32Array,
  dy: Float32Array, dx: Float32Array, dw: Float32Array | null, db: Float32Array | null, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols, mu = mean[r], rs = rstd[r];
    let gMean = 0, gxMean = 0;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[base + j] - mu) * rs;
      const g = dy[base + j] * (w ? w[j] : 1);
      gMean += g;
      gxMean += g * xhat;
    }
    gMean /= cols;
    gxMean /= cols;
    for (let j = 0; j < cols; j++) {
      const xhat = (x[base + j] - mu) * rs;
      const g = dy[base + j] * (w ? w[j] : 1);
      dx[base + j] += rs * (g - gMean - xhat * gxMean);
      if (dw) dw[j] += dy[base + j] * xhat;
      if (db) db[j] += dy[base + j];
    }
  }
}

export function rmsNorm(x: Float32Array, w: Float32Array | null, out: Float32Array, rstd: Float32Array, rows: number,
  cols: number, eps: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols;
    let sq = 0;
    for (let j = 0; j < cols; j++) sq += x[base + j] * x[base + j];
    const rs = 1 / Math.sqrt(sq / cols + eps);
    for (let j = 0; j < cols; j++) out[base + j] = x[base + j] * rs * (w ? w[j] : 1);
    rstd[r] = rs;
  }
}

/** dx += rstd·(g − x̂·mean(g⊙x̂)) with g = dy⊙w, x̂ = x·rstd; dw += Σ_rows dy⊙x̂. */
export function rmsNormBackward(x: Float32Array, w: Float32Array | null, rstd: Float32Array, dy: Float32Array,
  dx: Float32Array, dw: Float32Array | null, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const base = r * cols, rs = rstd[r];
    let gxMean = 0;
    for (let j = 0; j < cols; j++) gxMean += dy[base + j] * (w ? w[j] : 1) * x[base + j] * rs;
    gxMean /= cols;
    for (let j = 0; j < cols; j++) {
      const xhat = x[base + j] * rs;
      dx[base + j] += rs * (dy[base + j] * (w ? w[j] : 1) - xhat * gxMean);
      if (dw) dw[j] += dy[base + j] * xhat;
    }
  }
}

// Reference reductions over the middle axis of x viewed as [outer, size, inner], accumulating in float64.
// Also readChecksum, the specification of the read-bandwidth probe (native/ops_read.c).
// Leaves out: argument validation (checks.ts), arg-max/arg-min.

/** out[o, i] (+)= Σ_s x[o, s, i]. */
export function reduceSum(x: Float32Array, out: Float32Array, outer: number, size: number, inner: number,
  accumulate: boolean): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let sum = 0;
      for (let s = 0; s < size; s++) sum += x[(o * size + s) * inner + i];
      const j = o * inner + i;
      out[j] = accumulate ? out[j] + sum : sum;
    }
  }
}

/** out[o, i] = max_s x[o, s, i]; NaN propagates; size 0 gives -inf. */
export function reduceMax(x: Float32Array, out: Float32Array, outer: number, size: number, inner: number): void {
  for (let o = 0; o < outer; o++) {
    for (let i = 0; i < inner; i++) {
      let best = -Infinity;
      for (let s = 0; s < size; s++) {
        const v = x[(o * size + s) * inner + i];
        if (v > best || v !== v) best = v;
        if (best !== best) break;
      }
      out[o * inner + i] = best;
    }
  }
}

/** Σ x[i] mod 2^32, as an unsigned integer (the value native/ops_read.c returns for every load variant). */
export function readChecksum(x: Int32Array): number {
  let sum = 0;
  for (let i = 0; i < x.length; i++) sum = (sum + x[i]) | 0;
  return sum >>> 0;
}

// Reference rotary position embedding, in place on x [b, t, heads, headDim]. Position p = pos0 + ti rotates
// pair i (i < rotDim/2) by θ = p·freqs[i] (float64 angle and trig); dims ≥ rotDim pass through.
// layout "neox" pairs (i, i + rotDim/2) (GPT-NeoX, HF Llama); "interleaved" pairs (2i, 2i+1) (GPT-J, Meta Llama).
// Leaves out: argument validation (checks.ts), frequency scaling (the caller bakes it into freqs).

export function rope(x: Float32Array, b: number, t: number, heads: number, headDim: number, rotDim: number,
  pos0: number, freqs: Float32Array, layout: "neox" | "interleaved", inverse: boolean): void {
  const half = rotDim / 2;
  for (let bi = 0; bi < b; bi++) {
    for (let ti = 0; ti < t; ti++) {
      const pos = pos0 + ti;
      for (let i = 0; i < half; i++) {
        const theta = pos * freqs[i];
        const cos = Math.cos(theta), sin = inverse ? -Math.sin(theta) : Math.sin(theta);
        for (let h = 0; h < heads; h++) {
          const base = ((bi * t + ti) * heads + h) * headDim;
          const i0 = layout === "neox" ? base + i : base + 2 * i;
          const i1 = layout === "neox" ? base + i + half : base + 2 * i + 1;
          const x0 = x[i0], x1 = x[i1];
          x[i0] = x0 * cos - x1 * sin;
          x[i1] = x0 * sin + x1 * cos;
        }
      }
    }
  }
}

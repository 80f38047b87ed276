// Late fusion of the desk's sparse model and the encoder branch (dense-head.ts), and its choice on validation data:
//   fused_c = softmax_c((log p_sparse,c + w · log p_dense,c) / T)
// (a weighted product of experts; w = 0 with T = 1 is the sparse model's own probabilities). chooseFusion sees only
// the validation rows it is given: w maximises the caller's score (accuracy, macro-F1, in-scope accuracy; ties go to
// the smaller w, so a branch that does not help gets weight 0), then T minimises the validation negative
// log-likelihood at that w (golden-section search over log T in [0.05, 20], as the sparse model's calibration).
// Leaves out: per-class weights, stacking a model on the two outputs (more parameters to choose on a small split).
import { fitTemperature } from "./classifier.js";

/** The grid of encoder weights tried on validation. */
export const FUSION_WEIGHTS = [0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.7, 1];

export interface FusionChoice {
  /** Weight of the encoder branch's log-probabilities. */
  weight: number;
  /** Temperature of the fused logits. */
  temperature: number;
  /** The validation score at `weight` (for reports). */
  score: number;
}

/** softmax((log p + w · log q) / T) over the same labels. */
export function fuseProbabilities(sparse: ArrayLike<number>, dense: ArrayLike<number>, weight: number, temperature = 1): Float32Array {
  if (sparse.length !== dense.length) throw new Error(`[fusion] ${sparse.length} sparse and ${dense.length} dense probabilities (the two models must share labels)`);
  if (!(temperature > 0)) throw new Error(`[fusion] temperature ${temperature} must be > 0`);
  const z = new Float64Array(sparse.length);
  let max = -Infinity;
  for (let c = 0; c < z.length; c++) {
    z[c] = (Math.log(Math.max(sparse[c], 1e-30)) + (weight === 0 ? 0 : weight * Math.log(Math.max(dense[c], 1e-30)))) / temperature;
    max = Math.max(max, z[c]);
  }
  let sum = 0;
  for (let c = 0; c < z.length; c++) sum += (z[c] = Math.exp(z[c] - max));
  return Float32Array.from(z, (v) => v / sum);
}

/** Picks w on the validation rows by `score` (higher is better; ties → smaller w), then T by validation NLL. */
export function chooseFusion(sparse: readonly Float32Array[], dense: readonly Float32Array[], gold: readonly number[],
  score: (fused: Float32Array[]) => number, weights: readonly number[] = FUSION_WEIGHTS): FusionChoice {
  if (sparse.length !== dense.length || sparse.length !== gold.length || sparse.length === 0) {
    throw new Error(`[fusion] validation rows disagree: ${sparse.length} sparse, ${dense.length} dense, ${gold.length} labels (need the same number, at least one)`);
  }
  const best = chooseWeight(sparse, dense, score, weights);
  const nll = (t: number) => {
    let sum = 0;
    sparse.forEach((p, i) => (sum -= Math.log(Math.max(fuseProbabilities(p, dense[i], best.weight, t)[gold[i]], 1e-12))));
    return sum;
  };
  return { weight: best.weight, temperature: fitTemperature(nll), score: best.score };
}

/** The weight of the grid with the best `score` of the fused rows (higher is better; ties → the smaller weight). */
export function chooseWeight(sparse: readonly Float32Array[], dense: readonly Float32Array[], score: (fused: Float32Array[]) => number,
  weights: readonly number[] = FUSION_WEIGHTS): { weight: number; score: number } {
  let best = { weight: 0, score: -Infinity };
  for (const w of [...weights].sort((a, b) => a - b)) {
    const s = score(sparse.map((p, i) => fuseProbabilities(p, dense[i], w)));
    if (s > best.score) best = { weight: w, score: s };
  }
  return best;
}

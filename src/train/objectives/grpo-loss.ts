// GRPO's math as TRL's GRPOTrainer (trl 1.13) computes it, for objectives/grpo.ts and its test:
// - advantages: per group of G completions of one prompt, (r − mean) / (std + 1e-4), std with Bessel's correction
//   (trl's nanstd; "batch" scaling uses the whole batch's std, "none" only subtracts the mean). A reward of NaN (every
//   reward function abstained) is left out of its group's statistics and gets advantage 0.
// - per-token log-probs of the completion tokens under logits / temperature (the sampling temperature);
// - ratio = exp(logp − logp_old) (logp_old = logp's values on-policy, or those at generation time when a batch is
//   reused for several iterations), loss_t = −min(ratio·A, clip(ratio, 1 − ε_low, 1 + ε_high)·A) + β·KL_t with the
//   k3 estimator KL_t = exp(ref − logp) − (ref − logp) − 1;
// - aggregation (loss_type): "grpo" mean over each completion's tokens then over completions; "bnpo" and "dapo"
//   (one process, one micro-batch per generation batch) sum over all completion tokens / their count; "dr_grpo"
//   sum / (completions × max completion length).
// Rows are prompt ++ completion, right-padded; targets are the next ids with -100 outside the completions.
// Leaves out: trl's other loss types (cispo, sapo, luspo, vespo), sequence-level importance sampling, entropy masks.
import { type Tensor, add, crossEntropy, div, exp, fromTypedArray, full, maximum, mean, minimum, mul, neg, sub, sum } from "../../tensor/index.js";
import type { TrainModel } from "../model.js";

export type GrpoLossType = "grpo" | "bnpo" | "dapo" | "dr_grpo";
export type RewardScaling = "group" | "batch" | "none";

export const IGNORE = -100;

/** Advantages of rewards laid out group after group (G completions of one prompt each). */
export function groupAdvantages(rewards: ArrayLike<number>, groupSize: number, scaling: RewardScaling = "group"): Float32Array {
  const n = rewards.length;
  if (groupSize < 1 || n % groupSize !== 0) throw new RangeError(`GRPO: ${n} rewards do not split into groups of ${groupSize}`);
  const stats = (from: number, to: number) => {
    const vals: number[] = [];
    for (let i = from; i < to; i++) if (!Number.isNaN(rewards[i]!)) vals.push(rewards[i]!);
    const m = vals.reduce((a, b) => a + b, 0) / vals.length;
    const v = vals.length > 1 ? vals.reduce((a, b) => a + (b - m) ** 2, 0) / (vals.length - 1) : Number.NaN;
    return { mean: m, std: Math.sqrt(v) };
  };
  const all = stats(0, n);
  const out = new Float32Array(n);
  for (let g = 0; g < n; g += groupSize) {
    const s = stats(g, g + groupSize);
    const std = scaling === "batch" ? all.std : s.std;
    for (let i = g; i < g + groupSize; i++) {
      const a = scaling === "none" ? rewards[i]! - s.mean : (rewards[i]! - s.mean) / (std + 1e-4);
      out[i] = Number.isFinite(a) ? a : 0;
    }
  }
  return out;
}

export interface GrpoRows {
  inputs: Int32Array;
  targets: Int32Array;
  rows: number;
  seq: number;
  /** Where each row's completion starts in the target positions (= its prompt length − 1). */
  completionStart: Int32Array;
  completionLength: Int32Array;
}

/** Rows prompt ++ completion, right-padded with `pad`; targets only on the completion tokens. */
export function grpoRows(prompts: readonly Int32Array[], completions: readonly Int32Array[], pad: number): GrpoRows {
  if (prompts.length !== completions.length) throw new RangeError(`GRPO: ${prompts.length} prompts for ${completions.length} completions`);
  const rows = prompts.length;
  const seq = Math.max(...prompts.map((p, i) => p.length + completions[i]!.length)) - 1;
  const inputs = new Int32Array(rows * seq).fill(pad);
  const targets = new Int32Array(rows * seq).fill(IGNORE);
  const completionStart = new Int32Array(rows);
  const completionLength = new Int32Array(rows);
  prompts.forEach((p, b) => {
    const c = completions[b]!;
    if (p.length === 0) throw new RangeError(`GRPO: prompt of row ${b} is empty`);
    const full = [...p, ...c];
    for (let t = 0; t < full.length - 1; t++) inputs[b * seq + t] = full[t]!;
    for (let k = 0; k < c.length; k++) targets[b * seq + p.length - 1 + k] = c[k]!;
    completionStart[b] = p.length - 1;
    completionLength[b] = c.length;
  });
  return { inputs, targets, rows, seq, completionStart, completionLength };
}

/** Per-token log p(target) [rows, seq] under logits / temperature (0 outside the completions). */
export function perTokenLogProbs(model: TrainModel, r: GrpoRows, temperature: number): Tensor {
  const logits = model.logits(r.inputs, r.rows, r.seq);
  const scaled = temperature === 1 ? logits : mul(logits, 1 / temperature);
  return neg(crossEntropy(scaled, fromTypedArray(r.targets, [r.rows, r.seq]), { ignoreIndex: IGNORE, reduction: "none" }));
}

export interface GrpoLossSettings {
  beta: number;
  epsilonLow: number;
  epsilonHigh: number;
  lossType: GrpoLossType;
  /** dr_grpo's normaliser. */
  maxCompletionLength: number;
}

export interface GrpoLossResult {
  loss: Tensor;
  /** Per-token log-probs' values [rows·seq] (what on-policy old log-probs are). */
  logps: Float32Array;
  metrics: { kl: number; clip_ratio: number };
}

/** The GRPO loss of rows with advantages [rows]; ref and old are per-token values [rows·seq] (null: β = 0 / on-policy). */
export function grpoLoss(logp: Tensor, r: GrpoRows, advantages: Float32Array, ref: Float32Array | null, old: Float32Array | null,
  s: GrpoLossSettings): GrpoLossResult {
  const shape = [r.rows, r.seq];
  const values = logp.toFloat32Array();
  const mask = Float32Array.from(r.targets, (t) => (t === IGNORE ? 0 : 1));
  const maskT = fromTypedArray(mask, shape);
  const ratio = exp(sub(logp, fromTypedArray(old ?? values, shape)));
  const clipped = minimum(maximum(ratio, full(shape, 1 - s.epsilonLow)), full(shape, 1 + s.epsilonHigh));
  const a = fromTypedArray(advantages, [r.rows, 1]);
  let perToken = neg(minimum(mul(ratio, a), mul(clipped, a)));
  let klMean = 0;
  if (s.beta !== 0) {
    if (!ref) throw new RangeError("GRPO: β ≠ 0 needs the reference model's log-probs");
    const d = sub(fromTypedArray(ref, shape), logp);
    const kl = sub(sub(exp(d), d), 1);
    perToken = add(perToken, mul(kl, s.beta));
    const klv = kl.toFloat32Array();
    let k = 0, n = 0;
    for (let i = 0; i < klv.length; i++) if (mask[i]) { k += klv[i]!; n++; }
    klMean = k / Math.max(1, n);
  }
  const masked = mul(perToken, maskT);
  const total = mask.reduce((x, y) => x + y, 0);
  let loss: Tensor;
  if (s.lossType === "grpo") {
    const counts = Float32Array.from(r.completionLength, (c) => Math.max(1, c));
    loss = mean(div(sum(masked, 1), fromTypedArray(counts, [r.rows])));
  } else if (s.lossType === "dr_grpo") loss = mul(sum(masked), 1 / (r.rows * s.maxCompletionLength));
  else loss = mul(sum(masked), 1 / Math.max(1, total));
  // Clip fraction as trl logs it: tokens whose ratio left the range on the side that the advantage's sign clips.
  const rv = old ? Float32Array.from(values, (v, i) => Math.exp(v - old[i]!)) : null;
  let clippedTokens = 0;
  if (rv) {
    for (let b = 0; b < r.rows; b++) {
      for (let t = 0; t < r.seq; t++) {
        const i = b * r.seq + t;
        if (!mask[i]) continue;
        const adv = advantages[b]!;
        if ((rv[i]! < 1 - s.epsilonLow && adv < 0) || (rv[i]! > 1 + s.epsilonHigh && adv > 0)) clippedTokens++;
      }
    }
  }
  return { loss, logps: values, metrics: { kl: klMean, clip_ratio: clippedTokens / Math.max(1, total) } };
}

// PPO's arithmetic as TRL's PPOTrainer (trl 0.19, the last with PPO; InstructGPT's RLHF recipe) computes it, on
// B responses of T positions laid out row-major ([B·T] arrays), for the PPO objective and its test:
// - sequence length = index of the first pad in the response − 1 (the last real token); positions after it are
//   padding; the value mask keeps one more position (trl's padding_mask_p1);
// - per-token KL of policy to reference: k1 = logp − ref, k3 = (e^(ref−logp) − 1) − (ref − logp); padded
//   positions carry log-prob 1.0 on both sides (trl's INVALID_LOGPROB), so their KL is 0;
// - rewards = −kl_coef · KL per token, plus the reward model's score at position length + 1 when it fits in the
//   window, else at the last token (trl's placement);
// - GAE backwards over all T positions: δ_t = r_t + γ V_{t+1} − V_t, A_t = δ_t + γλ A_{t+1}; returns = A + V;
//   advantages whitened over the response tokens (Bessel-corrected variance, + 1e-8), 0 on padding;
// - losses: pg = masked mean of max(−A·ratio, −A·clip(ratio, 1 ± ε)), vf = ½ masked mean (value mask) of
//   max((v − R)², (clip(v, V_old ± ε_v) − R)²), loss = pg + vf_coef · vf.
// - the adaptive KL coefficient (trl's AdaptiveKLController): β scaled after each rollout toward a KL target.
// Leaves out: reward whitening (trl's whiten_rewards, off by default), the missing-EOS penalty.
import { type Tensor, add, exp, fromTypedArray, full, maximum, minimum, mul, neg, square, sub, sum } from "../../tensor/index.js";

export type KlEstimator = "k1" | "k3";
export const INVALID_LOGPROB = 1.0;

export interface PpoMathSettings {
  gamma: number;
  lam: number;
  klCoef: number;
  klEstimator: KlEstimator;
  cliprange: number;
  cliprangeValue: number;
  vfCoef: number;
}

export const DEFAULT_PPO_MATH: PpoMathSettings = { gamma: 1, lam: 0.95, klCoef: 0.05, klEstimator: "k1", cliprange: 0.2, cliprangeValue: 0.2, vfCoef: 0.1 };

/** Per row, the index of its last response token: the first `pad` − 1 (T − 1 when no pad). */
export function sequenceLengths(responses: Int32Array, rows: number, T: number, pad: number): Int32Array {
  return Int32Array.from({ length: rows }, (_, b) => {
    for (let t = 0; t < T; t++) if (responses[b * T + t] === pad) return t - 1;
    return T - 1;
  });
}

/** 1 where a position is padding (after the last token), and the value mask's padding (after last + 1). */
export function paddingMasks(lengths: Int32Array, T: number): { padding: Uint8Array; paddingP1: Uint8Array } {
  const padding = new Uint8Array(lengths.length * T);
  const paddingP1 = new Uint8Array(lengths.length * T);
  lengths.forEach((len, b) => {
    for (let t = 0; t < T; t++) {
      padding[b * T + t] = t > len ? 1 : 0;
      paddingP1[b * T + t] = t > len + 1 ? 1 : 0;
    }
  });
  return { padding, paddingP1 };
}

/** Per-token KL and the KL-penalised rewards with each row's score placed as trl places it. */
export function klPenalisedRewards(logprobs: Float32Array, refLogprobs: Float32Array, scores: ArrayLike<number>, lengths: Int32Array,
  T: number, klCoef: number, estimator: KlEstimator): { kl: Float32Array; rewards: Float32Array } {
  const kl = new Float32Array(logprobs.length);
  const rewards = new Float32Array(logprobs.length);
  for (let i = 0; i < logprobs.length; i++) {
    const logr = refLogprobs[i]! - logprobs[i]!;
    kl[i] = estimator === "k1" ? -logr : Math.expm1(logr) - logr;
    rewards[i] = -klCoef * kl[i]!;
  }
  lengths.forEach((len, b) => {
    const end = len + 1 < T ? len + 1 : len;
    rewards[b * T + end]! += scores[b]!;
  });
  return { kl, rewards };
}

/** Generalised advantage estimation over every position (values 0 past the value mask), and the returns. */
export function gae(rewards: Float32Array, values: Float32Array, rows: number, T: number, gamma: number, lam: number):
  { advantages: Float32Array; returns: Float32Array } {
  const advantages = new Float32Array(rows * T);
  const returns = new Float32Array(rows * T);
  for (let b = 0; b < rows; b++) {
    let last = 0;
    for (let t = T - 1; t >= 0; t--) {
      const next = t < T - 1 ? values[b * T + t + 1]! : 0;
      const delta = rewards[b * T + t]! + gamma * next - values[b * T + t]!;
      last = delta + gamma * lam * last;
      advantages[b * T + t] = last;
      returns[b * T + t] = last + values[b * T + t]!;
    }
  }
  return { advantages, returns };
}

/** (x − mean) / √(var + 1e-8) over the positions where `padding` is 0 (unbiased variance), 0 on padding. */
export function whitenAdvantages(x: Float32Array, padding: Uint8Array): Float32Array {
  let n = 0, s = 0;
  for (let i = 0; i < x.length; i++) if (!padding[i]) { n++; s += x[i]!; }
  const mean = s / n;
  let v = 0;
  for (let i = 0; i < x.length; i++) if (!padding[i]) v += (x[i]! - mean) ** 2;
  const variance = (v / n) * (n / (n - 1));
  const inv = 1 / Math.sqrt(variance + 1e-8);
  return Float32Array.from(x, (a, i) => (padding[i] ? 0 : (a - mean) * inv));
}

/** Σ (x · keep) / Σ keep, keep = 1 − padding. */
function maskedMean(x: Tensor, padding: Uint8Array, shape: number[]): Tensor {
  const keep = Float32Array.from(padding, (p) => 1 - p);
  const n = keep.reduce((a, b) => a + b, 0);
  return mul(sum(mul(x, fromTypedArray(keep, shape))), 1 / Math.max(1, n));
}

export interface PpoLossInput {
  rows: number;
  T: number;
  /** The rollout's log-probs, values, (whitened) advantages and returns, [rows·T]. */
  oldLogprobs: Float32Array;
  oldValues: Float32Array;
  advantages: Float32Array;
  returns: Float32Array;
  padding: Uint8Array;
  paddingP1: Uint8Array;
}

/** The clipped policy loss and clipped value loss of new log-probs and value predictions [rows, T]. */
export function ppoLoss(newLogprobs: Tensor, vpred: Tensor, r: PpoLossInput, s: PpoMathSettings):
  { loss: Tensor; metrics: { pg_loss: number; vf_loss: number; pg_clipfrac: number; vf_clipfrac: number; approxkl: number } } {
  const shape = [r.rows, r.T];
  const t = (a: Float32Array) => fromTypedArray(a, shape);
  const oldV = t(r.oldValues);
  const ret = t(r.returns);
  const vclipped = minimum(maximum(vpred, sub(oldV, s.cliprangeValue)), add(oldV, s.cliprangeValue));
  const vf1 = square(sub(vpred, ret));
  const vf2 = square(sub(vclipped, ret));
  const vfLoss = mul(maskedMean(maximum(vf1, vf2), r.paddingP1, shape), 0.5);
  const diff = sub(newLogprobs, t(r.oldLogprobs));
  const ratio = exp(diff);
  const negAdv = neg(t(r.advantages));
  const pg1 = mul(ratio, negAdv);
  const pg2 = mul(minimum(maximum(ratio, full(shape, 1 - s.cliprange)), full(shape, 1 + s.cliprange)), negAdv);
  const pgLoss = maskedMean(maximum(pg1, pg2), r.padding, shape);
  const loss = add(pgLoss, mul(vfLoss, s.vfCoef));
  // Logged figures (no gradients needed).
  const [a1, a2, b1, b2, d] = [pg1, pg2, vf1, vf2, diff].map((x) => x.toFloat32Array());
  let pgClip = 0, pgN = 0, vfClip = 0, vfN = 0, kl = 0;
  for (let i = 0; i < a1!.length; i++) {
    if (!r.padding[i]) { pgN++; if (a2![i]! > a1![i]!) pgClip++; }
    if (!r.paddingP1[i]) { vfN++; if (b2![i]! > b1![i]!) vfClip++; }
    kl += d![i]! ** 2;
  }
  return { loss, metrics: { pg_loss: pgLoss.item(), vf_loss: vfLoss.item(), pg_clipfrac: pgClip / Math.max(1, pgN),
    vf_clipfrac: vfClip / Math.max(1, vfN), approxkl: (0.5 * kl) / a1!.length } };
}

/**
 * The adaptive KL coefficient of Ziegler et al. 2019 (trl's AdaptiveKLController.update): after a rollout whose KL
 * was `current`, β ← β · (1 + clip(current / target − 1, −0.2, 0.2) · nSteps / horizon); nSteps is the rollout's
 * sample count. `current` and `target` must be in the same unit (here: nats per response token).
 */
export function adaptiveKlCoef(klCoef: number, current: number, target: number, nSteps: number, horizon: number): number {
  const error = Math.min(0.2, Math.max(-0.2, current / target - 1));
  return klCoef * (1 + (error * nSteps) / horizon);
}

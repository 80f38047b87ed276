// Direct Preference Optimisation (Rafailov et al. 2023) as trl's DPOTrainer computes it: per pair the completion
// log-prob sums of the policy (with gradients) and of a frozen reference, logits = (π_c − π_r) − (ref_c − ref_r),
//   sigmoid: −(1 − ε) log σ(β·logits) − ε log σ(−β·logits)   (ε = label smoothing: cDPO; 0 = plain DPO)
//   ipo:     (logits − 1/(2β))²  with log-probs averaged over the completion tokens (IPO, Azar et al.)
// rewards β(π − ref). The reference log-probs of every pair are computed once, before training, and cached: the
// reference is never run again.
// ORPO (no reference) is objectives/orpo.ts, chosen by the same command's --loss orpo.
// Leaves out: KTO, reference-model syncing (TR-DPO), trl's other loss types.
import { type Tensor, div, fromTypedArray, mean, mul, narrow, noGrad, square, sub, tidy } from "../../tensor/index.js";
import type { TrainModel } from "../model.js";
import type { ObjectiveLoss, TrainingObjective } from "../objective.js";
import { type PreferencePair, pairBatch } from "../preference-data.js";
import { modelSequenceLogProbs } from "../sequence-logprobs.js";
import { PairObjectiveBase, type PairBatchWithIndex, negLogSigmoid } from "./pairs.js";

/** "orpo" trains with objectives/orpo.ts instead (no reference model); β is then its odds-ratio weight. */
export type DpoLossType = "sigmoid" | "ipo" | "orpo";

export interface DpoSettings {
  beta: number;
  lossType: DpoLossType;
  /** cDPO's label smoothing ε in [0, 0.5) (sigmoid loss only). */
  labelSmoothing: number;
}

export const DEFAULT_DPO: DpoSettings = { beta: 0.1, lossType: "sigmoid", labelSmoothing: 0 };

/** Completion log-prob sums (and token counts) of pairs under a model, without gradients: [chosen…], [rejected…]. */
export function pairLogProbs(model: TrainModel, pairs: readonly PreferencePair[], batchPairs: number, padId: number,
  maxLen: number): { chosen: Float32Array; rejected: Float32Array; chosenCount: Int32Array; rejectedCount: Int32Array } {
  const n = pairs.length;
  const out = { chosen: new Float32Array(n), rejected: new Float32Array(n), chosenCount: new Int32Array(n), rejectedCount: new Int32Array(n) };
  for (let i = 0; i < n; i += batchPairs) {
    const chunk = pairs.slice(i, i + batchPairs);
    const b = pairBatch(chunk, padId, maxLen);
    const { sum, count } = noGrad(() => tidy(() => {
      const lp = modelSequenceLogProbs(model, b.inputs, b.targets, b.rows, b.seq);
      return { sum: lp.sum.toFloat32Array(), count: lp.count };
    }));
    const k = chunk.length;
    out.chosen.set(sum.subarray(0, k), i);
    out.rejected.set(sum.subarray(k, 2 * k), i);
    out.chosenCount.set(count.subarray(0, k), i);
    out.rejectedCount.set(count.subarray(k, 2 * k), i);
  }
  return out;
}

export function checkDpoSettings(s: DpoSettings): void {
  if (!(s.beta > 0)) throw new RangeError(`DPO: --beta ${s.beta} must be positive`);
  if (!(s.labelSmoothing >= 0 && s.labelSmoothing < 0.5)) throw new RangeError(`DPO: --label-smoothing ${s.labelSmoothing} must be in [0, 0.5)`);
  if (s.lossType !== "sigmoid" && s.lossType !== "ipo" && s.lossType !== "orpo") throw new RangeError(`DPO: --loss ${String(s.lossType)}; use sigmoid, ipo or orpo`);
  if (s.lossType !== "sigmoid" && s.labelSmoothing !== 0) throw new RangeError("DPO: --label-smoothing applies to the sigmoid loss only");
}

export class DpoObjective extends PairObjectiveBase implements TrainingObjective<PairBatchWithIndex> {
  readonly name = "dpo";
  /** The cached reference log-prob sums per training pair. */
  readonly reference: ReturnType<typeof pairLogProbs>;
  private readonly valReference: ReturnType<typeof pairLogProbs> | null;

  constructor(pairs: readonly PreferencePair[], private readonly val: readonly PreferencePair[], batchPairs: number, padId: number,
    maxLen: number, seed: number, private readonly settings: DpoSettings, reference: TrainModel) {
    super("DPO", pairs, batchPairs, padId, maxLen, seed);
    checkDpoSettings(settings);
    this.reference = pairLogProbs(reference, pairs, batchPairs, padId, maxLen);
    this.valReference = val.length > 0 ? pairLogProbs(reference, val, batchPairs, padId, maxLen) : null;
  }

  /** Loss, rewards and accuracy of a batch from the policy's log-prob sums [2n] and the pairs' reference values. */
  private pairLoss(pi: Tensor, count: Int32Array, idx: ArrayLike<number>, ref: ReturnType<typeof pairLogProbs>): ObjectiveLoss {
    const n = idx.length;
    const s = this.settings;
    const ipo = s.lossType === "ipo";
    const get = (a: Float32Array | Int32Array) => Float32Array.from({ length: n }, (_, k) => a[idx[k]!]!);
    const refC = get(ref.chosen), refR = get(ref.rejected);
    let piC = narrow(pi, 0, 0, n), piR = narrow(pi, 0, n, n);
    let refMargin = Float32Array.from(refC, (c, k) => c - refR[k]!);
    if (ipo) {
      // IPO compares mean per-token log-probs (trl divides both policy and reference sums by the completion length).
      piC = div(piC, fromTypedArray(Float32Array.from(count.subarray(0, n)), [n]));
      piR = div(piR, fromTypedArray(Float32Array.from(count.subarray(n, 2 * n)), [n]));
      const cc = get(ref.chosenCount), rc = get(ref.rejectedCount);
      refMargin = Float32Array.from(refC, (c, k) => c / cc[k]! - refR[k]! / rc[k]!);
    }
    const logits = sub(sub(piC, piR), fromTypedArray(refMargin, [n]));
    let loss: Tensor;
    if (ipo) loss = mean(square(sub(logits, 1 / (2 * s.beta))));
    else {
      const z = mul(logits, s.beta);
      const l = negLogSigmoid(z);
      loss = s.labelSmoothing > 0 ? mean(sub(mul(l, 1 - s.labelSmoothing), mul(negLogSigmoid(mul(z, -1)), -s.labelSmoothing))) : mean(l);
    }
    const p = pi.toFloat32Array();
    let rc = 0, rr = 0, right = 0;
    for (let k = 0; k < n; k++) {
      const c = s.beta * (p[k]! - refC[k]!), r = s.beta * (p[n + k]! - refR[k]!);
      rc += c; rr += r;
      if (c > r) right++;
    }
    return { loss, metrics: { rewards_chosen: rc / n, rewards_rejected: rr / n, reward_margin: (rc - rr) / n, reward_accuracy: right / n } };
  }

  loss(model: TrainModel, b: PairBatchWithIndex): ObjectiveLoss {
    const lp = modelSequenceLogProbs(model, b.inputs, b.targets, b.rows, b.seq);
    return this.pairLoss(lp.sum, lp.count, b.pairIndex, this.reference);
  }

  /** Mean loss over the held-out pairs. */
  validate(model: TrainModel): number | null {
    if (!this.valReference) return null;
    return evaluateDpo(model, this.val, this.valReference, this.batchPairs, this.padId, this.maxLen, (pi, count, idx, ref) =>
      this.pairLoss(pi, count, idx, ref)).loss;
  }
}

/** Loss and implicit-reward accuracy over pairs (no gradients). */
export function evaluateDpo(model: TrainModel, pairs: readonly PreferencePair[], ref: ReturnType<typeof pairLogProbs>, batchPairs: number,
  padId: number, maxLen: number, pairLoss: (pi: Tensor, count: Int32Array, idx: ArrayLike<number>, ref: ReturnType<typeof pairLogProbs>) => ObjectiveLoss):
  { loss: number; rewardAccuracy: number } {
  let loss = 0, acc = 0;
  for (let i = 0; i < pairs.length; i += batchPairs) {
    const chunk = pairs.slice(i, i + batchPairs);
    const b = pairBatch(chunk, padId, maxLen);
    const idx = Int32Array.from(chunk, (_, k) => i + k);
    const r = noGrad(() => tidy(() => {
      const lp = modelSequenceLogProbs(model, b.inputs, b.targets, b.rows, b.seq);
      const o = pairLoss(lp.sum, lp.count, idx, ref);
      return { loss: o.loss.item(), acc: o.metrics!.reward_accuracy! };
    }));
    loss += r.loss * chunk.length;
    acc += r.acc * chunk.length;
  }
  return { loss: loss / Math.max(1, pairs.length), rewardAccuracy: acc / Math.max(1, pairs.length) };
}

// Reward modelling: a sequence classifier with one label (transformers' `…ForSequenceClassification`: a decoder's
// head `score.weight` [1, hidden] read at each row's last token that is not pad_token_id — found from the input ids,
// as transformers does, not from lengths; an encoder's own classifier at [CLS]) — and trained with the Bradley–Terry loss, mean over pairs of
// −log σ(r_chosen − r_rejected − margin) (trl's RewardTrainer; margin 0 unless the pairs carry one), plus, with
// --center-rewards c, c × mean((r_chosen + r_rejected)²) (trl's center_rewards_coefficient, Eisenstein et al. 2023:
// it pulls each pair's mean reward to 0, so scores of different prompts sit on one scale). Also the
// evaluation figures: pairwise accuracy (r_chosen > r_rejected), mean margin and loss over a list of pairs.
// Leaves out: multi-label heads.
import { type Tensor, add, fromTypedArray, mean, mul, narrow, noGrad, reshape, sub, tidy } from "../../tensor/index.js";
import type { TrainModel } from "../model.js";
import type { ObjectiveLoss, TrainingObjective } from "../objective.js";
import { type PairBatch, type PreferencePair, pairBatch } from "../preference-data.js";
import { PairObjectiveBase, type PairBatchWithIndex, negLogSigmoid } from "./pairs.js";

export { scorePositions } from "../model.js";

/** Rewards [rows]: the one-label classifier head at each row's scoring position (the family's rule: a decoder's
 *  `score` at the last non-pad token, an encoder's classifier at [CLS]) (differentiable). */
export function sequenceRewards(model: TrainModel, inputs: Int32Array, rows: number, seq: number, padId: number | null): Tensor {
  if (model.scoreLabels !== null && model.scoreLabels !== 1) {
    throw new RangeError(`reward model: the score head has ${model.scoreLabels} labels; a reward model has num_labels 1`);
  }
  return reshape(model.sequenceLogits(inputs, rows, seq, padId), [rows]);
}

/** Bradley–Terry loss of rewards [2n] laid out chosen…, rejected…: mean of −log σ(r_c − r_r − margin), plus
 *  centerCoef × mean((r_c + r_r)²) when centerCoef > 0 (trl's center_rewards_coefficient). */
export function bradleyTerryLoss(rewards: Tensor, margins?: Float32Array, centerCoef = 0): Tensor {
  const n = rewards.shape[0]! / 2;
  const chosen = narrow(rewards, 0, 0, n), rejected = narrow(rewards, 0, n, n);
  const diff = sub(chosen, rejected);
  const x = margins && margins.some((m) => m !== 0) ? sub(diff, fromTypedArray(margins, [n])) : diff;
  const bt = mean(negLogSigmoid(x));
  if (!(centerCoef > 0)) return bt;
  const pairSum = add(chosen, rejected);
  return add(bt, mul(mean(mul(pairSum, pairSum)), centerCoef));
}

/** The model's pad id for reward reading: config.json's pad_token_id (null when unset). */
export function padIdOf(model: TrainModel): number | null {
  const p = model.hfConfig.pad_token_id;
  return typeof p === "number" ? p : null;
}

export interface RewardEval {
  pairs: number;
  accuracy: number;
  meanMargin: number;
  loss: number;
}

/** Pairwise accuracy, mean reward margin and Bradley–Terry loss over pairs (no gradients). */
export function evaluateRewardModel(model: TrainModel, pairs: readonly PreferencePair[], batchPairs: number, maxLen: number): RewardEval {
  const padId = padIdOf(model);
  let right = 0, margin = 0, loss = 0;
  for (let i = 0; i < pairs.length; i += batchPairs) {
    const chunk = pairs.slice(i, i + batchPairs);
    const b = pairBatch(chunk, padId ?? 0, maxLen);
    const r = noGrad(() => tidy(() => sequenceRewards(model, b.inputs, b.rows, b.seq, padId).toFloat32Array()));
    const n = chunk.length;
    for (let k = 0; k < n; k++) {
      const d = r[k]! - r[n + k]!;
      if (d > 0) right++;
      margin += d;
      loss += d >= 0 ? Math.log1p(Math.exp(-d)) : -d + Math.log1p(Math.exp(d));
    }
  }
  const n = Math.max(1, pairs.length);
  return { pairs: pairs.length, accuracy: right / n, meanMargin: margin / n, loss: loss / n };
}

export class RewardObjective extends PairObjectiveBase implements TrainingObjective<PairBatchWithIndex> {
  readonly name = "reward";

  constructor(pairs: readonly PreferencePair[], private readonly val: readonly PreferencePair[], batchPairs: number,
    private readonly rewardPadId: number | null, maxLen: number, seed: number, private readonly centerRewards = 0) {
    super("reward model", pairs, batchPairs, rewardPadId ?? 0, maxLen, seed);
    if (!(centerRewards >= 0) || !Number.isFinite(centerRewards)) {
      throw new RangeError(`reward model: --center-rewards ${centerRewards}; expected a coefficient ≥ 0 (trl uses 0.01)`);
    }
  }

  loss(model: TrainModel, b: PairBatch): ObjectiveLoss {
    const rewards = sequenceRewards(model, b.inputs, b.rows, b.seq, this.rewardPadId);
    const loss = bradleyTerryLoss(rewards, b.margins, this.centerRewards);
    const r = rewards.toFloat32Array();
    const n = b.rows / 2;
    let right = 0, margin = 0, center = 0;
    for (let k = 0; k < n; k++) {
      if (r[k]! > r[n + k]!) right++;
      margin += r[k]! - r[n + k]!;
      center += r[k]! + r[n + k]!;
    }
    return { loss, metrics: { accuracy: right / n, reward_margin: margin / n, reward_pair_mean: center / (2 * n) } };
  }

  validate(model: TrainModel): number | null {
    return this.val.length > 0 ? evaluateRewardModel(model, this.val, this.batchPairs, this.maxLen).loss : null;
  }
}

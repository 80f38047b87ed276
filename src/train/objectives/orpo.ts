// ORPO, odds-ratio preference optimisation (Hong et al. 2024), as trl's ORPOTrainer computes it: no reference model.
// Per pair, the policy's mean log-prob per completion token of the chosen (c) and rejected (r) replies, and
//   log_odds = (c − r) − (log(1 − e^c) − log(1 − e^r))
//   loss     = NLL(chosen rows) − β · mean log σ(log_odds)
// where the NLL is trl's: the mean cross-entropy over every non-padding token of the prompt + chosen rows (trl
// includes the prompt there, the completions only in c and r). Rewards β·c and β·r. `zhiyu dpo --loss orpo` trains
// with it (as LLaMA-Factory's pref_loss: orpo).
// Leaves out: a prompt-masked NLL variant (the paper's SFT term on the reply only), KTO.
import { type Tensor, crossEntropy, div, exp, fromTypedArray, log, mean, mul, narrow, neg, noGrad, reshape, sub, tidy } from "../../tensor/index.js";
import type { TrainModel } from "../model.js";
import type { ObjectiveLoss, TrainingObjective } from "../objective.js";
import { type PairBatch, type PreferencePair, pairBatch } from "../preference-data.js";
import { sequenceLogProbs } from "../sequence-logprobs.js";
import { PairObjectiveBase, type PairBatchWithIndex, negLogSigmoid } from "./pairs.js";

export interface OrpoSettings {
  /** The weight λ (trl's beta) of the odds-ratio term. */
  beta: number;
}

/** Targets over prompt + completion of the first `rows` rows (target t = id t+1 inside a row, else ignored). */
function wholeRowTargets(b: PairBatch, rows: number): Int32Array {
  const t = new Int32Array(rows * b.seq).fill(-100);
  for (let r = 0; r < rows; r++) for (let i = 0; i + 1 < b.lengths[r]!; i++) t[r * b.seq + i] = b.inputs[r * b.seq + i + 1]!;
  return t;
}

/** ORPO's loss and metrics for a pair batch (chosen rows first, then rejected). */
export function orpoLoss(model: TrainModel, b: PairBatch, s: OrpoSettings): ObjectiveLoss {
  const n = b.rows / 2;
  const logits = model.logits(b.inputs, b.rows, b.seq);
  const lp = sequenceLogProbs(logits, b.targets);
  for (let k = 0; k < b.rows; k++) {
    if (lp.count[k] === 0) throw new RangeError(`ORPO: pair row ${k} has an empty completion (nothing to score); drop it from the data`);
  }
  const avg = div(lp.sum, fromTypedArray(Float32Array.from(lp.count), [b.rows]));
  const c = narrow(avg, 0, 0, n), r = narrow(avg, 0, n, n);
  // log(1 − e^x) for x < 0 (a mean log-prob); f32 loses relative precision only as x → 0.
  const log1mExp = (x: Tensor) => log(neg(sub(exp(x), 1)));
  const logOdds = sub(sub(c, r), sub(log1mExp(c), log1mExp(r)));
  const oddsTerm = negLogSigmoid(logOdds); // −log σ(log_odds)
  const chosenLogits = narrow(logits, 0, 0, n);
  const nll = crossEntropy(reshape(chosenLogits, [n * b.seq, logits.shape[2]!]), fromTypedArray(wholeRowTargets(b, n), [n * b.seq]));
  const loss = sub(nll, mul(mean(oddsTerm), -s.beta));
  const a = avg.toFloat32Array(), lo = logOdds.toFloat32Array(), ot = oddsTerm.toFloat32Array();
  let rc = 0, rr = 0, right = 0, odds = 0, ratio = 0;
  for (let k = 0; k < n; k++) {
    rc += s.beta * a[k]!; rr += s.beta * a[n + k]!;
    if (a[k]! > a[n + k]!) right++;
    odds += lo[k]!; ratio -= ot[k]!;
  }
  return { loss, metrics: { rewards_chosen: rc / n, rewards_rejected: rr / n, reward_margin: (rc - rr) / n, reward_accuracy: right / n,
    nll_loss: nll.item(), log_odds_chosen: odds / n, log_odds_ratio: ratio / n } };
}

export class OrpoObjective extends PairObjectiveBase implements TrainingObjective<PairBatchWithIndex> {
  readonly name = "orpo";

  constructor(pairs: readonly PreferencePair[], private readonly val: readonly PreferencePair[], batchPairs: number, padId: number,
    maxLen: number, seed: number, private readonly settings: OrpoSettings) {
    super("ORPO", pairs, batchPairs, padId, maxLen, seed);
    if (!(settings.beta > 0)) throw new RangeError(`ORPO: --beta ${settings.beta} must be positive`);
  }

  loss(model: TrainModel, b: PairBatchWithIndex): ObjectiveLoss {
    return orpoLoss(model, b, this.settings);
  }

  /** Mean loss over the held-out pairs. */
  validate(model: TrainModel): number | null {
    if (this.val.length === 0) return null;
    let sum = 0;
    for (let i = 0; i < this.val.length; i += this.batchPairs) {
      const chunk = this.val.slice(i, i + this.batchPairs);
      sum += chunk.length * noGrad(() => tidy(() => orpoLoss(model, pairBatch(chunk, this.padId, this.maxLen), this.settings).loss.item()));
    }
    return sum / this.val.length;
  }
}

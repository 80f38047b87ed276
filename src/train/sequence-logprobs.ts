// Per-row sequence log-probabilities: for each row b, the sum over its marked positions of log p(token), and how
// many positions were marked. DPO, PPO/GRPO and reward-model objectives need these, not the mean cross-entropy.
// Convention (trl's): logp(row) = Σ_t mask[t] · log_softmax(logits[t−1])[id_t] — the logits at position t−1
// predict token t. Here the caller passes the inputs (ids 0 … T−1) and the targets shifted by one (target t =
// id t+1) with IGNORE_INDEX where a target is not part of the completion, exactly as the causal-LM loss takes
// them, so logits[t] scores target t.
// Leaves out: length normalisation and per-token outputs (use crossEntropy with reduction "none" for those).
import { type Tensor, crossEntropy, fromTypedArray, neg, sum } from "../tensor/index.js";
import type { TrainModel } from "./model.js";

export interface SequenceLogProbs {
  /** [B] Σ log p over each row's completion targets; differentiable back to the logits. */
  sum: Tensor;
  /** Completion targets per row. */
  count: Int32Array;
}

/** Sums of log p(target) per row of logits [B, T, V] over the targets [B·T] that are not `ignoreIndex`. */
export function sequenceLogProbs(logits: Tensor, targets: Int32Array, ignoreIndex = -100): SequenceLogProbs {
  if (logits.rank !== 3) {
    throw new RangeError(`sequenceLogProbs: logits must be [batch, seq, vocab], got [${logits.shape.join(", ")}]`);
  }
  const [batch, seq] = logits.shape as [number, number, number];
  if (targets.length !== batch * seq) {
    throw new RangeError(`sequenceLogProbs: ${targets.length} targets for logits [${logits.shape.join(", ")}]; ` +
      `expected batch × seq = ${batch * seq}`);
  }
  const count = new Int32Array(batch);
  for (let b = 0; b < batch; b++) for (let t = 0; t < seq; t++) if (targets[b * seq + t] !== ignoreIndex) count[b]!++;
  // −log p per position (0 where ignored), summed over positions.
  const nll = crossEntropy(logits, fromTypedArray(targets, [batch, seq]), { ignoreIndex, reduction: "none" });
  return { sum: neg(sum(nll, 1)), count };
}

/** The same for a model and B rows of T input ids. */
export function modelSequenceLogProbs(model: TrainModel, inputs: Int32Array, targets: Int32Array, batch: number,
  seq: number, ignoreIndex = -100): SequenceLogProbs {
  return sequenceLogProbs(model.logits(inputs, batch, seq), targets, ignoreIndex);
}

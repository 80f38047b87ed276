// The pretraining objective: next-token cross-entropy of a causal LM over token shards. Micro-batches come from a
// BatchIterator (llm.c's sequential order, or seeded shuffled rows), whose {epoch, index} is the resumable data
// position; validation is the mean loss over the first `evalBatches` sequential batches of the validation data.
// Leaves out: document masks (documents simply follow each other, separated by BOS/EOS).
import { noGrad, tidy } from "../../tensor/index.js";
import type { Batch, BatchIterator, BatchPosition } from "../batches.js";
import type { TrainModel } from "../model.js";
import type { ObjectiveLoss, TrainingObjective } from "../objective.js";

export class CausalLmObjective implements TrainingObjective<Batch> {
  readonly name = "causal-lm";
  readonly tokensPerMicroBatch: number;
  readonly seq: number;

  constructor(private readonly train: BatchIterator, private readonly val: BatchIterator | null,
    private readonly evalBatches: number) {
    this.tokensPerMicroBatch = train.batch * train.seq;
    this.seq = train.seq;
  }

  nextBatch(): Batch {
    return this.train.next();
  }

  loss(model: TrainModel, b: Batch): ObjectiveLoss {
    return { loss: model.loss(b.inputs, b.targets, this.train.batch, this.train.seq) };
  }

  position(): BatchPosition {
    return this.train.position;
  }

  restorePosition(position: unknown): void {
    this.train.position = position as BatchPosition;
  }

  skip(k: number): void {
    this.train.skip(k);
  }

  /** Mean loss over the first `evalBatches` sequential batches of the validation data (no gradients). */
  validate(model: TrainModel): number | null {
    const it = this.val;
    return it ? validationMean(it, this.evalBatches, (b) => model.loss(b.inputs, b.targets, it.batch, it.seq).item()) : null;
  }
}

/** Mean of `lossOf` over the first `evalBatches` batches of a token-stream validation set, from its start, without
 *  gradients (shared by the causal-LM and MLM objectives). */
export function validationMean(it: BatchIterator, evalBatches: number, lossOf: (b: Batch, i: number) => number): number {
  it.position = { epoch: 0, index: 0 };
  const n = Math.min(evalBatches, it.batchesPerEpoch());
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const b = it.next();
    sum += noGrad(() => tidy(() => lossOf(b, i)));
  }
  return sum / n;
}

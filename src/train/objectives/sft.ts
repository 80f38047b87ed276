// The SFT objective: cross-entropy on the assistant tokens of packed chat rows (sft-data.ts builds the rows; the
// other targets are IGNORE_INDEX). Each epoch visits the rows in a seeded permutation, `batch` rows per
// micro-batch; {epoch, index} is the resumable data position. Validation is the token-weighted mean loss over
// the held-out rows' assistant tokens.
// Leaves out: per-example attention masks in packed rows (see sft-data.ts).
import { noGrad, tidy } from "../../tensor/index.js";
import { seededPermutation, type BatchPosition } from "../batches.js";
import { EpochBatches } from "../epoch-batches.js";
import type { TrainModel } from "../model.js";
import type { ObjectiveLoss, TrainingObjective } from "../objective.js";
import type { PackedRows } from "../sft-data.js";

export interface RowBatch {
  inputs: Int32Array;
  targets: Int32Array;
  rows: number;
}

/** The given rows of a packed set, concatenated. */
export function gatherRows(p: PackedRows, rows: ArrayLike<number>): RowBatch {
  const s = p.seq;
  const inputs = new Int32Array(rows.length * s);
  const targets = new Int32Array(rows.length * s);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    inputs.set(p.inputs.subarray(r * s, (r + 1) * s), i * s);
    targets.set(p.targets.subarray(r * s, (r + 1) * s), i * s);
  }
  return { inputs, targets, rows: rows.length };
}

/** Mean loss over the assistant tokens of the validation rows. */
export function sftValidationLoss(model: TrainModel, val: PackedRows, batch: number): number {
  let nats = 0;
  let count = 0;
  for (let r0 = 0; r0 < val.rows; r0 += batch) {
    const rows = [...Array(Math.min(batch, val.rows - r0)).keys()].map((i) => r0 + i);
    const b = gatherRows(val, rows);
    let n = 0;
    for (const t of b.targets) if (t >= 0) n++;
    if (n === 0) continue;
    nats += n * noGrad(() => tidy(() => model.loss(b.inputs, b.targets, rows.length, val.seq).item()));
    count += n;
  }
  return nats / Math.max(1, count);
}

export class SftObjective implements TrainingObjective<RowBatch> {
  readonly name = "sft";
  readonly tokensPerMicroBatch: number;
  readonly seq: number;
  readonly batchesPerEpoch: number;
  private readonly batches: EpochBatches;

  constructor(private readonly train: PackedRows, private readonly val: PackedRows | null, private readonly batch: number,
    seed: number) {
    this.seq = train.seq;
    this.tokensPerMicroBatch = batch * train.seq;
    this.batches = new EpochBatches(train.rows, batch, seededPermutation(seed));
    this.batchesPerEpoch = this.batches.batchesPerEpoch;
  }

  nextBatch(): RowBatch {
    return gatherRows(this.train, this.batches.next());
  }

  loss(model: TrainModel, b: RowBatch): ObjectiveLoss {
    return { loss: model.loss(b.inputs, b.targets, b.rows, this.seq) };
  }

  /** Trained (assistant) tokens: accumulated micro-batches weigh by them. */
  weight(b: RowBatch): number {
    let n = 0;
    for (const t of b.targets) if (t >= 0) n++;
    return n;
  }

  position(): BatchPosition {
    return this.batches.position();
  }

  restorePosition(position: unknown): void {
    this.batches.restore(position, "SFT", "was the checkpoint made with other data, --seq or --batch?");
  }

  skip(k: number): void {
    this.batches.skip(k);
  }

  validate(model: TrainModel): number | null {
    return this.val ? sftValidationLoss(model, this.val, this.batch) : null;
  }
}

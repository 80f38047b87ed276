// What the encoder fine-tuning objectives (classify, tag, embed) share: examples already tokenized into id rows
// (framed with [CLS] … [SEP]), padded per micro-batch to the longest row with the model's pad id (the attention
// mask comes from it), and the data position over them — a seeded permutation per epoch, `batch` examples per
// micro-batch, {epoch, index} resumable (EpochBatches).
// Leaves out: length bucketing, dynamic batch sizes.
import { seededPermutation, type BatchPosition } from "../batches.js";
import { EpochBatches } from "../epoch-batches.js";

/** Rows of ids right-padded with padId to the longest: [rows, seq] row-major. */
export function padRows(rows: readonly Int32Array[], padId: number): { inputs: Int32Array; rows: number; seq: number } {
  const seq = rows.reduce((m, r) => Math.max(m, r.length), 1);
  const inputs = new Int32Array(rows.length * seq).fill(padId);
  rows.forEach((r, i) => inputs.set(r, i * seq));
  return { inputs, rows: rows.length, seq };
}

/** Keeps the first maxLen − 1 ids and the last one (the closing [SEP]) of a framed row. */
export function truncateFramed(ids: readonly number[], maxLen: number): Int32Array {
  if (ids.length <= maxLen) return Int32Array.from(ids);
  return Int32Array.from([...ids.slice(0, maxLen - 1), ids[ids.length - 1]!]);
}

export abstract class ExampleBatchesBase {
  readonly seq: number;
  readonly tokensPerMicroBatch: number;
  readonly batchesPerEpoch: number;
  private readonly batches: EpochBatches;

  constructor(readonly kind: string, items: number, protected readonly batch: number, maxLen: number, seed: number) {
    if (items < batch) throw new RangeError(`${kind}: ${items} training examples, fewer than --batch ${batch}; lower --batch or add data`);
    this.seq = maxLen;
    this.tokensPerMicroBatch = batch * maxLen;
    this.batches = new EpochBatches(items, batch, seededPermutation(seed));
    this.batchesPerEpoch = this.batches.batchesPerEpoch;
  }

  /** The next micro-batch's example indices. */
  protected nextIndices(): number[] {
    return Array.from(this.batches.next());
  }

  position(): BatchPosition {
    return this.batches.position();
  }

  restorePosition(position: unknown): void {
    this.batches.restore(position, this.kind, "was the checkpoint made with other data or --batch?");
  }

  skip(k: number): void {
    this.batches.skip(k);
  }
}

// What the encoder fine-tuning objectives (classify, tag, embed) share: examples already tokenized into id rows
// (framed with [CLS] … [SEP]), padded per micro-batch to the longest row with the model's pad id (the attention
// mask comes from it), and the data position over them — a seeded permutation per epoch, `batch` examples per
// micro-batch, {epoch, index} resumable (EpochBatches). Data-parallel (finetune under mpirun): shardRows(N) makes
// each --batch a step of N micro-batches, the batch's N equal row slices (rank r computes slice r), so the global
// batch — and, through the objectives' weights, the step's loss — is the one-process batch whatever the rank count.
// Leaves out: length bucketing, dynamic batch sizes, slices of unequal size.
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
  tokensPerMicroBatch: number;
  readonly batchesPerEpoch: number;
  private readonly batches: EpochBatches;
  /** Row slices per batch (1: a micro-batch is the whole batch), the slice the next micro-batch is, its batch. */
  protected shards = 1;
  private shard = 0;
  private current: Uint32Array | null = null;

  constructor(readonly kind: string, items: number, protected readonly batch: number, maxLen: number, seed: number) {
    if (items < batch) throw new RangeError(`${kind}: ${items} training examples, fewer than --batch ${batch}; lower --batch or add data`);
    this.seq = maxLen;
    this.tokensPerMicroBatch = batch * maxLen;
    this.batches = new EpochBatches(items, batch, seededPermutation(seed));
    this.batchesPerEpoch = this.batches.batchesPerEpoch;
  }

  /** Splits every batch into n micro-batches of batch / n rows (data-parallel: one per rank and step). */
  shardRows(n: number): void {
    if (!Number.isInteger(n) || n < 1 || this.batch % n !== 0) {
      throw new RangeError(`${this.kind}: --batch ${this.batch} does not split into ${n} equal parts, one per rank; use a --batch ` +
        `that is a multiple of ${n} (it is the global batch whatever the rank count)`);
    }
    this.shards = n;
    this.tokensPerMicroBatch = (this.batch / n) * this.seq;
  }

  /** The next micro-batch's example indices. */
  protected nextIndices(): number[] {
    if (this.shards === 1) return Array.from(this.batches.next());
    if (this.shard === 0) this.current = this.batches.next();
    const per = this.batch / this.shards;
    const rows = Array.from(this.current!.subarray(this.shard * per, (this.shard + 1) * per));
    this.shard = (this.shard + 1) % this.shards;
    return rows;
  }

  /** Between steps (every slice of the last batch taken): the position of the next batch. */
  position(): BatchPosition {
    return this.batches.position();
  }

  restorePosition(position: unknown): void {
    this.batches.restore(position, this.kind, "was the checkpoint made with other data or --batch?");
    this.shard = 0;
  }

  skip(k: number): void {
    for (let i = 0; i < k; i++) {
      if (this.shard === 0) this.current = this.batches.next();
      this.shard = (this.shard + 1) % this.shards;
    }
  }
}

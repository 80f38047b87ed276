// Batches of item indices drawn from a seeded permutation per epoch, with a resumable {epoch, index} position:
// what the SFT and preference-pair objectives share (nextBatch, position/restorePosition, skip).
// Leaves out: what the items are (the objectives gather their rows or pairs from the indices).
import type { BatchPosition, EpochPermutation } from "./batches.js";

export class EpochBatches {
  private epoch = 0;
  private index = 0;
  private perm: Uint32Array | null = null;
  private permEpoch = -1;

  /** `items` items, `batchSize` per batch; a partial last batch of an epoch is dropped. */
  constructor(private readonly items: number, private readonly batchSize: number, private readonly permute: EpochPermutation) {}

  get batchesPerEpoch(): number {
    return Math.floor(this.items / this.batchSize);
  }

  /** The next batch's item indices (a view into the epoch's permutation). */
  next(): Uint32Array {
    if (this.index >= this.batchesPerEpoch) {
      this.epoch++;
      this.index = 0;
    }
    if (this.permEpoch !== this.epoch || !this.perm) {
      this.perm = this.permute(this.items, this.epoch);
      this.permEpoch = this.epoch;
    }
    const idx = this.perm.subarray(this.index * this.batchSize, (this.index + 1) * this.batchSize);
    this.index++;
    return idx;
  }

  position(): BatchPosition {
    return { epoch: this.epoch, index: this.index };
  }

  /** Restores a checkpointed position; `what` and `hint` name the data and the likely cause in the error. */
  restore(position: unknown, what: string, hint: string): void {
    const p = position as BatchPosition;
    if (!p || !Number.isInteger(p.epoch) || !Number.isInteger(p.index) || p.epoch < 0 || p.index < 0 || p.index > this.batchesPerEpoch) {
      throw new RangeError(`${what} data position ${JSON.stringify(position)} does not fit ${this.batchesPerEpoch} batches per ` +
        `epoch; ${hint}`);
    }
    this.epoch = p.epoch;
    this.index = p.index;
  }

  /** Skips k batches (the spike guard's skip). */
  skip(k: number): void {
    for (let i = 0; i < k; i++) this.next();
  }
}

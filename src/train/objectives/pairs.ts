// What the preference objectives (reward model, DPO) share: the data position over a list of pairs (a seeded
// permutation per epoch, `batchPairs` pairs per micro-batch, {epoch, index} resumable), held-out pairs, and
// −log σ(x) written so it neither overflows nor loses precision for large |x|.
// Leaves out: the losses themselves (reward.ts, dpo.ts).
import { type Tensor, add, exp, fromTypedArray, log, neg, sub } from "../../tensor/index.js";
import { seededPermutation, type BatchPosition } from "../batches.js";
import { EpochBatches } from "../epoch-batches.js";
import { type PairBatch, type PreferencePair, pairBatch } from "../preference-data.js";

/** −log σ(x) = softplus(−x) = m + log(e^−m + e^(−x−m)) with m = max(−x, 0) held constant: no overflow for any x,
 *  and the gradient (−σ(−x)) is exact everywhere, x = 0 included (a relu/abs form has a zero subgradient there,
 *  which is exactly where DPO starts). */
export function negLogSigmoid(x: Tensor): Tensor {
  const z = neg(x);
  const m = fromTypedArray(z.toFloat32Array().map((v) => Math.max(v, 0)), [...z.shape]);
  return add(m, log(add(exp(neg(m)), exp(sub(z, m)))));
}

export interface PairBatchWithIndex extends PairBatch {
  /** Which pairs (indices into the training pairs) the batch holds, in row order. */
  pairIndex: Int32Array;
}

export abstract class PairObjectiveBase {
  readonly seq: number;
  readonly tokensPerMicroBatch: number;
  readonly batchesPerEpoch: number;
  private readonly batches: EpochBatches;

  constructor(readonly kind: string, protected readonly pairs: readonly PreferencePair[], protected readonly batchPairs: number,
    protected readonly padId: number, protected readonly maxLen: number, seed: number) {
    if (pairs.length < batchPairs) {
      throw new RangeError(`${kind}: ${pairs.length} preference pairs, fewer than the ${batchPairs} a batch needs; lower --batch or add pairs`);
    }
    this.seq = maxLen;
    this.tokensPerMicroBatch = 2 * batchPairs * maxLen;
    this.batches = new EpochBatches(pairs.length, batchPairs, seededPermutation(seed));
    this.batchesPerEpoch = this.batches.batchesPerEpoch;
  }

  nextBatch(): PairBatchWithIndex {
    const idx = Int32Array.from(this.batches.next());
    return { ...pairBatch(Array.from(idx, (i) => this.pairs[i]!), this.padId, this.maxLen), pairIndex: idx };
  }

  /** Pairs: accumulated micro-batches weigh by them. */
  weight(b: PairBatch): number {
    return b.rows / 2;
  }

  position(): BatchPosition {
    return this.batches.position();
  }

  restorePosition(position: unknown): void {
    this.batches.restore(position, this.kind, "was the checkpoint made with other pairs or --batch?");
  }

  skip(k: number): void {
    this.batches.skip(k);
  }
}

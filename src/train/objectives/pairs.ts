// What the preference objectives (reward model, DPO) share: the data position over a list of pairs (a seeded
// permutation per epoch, `batchPairs` pairs per micro-batch, {epoch, index} resumable), held-out pairs, and
// −log σ(x) written so it neither overflows nor loses precision for large |x|.
// Leaves out: the losses themselves (reward.ts, dpo.ts).
import { type Tensor, add, exp, fromTypedArray, log, neg, sub } from "../../tensor/index.js";
import { seededPermutation, type BatchPosition, type EpochPermutation } from "../batches.js";
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
  private epoch = 0;
  private index = 0;
  private readonly permute: EpochPermutation;
  private perm: Uint32Array | null = null;
  private permEpoch = -1;

  constructor(readonly kind: string, protected readonly pairs: readonly PreferencePair[], protected readonly batchPairs: number,
    protected readonly padId: number, protected readonly maxLen: number, seed: number) {
    if (pairs.length < batchPairs) {
      throw new RangeError(`${kind}: ${pairs.length} preference pairs, fewer than the ${batchPairs} a batch needs; lower --batch or add pairs`);
    }
    this.seq = maxLen;
    this.tokensPerMicroBatch = 2 * batchPairs * maxLen;
    this.batchesPerEpoch = Math.floor(pairs.length / batchPairs);
    this.permute = seededPermutation(seed);
  }

  nextBatch(): PairBatchWithIndex {
    if (this.index >= this.batchesPerEpoch) {
      this.epoch++;
      this.index = 0;
    }
    if (this.permEpoch !== this.epoch || !this.perm) {
      this.perm = this.permute(this.pairs.length, this.epoch);
      this.permEpoch = this.epoch;
    }
    const idx = Int32Array.from(this.perm.subarray(this.index * this.batchPairs, (this.index + 1) * this.batchPairs));
    this.index++;
    return { ...pairBatch(Array.from(idx, (i) => this.pairs[i]!), this.padId, this.maxLen), pairIndex: idx };
  }

  /** Pairs: accumulated micro-batches weigh by them. */
  weight(b: PairBatch): number {
    return b.rows / 2;
  }

  position(): BatchPosition {
    return { epoch: this.epoch, index: this.index };
  }

  restorePosition(position: unknown): void {
    const p = position as BatchPosition;
    if (!p || !Number.isInteger(p.epoch) || !Number.isInteger(p.index) || p.epoch < 0 || p.index < 0 || p.index > this.batchesPerEpoch) {
      throw new RangeError(`${this.kind} data position ${JSON.stringify(position)} does not fit ${this.batchesPerEpoch} batches per ` +
        "epoch; was the checkpoint made with other pairs or --batch?");
    }
    this.epoch = p.epoch;
    this.index = p.index;
  }

  skip(k: number): void {
    for (let i = 0; i < k; i++) {
      if (this.index >= this.batchesPerEpoch) {
        this.epoch++;
        this.index = 0;
      }
      this.index++;
    }
  }
}

// Contrastive fine-tuning for sentence embeddings (`zhiyu finetune --task embed`): (query, positive) pairs, each
// side encoded and pooled (mean over the real tokens, or [CLS]) and L2-normalised; within a batch of n pairs every
// other positive is a negative (in-batch negatives), and the loss is InfoNCE — cross-entropy of the scaled cosine
// similarities s·cos(q_i, p_j) against j = i (sentence-transformers' MultipleNegativesRankingLoss, scale 20).
// Data-parallel (gatherAcrossRanks): each rank encodes its row slice of the global batch, the pooled embeddings of
// every rank are all-gathered, and every rank computes the InfoNCE of the whole batch on those values (the
// negatives are the global batch's, as in one process) and its gradient with respect to every embedding; a rank
// then back-propagates only its own rows' share through its encoder (the surrogate Σ e·∂L/∂e, whose gradient is
// that share), so the gradients summed over ranks are the one-process gradient and the logged loss is the
// global batch's.
// Leaves out: hard negatives, the symmetric (p → q) term, GradCache for large batches.
import {
  type Tensor, crossEntropy, div, fromTypedArray, matmul, mul, noGrad, sqrt, square, sub, sum, tidy, transpose, add,
} from "../../tensor/index.js";
import { encoderInput, type TrainModel } from "../model.js";
import type { ObjectiveLoss, TrainingObjective } from "../objective.js";
import { ExampleBatchesBase, padRows } from "./encoder-batches.js";

export type EmbedPooling = "mean" | "cls";
export interface PairExample { a: Int32Array; b: Int32Array }
interface PairBatch { a: { inputs: Int32Array; rows: number; seq: number }; b: { inputs: Int32Array; rows: number; seq: number } }

/** L2-normalised pooled embeddings [rows, D] of a padded batch (differentiable). */
export function pooledEmbeddings(model: TrainModel, p: { inputs: Int32Array; rows: number; seq: number }, padId: number, pooling: EmbedPooling): Tensor {
  const input = encoderInput(p.inputs, p.rows, p.seq, padId);
  const hidden = model.encode(input); // [B, T, D], zeros at padding
  let pooled: Tensor;
  if (pooling === "cls") {
    const first = new Float32Array(p.rows * p.seq);
    for (let r = 0; r < p.rows; r++) first[r * p.seq] = 1;
    pooled = sum(mul(hidden, fromTypedArray(first, [p.rows, p.seq, 1])), 1);
  } else {
    const mask = Float32Array.from(input.attentionMask!);
    const counts = new Float32Array(p.rows);
    for (let r = 0; r < p.rows; r++) for (let t = 0; t < p.seq; t++) counts[r] += mask[r * p.seq + t]!;
    pooled = div(sum(mul(hidden, fromTypedArray(mask, [p.rows, p.seq, 1])), 1), fromTypedArray(counts, [p.rows, 1]));
  }
  return div(pooled, sqrt(add(sum(square(pooled), 1, true), 1e-12)));
}

/** InfoNCE with in-batch negatives: mean over i of −log softmax_j(scale · a_i·b_j)[i] for normalised a, b [n, D]. */
export function infoNceLoss(a: Tensor, b: Tensor, scale: number): Tensor {
  const n = a.shape[0]!;
  return crossEntropy(mul(matmul(a, transpose(b, 0, 1)), scale), fromTypedArray(Int32Array.from({ length: n }, (_, i) => i), [n]));
}

/** Every rank's values of a row slice, in rank order (the rows of the global batch); rank is this one's place. */
export interface RowGather {
  rank: number;
  ranks: number;
  gather(local: Float32Array): Float32Array;
}

export class ContrastiveObjective extends ExampleBatchesBase implements TrainingObjective<PairBatch> {
  readonly name = "embed";
  private across: RowGather | null = null;

  constructor(private readonly train: readonly PairExample[], private readonly val: readonly PairExample[], batch: number,
    private readonly padId: number, maxLen: number, seed: number, private readonly pooling: EmbedPooling, private readonly scale = 20) {
    super("embed", train.length, batch, maxLen, seed);
    if (batch < 2) throw new RangeError("embed: --batch must be at least 2 (the other pairs of a batch are the negatives)");
  }

  private batchOf(pairs: readonly PairExample[]): PairBatch {
    return { a: padRows(pairs.map((p) => p.a), this.padId), b: padRows(pairs.map((p) => p.b), this.padId) };
  }

  nextBatch(): PairBatch {
    return this.batchOf(this.nextIndices().map((i) => this.train[i]!));
  }

  /** Data-parallel: each micro-batch is this rank's slice of the batch, and the loss is the whole batch's. */
  gatherAcrossRanks(across: RowGather): void {
    this.shardRows(across.ranks);
    this.across = across;
  }

  loss(model: TrainModel, b: PairBatch): ObjectiveLoss {
    return this.batchLoss(model, b, this.across);
  }

  /** Without `across`: the batch's own InfoNCE (one process, and validation, which every rank runs whole). */
  private batchLoss(model: TrainModel, b: PairBatch, across: RowGather | null): ObjectiveLoss {
    const ea = pooledEmbeddings(model, b.a, this.padId, this.pooling), eb = pooledEmbeddings(model, b.b, this.padId, this.pooling);
    if (across) return this.gatheredLoss(ea, eb, across);
    const loss = infoNceLoss(ea, eb, this.scale);
    const sims = noGrad(() => matmul(ea, transpose(eb, 0, 1)).toFloat32Array());
    const n = b.a.rows;
    let right = 0;
    for (let i = 0; i < n; i++) {
      let best = 0;
      for (let j = 1; j < n; j++) if (sims[i * n + j]! > sims[i * n + best]!) best = j;
      if (best === i) right++;
    }
    return { loss, metrics: { in_batch_accuracy: right / n } };
  }

  /** The global batch's InfoNCE from every rank's embeddings; gradient: this rank's rows' share, scaled so that the
   *  loop's weighting (rows / global rows) leaves exactly that share. */
  private gatheredLoss(ea: Tensor, eb: Tensor, across: RowGather): ObjectiveLoss {
    const n = ea.shape[0]!, d = ea.shape[1]!, total = n * across.ranks;
    const leafOf = (local: Tensor) => {
      const t = fromTypedArray(across.gather(local.toFloat32Array()), [total, d]);
      t.requiresGrad = true;
      return t;
    };
    const A = leafOf(ea), B = leafOf(eb);
    const global = infoNceLoss(A, B, this.scale);
    const value = global.item();
    global.backward();
    const mine = (t: Tensor) => fromTypedArray(t.grad!.toFloat32Array().slice(across.rank * n * d, (across.rank + 1) * n * d), [n, d]);
    const surrogate = add(sum(mul(ea, mine(A))), sum(mul(eb, mine(B))));
    const loss = add(mul(sub(surrogate, surrogate.item()), total / n), value);
    // In-batch accuracy of this rank's queries against every positive of the batch.
    const a = A.toFloat32Array(), p = B.toFloat32Array();
    let right = 0;
    for (let i = across.rank * n; i < (across.rank + 1) * n; i++) {
      let best = -1, bestSim = -Infinity;
      for (let j = 0; j < total; j++) {
        let s = 0;
        for (let k = 0; k < d; k++) s += a[i * d + k]! * p[j * d + k]!;
        if (s > bestSim) { bestSim = s; best = j; }
      }
      if (best === i) right++;
    }
    A.zeroGrad();
    B.zeroGrad();
    return { loss, metrics: { in_batch_accuracy: right / n } };
  }

  weight(b: PairBatch): number {
    return b.a.rows;
  }

  /** Mean InfoNCE over validation batches of --batch pairs (the last one may be smaller; a single pair is skipped). */
  validate(model: TrainModel): number | null {
    let sum = 0, n = 0;
    for (let i = 0; i < this.val.length; i += this.batch) {
      const chunk = this.val.slice(i, i + this.batch);
      if (chunk.length < 2) continue;
      sum += chunk.length * noGrad(() => tidy(() => this.batchLoss(model, this.batchOf(chunk), null).loss.item()));
      n += chunk.length;
    }
    return n > 0 ? sum / n : null;
  }
}

// Sequence classification (`zhiyu finetune --task classify`): the model's own classifier head over [CLS] (BERT:
// pooler + classifier.*) on padded batches, trained with cross-entropy — optionally class-weighted for imbalanced
// sets, PyTorch's weighted mean Σ w_y·ℓ / Σ w_y — and what makes its confidence usable: logits of a list of
// examples, temperature scaling fitted on a validation split (the T that minimises the NLL of softmax(z / T)), and an
// out-of-scope threshold on the calibrated top probability (the highest whose validation in-scope accuracy drops by
// at most a budget, as the contact-centre baseline chooses it), with the metrics of both. With sparse n-gram
// features (finetune --sparse-ngrams, as Rasa's DIET combines them) the logits are the encoder head's plus
// scale · W_sparse · x_sparse (TrainModel.withSparseHead; the scale is a learning-rate multiplier under Adam).
// With a frozen encoder (--freeze-encoder) FrozenEncoderCache runs the encoder once per example and the head on the
// cached first-token states (what BERT's pooler and classifier read; checked on the first batch).
// Leaves out: label smoothing, multi-label (sigmoid) heads.
import { type Tensor, add, crossEntropy, div, fromTypedArray, linear, mul, noGrad, select, sum, tidy } from "../../tensor/index.js";
import type { SparseVector } from "../../tokenizers/sparse-ngrams.js";
import { encoderInput, SPARSE_HEAD_WEIGHT, type TrainModel } from "../model.js";
import type { ObjectiveLoss, TrainingObjective } from "../objective.js";
import { ExampleBatchesBase, padRows } from "./encoder-batches.js";

export interface ClassExample { ids: Int32Array; label: number; sparse?: SparseVector }
export interface ClassBatch { inputs: Int32Array; targets: Int32Array; rows: number; seq: number; sparse: (SparseVector | undefined)[]; examples: readonly ClassExample[] }

/** A frozen encoder's first-token states per example (computed once, without gradients), and the classifier head run
 *  on them as [B, 1, D]: the same logits as the full forward pass for a head that reads only the first token — checked
 *  against it on the first batch, with an error if the head reads more. */
export class FrozenEncoderCache {
  private readonly states = new WeakMap<object, Float32Array>();
  private checked = false;
  constructor(private readonly padId: number) {}

  headLogits(model: TrainModel, b: { inputs: Int32Array; rows: number; seq: number; examples: readonly { ids: Int32Array }[] }): Tensor {
    const missing = b.examples.filter((e) => !this.states.has(e));
    if (missing.length > 0) {
      const p = padRows(missing.map((e) => e.ids), this.padId);
      const first = noGrad(() => tidy(() => select(model.encode(encoderInput(p.inputs, p.rows, p.seq, this.padId)), 1, 0).toFloat32Array()));
      const d = first.length / p.rows;
      missing.forEach((e, r) => this.states.set(e, first.slice(r * d, (r + 1) * d)));
    }
    const d = this.states.get(b.examples[0]!)!.length;
    const x = new Float32Array(b.rows * d);
    b.examples.forEach((e, r) => x.set(this.states.get(e)!, r * d));
    const logits = model.encoderHead("classifier", fromTypedArray(x, [b.rows, 1, d]));
    if (!this.checked) {
      const full = noGrad(() => tidy(() => model.sequenceLogits(b.inputs, b.rows, b.seq, this.padId).toFloat32Array()));
      const got = logits.toFloat32Array();
      const scale = Math.max(1e-6, ...full.map(Math.abs));
      if (full.some((z, i) => Math.abs(z - got[i]!) > 1e-4 * scale)) {
        throw new Error("[classify] --freeze-encoder: this model's classifier head reads more than the first token's state, so the " +
          "cached states do not reproduce its logits; train without --freeze-encoder");
      }
      this.checked = true;
    }
    return logits;
  }
}

/** The sparse features' width and the multiplier of their head (sparse_ngrams.json's head_scale). */
export interface SparseHeadShape { dimension: number; scale: number }

/** Logits [B, labels]: the model's head over the padded ids, plus scale · x_sparse · W_sparseᵀ when the model has a
 *  sparse head (every row then needs its features). */
export function classLogits(model: TrainModel, b: { inputs: Int32Array; rows: number; seq: number; sparse: readonly (SparseVector | undefined)[];
  examples: readonly ClassExample[] }, padId: number, sparse: SparseHeadShape | null, frozen: FrozenEncoderCache | null = null): Tensor {
  const logits = frozen ? frozen.headLogits(model, b) : model.sequenceLogits(b.inputs, b.rows, b.seq, padId);
  const w = model.params.get(SPARSE_HEAD_WEIGHT);
  if (!sparse || !w) return logits;
  const x = new Float32Array(b.rows * sparse.dimension);
  b.sparse.forEach((v, r) => {
    if (!v) throw new Error(`[classify] row ${r} has no sparse features but the model has a sparse head`);
    v.indices.forEach((i, j) => { x[r * sparse.dimension + i] = v.values[j]!; });
  });
  return add(logits, mul(linear(fromTypedArray(x, [b.rows, sparse.dimension]), w), sparse.scale));
}

/** Per-class weights n / (k · n_c) (scikit-learn's "balanced"); a class absent from the data gets weight 0. */
export function balancedClassWeights(labels: ArrayLike<number>, classes: number): Float32Array {
  const counts = new Float64Array(classes);
  for (let i = 0; i < labels.length; i++) counts[labels[i]!]++;
  const present = counts.filter((c) => c > 0).length;
  return Float32Array.from(counts, (c) => (c > 0 ? labels.length / (present * c) : 0));
}

export class ClassifyObjective extends ExampleBatchesBase implements TrainingObjective<ClassBatch> {
  readonly name = "classify";

  constructor(private readonly train: readonly ClassExample[], private readonly val: readonly ClassExample[], batch: number,
    private readonly padId: number, maxLen: number, seed: number, private readonly classWeights: Float32Array | null,
    private readonly sparse: SparseHeadShape | null = null, private readonly frozen: FrozenEncoderCache | null = null) {
    super("classify", train.length, batch, maxLen, seed);
  }

  private batchOf(examples: readonly ClassExample[]): ClassBatch {
    const p = padRows(examples.map((e) => e.ids), this.padId);
    return { ...p, targets: Int32Array.from(examples, (e) => e.label), sparse: examples.map((e) => e.sparse), examples };
  }

  nextBatch(): ClassBatch {
    return this.batchOf(this.nextIndices().map((i) => this.train[i]!));
  }

  loss(model: TrainModel, b: ClassBatch): ObjectiveLoss {
    const logits = classLogits(model, b, this.padId, this.sparse, this.frozen);
    const targets = fromTypedArray(b.targets, [b.rows]);
    let right = 0;
    const z = logits.toFloat32Array(), k = logits.shape[1]!;
    for (let r = 0; r < b.rows; r++) if (argmax(z.subarray(r * k, (r + 1) * k)) === b.targets[r]) right++;
    const metrics = { accuracy: right / b.rows };
    if (!this.classWeights) return { loss: crossEntropy(logits, targets), metrics };
    const w = Float32Array.from(b.targets, (t) => this.classWeights![t]!);
    const perRow = crossEntropy(logits, targets, { reduction: "none" });
    return { loss: div(sum(mul(perRow, fromTypedArray(w, [b.rows]))), Math.max(1e-12, w.reduce((a, x) => a + x, 0))), metrics };
  }

  /** What the micro-batch's mean is over: its rows, or with class weights their weights' sum (the weighted mean of
   *  several micro-batches — data-parallel row slices — is then the whole batch's). */
  weight(b: ClassBatch): number {
    if (!this.classWeights) return b.rows;
    let w = 0;
    for (const t of b.targets) w += this.classWeights[t]!;
    return w;
  }

  validate(model: TrainModel): number | null {
    if (this.val.length === 0) return null;
    const logits = predictLogits(model, this.val, this.batch, this.padId, this.sparse, this.frozen);
    return meanNll(logits, this.val.map((e) => e.label), 1);
  }
}

export function argmax(v: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < v.length; i++) if (v[i]! > v[best]!) best = i;
  return best;
}

/** Logits [n][classes] of examples, `batch` at a time, without gradients. */
export function predictLogits(model: TrainModel, examples: readonly ClassExample[], batch: number, padId: number,
  sparse: SparseHeadShape | null = null, frozen: FrozenEncoderCache | null = null): Float32Array[] {
  const out: Float32Array[] = [];
  for (let i = 0; i < examples.length; i += batch) {
    const chunk = examples.slice(i, i + batch);
    const p = padRows(chunk.map((e) => e.ids), padId);
    const z = noGrad(() => tidy(() => classLogits(model, { ...p, sparse: chunk.map((e) => e.sparse), examples: chunk }, padId, sparse, frozen).toFloat32Array()));
    const k = z.length / chunk.length;
    for (let r = 0; r < chunk.length; r++) out.push(z.slice(r * k, (r + 1) * k));
  }
  return out;
}

/** softmax(z / T). */
export function softmaxT(z: ArrayLike<number>, temperature: number): Float64Array {
  let m = -Infinity;
  for (let i = 0; i < z.length; i++) m = Math.max(m, z[i]! / temperature);
  const e = Float64Array.from({ length: z.length }, (_, i) => Math.exp(z[i]! / temperature - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Mean negative log-likelihood of the labels under softmax(z / T). */
export function meanNll(logits: readonly ArrayLike<number>[], labels: readonly number[], temperature: number): number {
  let nll = 0;
  logits.forEach((z, i) => { nll -= Math.log(Math.max(softmaxT(z, temperature)[labels[i]!]!, 1e-300)); });
  return nll / Math.max(1, logits.length);
}

/** Temperature scaling (Guo et al. 2017): the T in [0.05, 20] minimising the validation NLL — golden-section search
 *  over log T (the NLL is convex in 1/T). Returns 1 without validation examples. */
export function fitTemperature(logits: readonly ArrayLike<number>[], labels: readonly number[]): number {
  if (logits.length === 0) return 1;
  const f = (logT: number) => meanNll(logits, labels, Math.exp(logT));
  let lo = Math.log(0.05), hi = Math.log(20);
  const g = (Math.sqrt(5) - 1) / 2;
  let x1 = hi - g * (hi - lo), x2 = lo + g * (hi - lo), f1 = f(x1), f2 = f(x2);
  for (let it = 0; it < 60; it++) {
    if (f1 <= f2) { hi = x2; x2 = x1; f2 = f1; x1 = hi - g * (hi - lo); f1 = f(x1); } else { lo = x1; x1 = x2; f1 = f2; x2 = lo + g * (hi - lo); f2 = f(x2); }
  }
  return Math.exp((lo + hi) / 2);
}

export interface ClassifierMetrics {
  /** Share of in-scope examples predicted right (and not rejected as out of scope). */
  accuracy: number;
  /** Share of out-of-scope examples predicted out of scope (null when there are none). */
  oosRecall: number | null;
  examples: number;
}

/** Predicted class (or -1 = out of scope) under temperature T and threshold (0 = none); oosClass also counts as out of scope. */
export function decide(z: ArrayLike<number>, temperature: number, threshold: number, oosClass: number | null): number {
  const p = softmaxT(z, temperature);
  const best = argmax(p);
  if (best === oosClass || p[best]! < threshold) return -1;
  return best;
}

/** In-scope accuracy and out-of-scope recall; gold -1 (or oosClass) = out of scope. */
export function classifierMetrics(logits: readonly ArrayLike<number>[], gold: readonly number[], temperature: number, threshold: number,
  oosClass: number | null): ClassifierMetrics {
  let inN = 0, inRight = 0, oosN = 0, oosRight = 0;
  logits.forEach((z, i) => {
    const g = gold[i] === oosClass ? -1 : gold[i]!;
    const pred = decide(z, temperature, threshold, oosClass);
    if (g === -1) { oosN++; if (pred === -1) oosRight++; } else { inN++; if (pred === g) inRight++; }
  });
  return { accuracy: inN > 0 ? inRight / inN : 0, oosRecall: oosN > 0 ? oosRight / oosN : null, examples: logits.length };
}

/** The highest threshold on the calibrated top probability whose in-scope accuracy on validation is at most `budget`
 *  below the accuracy without a threshold: with the right in-scope answers' top probabilities sorted, the threshold
 *  that rejects no more than ⌊budget · n_in⌋ of them (ties reject fewer). */
export function chooseOosThreshold(logits: readonly ArrayLike<number>[], gold: readonly number[], temperature: number,
  oosClass: number | null, budget: number): number {
  const rightTops: number[] = [];
  let inN = 0;
  logits.forEach((z, i) => {
    if (gold[i] === oosClass || gold[i] === -1) return;
    inN++;
    if (decide(z, temperature, 0, oosClass) === gold[i]) rightTops.push(Math.max(...softmaxT(z, temperature)));
  });
  if (rightTops.length === 0) return 0;
  rightTops.sort((x, y) => x - y);
  const mayLose = Math.floor(budget * inN + 1e-9);
  return mayLose >= rightTops.length ? rightTops[rightTops.length - 1]! : rightTops[mayLose]!;
}

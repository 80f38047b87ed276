// The encoder branch of the desk's intent/emotion models and its late fusion with the sparse model: a softmax
// regression on a frozen encoder's mean-pooled sentence features (standardised per dimension with the training
// split's mean and spread), trained to convergence by mini-batch Adam with L2 and a decaying step, and
// the rule that joins it to the sparse model's calibrated probabilities,
//   fused_c = softmax_c((log p_sparse,c + w · log p_dense,c) / T),
// a weighted product of the two experts (fusion.ts; w and T are chosen there on validation data).
// Training runs its two products per batch (logits = X·Wᵀ, gradient = Gᵀ·X) through a Backend's matmul when given
// one (the native kernels: minutes become seconds), else through the plain loops below, the specification
// (test/apps/contact-centre/dense-head-engine.test.ts holds the two together).
// Leaves out: hidden layers (a linear probe on these features is what session 8 measured), fine-tuning the encoder
// (it stays frozen and shared with the knowledge base's embedder).
import type { Backend } from "../../../backend/backend.js";
import type { BertEncoder } from "../../../infer/encoder.js";
import { Rng } from "../../../core/rng.js";
import { softmaxInPlace } from "./classifier.js";

export interface DenseTrainOptions {
  /** L2 penalty on the weights (not the bias), per example: loss = mean CE + l2/2 · |W|². */
  l2: number;
  epochs: number;
  batch: number;
  /** Adam's step size at the start (decays linearly to 0). */
  learningRate: number;
  seed: number;
  /** Class weights "balanced" = n / (classes × count), as scikit-learn. */
  classWeight: "none" | "balanced";
  /** The engine whose f32 matmul computes the batch products; absent: the TypeScript loops (f64 sums). */
  backend?: Backend;
}

export const DEFAULT_DENSE_TRAIN: DenseTrainOptions = { l2: 1e-4, epochs: 30, batch: 64, learningRate: 0.01, classWeight: "none", seed: 23 };

/** Mean-pooled features of texts from a frozen encoder ([CLS] text [SEP], cut to `maxTokens`), not normalised. */
export function encoderFeatures(encoder: BertEncoder, texts: readonly string[], maxTokens = 64, batch = 64): Float32Array[] {
  const max = Math.min(encoder.contextLength, maxTokens);
  const out: Float32Array[] = [];
  for (let i = 0; i < texts.length; i += batch) {
    const seqs = texts.slice(i, i + batch).map((t) => {
      const ids = encoder.tokenizer.encode(t, { addSpecialTokens: true });
      return { ids: ids.length <= max ? ids : [...ids.slice(0, max - 1), ids[ids.length - 1]!] };
    });
    out.push(...encoder.embedSequences(seqs, "mean", false));
  }
  return out;
}

export class DenseHead {
  constructor(
    readonly labels: readonly string[],
    /** Per-dimension mean and 1/spread of the training features. */
    readonly mean: Float32Array,
    readonly invStd: Float32Array,
    /** weights[c * dim + d]. */
    readonly weights: Float32Array,
    readonly bias: Float32Array,
  ) {
    const C = labels.length;
    const D = mean.length;
    if (invStd.length !== D || weights.length !== C * D || bias.length !== C) {
      throw new Error(`[dense-head] shapes disagree: ${C} labels, mean ${D}, invStd ${invStd.length}, weights ${weights.length} (expected ${C * D}), bias ${bias.length}`);
    }
  }

  get dim(): number {
    return this.mean.length;
  }

  logits(feature: Float32Array): Float32Array {
    if (feature.length !== this.dim) throw new Error(`[dense-head] a feature of length ${feature.length}; the head takes ${this.dim} (was it trained on another encoder?)`);
    const C = this.labels.length;
    const D = this.dim;
    const x = new Float32Array(D);
    for (let d = 0; d < D; d++) x[d] = (feature[d] - this.mean[d]) * this.invStd[d];
    const z = Float32Array.from(this.bias);
    for (let c = 0; c < C; c++) {
      let s = 0;
      const row = c * D;
      for (let d = 0; d < D; d++) s += this.weights[row + d] * x[d];
      z[c] += s;
    }
    return z;
  }

  probabilities(feature: Float32Array): Float32Array {
    return softmaxInPlace(this.logits(feature), 1);
  }

  /** Multinomial logistic regression on standardised features: mini-batch Adam with a linearly decaying step,
   *  shuffled per epoch by a seeded generator (deterministic). */
  static train(labels: readonly string[], features: readonly Float32Array[], ys: readonly number[], options: Partial<DenseTrainOptions> = {}): DenseHead {
    const o = { ...DEFAULT_DENSE_TRAIN, ...options };
    const N = features.length;
    if (N === 0 || N !== ys.length) throw new Error(`[dense-head.train] ${N} features for ${ys.length} labels`);
    const D = features[0].length;
    const C = labels.length;
    const mean = new Float32Array(D);
    const invStd = new Float32Array(D);
    for (const f of features) {
      if (f.length !== D) throw new Error(`[dense-head.train] features of lengths ${D} and ${f.length}`);
      for (let d = 0; d < D; d++) mean[d] += f[d] / N;
    }
    for (const f of features) for (let d = 0; d < D; d++) invStd[d] += (f[d] - mean[d]) ** 2 / N;
    for (let d = 0; d < D; d++) invStd[d] = 1 / Math.sqrt(invStd[d] + 1e-12);
    const X = new Float32Array(N * D);
    features.forEach((f, n) => { for (let d = 0; d < D; d++) X[n * D + d] = (f[d] - mean[d]) * invStd[d]; });
    const counts = new Float64Array(C);
    for (const y of ys) {
      if (!(y >= 0 && y < C)) throw new Error(`[dense-head.train] label index ${y} out of range [0, ${C})`);
      counts[y]++;
    }
    const cw = new Float64Array(C).fill(1);
    if (o.classWeight === "balanced") for (let c = 0; c < C; c++) cw[c] = counts[c] ? N / (C * counts[c]) : 0;
    const P = C * D + C;
    const theta = new Float64Array(P);
    const m1 = new Float64Array(P);
    const m2 = new Float64Array(P);
    const grad = new Float64Array(P);
    const z = new Float64Array(C);
    const order = Array.from(ys.keys());
    const rng = new Rng(o.seed);
    const engine = o.backend ? new EngineBatchGradient(o.backend, X, ys, cw, N, D, C, o.batch) : null;
    const batches = Math.ceil(N / o.batch);
    const total = o.epochs * batches;
    let t = 0;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      for (let i = N - 1; i > 0; i--) {
        const j = rng.nextU32() % (i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (let b = 0; b < N; b += o.batch) {
        const end = Math.min(N, b + o.batch);
        if (engine) engine.gradient(order, b, end, theta, grad);
        else {
          grad.fill(0);
          for (let i = b; i < end; i++) {
            const n = order[i];
            const x = n * D;
            let max = -Infinity;
            for (let c = 0; c < C; c++) {
              let s = theta[C * D + c];
              const row = c * D;
              for (let d = 0; d < D; d++) s += theta[row + d] * X[x + d];
              z[c] = s;
              if (s > max) max = s;
            }
            let sum = 0;
            for (let c = 0; c < C; c++) sum += (z[c] = Math.exp(z[c] - max));
            const w = cw[ys[n]] / (end - b);
            for (let c = 0; c < C; c++) {
              const g = (z[c] / sum - (c === ys[n] ? 1 : 0)) * w;
              grad[C * D + c] += g;
              const row = c * D;
              for (let d = 0; d < D; d++) grad[row + d] += g * X[x + d];
            }
          }
        }
        for (let k = 0; k < C * D; k++) grad[k] += o.l2 * theta[k];
        t++;
        const lr = o.learningRate * (1 - (t - 1) / total);
        const c1 = 1 - 0.9 ** t;
        const c2 = 1 - 0.999 ** t;
        for (let k = 0; k < P; k++) {
          m1[k] = 0.9 * m1[k] + 0.1 * grad[k];
          m2[k] = 0.999 * m2[k] + 0.001 * grad[k] * grad[k];
          theta[k] -= (lr * (m1[k] / c1)) / (Math.sqrt(m2[k] / c2) + 1e-8);
        }
      }
    }
    return new DenseHead(labels, mean, invStd, Float32Array.from(theta.subarray(0, C * D)), Float32Array.from(theta.subarray(C * D)));
  }
}

/** The batch gradient of the mean weighted cross-entropy (no L2) through a backend's f32 matmul: Z = X_b·Wᵀ [B, C],
 *  G = (softmax(Z + bias) − onehot) · weight / B, ∇W = Gᵀ·X_b [C, D], ∇bias = Σ_rows G. Same layout as theta:
 *  weights [C × D] then bias [C]. */
class EngineBatchGradient {
  private readonly xb: Float32Array;
  private readonly w: Float32Array;
  private readonly z: Float32Array;
  private readonly gw: Float32Array;

  constructor(private readonly backend: Backend, private readonly X: Float32Array, private readonly ys: readonly number[],
    private readonly cw: Float64Array, readonly N: number, private readonly D: number, private readonly C: number, batch: number) {
    this.xb = new Float32Array(batch * D);
    this.w = new Float32Array(C * D);
    this.z = new Float32Array(batch * C);
    this.gw = new Float32Array(C * D);
  }

  gradient(order: readonly number[], begin: number, end: number, theta: Float64Array, grad: Float64Array): void {
    const { D, C } = this;
    const B = end - begin;
    for (let i = 0; i < B; i++) this.xb.set(this.X.subarray(order[begin + i] * D, (order[begin + i] + 1) * D), i * D);
    for (let k = 0; k < C * D; k++) this.w[k] = theta[k];
    const params = { batch: 1, strideA: 0, strideB: 0, strideC: 0, alpha: 1, beta: 0 };
    this.backend.matmul(this.xb.subarray(0, B * D), this.w, this.z.subarray(0, B * C), { ...params, m: B, n: C, k: D, transA: false, transB: true }, "f32");
    for (let c = 0; c < C; c++) grad[C * D + c] = 0;
    for (let i = 0; i < B; i++) {
      const y = this.ys[order[begin + i]];
      const row = this.z.subarray(i * C, (i + 1) * C);
      let max = -Infinity;
      for (let c = 0; c < C; c++) max = Math.max(max, (row[c] += theta[C * D + c]));
      let sum = 0;
      for (let c = 0; c < C; c++) sum += Math.exp(row[c] - max);
      const w = this.cw[y] / B;
      for (let c = 0; c < C; c++) {
        const g = (Math.exp(row[c] - max) / sum - (c === y ? 1 : 0)) * w;
        row[c] = g;
        grad[C * D + c] += g;
      }
    }
    // ∇W [C, D] = Gᵀ [C, B] · X_b [B, D]: G is stored [B, C], so A is transposed.
    this.backend.matmul(this.z.subarray(0, B * C), this.xb.subarray(0, B * D), this.gw, { ...params, m: C, n: D, k: B, transA: true, transB: false }, "f32");
    for (let k = 0; k < C * D; k++) grad[k] = this.gw[k];
  }
}

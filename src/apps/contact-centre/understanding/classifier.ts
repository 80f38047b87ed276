// A multinomial logistic-regression classifier over hashed sparse features (features.ts), trained with per-example
// AdaGrad and L2 decay on the rows an example touches, class weights for imbalanced sets, and a temperature fitted
// on held-out data so that its confidence is calibrated (the out-of-scope threshold is a probability). Pure
// TypeScript, deterministic for a seed; a few seconds for ten thousand examples on one core.
// Saved as one binary file (model-file.ts): only the buckets that training touched, weights as int8 with a scale
// per bucket.
// Leaves out: hidden layers (an encoder's features can be concatenated instead), multi-label outputs.
import { Rng } from "../../../core/rng.js";
import type { SparseVector } from "./features.js";

export interface TrainOptions {
  epochs: number;
  /** AdaGrad base learning rate. */
  learningRate: number;
  /** L2 penalty per update on the touched rows. */
  l2: number;
  /** "balanced" weighs each class by n / (classes × count), as scikit-learn's class_weight="balanced". */
  classWeight: "none" | "balanced";
  seed: number;
  /** "adagrad": per-coordinate steps, L2 on touched rows; "sgd": plain SGD with a decaying step
   *  η_t = η0 / (1 + η0·λ·t) and exact L2 through a global weight scale (the classic recipe of Bottou's SGD). */
  optimizer: "adagrad" | "sgd";
}

export const DEFAULT_TRAIN: TrainOptions = { epochs: 12, learningRate: 0.5, l2: 1e-6, classWeight: "none", seed: 17, optimizer: "adagrad" };

export interface Prediction {
  label: string;
  confidence: number;
  /** Probabilities in `labels` order. */
  probs: Float32Array;
}

export class LinearClassifier {
  /** weights[bucket * classes + c]; bias[c]. */
  readonly weights: Float32Array;
  readonly bias: Float32Array;
  /** Softmax temperature (logits / T). */
  temperature = 1;

  constructor(readonly labels: readonly string[], readonly dimension: number, weights?: Float32Array, bias?: Float32Array) {
    if (labels.length < 2) throw new Error(`[classifier] needs at least 2 labels, got ${labels.length}`);
    this.weights = weights ?? new Float32Array(dimension * labels.length);
    this.bias = bias ?? new Float32Array(labels.length);
    if (this.weights.length !== dimension * labels.length) {
      throw new Error(`[classifier] weights have ${this.weights.length} values, expected ${dimension} × ${labels.length}`);
    }
  }

  get classes(): number {
    return this.labels.length;
  }

  /** Raw logits (before temperature). */
  logits(x: SparseVector, out = new Float32Array(this.classes)): Float32Array {
    const C = this.classes;
    out.set(this.bias);
    for (let i = 0; i < x.index.length; i++) {
      const row = x.index[i] * C;
      const v = x.value[i];
      for (let c = 0; c < C; c++) out[c] += v * this.weights[row + c];
    }
    return out;
  }

  probabilities(x: SparseVector, temperature = this.temperature): Float32Array {
    const z = this.logits(x);
    return softmaxInPlace(z, temperature);
  }

  predict(x: SparseVector): Prediction {
    const probs = this.probabilities(x);
    let best = 0;
    for (let c = 1; c < probs.length; c++) if (probs[c] > probs[best]) best = c;
    return { label: this.labels[best], confidence: probs[best], probs };
  }

  /** Trains from scratch on (x, label index) pairs. */
  static train(labels: readonly string[], dimension: number, xs: readonly SparseVector[], ys: readonly number[],
    options: Partial<TrainOptions> = {}): LinearClassifier {
    const o = { ...DEFAULT_TRAIN, ...options };
    if (xs.length !== ys.length || xs.length === 0) throw new Error(`[classifier.train] ${xs.length} inputs for ${ys.length} labels`);
    const model = new LinearClassifier(labels, dimension);
    const C = labels.length;
    const counts = new Float64Array(C);
    for (const y of ys) {
      if (!(y >= 0 && y < C)) throw new Error(`[classifier.train] label index ${y} out of range [0, ${C})`);
      counts[y]++;
    }
    const classWeight = new Float32Array(C).fill(1);
    if (o.classWeight === "balanced") for (let c = 0; c < C; c++) classWeight[c] = counts[c] ? ys.length / (C * counts[c]) : 0;
    if (o.optimizer === "sgd") return trainSgd(model, xs, ys, classWeight, o);
    const gsq = new Float32Array(dimension * C);
    const bsq = new Float32Array(C);
    const order = Array.from(xs.keys());
    const rng = new Rng(o.seed);
    const probs = new Float32Array(C);
    const eps = 1e-8;
    for (let epoch = 0; epoch < o.epochs; epoch++) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.nextU32() % (i + 1);
        [order[i], order[j]] = [order[j], order[i]];
      }
      for (const n of order) {
        const x = xs[n];
        model.logits(x, probs);
        softmaxInPlace(probs, 1);
        const w = classWeight[ys[n]];
        probs[ys[n]] -= 1;
        for (let c = 0; c < C; c++) {
          const g = probs[c] * w;
          bsq[c] += g * g;
          model.bias[c] -= (o.learningRate * g) / Math.sqrt(bsq[c] + eps);
        }
        for (let i = 0; i < x.index.length; i++) {
          const row = x.index[i] * C;
          const v = x.value[i];
          for (let c = 0; c < C; c++) {
            const k = row + c;
            const g = probs[c] * w * v + o.l2 * model.weights[k];
            gsq[k] += g * g;
            model.weights[k] -= (o.learningRate * g) / Math.sqrt(gsq[k] + eps);
          }
        }
      }
    }
    return model;
  }

  /** Fits the softmax temperature on held-out data by minimising the negative log-likelihood (golden-section search
   *  over T in [0.05, 20] on a log scale). */
  calibrate(xs: readonly SparseVector[], ys: readonly number[]): number {
    if (xs.length === 0) return this.temperature;
    const logits = xs.map((x) => this.logits(x));
    const nll = (t: number) => {
      let sum = 0;
      for (let n = 0; n < logits.length; n++) {
        const p = softmaxInPlace(Float32Array.from(logits[n]), t);
        sum -= Math.log(Math.max(p[ys[n]], 1e-12));
      }
      return sum;
    };
    this.temperature = fitTemperature(nll);
    return this.temperature;
  }
}

/** The temperature minimising a negative log-likelihood: golden-section search over T in [0.05, 20] on a log scale
 *  (40 steps). Shared by the sparse model's calibration and the late fusion's (fusion.ts). */
export function fitTemperature(nll: (temperature: number) => number): number {
  let lo = Math.log(0.05);
  let hi = Math.log(20);
  const phi = (Math.sqrt(5) - 1) / 2;
  for (let it = 0; it < 40; it++) {
    const a = hi - phi * (hi - lo);
    const b = lo + phi * (hi - lo);
    if (nll(Math.exp(a)) < nll(Math.exp(b))) hi = b;
    else lo = a;
  }
  return Math.exp((lo + hi) / 2);
}

/** Plain SGD with exact L2: weights are kept as scale · v, so decaying every weight costs one multiplication. */
function trainSgd(model: LinearClassifier, xs: readonly SparseVector[], ys: readonly number[], classWeight: Float32Array,
  o: TrainOptions): LinearClassifier {
  const C = model.classes;
  const w = model.weights;
  let scale = 1;
  let t = 0;
  const order = Array.from(xs.keys());
  const rng = new Rng(o.seed);
  const probs = new Float32Array(C);
  for (let epoch = 0; epoch < o.epochs; epoch++) {
    for (let i = order.length - 1; i > 0; i--) {
      const j = rng.nextU32() % (i + 1);
      [order[i], order[j]] = [order[j], order[i]];
    }
    for (const n of order) {
      const eta = o.learningRate / (1 + o.learningRate * o.l2 * t++);
      const x = xs[n];
      probs.set(model.bias);
      for (let i = 0; i < x.index.length; i++) {
        const row = x.index[i] * C;
        const v = x.value[i] * scale;
        for (let c = 0; c < C; c++) probs[c] += v * w[row + c];
      }
      softmaxInPlace(probs, 1);
      const cw = classWeight[ys[n]];
      probs[ys[n]] -= 1;
      scale *= 1 - eta * o.l2;
      const step = (eta * cw) / scale;
      for (let c = 0; c < C; c++) model.bias[c] -= eta * cw * probs[c];
      for (let i = 0; i < x.index.length; i++) {
        const row = x.index[i] * C;
        const v = x.value[i] * step;
        for (let c = 0; c < C; c++) w[row + c] -= v * probs[c];
      }
      if (scale < 1e-6) {
        for (let k = 0; k < w.length; k++) w[k] *= scale;
        scale = 1;
      }
    }
  }
  for (let k = 0; k < w.length; k++) w[k] *= scale;
  return model;
}

/** Softmax of logits / temperature, in place; returns its argument. */
export function softmaxInPlace(z: Float32Array, temperature: number): Float32Array {
  let max = -Infinity;
  for (let c = 0; c < z.length; c++) max = Math.max(max, z[c] / temperature);
  let sum = 0;
  for (let c = 0; c < z.length; c++) {
    z[c] = Math.exp(z[c] / temperature - max);
    sum += z[c];
  }
  for (let c = 0; c < z.length; c++) z[c] /= sum;
  return z;
}

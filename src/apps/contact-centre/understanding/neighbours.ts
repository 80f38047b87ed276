// A k-nearest-neighbour vote over the training examples' sparse TF-IDF vectors (cosine similarity through an
// inverted index on the hash buckets), blended with the logistic regression's probabilities:
// p = α·p_LR + (1 − α)·p_kNN, where p_kNN puts sim^power of each of the k most similar examples on its label. The
// linear model generalises across phrasings; the neighbours keep the fine distinctions between near-duplicate
// intents (banking77's card_arrival vs card_delivery_estimate) that a linear boundary blurs.
// Leaves out: approximate search (intent sets are thousands of examples, the exact index answers in microseconds).
import type { SparseVector } from "./features.js";

export interface NeighbourOptions {
  k: number;
  power: number;
  /** Weight of the linear model in the blend. */
  alpha: number;
}

/** Chosen on a validation split carved from banking77's training data (dev/contact-centre/tune.ts). */
export const DEFAULT_NEIGHBOURS: NeighbourOptions = { k: 10, power: 4, alpha: 0.8 };

export class NeighbourIndex {
  /** bucket → [example, value] pairs, flattened. */
  private readonly postings = new Map<number, number[]>();
  private readonly norms: Float32Array;
  private scratch: Float32Array | undefined;

  constructor(readonly vectors: readonly SparseVector[], readonly labels: Int32Array, readonly classes: number) {
    this.norms = new Float32Array(vectors.length);
    vectors.forEach((v, n) => {
      let sq = 0;
      for (let i = 0; i < v.index.length; i++) {
        sq += v.value[i] * v.value[i];
        let list = this.postings.get(v.index[i]);
        if (!list) this.postings.set(v.index[i], (list = []));
        list.push(n, v.value[i]);
      }
      this.norms[n] = Math.sqrt(sq) || 1;
    });
  }

  /** Class distribution of the k nearest examples (zeros when nothing shares a bucket). */
  vote(x: SparseVector, o: NeighbourOptions): Float32Array {
    // A dense accumulator (one float per training example) is much faster than a Map: common character n-grams
    // have postings over most of the training set.
    const acc = (this.scratch ??= new Float32Array(this.vectors.length));
    const touched: number[] = [];
    let qn = 0;
    for (let i = 0; i < x.index.length; i++) {
      qn += x.value[i] * x.value[i];
      const list = this.postings.get(x.index[i]);
      if (!list) continue;
      const q = x.value[i];
      for (let j = 0; j < list.length; j += 2) {
        const n = list[j];
        if (acc[n] === 0) touched.push(n);
        acc[n] += q * list[j + 1];
      }
    }
    qn = Math.sqrt(qn) || 1;
    // Partial selection of the k best (k is small).
    const best: { n: number; s: number }[] = [];
    for (const n of touched) {
      const s = acc[n] / (qn * this.norms[n]);
      acc[n] = 0;
      if (best.length < o.k) {
        best.push({ n, s });
        best.sort((a, b) => b.s - a.s || a.n - b.n);
      } else if (s > best[o.k - 1].s) {
        best[o.k - 1] = { n, s };
        best.sort((a, b) => b.s - a.s || a.n - b.n);
      }
    }
    const out = new Float32Array(this.classes);
    let sum = 0;
    for (const { n, s } of best) {
      const w = Math.max(0, s) ** o.power;
      out[this.labels[n]] += w;
      sum += w;
    }
    if (sum > 0) for (let c = 0; c < out.length; c++) out[c] /= sum;
    return out;
  }
}

/** α·p + (1 − α)·q, in place in p; q all zeros leaves p. */
export function blend(p: Float32Array, q: Float32Array, alpha: number): Float32Array {
  let any = false;
  for (const v of q) if (v > 0) any = true;
  if (!any) return p;
  for (let c = 0; c < p.length; c++) p[c] = alpha * p[c] + (1 - alpha) * q[c];
  return p;
}

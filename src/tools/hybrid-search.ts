// Hybrid document search: BM25 (search.ts DocumentIndex) finds candidates, a sentence-embedding model re-scores them
// by cosine similarity to the query, and the two are blended — score = (1 − w) · bm25 / max(bm25) + w · cos — as
// the contact-centre knowledge base does. Passage vectors are cached by text (the index can change between calls).
// Leaves out: dense-only recall (passages BM25 misses entirely are not found), an ANN index.
import type { TextEmbedder } from "../infer/text-embedder.js";
import type { DocumentIndex, SearchHit } from "./search.js";

export interface HybridOptions {
  /** Weight of the dense score in [0, 1] (default 0.5; 0 = BM25 order). */
  denseWeight?: number;
  /** BM25 candidates re-scored (default 4 × k, at least 20). */
  candidates?: number;
}

export interface HybridHit extends SearchHit {
  bm25: number;
  cosine: number;
}

export class HybridSearch {
  private readonly cache = new Map<string, Float32Array>();

  constructor(readonly index: DocumentIndex, readonly embedder: TextEmbedder, private readonly options: HybridOptions = {}) {
    const w = options.denseWeight ?? 0.5;
    if (!(w >= 0 && w <= 1)) throw new RangeError(`[hybrid-search] denseWeight ${w} must be in [0, 1]`);
  }

  async search(query: string, k = 5): Promise<HybridHit[]> {
    const w = this.options.denseWeight ?? 0.5;
    const hits = this.index.search(query, this.options.candidates ?? Math.max(20, 4 * k));
    if (hits.length === 0) return [];
    const missing = [...new Set(hits.map((h) => h.text).filter((t) => !this.cache.has(t)))];
    const [q, ...vecs] = await this.embedder.embed([query, ...missing]);
    missing.forEach((t, i) => this.cache.set(t, vecs[i]!));
    const top = Math.max(...hits.map((h) => h.score), 1e-12);
    const norm = (v: Float32Array) => Math.sqrt(v.reduce((a, x) => a + x * x, 0)) || 1;
    const qn = norm(q!);
    return hits.map((h) => {
      const v = this.cache.get(h.text)!;
      let dot = 0;
      for (let i = 0; i < v.length; i++) dot += v[i]! * q![i]!;
      const cosine = dot / (qn * norm(v));
      return { ...h, bm25: h.score, cosine, score: (1 - w) * (h.score / top) + w * cosine };
    }).sort((a, b) => b.score - a.score).slice(0, k);
  }
}

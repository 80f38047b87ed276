// Self-consistency (Wang et al. 2022): sample k reasoning paths at a temperature above zero, extract each path's
// final answer, and return the majority answer with its vote share. The sampler is any function from a sample index
// to text (e.g. a chat call with seed = index), so it works with the in-process engine, an HTTP server or a fake.
// Leaves out: weighting votes by path probability, early stopping once a majority is certain.
import { extractAnswer, normaliseAnswer } from "./chain-of-thought.js";

export interface SelfConsistencyOptions {
  /** Produces the i-th sampled reasoning text. */
  sample: (index: number) => Promise<string>;
  /** Number of paths (default 5). */
  k?: number;
  /** Answer extraction (default extractAnswer). */
  extract?: (text: string) => string | null;
  /** Canonical form for comparing answers (default normaliseAnswer). */
  normalise?: (answer: string) => string;
  /** Paths sampled at once (default all k). */
  concurrency?: number;
}

export interface SelfConsistencyResult {
  /** The majority answer as first written (null when no path had an answer). */
  answer: string | null;
  /** Votes per canonical answer, most votes first. */
  votes: { answer: string; count: number }[];
  /** Share of all k paths that voted for the winner. */
  agreement: number;
  samples: { text: string; answer: string | null }[];
}

export async function selfConsistency(o: SelfConsistencyOptions): Promise<SelfConsistencyResult> {
  const k = o.k ?? 5;
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`[selfConsistency] k = ${k}; expected an integer ≥ 1`);
  const extract = o.extract ?? extractAnswer;
  const normalise = o.normalise ?? normaliseAnswer;
  const concurrency = Math.max(1, o.concurrency ?? k);
  const texts: string[] = new Array(k);
  for (let start = 0; start < k; start += concurrency) {
    const batch = Array.from({ length: Math.min(concurrency, k - start) }, (_, j) => start + j);
    await Promise.all(batch.map(async (i) => {
      texts[i] = await o.sample(i);
    }));
  }
  const samples = texts.map((text) => ({ text, answer: extract(text) }));
  const counts = new Map<string, { count: number; first: number; shown: string }>();
  samples.forEach((s, i) => {
    if (s.answer === null) return;
    const key = normalise(s.answer);
    const c = counts.get(key);
    if (c) c.count++;
    else counts.set(key, { count: 1, first: i, shown: s.answer });
  });
  // Most votes first; ties go to the answer that appeared first.
  const ranked = [...counts].sort((a, b) => b[1].count - a[1].count || a[1].first - b[1].first);
  return {
    answer: ranked.length > 0 ? ranked[0][1].shown : null,
    votes: ranked.map(([answer, c]) => ({ answer, count: c.count })),
    agreement: ranked.length > 0 ? ranked[0][1].count / k : 0,
    samples,
  };
}

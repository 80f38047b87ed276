// Sparse n-gram features for classifiers (Rasa DIET-style: `zhiyu finetune --task classify --sparse-ngrams …` adds
// them beside the encoder): scikit-learn's TfidfVectorizer semantics, one vectorizer per analyzer, their outputs
// concatenated as in a FeatureUnion —
//   - text lower-cased; analyzer `word`: tokens of the pattern (?u)\b\w+\b, n-grams joined by one space;
//     analyzer `char_wb`: character n-grams inside each whitespace-separated word padded with one space on each side
//     (a padded word shorter than n gives itself once and ends the word's n-grams, as sklearn does). Chinese runs
//     of Han characters are one `word` token; their characters and short runs come from `char_wb`.
//   - vocabulary from the training texts: terms with document frequency ≥ minDf, then (maxFeatures) the most
//     frequent by total count (ties: code-point order of the term), sorted by code point;
//   - weight (1 + ln tf) · idf with idf = ln((1 + n) / (1 + df)) + 1 (smooth idf, sublinear tf), each analyzer's
//     part of the vector L2-normalised on its own.
// Stored as sparse_ngrams.json (integers and strings only: the terms and their document frequencies; idf is
// recomputed), checked on load. Leaves out: stop words, accents stripping, max_df, binary tf, jieba word n-grams.
import { readFileSync, statSync } from "node:fs";

export type NgramAnalyzerKind = "word" | "char_wb";
export interface NgramAnalyzerSpec { kind: NgramAnalyzerKind; minN: number; maxN: number }

export class SparseNgramsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "SparseNgramsError";
  }
}

/** "word:1-2,char_wb:1-5" → analyzers (`char` is accepted for char_wb). */
export function parseNgramSpec(spec: string, where = "--sparse-ngrams"): NgramAnalyzerSpec[] {
  const out: NgramAnalyzerSpec[] = [];
  for (const part of spec.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^(word|char_wb|char):(\d+)(?:-(\d+))?$/.exec(part);
    const minN = m ? Number(m[2]) : 0, maxN = m ? Number(m[3] ?? m[2]) : 0;
    if (!m || minN < 1 || maxN < minN || maxN > 8) {
      throw new SparseNgramsError(`${where}: '${part}' is not ANALYZER:MIN-MAX with ANALYZER word or char_wb and 1 ≤ MIN ≤ MAX ≤ 8 (e.g. word:1-2,char_wb:1-5)`);
    }
    out.push({ kind: m[1] === "word" ? "word" : "char_wb", minN, maxN });
  }
  if (out.length === 0) throw new SparseNgramsError(`${where}: no analyzer given (e.g. word:1-2,char_wb:1-5)`);
  return out;
}

const WORD_TOKEN = /[\p{L}\p{N}_]+/gu;

/** The n-grams of one text under one analyzer, with repeats (sklearn's build_analyzer). */
export function analyzeText(text: string, a: NgramAnalyzerSpec): string[] {
  const lower = text.toLowerCase();
  const out: string[] = [];
  if (a.kind === "word") {
    const tokens = lower.match(WORD_TOKEN) ?? [];
    for (let n = a.minN; n <= Math.min(a.maxN, tokens.length); n++) {
      for (let i = 0; i + n <= tokens.length; i++) out.push(tokens.slice(i, i + n).join(" "));
    }
    return out;
  }
  for (const word of lower.split(/\s+/).filter(Boolean)) {
    const w = [" ", ...word, " "]; // code points, as Python slices
    for (let n = a.minN; n <= a.maxN; n++) {
      if (n >= w.length) { out.push(w.join("")); break; }
      for (let i = 0; i + n <= w.length; i++) out.push(w.slice(i, i + n).join(""));
    }
  }
  return out;
}

/** Code-point order (Python's string order; JS's default compares UTF-16 units). */
export function compareCodePoints(a: string, b: string): number {
  const x = [...a], y = [...b];
  for (let i = 0; i < Math.min(x.length, y.length); i++) {
    const d = x[i]!.codePointAt(0)! - y[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return x.length - y.length;
}

export interface SparseVector { indices: Int32Array; values: Float32Array }

interface FittedAnalyzer { spec: NgramAnalyzerSpec; terms: string[]; df: number[]; index: Map<string, number>; idf: Float64Array }

/** A fitted TF-IDF featurizer: dimension = Σ analyzers' vocabulary sizes. */
export class SparseNgrams {
  readonly dimension: number;
  private readonly parts: FittedAnalyzer[];

  constructor(readonly documents: number, analyzers: readonly { spec: NgramAnalyzerSpec; terms: string[]; df: number[] }[]) {
    this.parts = analyzers.map((a) => ({
      ...a, index: new Map(a.terms.map((t, i) => [t, i])),
      idf: Float64Array.from(a.df, (d) => Math.log((1 + documents) / (1 + d)) + 1),
    }));
    this.dimension = this.parts.reduce((n, p) => n + p.terms.length, 0);
  }

  get analyzers(): readonly { spec: NgramAnalyzerSpec; terms: readonly string[]; df: readonly number[] }[] {
    return this.parts;
  }

  /** The TF-IDF vector of a text: indices ascending, each analyzer's block L2-normalised. */
  transform(text: string): SparseVector {
    const indices: number[] = [], values: number[] = [];
    let offset = 0;
    for (const p of this.parts) {
      const counts = new Map<number, number>();
      for (const g of analyzeText(text, p.spec)) {
        const i = p.index.get(g);
        if (i !== undefined) counts.set(i, (counts.get(i) ?? 0) + 1);
      }
      const ids = [...counts.keys()].sort((a, b) => a - b);
      const w = ids.map((i) => (1 + Math.log(counts.get(i)!)) * p.idf[i]!);
      const norm = Math.sqrt(w.reduce((s, x) => s + x * x, 0));
      ids.forEach((i, k) => { indices.push(offset + i); values.push(norm > 0 ? w[k]! / norm : 0); });
      offset += p.terms.length;
    }
    return { indices: Int32Array.from(indices), values: Float32Array.from(values) };
  }

  /** Rows of vectors as a dense [rows × dimension] matrix (a batch for the sparse head's matmul). */
  denseRows(rows: readonly SparseVector[]): Float32Array {
    const out = new Float32Array(rows.length * this.dimension);
    rows.forEach((r, k) => r.indices.forEach((i, j) => { out[k * this.dimension + i] = r.values[j]!; }));
    return out;
  }

  toJson(extra: Record<string, unknown> = {}): string {
    return JSON.stringify({
      format: "zhiyu-sparse-ngrams", version: 1, lowercase: true, sublinear_tf: true, smooth_idf: true, norm: "l2", ...extra,
      documents: this.documents,
      analyzers: this.parts.map((p) => ({ analyzer: p.spec.kind, ngram_range: [p.spec.minN, p.spec.maxN], terms: p.terms, df: p.df })),
    }) + "\n";
  }
}

/** Fits the vocabulary and document frequencies on training texts. minDf: a term must occur in at least that many
 *  texts; maxFeatures: at most that many terms per analyzer (null = all). */
export function fitSparseNgrams(texts: readonly string[], specs: readonly NgramAnalyzerSpec[], opts: { minDf?: number; maxFeatures?: number | null } = {}): SparseNgrams {
  const minDf = opts.minDf ?? 1, maxFeatures = opts.maxFeatures ?? null;
  const analyzers = specs.map((spec) => {
    const df = new Map<string, number>(), total = new Map<string, number>();
    for (const t of texts) {
      const grams = analyzeText(t, spec);
      for (const g of grams) total.set(g, (total.get(g) ?? 0) + 1);
      for (const g of new Set(grams)) df.set(g, (df.get(g) ?? 0) + 1);
    }
    let terms = [...df.keys()].filter((g) => df.get(g)! >= minDf).sort(compareCodePoints);
    if (maxFeatures !== null && terms.length > maxFeatures) {
      const order = terms.map((g, i) => ({ g, i })).sort((a, b) => total.get(b.g)! - total.get(a.g)! || a.i - b.i);
      terms = order.slice(0, maxFeatures).map((x) => x.g).sort(compareCodePoints);
    }
    return { spec, terms, df: terms.map((g) => df.get(g)!) };
  });
  return new SparseNgrams(texts.length, analyzers);
}

const MAX_FILE_BYTES = 256 * 1024 * 1024;

/** Reads and checks sparse_ngrams.json (every count and length before use). */
export function readSparseNgrams(file: string): { ngrams: SparseNgrams; json: Record<string, unknown> } {
  const bad = (what: string) => new SparseNgramsError(`${file}: ${what}; the file is written by \`zhiyu finetune --task classify --sparse-ngrams …\``);
  const size = statSync(file).size;
  if (size > MAX_FILE_BYTES) throw bad(`${size} bytes is more than the ${MAX_FILE_BYTES} a feature file may have`);
  let j: Record<string, unknown>;
  try {
    j = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw bad(`not valid JSON (${(err as Error).message})`);
  }
  if (typeof j !== "object" || j === null || j.format !== "zhiyu-sparse-ngrams" || j.version !== 1) throw bad("format must be \"zhiyu-sparse-ngrams\" version 1");
  const documents = j.documents;
  if (!Number.isInteger(documents) || (documents as number) < 1) throw bad(`documents must be a positive integer, got ${JSON.stringify(documents)}`);
  if (!Array.isArray(j.analyzers) || j.analyzers.length === 0 || j.analyzers.length > 16) throw bad("analyzers must be a list of 1 to 16 analyzers");
  const analyzers = (j.analyzers as unknown[]).map((raw, k) => {
    const a = raw as Record<string, unknown>;
    const range = a?.ngram_range as unknown[];
    if ((a?.analyzer !== "word" && a?.analyzer !== "char_wb") || !Array.isArray(range) || range.length !== 2 ||
      !range.every((x) => Number.isInteger(x) && (x as number) >= 1 && (x as number) <= 8) || (range[0] as number) > (range[1] as number)) {
      throw bad(`analyzers[${k}] needs analyzer word|char_wb and ngram_range [min, max] with 1 ≤ min ≤ max ≤ 8`);
    }
    const terms = a.terms, df = a.df;
    if (!Array.isArray(terms) || !Array.isArray(df) || terms.length !== df.length) {
      throw bad(`analyzers[${k}]: terms and df must be lists of equal length (got ${Array.isArray(terms) ? terms.length : "none"} and ${Array.isArray(df) ? df.length : "none"})`);
    }
    if (!terms.every((t) => typeof t === "string" && t.length > 0)) throw bad(`analyzers[${k}].terms must be non-empty strings`);
    if (new Set(terms).size !== terms.length) throw bad(`analyzers[${k}].terms has a repeated term`);
    if (!df.every((d) => Number.isInteger(d) && d >= 1 && d <= (documents as number))) throw bad(`analyzers[${k}].df must be integers in [1, documents = ${documents}]`);
    return { spec: { kind: a.analyzer as NgramAnalyzerKind, minN: range[0] as number, maxN: range[1] as number }, terms: terms as string[], df: df as number[] };
  });
  return { ngrams: new SparseNgrams(documents as number, analyzers), json: j };
}

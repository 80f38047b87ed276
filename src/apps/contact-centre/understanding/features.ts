// Text → sparse feature vector for the intent, emotion and hand-off classifiers: word unigrams and bigrams (jieba
// for Chinese, with the configuration's user dictionary; whitespace words for Latin script) and character n-grams
// (2..4 for Han text, 2..5 inside space-bounded Latin words), each hashed (FNV-1a) into a fixed number of buckets so
// the model's size is bounded whatever the vocabulary. Weights are TF-IDF with sublinear term frequency; the word
// block and the character block are each L2-normalised (as a FeatureUnion of two TfidfVectorizers would be), and a
// context block (the previous customer turn's words, down-weighted) can be appended for multi-turn intent.
// With `stemLatin`, each Latin word also adds its Porter stem (the `stemmer` package) as a feature of its own, so
// "booking" and "booked" share one.
// Leaves out: stop-word removal (短词 like 吗/呢 carry intent), learned embeddings (an encoder adds those).
import { stemmer } from "stemmer";
import { createSegmenter, type Segmenter } from "../../../tools/segmenter.js";

/** A sparse vector: parallel index/value arrays, indices unique and < the featurizer's dimension. */
export interface SparseVector {
  index: Int32Array;
  value: Float32Array;
}

export interface FeaturizerSpec {
  /** Number of hash buckets (a power of two). */
  buckets: number;
  /** Character n-gram range for Han text and for Latin words. */
  hanChars: [number, number];
  latinChars: [number, number];
  /** Weight of the context block (previous turn), 0 to leave it out. */
  contextWeight: number;
  /** Domain words jieba keeps whole. */
  userWords: string[];
  /** Add the Porter stem of every Latin word as a feature (absent: off, as the shipped models were trained). */
  stemLatin?: boolean;
  /** Weight of the word block relative to the character block (absent: 1, the FeatureUnion's equal weights). */
  wordWeight?: number;
}

export const DEFAULT_FEATURIZER: FeaturizerSpec = {
  buckets: 1 << 18, hanChars: [1, 4], latinChars: [2, 5], contextWeight: 0, userWords: [],
};

const FNV_OFFSET = 0x811c9dc5;
const FNV_PRIME = 0x01000193;

function fnvString(seed: number, s: string): number {
  let h = seed;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), FNV_PRIME);
  return h >>> 0;
}

/** MurmurHash3's finaliser: FNV's low bits depend only on the input's low bits, so mix before masking. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** NFKC, lower case, runs of spaces/punctuation collapsed to one space (punctuation like ？ still marks questions,
 *  so ? and ！ are kept as their own characters). */
export function normaliseText(text: string): string {
  return text.normalize("NFKC").toLowerCase().replace(/[\s\u3000]+/g, " ").trim();
}

const HAN = /\p{Script=Han}/u;
const WORDLIKE = /[\p{L}\p{N}]/u;

/** Hashed TF-IDF featurizer. `fit` learns the IDF per bucket; `transform` maps a text to a sparse vector. */
export class Featurizer {
  readonly spec: FeaturizerSpec;
  private readonly segmenter: Segmenter;
  /** IDF per bucket, or null before fit (then all weights are 1). */
  idf: Float32Array | null = null;

  constructor(spec: Partial<FeaturizerSpec> = {}) {
    this.spec = { ...DEFAULT_FEATURIZER, ...spec };
    if ((this.spec.buckets & (this.spec.buckets - 1)) !== 0 || this.spec.buckets < 16) {
      throw new Error(`[featurizer] buckets ${this.spec.buckets} must be a power of two ≥ 16`);
    }
    this.segmenter = createSegmenter({ userWords: this.spec.userWords });
  }

  get dimension(): number {
    return this.spec.buckets;
  }

  /** Words of a normalised text: jieba's precise cut, word-like pieces only. */
  words(text: string): string[] {
    return this.segmenter.cut(text).map((w) => w.trim()).filter((w) => w.length > 0 && WORDLIKE.test(w));
  }

  /** Raw term counts (bucket → count) of one block: "w" words, "c" characters, "x" context words. */
  private counts(text: string, context: string | undefined): [Map<number, number>, Map<number, number>, Map<number, number>] {
    const mask = this.spec.buckets - 1;
    const wordCounts = new Map<number, number>();
    const charCounts = new Map<number, number>();
    const ctxCounts = new Map<number, number>();
    const add = (m: Map<number, number>, h: number) => {
      const k = fmix32(h) & mask;
      m.set(k, (m.get(k) ?? 0) + 1);
    };
    const norm = normaliseText(text);
    const words = this.words(norm);
    const wSeed = fnvString(FNV_OFFSET, "w:");
    for (let i = 0; i < words.length; i++) {
      add(wordCounts, fnvString(wSeed, words[i]));
      if (i + 1 < words.length) add(wordCounts, fnvString(wSeed, `${words[i]}\u0001${words[i + 1]}`));
    }
    if (this.spec.stemLatin) {
      const sSeed = fnvString(FNV_OFFSET, "s:");
      for (const w of words) if (/^[a-z]+$/.test(w)) add(wordCounts, fnvString(sSeed, stemmer(w)));
    }
    // Character n-grams: Han runs as one stream; Latin/digit words padded with spaces (char_wb style).
    const [hanLo, hanHi] = this.spec.hanChars;
    const [latLo, latHi] = this.spec.latinChars;
    const cSeed = fnvString(FNV_OFFSET, "c:");
    for (const run of norm.match(/\p{Script=Han}+|[^\s\p{Script=Han}]+/gu) ?? []) {
      const han = HAN.test(run[0]);
      const s = han ? run : ` ${run} `;
      const lo = han ? hanLo : latLo;
      const hi = han ? hanHi : latHi;
      for (let i = 0; i < s.length; i++) {
        let h = cSeed;
        for (let n = 1; n <= hi && i + n <= s.length; n++) {
          h = Math.imul(h ^ s.charCodeAt(i + n - 1), FNV_PRIME);
          if (n >= lo) add(charCounts, Math.imul(h ^ n, FNV_PRIME) >>> 0);
        }
      }
    }
    if (context && this.spec.contextWeight > 0) {
      const xSeed = fnvString(FNV_OFFSET, "x:");
      for (const w of this.words(normaliseText(context))) add(ctxCounts, fnvString(xSeed, w));
    }
    return [wordCounts, charCounts, ctxCounts];
  }

  /** Learns the smoothed IDF (ln((1+N)/(1+df)) + 1, as scikit-learn) of every bucket from the training texts. */
  fit(texts: readonly string[]): this {
    const df = new Float32Array(this.spec.buckets);
    for (const t of texts) {
      const [w, c] = this.counts(t, undefined);
      for (const k of w.keys()) df[k]++;
      for (const k of c.keys()) df[k]++;
    }
    const idf = new Float32Array(this.spec.buckets);
    for (let k = 0; k < idf.length; k++) idf[k] = Math.log((1 + texts.length) / (1 + df[k])) + 1;
    this.idf = idf;
    return this;
  }

  /** The feature vector of a text (and optionally the previous customer turn as context). */
  transform(text: string, context?: string): SparseVector {
    const blocks = this.counts(text, context);
    const merged = new Map<number, number>();
    blocks.forEach((block, b) => {
      let sq = 0;
      const weighted: [number, number][] = [];
      for (const [k, tf] of block) {
        const v = (1 + Math.log(tf)) * (this.idf ? this.idf[k] : 1);
        weighted.push([k, v]);
        sq += v * v;
      }
      const weight = b === 2 ? this.spec.contextWeight : b === 0 ? this.spec.wordWeight ?? 1 : 1;
      const scale = weight / Math.sqrt(sq || 1);
      for (const [k, v] of weighted) merged.set(k, (merged.get(k) ?? 0) + v * scale);
    });
    const index = new Int32Array(merged.size);
    const value = new Float32Array(merged.size);
    let i = 0;
    for (const [k, v] of merged) {
      index[i] = k;
      value[i++] = v;
    }
    return { index, value };
  }
}

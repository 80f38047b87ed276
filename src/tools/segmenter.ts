// Word segmentation for search: Chinese with jieba (@node-rs/jieba, prebuilt binaries) and a user dictionary for
// domain words (客服, product names — without it "上海交通大学" is found by any text with 上海/交通/大学), falling
// back to Intl.Segmenter plus greedy merging of user-dictionary words when the native package cannot load.
// Terms are normalised for matching: NFKC (full-width → half-width), lower case, punctuation and spaces dropped,
// English words Porter-stemmed (the `stemmer` package).
// Leaves out: part-of-speech tags, keyword extraction, traditional ↔ simplified conversion.
import { createRequire } from "node:module";
import { stemmer } from "stemmer";

export interface Segmenter {
  /** Which implementation is in use ("jieba" or "intl"). */
  readonly kind: string;
  /** Words for a query: the longest dictionary words (上海交通大学 stays whole). */
  cut(text: string): string[];
  /** Words for indexing: long words plus their sub-words, so a query for 交通 still finds 上海交通大学. */
  cutForSearch(text: string): string[];
}

const STOPWORDS = new Set(["的", "了", "和", "是", "在", "就", "都", "而", "及", "与", "着", "或", "一个", "我们", "你", "我", "他",
  "吗", "呢", "吧", "啊", "the", "a", "an", "of", "to", "in", "and", "or", "is", "are", "was", "for", "on", "at", "by", "it", "be"]);

/** Bumped whenever normaliseTerms changes what a word becomes, so indexes built before are rebuilt. */
export const TERMS_VERSION = 2;

/** Normalised search terms from raw words (drops punctuation, spaces and stop words; stems English words). */
export function normaliseTerms(words: readonly string[]): string[] {
  const out: string[] = [];
  for (const w of words) {
    const t = w.normalize("NFKC").toLowerCase().trim();
    if (t.length === 0 || !/[\p{L}\p{N}]/u.test(t) || STOPWORDS.has(t)) continue;
    // English words are stemmed (Porter) so "closed" finds "close" and "hours" finds "hour"; Han words stay.
    out.push(/^[a-z]+$/.test(t) ? stemmer(t) : t);
  }
  return out;
}

interface JiebaLike {
  cut(s: string, hmm?: boolean): string[];
  cutForSearch(s: string, hmm?: boolean): string[];
  loadDict(dict: Uint8Array): void;
}

class JiebaSegmenter implements Segmenter {
  readonly kind = "jieba";
  constructor(private readonly jieba: JiebaLike) {}
  cut(text: string): string[] {
    return this.jieba.cut(text, true);
  }
  cutForSearch(text: string): string[] {
    return this.jieba.cutForSearch(text, true);
  }
}

/** Intl.Segmenter words, with adjacent pieces merged greedily when they spell a user-dictionary word. */
class IntlSegmenter implements Segmenter {
  readonly kind = "intl";
  private readonly seg = new Intl.Segmenter("zh", { granularity: "word" });
  private readonly maxLen: number;
  constructor(private readonly userWords: ReadonlySet<string>) {
    this.maxLen = Math.max(1, ...[...userWords].map((w) => w.length));
  }
  cut(text: string): string[] {
    const pieces = [...this.seg.segment(text)].map((s) => s.segment);
    const out: string[] = [];
    for (let i = 0; i < pieces.length;) {
      let taken = 1;
      let joined = pieces[i];
      let best = 1;
      for (let j = i + 1; j < pieces.length && joined.length < this.maxLen; j++) {
        joined += pieces[j];
        taken = j - i + 1;
        if (this.userWords.has(joined)) best = taken;
      }
      out.push(pieces.slice(i, i + best).join(""));
      i += best;
    }
    return out;
  }
  cutForSearch(text: string): string[] {
    const whole = this.cut(text);
    const parts = [...this.seg.segment(text)].map((s) => s.segment);
    return [...whole, ...parts.filter((p) => !whole.includes(p))];
  }
}

export interface SegmenterOptions {
  /** Domain words that must stay whole (客服, 发货, product names). */
  userWords?: readonly string[];
  /** Force the Intl.Segmenter fallback (for tests of the fallback). */
  forceIntl?: boolean;
}

/** jieba with the user dictionary, or the Intl fallback when @node-rs/jieba cannot load on this platform. */
export function createSegmenter(options: SegmenterOptions = {}): Segmenter {
  const words = (options.userWords ?? []).map((w) => w.trim()).filter((w) => w.length > 0 && !/\s/.test(w));
  if (!options.forceIntl) {
    try {
      const require = createRequire(import.meta.url);
      const { Jieba } = require("@node-rs/jieba") as { Jieba: { withDict(d: Uint8Array): JiebaLike } };
      const { dict } = require("@node-rs/jieba/dict") as { dict: Uint8Array };
      const jieba = Jieba.withDict(dict);
      // A high frequency makes jieba prefer the user word over splitting it.
      if (words.length > 0) jieba.loadDict(Buffer.from(words.map((w) => `${w} 100000 n`).join("\n") + "\n"));
      return new JiebaSegmenter(jieba);
    } catch {
      /* fall through to the built-in segmenter */
    }
  }
  return new IntlSegmenter(new Set(words));
}

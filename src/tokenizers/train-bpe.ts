// Byte-level BPE training (the GPT-2 / Hugging Face recipe) with a CJK-aware pre-tokenizer, special tokens, and
// Hugging Face tokenizer.json + tokenizer_config.json output that Zhiyu's loader (and HF's) reads back.
//
// Speed: text is first counted as unique pre-tokenized words; pair counts are kept incrementally — each merge
// touches only the words that contain the pair (an index from pair to words) and adjusts only the pairs around
// each merge site — and the next pair comes from a max-heap with lazy invalidation. So a merge costs about the
// number of its occurrences, and training time grows near-linearly with the corpus, not merges × corpus.
// Leaves out: BPE dropout, an initial alphabet beyond the 256 bytes, and parallel counting.
import { BYTE_TO_CHAR, utf8Encode } from "./byte-level.js";
import { unicodeNormalizer } from "./normalizers.js";
import { splitPreTokenizer, ZHIYU_REGEX } from "./pretokenizers.js";
import type { PreTokenizer } from "./pretokenizers.js";

/** Default special tokens: document boundary, ChatML turn markers, padding. */
export const DEFAULT_SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"];

export interface TrainBpeOptions {
  /** Total vocabulary: 256 bytes + merges + special tokens. */
  vocabSize: number;
  specialTokens?: readonly string[];
  /** Stop merging when the best pair occurs fewer times than this. */
  minFrequency?: number;
  /** Pre-tokenizer regex (Oniguruma spelling, as stored in tokenizer.json). */
  pattern?: string;
  /** Called every `progressEvery` merges. */
  onProgress?: (mergesDone: number, mergesWanted: number) => void;
  progressEvery?: number;
}

export interface TrainedBpe {
  /** id → byte-level token string; specials last. */
  tokens: string[];
  /** Merges in rank order, as byte-level token strings. */
  merges: [string, string][];
  specialTokens: string[];
  pattern: string;
}

const PAIR_BASE = 2 ** 21;

/** Counts pre-tokenized words as text is added; train() then learns the merges. */
export class BpeTrainer {
  private readonly wordCounts = new Map<string, number>();
  private readonly preTokenize: PreTokenizer;
  private readonly nfc = unicodeNormalizer("NFC");
  readonly pattern: string;

  constructor(readonly opts: TrainBpeOptions) {
    this.pattern = opts.pattern ?? ZHIYU_REGEX;
    this.preTokenize = splitPreTokenizer({ regex: this.pattern }, "Isolated", false, "train pattern");
    const nSpecial = (opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS).length;
    if (!Number.isInteger(opts.vocabSize) || opts.vocabSize < 256 + nSpecial || opts.vocabSize >= PAIR_BASE) {
      throw new RangeError(`train: vocabSize ${opts.vocabSize} must be an integer in [${256 + nSpecial}, ${PAIR_BASE}) (256 bytes + ${nSpecial} special tokens at least)`);
    }
  }

  addText(text: string): void {
    const counts = this.wordCounts;
    this.preTokenize(this.nfc(text), true, (w) => counts.set(w, (counts.get(w) ?? 0) + 1));
  }

  get uniqueWords(): number {
    return this.wordCounts.size;
  }

  train(): TrainedBpe {
    const specials = [...(this.opts.specialTokens ?? DEFAULT_SPECIAL_TOKENS)];
    const wanted = this.opts.vocabSize - 256 - specials.length;
    const minFrequency = this.opts.minFrequency ?? 2;

    // Words as byte ids in one flat array: word w occupies syms[start[w], start[w] + len[w]).
    const words = [...this.wordCounts.keys()];
    const nWords = words.length;
    const freq = new Float64Array(nWords);
    const start = new Int32Array(nWords + 1);
    const len = new Int32Array(nWords);
    const encoded: Uint8Array[] = new Array(nWords);
    let total = 0;
    for (let w = 0; w < nWords; w++) {
      encoded[w] = utf8Encode(words[w]);
      freq[w] = this.wordCounts.get(words[w])!;
      start[w] = total;
      len[w] = encoded[w].length;
      total += encoded[w].length;
    }
    start[nWords] = total;
    const syms = new Int32Array(total);
    for (let w = 0; w < nWords; w++) syms.set(encoded[w], start[w]);
    encoded.length = 0;

    // Pair counts and the words each pair occurs in (lists may hold stale or repeated words; checked on use).
    const pairCount = new Map<number, number>();
    const pairWords = new Map<number, number[]>();
    const note = (key: number, w: number): void => {
      const list = pairWords.get(key);
      if (list === undefined) pairWords.set(key, [w]);
      else if (list[list.length - 1] !== w) list.push(w);
    };
    for (let w = 0; w < nWords; w++) {
      const s = start[w];
      for (let i = s; i + 1 < s + len[w]; i++) {
        const key = syms[i] * PAIR_BASE + syms[i + 1];
        pairCount.set(key, (pairCount.get(key) ?? 0) + freq[w]);
        note(key, w);
      }
    }
    const heap = new PairHeap();
    for (const [key, c] of pairCount) heap.push(c, key);

    const tokenBytes: Uint8Array[] = [];
    for (let b = 0; b < 256; b++) tokenBytes.push(Uint8Array.of(b));
    const merges: [number, number][] = [];
    const seen = new Int32Array(nWords).fill(-1);
    const delta = new Map<number, number>();
    const every = this.opts.progressEvery ?? 1000;

    while (merges.length < wanted && heap.size > 0) {
      const { count, key } = heap.pop();
      const current = pairCount.get(key) ?? 0;
      if (current !== count) {
        if (current > 0) heap.push(current, key); // stale entry: requeue with the true count
        continue;
      }
      if (count < minFrequency) break;
      const a = Math.floor(key / PAIR_BASE);
      const b = key - a * PAIR_BASE;
      const id = 256 + merges.length;
      merges.push([a, b]);
      const joined = new Uint8Array(tokenBytes[a].length + tokenBytes[b].length);
      joined.set(tokenBytes[a]);
      joined.set(tokenBytes[b], tokenBytes[a].length);
      tokenBytes.push(joined);

      delta.clear();
      const bump = (k: number, d: number): void => {
        delta.set(k, (delta.get(k) ?? 0) + d);
      };
      const touched = pairWords.get(key) ?? [];
      const stamp = merges.length;
      for (const w of touched) {
        if (seen[w] === stamp) continue;
        seen[w] = stamp;
        const s = start[w];
        const n = len[w];
        const f = freq[w];
        let out = s; // write cursor (merging only shrinks the word)
        let i = s;
        let merged = false;
        while (i < s + n) {
          if (i + 1 < s + n && syms[i] === a && syms[i + 1] === b) {
            bump(key, -f);
            if (out > s) {
              const p = syms[out - 1];
              bump(p * PAIR_BASE + a, -f);
              bump(p * PAIR_BASE + id, f);
            }
            if (i + 2 < s + n) {
              const nx = syms[i + 2];
              bump(b * PAIR_BASE + nx, -f);
              bump(id * PAIR_BASE + nx, f);
            }
            syms[out++] = id;
            i += 2;
            merged = true;
          } else {
            syms[out++] = syms[i++];
          }
        }
        if (!merged) continue;
        len[w] = out - s;
        for (let j = s; j + 1 < out; j++) {
          if (syms[j] === id || syms[j + 1] === id) note(syms[j] * PAIR_BASE + syms[j + 1], w);
        }
      }
      for (const [k, d] of delta) {
        if (d === 0) continue;
        const c = (pairCount.get(k) ?? 0) + d;
        if (c <= 0) {
          pairCount.delete(k);
          pairWords.delete(k);
        } else {
          pairCount.set(k, c);
          if (d > 0) heap.push(c, k);
        }
      }
      pairCount.delete(key);
      pairWords.delete(key);
      if (this.opts.onProgress && merges.length % every === 0) this.opts.onProgress(merges.length, wanted);
    }

    const spell = (bytes: Uint8Array): string => {
      let s = "";
      for (const x of bytes) s += BYTE_TO_CHAR[x];
      return s;
    };
    const tokens = tokenBytes.map(spell);
    const seenTokens = new Set(tokens);
    for (const sp of specials) {
      if (seenTokens.has(sp)) throw new Error(`train: special token ${JSON.stringify(sp)} is also a learned token; pick another spelling`);
      tokens.push(sp);
    }
    return { tokens, merges: merges.map(([x, y]) => [tokens[x], tokens[y]]), specialTokens: specials, pattern: this.pattern };
  }
}

/** Max-heap of (count, pair key); ties pop the smaller key first (deterministic, and HF's Merge order). */
export class PairHeap {
  private counts: number[] = [];
  private keys: number[] = [];
  get size(): number {
    return this.counts.length;
  }
  private above(i: number, j: number): boolean {
    const ci = this.counts[i];
    const cj = this.counts[j];
    return ci > cj || (ci === cj && this.keys[i] < this.keys[j]);
  }
  private swap(i: number, j: number): void {
    const c = this.counts[i];
    this.counts[i] = this.counts[j];
    this.counts[j] = c;
    const k = this.keys[i];
    this.keys[i] = this.keys[j];
    this.keys[j] = k;
  }
  push(count: number, key: number): void {
    this.counts.push(count);
    this.keys.push(key);
    let i = this.counts.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.above(i, p)) break;
      this.swap(i, p);
      i = p;
    }
  }
  pop(): { count: number; key: number } {
    const top = { count: this.counts[0], key: this.keys[0] };
    const lastC = this.counts.pop()!;
    const lastK = this.keys.pop()!;
    if (this.counts.length > 0) {
      this.counts[0] = lastC;
      this.keys[0] = lastK;
      let i = 0;
      const n = this.counts.length;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < n && this.above(l, m)) m = l;
        if (r < n && this.above(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return top;
  }
}

/** The tokenizer.json of a trained tokenizer (merges in the ["a","b"] spelling). */
export function trainedTokenizerJson(t: TrainedBpe): object {
  const nLearned = t.tokens.length - t.specialTokens.length;
  const vocab: Record<string, number> = {};
  for (let i = 0; i < nLearned; i++) vocab[t.tokens[i]] = i;
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: false, use_regex: false };
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: t.specialTokens.map((content, k) => ({
      id: nLearned + k, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
    })),
    normalizer: { type: "NFC" },
    pre_tokenizer: {
      type: "Sequence",
      pretokenizers: [{ type: "Split", pattern: { Regex: t.pattern }, behavior: "Isolated", invert: false }, byteLevel],
    },
    post_processor: byteLevel,
    decoder: byteLevel,
    model: {
      type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: "", end_of_word_suffix: "",
      fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges: t.merges,
    },
  };
}

/** tokenizer_config.json: no BOS; "<|endoftext|>" ends documents; ChatML's "<|im_end|>" ends turns. */
export function trainedTokenizerConfig(t: TrainedBpe): object {
  const nLearned = t.tokens.length - t.specialTokens.length;
  const has = (s: string): string | null => (t.specialTokens.includes(s) ? s : null);
  const decoder: Record<string, object> = {};
  t.specialTokens.forEach((content, k) => {
    decoder[String(nLearned + k)] = { content, lstrip: false, normalized: false, rstrip: false, single_word: false, special: true };
  });
  return {
    add_bos_token: false,
    add_eos_token: false,
    bos_token: null,
    eos_token: has("<|endoftext|>") ?? t.specialTokens[0] ?? null,
    pad_token: has("<|pad|>"),
    unk_token: null,
    added_tokens_decoder: decoder,
    clean_up_tokenization_spaces: false,
    model_max_length: 1_000_000,
    tokenizer_class: "PreTrainedTokenizerFast",
  };
}

// WordPiece vocabulary training as Hugging Face tokenizers' WordPieceTrainer does it: text goes through the BERT
// normalizer (clean text, spaces around CJK ideographs so each is its own word, optional lowercasing / accent
// stripping) and BERT pre-tokenizer (whitespace, each punctuation mark alone); words are counted; the vocabulary
// starts with the special tokens, then every character seen (sorted by code point), then the "##c" forms of the
// characters that occur inside words; then BPE merges — the most frequent adjacent pair first, ties to the smaller
// pair of ids — append "a" + "b" (b without its "##") until the vocabulary has vocabSize tokens or the best pair
// occurs fewer than minFrequency times. The result is BERT's vocab.txt (line = id) plus the tokenizer.json and
// tokenizer_config.json that BertTokenizerFast writes, read back by Zhiyu's loader and by transformers.
// One deliberate difference: HF adds the "##c" forms in its hash map's (random) order; here they follow code point
// order, so a run is reproducible. The set of tokens and every merge with a distinct count agree with HF's.
// Leaves out: limit_alphabet / initial_alphabet, end_of_word_suffix, max_token_length.
import { bertNormalizer } from "./normalizers.js";
import { bertPreTokenizer } from "./pretokenizers.js";
import { PairHeap } from "./train-bpe.js";
import { vocabTxtTokenizerJson } from "./vocab-txt.js";

export const BERT_SPECIAL_TOKENS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"];

export interface TrainWordPieceOptions {
  /** Total vocabulary: special tokens + alphabet + "##" forms + merges. */
  vocabSize: number;
  /** In id order; default [PAD] [UNK] [CLS] [SEP] [MASK]. */
  specialTokens?: readonly string[];
  /** Stop when the best pair occurs fewer times than this (HF's default 0 = never). */
  minFrequency?: number;
  /** BertNormalizer's lowercase (default true); accents are stripped when lowercasing, as BERT does. */
  lowercase?: boolean;
  /** Put spaces around CJK ideographs so each is one word (default true). */
  chineseChars?: boolean;
}

export interface TrainedWordPiece {
  /** id → token. */
  vocab: string[];
  specialTokens: string[];
  lowercase: boolean;
  chineseChars: boolean;
  /** Merges done (vocab = specials + alphabet + "##" forms + new merge tokens). */
  merges: number;
}

const PAIR_BASE = 2 ** 24;

export class WordPieceTrainer {
  private readonly counts = new Map<string, number>();
  private readonly normalize: (text: string) => string;
  readonly specials: string[];

  constructor(readonly opts: TrainWordPieceOptions) {
    this.specials = [...(opts.specialTokens ?? BERT_SPECIAL_TOKENS)];
    if (new Set(this.specials).size !== this.specials.length) throw new RangeError(`wordpiece train: special tokens repeat: ${this.specials.join(", ")}`);
    if (!Number.isInteger(opts.vocabSize) || opts.vocabSize <= this.specials.length || opts.vocabSize >= PAIR_BASE) {
      throw new RangeError(`wordpiece train: vocab size ${opts.vocabSize} must be an integer in (${this.specials.length}, ${PAIR_BASE}) ` +
        `(more than the ${this.specials.length} special tokens)`);
    }
    this.normalize = bertNormalizer(true, opts.chineseChars ?? true, null, opts.lowercase ?? true);
  }

  /** Counts the words of one piece of text (a line, a document). */
  addText(text: string): void {
    const counts = this.counts;
    bertPreTokenizer(this.normalize(text), true, (w) => counts.set(w, (counts.get(w) ?? 0) + 1));
  }

  get uniqueWords(): number {
    return this.counts.size;
  }

  train(): TrainedWordPiece {
    const o = this.opts;
    const vocab = [...this.specials];
    const idOf = new Map<string, number>(vocab.map((t, i) => [t, i]));
    const add = (t: string): number => {
      let id = idOf.get(t);
      if (id === undefined) { id = vocab.length; vocab.push(t); idOf.set(t, id); }
      return id;
    };
    const words = [...this.counts.keys()];
    const alphabet = new Set<string>();
    const inner = new Set<string>();
    for (const w of words) {
      const chars = Array.from(w);
      chars.forEach((c, i) => { alphabet.add(c); if (i > 0) inner.add(c); });
    }
    const byCodePoint = (a: string, b: string) => a.codePointAt(0)! - b.codePointAt(0)!;
    for (const c of [...alphabet].sort(byCodePoint)) add(c);
    for (const c of [...inner].sort(byCodePoint)) add("##" + c);

    // Words as symbol ids in one flat array: word w is syms[start[w], start[w] + len[w]).
    const n = words.length;
    const freq = new Float64Array(n), start = new Int32Array(n), len = new Int32Array(n);
    const flat: number[] = [];
    words.forEach((w, i) => {
      start[i] = flat.length;
      freq[i] = this.counts.get(w)!;
      Array.from(w).forEach((c, k) => flat.push(idOf.get(k === 0 ? c : "##" + c)!));
      len[i] = flat.length - start[i];
    });
    const syms = Int32Array.from(flat);
    const pairCount = new Map<number, number>();
    const pairWords = new Map<number, Set<number>>();
    const noteWord = (key: number, w: number) => {
      let set = pairWords.get(key);
      if (!set) pairWords.set(key, (set = new Set()));
      set.add(w);
    };
    for (let w = 0; w < n; w++) {
      for (let i = start[w]; i + 1 < start[w] + len[w]; i++) {
        const key = syms[i] * PAIR_BASE + syms[i + 1];
        pairCount.set(key, (pairCount.get(key) ?? 0) + freq[w]);
        noteWord(key, w);
      }
    }
    const heap = new PairHeap();
    for (const [key, c] of pairCount) heap.push(c, key);
    const minFrequency = o.minFrequency ?? 0;
    let merges = 0;
    while (vocab.length < o.vocabSize && heap.size > 0) {
      const { count, key } = heap.pop();
      const current = pairCount.get(key) ?? 0;
      if (current !== count) {
        if (current > 0) heap.push(current, key); // stale: requeue with the true count
        continue;
      }
      if (count < 1 || count < minFrequency) break;
      const a = Math.floor(key / PAIR_BASE), b = key - a * PAIR_BASE;
      const id = add(vocab[a] + vocab[b].replace(/^##/, ""));
      merges++;
      const delta = new Map<number, number>();
      const bump = (k: number, d: number) => delta.set(k, (delta.get(k) ?? 0) + d);
      for (const w of pairWords.get(key) ?? []) {
        const s = start[w], end = s + len[w], f = freq[w];
        let out = s, i = s, merged = false;
        while (i < end) {
          if (i + 1 < end && syms[i] === a && syms[i + 1] === b) {
            bump(key, -f);
            if (out > s) { bump(syms[out - 1] * PAIR_BASE + a, -f); bump(syms[out - 1] * PAIR_BASE + id, f); }
            if (i + 2 < end) { bump(b * PAIR_BASE + syms[i + 2], -f); bump(id * PAIR_BASE + syms[i + 2], f); }
            syms[out++] = id;
            i += 2;
            merged = true;
          } else syms[out++] = syms[i++];
        }
        if (!merged) continue;
        len[w] = out - s;
        for (let j = s; j + 1 < out; j++) if (syms[j] === id || syms[j + 1] === id) noteWord(syms[j] * PAIR_BASE + syms[j + 1], w);
      }
      pairWords.delete(key);
      for (const [k, d] of delta) {
        if (d === 0) continue;
        const c = (pairCount.get(k) ?? 0) + d;
        if (c <= 0) { pairCount.delete(k); pairWords.delete(k); } else { pairCount.set(k, c); if (d > 0) heap.push(c, k); }
      }
    }
    return { vocab, specialTokens: [...this.specials], lowercase: o.lowercase ?? true, chineseChars: o.chineseChars ?? true, merges };
  }
}

/** The special tokens' roles: BERT's names when present, else the first special tokens in order. */
function roles(t: TrainedWordPiece): { unk: string; sep: string; pad: string; cls: string; mask: string } {
  const pick = (name: string, i: number) => (t.specialTokens.includes(name) ? name : t.specialTokens[i] ?? name);
  return { pad: pick("[PAD]", 0), unk: pick("[UNK]", 1), cls: pick("[CLS]", 2), sep: pick("[SEP]", 3), mask: pick("[MASK]", 4) };
}

/** vocab.txt: one token per line, the line number is the id. */
export function wordPieceVocabTxt(t: TrainedWordPiece): string {
  return t.vocab.join("\n") + "\n";
}

/** tokenizer.json as BertTokenizerFast saves it. */
export function wordPieceTokenizerJson(t: TrainedWordPiece): Record<string, unknown> {
  const vocab = Object.fromEntries(t.vocab.map((tok, i) => [tok, i]));
  return vocabTxtTokenizerJson(vocab, roles(t), { lowercase: t.lowercase, stripAccents: null, chineseChars: t.chineseChars });
}

/** tokenizer_config.json for transformers' BertTokenizer(Fast). */
export function wordPieceTokenizerConfig(t: TrainedWordPiece, modelMaxLength = 512): Record<string, unknown> {
  const r = roles(t);
  return {
    tokenizer_class: "BertTokenizer", do_lower_case: t.lowercase, tokenize_chinese_chars: t.chineseChars, strip_accents: null,
    unk_token: r.unk, sep_token: r.sep, pad_token: r.pad, cls_token: r.cls, mask_token: r.mask, model_max_length: modelMaxLength,
  };
}

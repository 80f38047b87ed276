// The SentencePiece Unigram model (T5, mT5, Flan-T5, ALBERT, XLNet vocabularies): one pre-tokenized word → the
// segmentation of highest total log-probability (Viterbi over every vocabulary piece that matches at each
// character), as Hugging Face tokenizers' Unigram::encode_optimized computes it (itself SentencePiece's
// unigram_model.cc): pieces tried shortest first, a later candidate wins only with a strictly higher score, a
// character no piece covers becomes <unk> scored min_score − 10, consecutive unknowns are fused into one <unk>,
// and with byte_fallback an unknown piece becomes its UTF-8 bytes as <0xXX> tokens (when all of them exist).
// Speed: a trie over UTF-16 code units in flat typed arrays (open addressing on (node, code unit)), a reused
// lattice, and a word cache (most words repeat).
// Leaves out: sampling / n-best segmentations (subword regularisation is a training-time noise), and training
// Unigram vocabularies (dev scripts use Python's sentencepiece / tokenizers).
import type { WordModel } from "./bpe.js";

/** SentencePiece's penalty below the lowest piece score for an unknown character. */
const UNK_PENALTY = 10;
const CACHE_LIMIT = 100_000;
const UTF8 = new TextEncoder();

export interface UnigramOptions {
  /** id → [piece, log-probability score]. */
  pieces: ReadonlyArray<readonly [string, number]>;
  unkId: number | null;
  byteFallback: boolean;
  /** Fuse consecutive unknown characters into one <unk> (HF's default, SentencePiece's behaviour). */
  fuseUnk?: boolean;
  /** Which pieces segmentation may use (default all; llama.cpp's UGM: normal, user-defined and unused ones). */
  matchable?: (id: number) => boolean;
  /** Which pieces set the lowest score the unknown penalty counts from (default all; llama.cpp: normal ones). */
  scoredForUnknown?: (id: number) => boolean;
  /** An unknown run is first looked up as a piece of its own (HF); false: always <unk> (llama.cpp). Default true. */
  lookUpUnknownText?: boolean;
}

/** Trie over UTF-16 code units: child of (node, code) by open addressing; terminal[node] = piece id or −1. */
class PieceTrie {
  private keys: Float64Array;
  private children: Int32Array;
  private mask: number;
  private count = 0;
  terminal: Int32Array;
  private nodes = 1;

  constructor(pieces: ReadonlyArray<readonly [string, number]>, matchable: (id: number) => boolean) {
    let chars = 0;
    for (const [p] of pieces) chars += p.length;
    let cap = 16;
    while (cap < chars * 2 + 2) cap *= 2;
    this.mask = cap - 1;
    this.keys = new Float64Array(cap).fill(-1);
    this.children = new Int32Array(cap);
    this.terminal = new Int32Array(chars + 1).fill(-1);
    pieces.forEach(([p], id) => {
      if (p.length === 0 || !matchable(id)) return;
      let node = 0;
      for (let i = 0; i < p.length; i++) {
        const code = p.charCodeAt(i);
        let child = this.child(node, code);
        if (child < 0) child = this.insert(node, code);
        node = child;
      }
      if (this.terminal[node] === -1) this.terminal[node] = id; // the first id wins, as HF's token_to_ids keeps the last… both unique in practice
    });
  }

  private slot(node: number, code: number): number {
    const key = node * 65536 + code;
    let h = (Math.imul(node, 0x9e3779b1) ^ Math.imul(code, 0x85ebca6b)) & this.mask;
    while (this.keys[h] !== -1 && this.keys[h] !== key) h = (h + 1) & this.mask;
    return h;
  }

  child(node: number, code: number): number {
    const h = this.slot(node, code);
    return this.keys[h] === -1 ? -1 : this.children[h]!;
  }

  private insert(node: number, code: number): number {
    const h = this.slot(node, code);
    this.keys[h] = node * 65536 + code;
    this.children[h] = this.nodes;
    this.count++;
    return this.nodes++;
  }
}

export class UnigramModel implements WordModel {
  private readonly trie: PieceTrie;
  private readonly scores: Float64Array;
  private readonly unkScore: number;
  private readonly tokenToId: Map<string, number>;
  private readonly byteIds: Int32Array | null;
  private readonly cache = new Map<string, number[]>();
  // The lattice of the current word, grown as needed.
  private best = new Float64Array(64);
  private from = new Int32Array(64);
  private ids = new Int32Array(64);
  private path = new Int32Array(64);

  constructor(private readonly options: UnigramOptions) {
    const { pieces } = options;
    this.trie = new PieceTrie(pieces, options.matchable ?? (() => true));
    this.scores = Float64Array.from(pieces, ([, s]) => s);
    let min = Infinity;
    this.scores.forEach((s, id) => { if (s < min && (options.scoredForUnknown?.(id) ?? true)) min = s; });
    this.unkScore = min - UNK_PENALTY;
    this.tokenToId = new Map(pieces.map(([p], id) => [p, id] as const));
    if (options.byteFallback) {
      this.byteIds = new Int32Array(256);
      for (let b = 0; b < 256; b++) this.byteIds[b] = this.tokenToId.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`) ?? -1;
    } else {
      this.byteIds = null;
    }
  }

  encodeWord(word: string, out: number[]): void {
    if (word.length === 0) return;
    const hit = this.cache.get(word);
    if (hit) {
      for (const id of hit) out.push(id);
      return;
    }
    const ids = this.segment(word);
    if (this.cache.size >= CACHE_LIMIT) this.cache.clear();
    this.cache.set(word, ids);
    for (const id of ids) out.push(id);
  }

  /** Viterbi over the word's lattice (positions are UTF-16 offsets at character boundaries). */
  private segment(word: string): number[] {
    const n = word.length;
    if (this.best.length < n + 1) {
      let cap = this.best.length;
      while (cap < n + 1) cap *= 2;
      this.best = new Float64Array(cap);
      this.from = new Int32Array(cap);
      this.ids = new Int32Array(cap);
    }
    const best = this.best, from = this.from, ids = this.ids;
    from.fill(-1, 0, n + 1);
    best[0] = 0;
    const unkId = this.options.unkId;
    for (let start = 0; start < n; ) {
      const code = word.charCodeAt(start);
      const charLen = code >= 0xd800 && code <= 0xdbff && start + 1 < n ? 2 : 1;
      const here = best[start]!;
      let single = false;
      let node = 0;
      for (let end = start; end < n; end++) {
        node = this.trie.child(node, word.charCodeAt(end));
        if (node < 0) break;
        const id = this.trie.terminal[node]!;
        if (id < 0) continue;
        const at = end + 1;
        const score = this.scores[id]! + here;
        if (from[at] === -1 || score > best[at]!) {
          best[at] = score;
          from[at] = start;
          ids[at] = id;
        }
        if (at - start === charLen) single = true;
      }
      if (!single) {
        if (unkId === null) throw new Error(`[unigram] the character ${JSON.stringify(word.slice(start, start + charLen))} is in no piece and the vocabulary has no unk token`);
        const at = start + charLen;
        const score = this.unkScore + here;
        if (from[at] === -1 || score > best[at]!) {
          best[at] = score;
          from[at] = start;
          ids[at] = unkId;
        }
      }
      start += charLen;
    }
    // Back from the end: the best path's piece ends, then forward with unknown runs fused.
    const path = this.path.length > n ? this.path : (this.path = new Int32Array(this.best.length));
    let k = 0;
    for (let end = n; end > 0; end = from[end]!) path[k++] = end;
    const fuse = this.options.fuseUnk !== false;
    const out: number[] = [];
    while (k > 0) {
      const end = path[--k]!;
      if (ids[end] !== unkId) {
        out.push(ids[end]!);
        continue;
      }
      let runEnd = end;
      while (fuse && k > 0 && ids[path[k - 1]!] === unkId) runEnd = path[--k]!;
      this.pushUnknown(word.slice(from[end]!, runEnd), out);
    }
    return out;
  }

  /** A (fused) unknown run: the piece itself if the vocabulary has it, else its UTF-8 bytes, else <unk>. */
  private pushUnknown(text: string, out: number[]): void {
    const known = this.options.lookUpUnknownText === false ? undefined : this.tokenToId.get(text);
    if (known !== undefined) {
      out.push(known);
      return;
    }
    if (this.byteIds) {
      const bytes = UTF8.encode(text);
      if (bytes.every((b) => this.byteIds![b]! >= 0)) {
        for (const b of bytes) out.push(this.byteIds[b]!);
        return;
      }
    }
    out.push(this.options.unkId!);
  }
}

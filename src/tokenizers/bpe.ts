// The BPE model: turns one pre-tokenized word into ids by applying merges in rank order (lowest rank first,
// leftmost first among equals) — the rule Hugging Face tokenizers and llama.cpp share. Two word spellings:
// byte-level (GPT-2 style: the word's UTF-8 bytes are the first symbols) and character-level (SentencePiece-
// style tokenizer.json: characters are the first symbols, with `<0xXX>` byte fallback or an unknown token).
//
// Speed: merges live in an open-addressing hash table over (left id, right id) in typed arrays (no string or
// boxed-number keys), short words merge by a scan over cached pair ranks, long ones with a binary heap over a
// linked list, and whole words are cached (most words repeat).
// Leaves out: BPE dropout (training-time noise), and continuing_subword_prefix on byte-level words.
import { BYTE_TO_CHAR, byteTokenName, toByteLevel, utf8EncodeInto } from "./byte-level.js";

/** Anything that turns a word into ids (BPE, WordPiece, SentencePiece-style bigram merging). */
export interface WordModel {
  encodeWord(word: string, out: number[]): void;
}

/** (left, right) id pair → merge rank and merged id, in flat typed arrays. */
export class MergeTable {
  private readonly left: Int32Array;
  private readonly right: Int32Array;
  readonly rank: Int32Array;
  readonly merged: Int32Array;
  private readonly mask: number;
  readonly size: number;

  /** merges[r] = [left id, right id, merged id] for rank r. Later duplicates of a pair are ignored. */
  constructor(merges: ArrayLike<readonly [number, number, number]>) {
    let cap = 16;
    while (cap < merges.length * 2) cap *= 2;
    this.mask = cap - 1;
    this.left = new Int32Array(cap).fill(-1);
    this.right = new Int32Array(cap);
    this.rank = new Int32Array(cap);
    this.merged = new Int32Array(cap);
    let size = 0;
    for (let r = 0; r < merges.length; r++) {
      const [a, b, m] = merges[r];
      let h = hashPair(a, b) & this.mask;
      while (this.left[h] !== -1 && !(this.left[h] === a && this.right[h] === b)) h = (h + 1) & this.mask;
      if (this.left[h] !== -1) continue;
      this.left[h] = a;
      this.right[h] = b;
      this.rank[h] = r;
      this.merged[h] = m;
      size++;
    }
    this.size = size;
  }

  /** Slot of the pair, or -1 when the pair never merges. */
  find(a: number, b: number): number {
    const left = this.left;
    let h = hashPair(a, b) & this.mask;
    for (;;) {
      const l = left[h];
      if (l === -1) return -1;
      if (l === a && this.right[h] === b) return h;
      h = (h + 1) & this.mask;
    }
  }
}

function hashPair(a: number, b: number): number {
  return Math.imul(Math.imul(a, 0x9e3779b1) ^ b, 0x85ebca77) ^ (a >>> 7);
}

const NO_MERGE = 0x7fffffff;
const SMALL_WORD = 96; // up to this many symbols, an O(n²) scan over cached ranks beats the heap

/** Merges ids[0, n) in place; returns the new length. */
export function applyMerges(table: MergeTable, ids: Int32Array, n: number): number {
  if (n < 2) return n;
  return n <= SMALL_WORD ? mergeByScan(table, ids, n) : mergeByHeap(table, ids, n);
}

// Scratch for mergeByScan (single-threaded; never holds data between calls).
const scanRanks = new Int32Array(SMALL_WORD);
const scanSlots = new Int32Array(SMALL_WORD);

function mergeByScan(table: MergeTable, ids: Int32Array, n: number): number {
  const ranks = scanRanks;
  const slots = scanSlots;
  const tRank = table.rank;
  for (let i = 0; i + 1 < n; i++) {
    const s = table.find(ids[i], ids[i + 1]);
    slots[i] = s;
    ranks[i] = s < 0 ? NO_MERGE : tRank[s];
  }
  for (;;) {
    let best = NO_MERGE;
    let at = -1;
    for (let i = 0; i + 1 < n; i++) {
      if (ranks[i] < best) {
        best = ranks[i];
        at = i;
      }
    }
    if (at < 0) return n;
    ids[at] = table.merged[slots[at]];
    for (let i = at + 1; i + 1 < n; i++) {
      ids[i] = ids[i + 1];
      ranks[i] = ranks[i + 1];
      slots[i] = slots[i + 1];
    }
    n--;
    if (at > 0) {
      const s = table.find(ids[at - 1], ids[at]);
      slots[at - 1] = s;
      ranks[at - 1] = s < 0 ? NO_MERGE : tRank[s];
    }
    if (at + 1 < n) {
      const s = table.find(ids[at], ids[at + 1]);
      slots[at] = s;
      ranks[at] = s < 0 ? NO_MERGE : tRank[s];
    }
  }
}

/** Long words: a linked list of symbols and a min-heap of (rank, position) keys. A popped entry is stale when
 *  the pair now at that position has another rank (each rank names exactly one pair). */
function mergeByHeap(table: MergeTable, ids: Int32Array, n: number): number {
  const next = new Int32Array(n);
  const prev = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    next[i] = i + 1 < n ? i + 1 : -1;
    prev[i] = i - 1;
  }
  const heap = new MinHeap(n);
  const POS = 2 ** 24;
  if (n >= POS) throw new RangeError(`bpe: a word of ${n} symbols is longer than the ${POS} this merger supports`);
  const rankAt = (i: number): number => {
    const j = next[i];
    if (j < 0) return NO_MERGE;
    const s = table.find(ids[i], ids[j]);
    return s < 0 ? NO_MERGE : table.rank[s];
  };
  for (let i = 0; i + 1 < n; i++) {
    const r = rankAt(i);
    if (r !== NO_MERGE) heap.push(r * POS + i);
  }
  while (heap.length > 0) {
    const key = heap.pop();
    const r = Math.floor(key / POS);
    const i = key - r * POS;
    if (ids[i] < 0 || rankAt(i) !== r) continue;
    const j = next[i];
    ids[i] = table.merged[table.find(ids[i], ids[j])];
    ids[j] = -1;
    next[i] = next[j];
    if (next[j] >= 0) prev[next[j]] = i;
    const rr = rankAt(i);
    if (rr !== NO_MERGE) heap.push(rr * POS + i);
    if (prev[i] >= 0) {
      const rl = rankAt(prev[i]);
      if (rl !== NO_MERGE) heap.push(rl * POS + prev[i]);
    }
  }
  let m = 0;
  for (let i = 0; i >= 0; i = next[i]) ids[m++] = ids[i];
  return m;
}

/** Binary min-heap of non-negative numbers in a Float64Array. */
export class MinHeap {
  private data: Float64Array;
  length = 0;
  constructor(capacity = 16) {
    this.data = new Float64Array(Math.max(capacity, 4));
  }
  push(v: number): void {
    if (this.length === this.data.length) {
      const d = new Float64Array(this.data.length * 2);
      d.set(this.data);
      this.data = d;
    }
    const d = this.data;
    let i = this.length++;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (d[p] <= v) break;
      d[i] = d[p];
      i = p;
    }
    d[i] = v;
  }
  pop(): number {
    const d = this.data;
    const top = d[0];
    const last = d[--this.length];
    let i = 0;
    const n = this.length;
    for (;;) {
      let c = 2 * i + 1;
      if (c >= n) break;
      if (c + 1 < n && d[c + 1] < d[c]) c++;
      if (d[c] >= last) break;
      d[i] = d[c];
      i = c;
    }
    d[i] = last;
    return top;
  }
}

export interface BpeOptions {
  /** id → token string (byte-level spelling for byte-level vocabularies). */
  tokens: readonly string[];
  tokenToId: ReadonlyMap<string, number>;
  merges: MergeTable;
  byteLevel: boolean;
  /** Character-level only: spell unknown characters as `<0xXX>` byte tokens. */
  byteFallback?: boolean;
  unkId?: number | null;
  fuseUnk?: boolean;
  /** A word that is itself a token is emitted whole, without merging (Llama 3). */
  ignoreMerges?: boolean;
  continuingSubwordPrefix?: string;
  endOfWordSuffix?: string;
  /** Words cached before the cache is cleared (0 turns the cache off). */
  cacheSize?: number;
}

export class BpeModel implements WordModel {
  private readonly byteToId = new Int32Array(256).fill(-1);
  private readonly byteTokenIds = new Int32Array(256).fill(-1);
  private readonly cache = new Map<string, Int32Array>();
  private readonly cacheSize: number;
  private ids = new Int32Array(256);
  private bytes = new Uint8Array(1024);

  constructor(readonly opts: BpeOptions) {
    this.cacheSize = opts.cacheSize ?? 1 << 17;
    for (let b = 0; b < 256; b++) {
      if (opts.byteLevel) this.byteToId[b] = opts.tokenToId.get(BYTE_TO_CHAR[b]) ?? -1;
      this.byteTokenIds[b] = opts.tokenToId.get(byteTokenName(b)) ?? -1;
    }
  }

  encodeWord(word: string, out: number[]): void {
    const hit = this.cache.get(word);
    if (hit !== undefined) {
      for (let i = 0; i < hit.length; i++) out.push(hit[i]);
      return;
    }
    const { opts } = this;
    let n: number;
    if (opts.ignoreMerges) {
      const whole = opts.tokenToId.get(opts.byteLevel ? toByteLevel(word) : word);
      if (whole !== undefined) {
        out.push(whole);
        this.remember(word, Int32Array.of(whole));
        return;
      }
    }
    n = opts.byteLevel ? this.byteSymbols(word) : this.charSymbols(word);
    n = applyMerges(opts.merges, this.ids, n);
    const result = this.ids.slice(0, n);
    this.remember(word, result);
    for (let i = 0; i < n; i++) out.push(result[i]);
  }

  private remember(word: string, ids: Int32Array): void {
    if (this.cacheSize === 0) return;
    if (this.cache.size >= this.cacheSize) this.cache.clear();
    this.cache.set(word, ids);
  }

  private ensure(n: number): void {
    if (this.ids.length < n) this.ids = new Int32Array(Math.max(n, this.ids.length * 2));
  }

  private byteSymbols(word: string): number {
    if (this.bytes.length < word.length * 3) this.bytes = new Uint8Array(word.length * 3 + 16);
    const nb = utf8EncodeInto(word, this.bytes);
    this.ensure(nb);
    const ids = this.ids;
    let n = 0;
    for (let i = 0; i < nb; i++) {
      const id = this.byteToId[this.bytes[i]];
      if (id >= 0) ids[n++] = id;
      else if (this.opts.unkId != null) ids[n++] = this.opts.unkId;
    }
    return n;
  }

  private charSymbols(word: string): number {
    const { tokenToId, byteFallback, unkId, fuseUnk } = this.opts;
    const prefix = this.opts.continuingSubwordPrefix ?? "";
    const suffix = this.opts.endOfWordSuffix ?? "";
    this.ensure(word.length * 4 + 2);
    const ids = this.ids;
    let n = 0;
    let lastWasUnk = false;
    const chars = Array.from(word);
    for (let k = 0; k < chars.length; k++) {
      let sym = chars[k];
      if (k > 0 && prefix) sym = prefix + sym;
      if (k === chars.length - 1 && suffix) sym += suffix;
      const id = tokenToId.get(sym);
      if (id !== undefined) {
        ids[n++] = id;
        lastWasUnk = false;
        continue;
      }
      if (byteFallback) {
        const nb = utf8EncodeInto(chars[k], this.bytes);
        let ok = true;
        for (let i = 0; i < nb; i++) if (this.byteTokenIds[this.bytes[i]] < 0) ok = false;
        if (ok) {
          for (let i = 0; i < nb; i++) ids[n++] = this.byteTokenIds[this.bytes[i]];
          lastWasUnk = false;
          continue;
        }
      }
      if (unkId == null) continue;
      if (fuseUnk && lastWasUnk) continue;
      ids[n++] = unkId;
      lastWasUnk = true;
    }
    return n;
  }
}

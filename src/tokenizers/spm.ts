// SentencePiece-style BPE as llama.cpp runs GGUF `llama` vocabularies: start from UTF-8 characters, repeatedly
// merge the adjacent pair whose concatenation is the highest-scoring token (leftmost first on ties), then spell
// any leftover non-token character as `<0xXX>` byte tokens. The input is one whole text segment whose spaces
// are already "▁".
// Leaves out: SentencePiece's unigram model (not used by GGUF `llama` vocabularies).
import { byteTokenName, utf8Encode } from "./byte-level.js";
import type { WordModel } from "./bpe.js";

export interface SpmOptions {
  tokenToId: ReadonlyMap<string, number>;
  scores: ArrayLike<number>;
  unkId: number | null;
}

export class SpmModel implements WordModel {
  private readonly byteIds = new Int32Array(256).fill(-1);

  constructor(readonly opts: SpmOptions) {
    for (let b = 0; b < 256; b++) {
      const id = opts.tokenToId.get(byteTokenName(b)) ?? (b < 0x80 ? opts.tokenToId.get(String.fromCharCode(b)) : undefined);
      if (id !== undefined) this.byteIds[b] = id;
    }
  }

  encodeWord(text: string, out: number[]): void {
    const { tokenToId, scores } = this.opts;
    const syms = Array.from(text);
    const n = syms.length;
    if (n === 0) return;
    const next = new Int32Array(n);
    const prev = new Int32Array(n);
    for (let i = 0; i < n; i++) {
      next[i] = i + 1 < n ? i + 1 : -1;
      prev[i] = i - 1;
    }
    // Candidate merges, popped by (highest score, leftmost); the pair's text length spots stale entries.
    const entries: { left: number; right: number; len: number }[] = [];
    const scoreOrder: number[] = [];
    const tryAdd = (left: number, right: number): void => {
      if (left < 0 || right < 0) return;
      const id = tokenToId.get(syms[left] + syms[right]);
      if (id === undefined) return;
      entries.push({ left, right, len: syms[left].length + syms[right].length });
      scoreOrder.push(scores[id]);
    };
    const keyed = new KeyedHeap((a, b) => {
      const sa = scoreOrder[a];
      const sb = scoreOrder[b];
      if (sa !== sb) return sa > sb;
      return entries[a].left < entries[b].left;
    });
    const push = (left: number, right: number): void => {
      const before = entries.length;
      tryAdd(left, right);
      if (entries.length > before) keyed.push(before);
    };
    for (let i = 0; i + 1 < n; i++) push(i, i + 1);
    while (keyed.size > 0) {
      const e = entries[keyed.pop()];
      const l = syms[e.left];
      const r = syms[e.right];
      if (l.length === 0 || r.length === 0 || l.length + r.length !== e.len) continue;
      syms[e.left] = l + r;
      syms[e.right] = "";
      next[e.left] = next[e.right];
      if (next[e.right] >= 0) prev[next[e.right]] = e.left;
      push(prev[e.left], e.left);
      push(e.left, next[e.left]);
    }
    for (let i = 0; i >= 0; i = next[i]) {
      const id = tokenToId.get(syms[i]);
      if (id !== undefined) {
        out.push(id);
        continue;
      }
      for (const b of utf8Encode(syms[i])) {
        const bid = this.byteIds[b];
        if (bid >= 0) out.push(bid);
        else if (this.opts.unkId !== null) out.push(this.opts.unkId);
      }
    }
  }
}

/** Binary heap of entry indices ordered by `before(a, b)` (true when a comes out first). */
class KeyedHeap {
  private items: number[] = [];
  constructor(private readonly before: (a: number, b: number) => boolean) {}
  get size(): number {
    return this.items.length;
  }
  push(v: number): void {
    const it = this.items;
    let i = it.length;
    it.push(v);
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.before(v, it[p])) break;
      it[i] = it[p];
      i = p;
    }
    it[i] = v;
  }
  pop(): number {
    const it = this.items;
    const top = it[0];
    const last = it.pop()!;
    if (it.length > 0) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= it.length) break;
        if (c + 1 < it.length && this.before(it[c + 1], it[c])) c++;
        if (!this.before(it[c], last)) break;
        it[i] = it[c];
        i = c;
      }
      it[i] = last;
    }
    return top;
  }
}

// Keeps sampled text valid UTF-8. With a byte-level vocabulary (byte-level BPE, SentencePiece byte fallback) a
// Chinese character is often several tokens, one byte each, and a small model can follow a lead byte with a token
// that does not continue it — the text then holds U+FFFD ("回家�那么大的"). This constraint tracks where the text
// stands inside a character and masks every token whose bytes would break UTF-8 (a stray continuation byte, a new
// character before the current one is complete, an overlong or surrogate form, bytes C0/C1/F5–FF), and control tokens
// (EOS included) until the character is complete. Per-token transitions for the 8 positions are computed once per
// vocabulary (Utf8Table) and shared by every request.
// Leaves out: a budget-cut reply ending mid-character (the stream decoder drops those bytes), and vocabularies with
// no byte tokens (if a position has no allowed token at all, that position is left unconstrained).
import type { Tokenizer } from "../../tokenizers/tokenizer.js";
import type { TokenConstraint } from "./token-mask.js";

/** Positions: 0 = at a character boundary; 1–7 = inside a character, by continuation bytes still owed and the
 *  range the next one must fall in (RFC 3629's table: E0 A0–BF, ED 80–9F, F0 90–BF, F4 80–8F). */
const NEED: readonly { count: number; lo: number; hi: number }[] = [
  { count: 0, lo: 0, hi: 0 },
  { count: 1, lo: 0x80, hi: 0xbf },
  { count: 2, lo: 0x80, hi: 0xbf },
  { count: 2, lo: 0xa0, hi: 0xbf },
  { count: 2, lo: 0x80, hi: 0x9f },
  { count: 3, lo: 0x80, hi: 0xbf },
  { count: 3, lo: 0x90, hi: 0xbf },
  { count: 3, lo: 0x80, hi: 0x8f },
];
const POSITIONS = NEED.length;
const INVALID = 255;

/** The position after byte b at position p, or INVALID. */
export function utf8Step(p: number, b: number): number {
  const need = NEED[p];
  if (need.count > 0) {
    if (b < need.lo || b > need.hi) return INVALID;
    // Owed bytes after this one are plain continuation bytes: 2 → 1, 3 → 2 (position 2 and 1 take 80–BF).
    return need.count === 1 ? 0 : need.count === 2 ? 1 : 2;
  }
  if (b < 0x80) return 0;
  if (b >= 0xc2 && b <= 0xdf) return 1;
  if (b === 0xe0) return 3;
  if (b === 0xed) return 4;
  if (b >= 0xe1 && b <= 0xef) return 2;
  if (b === 0xf0) return 6;
  if (b >= 0xf1 && b <= 0xf3) return 5;
  if (b === 0xf4) return 7;
  return INVALID; // 80–BF without a lead, C0/C1 (overlong), F5–FF
}

/** For every token and position: the position after the token, or INVALID. Build once per tokenizer. */
export class Utf8Table {
  readonly vocabSize: number;
  /** next[p * vocabSize + id]. */
  readonly next: Uint8Array;
  /** Ids not allowed at position 0 (few), and whether each position allows anything at all. */
  readonly forbiddenAtBoundary: Int32Array;
  readonly positionUsable: boolean[];

  constructor(tokenizer: Tokenizer, vocabSize = tokenizer.vocabSize) {
    this.vocabSize = vocabSize;
    this.next = new Uint8Array(POSITIONS * vocabSize).fill(INVALID);
    const forbidden: number[] = [];
    const usable = new Array<boolean>(POSITIONS).fill(false);
    for (let id = 0; id < vocabSize; id++) {
      const bytes = id < tokenizer.vocabSize ? tokenizer.tokenBytes(id) : new Uint8Array(0);
      for (let p = 0; p < POSITIONS; p++) {
        let q = p;
        // A control token (no bytes) may only come between characters.
        if (bytes.length === 0) q = p === 0 ? 0 : INVALID;
        for (let i = 0; i < bytes.length && q !== INVALID; i++) q = utf8Step(q, bytes[i]);
        this.next[p * vocabSize + id] = q;
        if (q !== INVALID) usable[p] = true;
        else if (p === 0) forbidden.push(id);
      }
    }
    this.forbiddenAtBoundary = Int32Array.from(forbidden);
    this.positionUsable = usable;
  }
}

export class Utf8Constraint implements TokenConstraint {
  private position = 0;
  readonly finished = false;

  constructor(private readonly table: Utf8Table) {}

  /** True while the text so far ends inside a character. */
  get insideCharacter(): boolean {
    return this.position !== 0;
  }

  mask(logits: Float32Array): void {
    const t = this.table;
    const p = this.position;
    if (!t.positionUsable[p]) return;
    if (p === 0) {
      for (const id of t.forbiddenAtBoundary) if (id < logits.length) logits[id] = -Infinity;
    } else {
      const base = p * t.vocabSize;
      const n = Math.min(logits.length, t.vocabSize);
      for (let id = 0; id < n; id++) if (t.next[base + id] === INVALID) logits[id] = -Infinity;
    }
    for (let id = t.vocabSize; id < logits.length; id++) logits[id] = -Infinity;
  }

  accept(id: number): void {
    const t = this.table;
    if (id < 0 || id >= t.vocabSize) throw new Error(`[utf8] token ${id} is outside the vocabulary [0, ${t.vocabSize})`);
    const q = t.next[this.position * t.vocabSize + id];
    // An unusable position was left unconstrained: resynchronise at the next boundary.
    this.position = q === INVALID ? 0 : q;
  }
}

/** Several constraints at once: every mask applies, every one sees each token, finished when any is. */
export class AllConstraints implements TokenConstraint {
  constructor(private readonly parts: readonly TokenConstraint[]) {}

  mask(logits: Float32Array): void {
    for (const c of this.parts) c.mask(logits);
  }

  accept(id: number): void {
    for (const c of this.parts) c.accept(id);
  }

  get finished(): boolean {
    return this.parts.some((c) => c.finished);
  }
}

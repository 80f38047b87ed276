// Grammar → per-step token masks. The vocabulary's token bytes (Tokenizer.tokenBytes) are put in a byte trie once
// per tokenizer; the mask of a grammar state is found by walking the trie and the grammar together, pruning a whole
// subtree at the first byte the grammar rejects. Masks are cached on the grammar state, so steps that revisit a
// state (inside a long string, say) cost one lookup.
// Control tokens (no bytes) are never allowed, except the stop ids once the grammar accepts; when the grammar is
// finished (nothing may follow) only the stop ids are allowed and `finished` tells the scheduler to end.
// With a token budget (max_tokens), the constraint also closes the output in time: once the budget gets near the
// grammar's shortest way to the end (Grammar.distanceToAccept, in bytes — at most that many tokens, since every
// byte is a token in byte-level vocabularies), only tokens that keep a complete ending within the budget are
// allowed, so a weak model's JSON ends complete instead of being cut by finish_reason "length".
// Leaves out: speculative "try the sampled token first" shortcuts (the full mask keeps sampling exact).
import type { Tokenizer } from "../../tokenizers/tokenizer.js";
import type { Grammar, GrammarState } from "./grammar.js";

interface TrieNode {
  children: Map<number, TrieNode>;
  /** Ids whose bytes end exactly here. */
  ids: number[];
}

/** All tokens' bytes in a trie; build once per tokenizer and share between requests. */
export class TokenTrie {
  readonly root: TrieNode = { children: new Map(), ids: [] };
  readonly vocabSize: number;
  readonly bytes: Uint8Array[];

  constructor(tokenizer: Tokenizer, vocabSize = tokenizer.vocabSize) {
    this.vocabSize = vocabSize;
    this.bytes = new Array(vocabSize);
    for (let id = 0; id < vocabSize; id++) {
      const b = id < tokenizer.vocabSize ? tokenizer.tokenBytes(id) : new Uint8Array(0);
      this.bytes[id] = b;
      if (b.length === 0) continue;
      let node = this.root;
      for (const byte of b) {
        let child = node.children.get(byte);
        if (!child) {
          child = { children: new Map(), ids: [] };
          node.children.set(byte, child);
        }
        node = child;
      }
      node.ids.push(id);
    }
  }
}

/** The scheduler's view of a constraint on the next token. */
export interface TokenConstraint {
  /** Sets the logits of tokens that may not come next to -Infinity (in place). */
  mask(logits: Float32Array): void;
  /** Records the chosen token; throws if it was not allowed. */
  accept(id: number): void;
  /** True when the constrained text is complete and nothing may follow (generation should stop). */
  readonly finished: boolean;
}

export class GrammarConstraint implements TokenConstraint {
  private state: GrammarState;
  /** Tokens left for this output, counting the next one (Infinity: no budget). */
  private remaining: number;
  /** False when the budget is smaller than the shortest complete output (then nothing can be guaranteed). */
  private readonly closeInTime: boolean;
  private closing: { state: GrammarState; limit: number; bits: Uint32Array } | null = null;

  constructor(private readonly grammar: Grammar, private readonly trie: TokenTrie, private readonly stopIds: readonly number[],
    maxTokens = Infinity) {
    this.state = grammar.start;
    this.remaining = maxTokens;
    this.closeInTime = Number.isFinite(maxTokens) && grammar.distanceToAccept(grammar.start) + 1 <= maxTokens;
  }

  get finished(): boolean {
    return this.state.finished;
  }

  allowed(): Uint32Array {
    const s = this.state;
    if (!s.mask) s.mask = this.compute(s, Infinity);
    // After this token, `remaining − 1` tokens must still reach the end: distance bytes plus one stop token.
    const limit = this.remaining - 2;
    if (this.closeInTime && s.maxNextDistance > limit) {
      // mask() and accept() ask for the same step: compute the closing mask once.
      if (this.closing?.state !== s || this.closing.limit !== limit) {
        const bits = this.compute(s, limit);
        this.closing = { state: s, limit, bits: bits.some((w) => w !== 0) ? bits : s.mask };
      }
      return this.closing.bits;
    }
    return s.mask;
  }

  /** Tokens allowed at s whose next state is finished or at most `limit` bytes from accepting. */
  private compute(s: GrammarState, limit: number): Uint32Array {
    const bits = new Uint32Array(Math.ceil(this.trie.vocabSize / 32));
    let maxNext = 0;
    if (!s.finished) {
      this.walk(this.trie.root, s, bits, limit, (d) => {
        if (d > maxNext) maxNext = d;
      });
    }
    if (s.accepting) for (const id of this.stopIds) if (id < this.trie.vocabSize) bits[id >>> 5] |= 1 << (id & 31);
    if (limit === Infinity) s.maxNextDistance = maxNext;
    return bits;
  }

  mask(logits: Float32Array): void {
    const bits = this.allowed();
    const n = Math.min(logits.length, this.trie.vocabSize);
    for (let id = 0; id < n; id++) if ((bits[id >>> 5] & (1 << (id & 31))) === 0) logits[id] = -Infinity;
    for (let id = n; id < logits.length; id++) logits[id] = -Infinity;
  }

  accept(id: number): void {
    const bits = this.allowed();
    this.remaining--;
    if (id < 0 || id >= this.trie.vocabSize || (bits[id >>> 5] & (1 << (id & 31))) === 0) {
      throw new Error(`[grammar] token ${id} is not allowed here`);
    }
    const bytes = this.trie.bytes[id];
    if (bytes.length === 0) return; // a stop id at an accepting state
    const next = this.grammar.advanceBytes(this.state, bytes);
    if (!next) throw new Error(`[grammar] token ${id} does not continue the grammar`);
    this.state = next;
  }

  private walk(node: TrieNode, state: GrammarState, bits: Uint32Array, limit: number, seen: (distance: number) => void): void {
    for (const [byte, child] of node.children) {
      const next = this.grammar.advance(state, byte);
      if (!next) continue;
      if (child.ids.length > 0) {
        const d = next.finished ? 0 : this.grammar.distanceToAccept(next);
        seen(d);
        if (d <= limit || next.finished) for (const id of child.ids) bits[id >>> 5] |= 1 << (id & 31);
      }
      if (child.children.size > 0) this.walk(child, next, bits, limit, seen);
    }
  }
}

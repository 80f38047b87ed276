// Grammar → per-step token masks. The vocabulary's token bytes (Tokenizer.tokenBytes) are put in a byte trie once
// per tokenizer; the mask of a grammar state is found by walking the trie and the grammar together, pruning a whole
// subtree at the first byte the grammar rejects. Masks are cached on the grammar state, so steps that revisit a
// state (inside a long string, say) cost one lookup.
// Control tokens (no bytes) are never allowed, except the stop ids once the grammar accepts; when the grammar is
// finished (nothing may follow) only the stop ids are allowed and `finished` tells the scheduler to end.
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

  constructor(private readonly grammar: Grammar, private readonly trie: TokenTrie, private readonly stopIds: readonly number[]) {
    this.state = grammar.start;
  }

  get finished(): boolean {
    return this.state.finished;
  }

  allowed(): Uint32Array {
    const s = this.state;
    if (!s.mask) {
      const bits = new Uint32Array(Math.ceil(this.trie.vocabSize / 32));
      if (!s.finished) this.walk(this.trie.root, s, bits);
      if (s.accepting) for (const id of this.stopIds) if (id < this.trie.vocabSize) bits[id >>> 5] |= 1 << (id & 31);
      s.mask = bits;
    }
    return s.mask;
  }

  mask(logits: Float32Array): void {
    const bits = this.allowed();
    const n = Math.min(logits.length, this.trie.vocabSize);
    for (let id = 0; id < n; id++) if ((bits[id >>> 5] & (1 << (id & 31))) === 0) logits[id] = -Infinity;
    for (let id = n; id < logits.length; id++) logits[id] = -Infinity;
  }

  accept(id: number): void {
    const bits = this.allowed();
    if (id < 0 || id >= this.trie.vocabSize || (bits[id >>> 5] & (1 << (id & 31))) === 0) {
      throw new Error(`[grammar] token ${id} is not allowed here`);
    }
    const bytes = this.trie.bytes[id];
    if (bytes.length === 0) return; // a stop id at an accepting state
    const next = this.grammar.advanceBytes(this.state, bytes);
    if (!next) throw new Error(`[grammar] token ${id} does not continue the grammar`);
    this.state = next;
  }

  private walk(node: TrieNode, state: GrammarState, bits: Uint32Array): void {
    for (const [byte, child] of node.children) {
      const next = this.grammar.advance(state, byte);
      if (!next) continue;
      for (const id of child.ids) bits[id >>> 5] |= 1 << (id & 31);
      if (child.children.size > 0) this.walk(child, next, bits);
    }
  }
}

// WordPiece (BERT): greedy longest-match-first inside each word; a word with any unmatched position becomes the
// unknown token. Two vocabulary spellings: Hugging Face's ("##" marks a continuation) and llama.cpp's GGUF
// ("▁" marks a word start, continuations are bare).
// Leaves out: BERT's pair encoding (token_type_ids) — callers get one sequence.
import type { WordModel } from "./bpe.js";

export interface WordPieceOptions {
  tokenToId: ReadonlyMap<string, number>;
  unkId: number;
  /** Marks a continuation piece ("##" in HF vocabularies, "" in GGUF ones). */
  prefix: string;
  /** Marks the first piece of a word ("" in HF vocabularies, "▁" in GGUF ones). */
  wordStart?: string;
  /** Longer words (in characters) become the unknown token. */
  maxInputChars?: number;
}

export class WordPieceModel implements WordModel {
  private readonly maxTokenChars: number;

  constructor(readonly opts: WordPieceOptions) {
    let longest = 1;
    for (const t of opts.tokenToId.keys()) longest = Math.max(longest, t.length);
    this.maxTokenChars = longest;
  }

  encodeWord(word: string, out: number[]): void {
    const { tokenToId, unkId, prefix } = this.opts;
    const wordStart = this.opts.wordStart ?? "";
    const chars = Array.from(word);
    if (chars.length > (this.opts.maxInputChars ?? 100)) {
      out.push(unkId);
      return;
    }
    const mark = out.length;
    let start = 0;
    while (start < chars.length) {
      let found = -1;
      let end = Math.min(chars.length, start + this.maxTokenChars);
      for (; end > start; end--) {
        const piece = (start === 0 ? wordStart : prefix) + chars.slice(start, end).join("");
        const id = tokenToId.get(piece);
        if (id !== undefined) {
          found = id;
          break;
        }
      }
      if (found < 0) {
        out.length = mark;
        out.push(unkId);
        return;
      }
      out.push(found);
      start = end;
    }
  }
}

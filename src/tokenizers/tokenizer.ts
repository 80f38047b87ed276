// The one interface every tokenizer in Zhiyu implements (trained byte-level BPE, GGUF vocabularies, Hugging Face
// tokenizer.json, SentencePiece-style BPE, WordPiece). Pure functions over strings and ids: no tensors here.
// Implementations live beside this file; loaders pick one from a file or folder.

export interface EncodeOptions {
  /** Apply the tokenizer's own rule for adding BOS/EOS (default true). false adds nothing. */
  addSpecialTokens?: boolean;
  /** Recognise special-token text such as "<|im_start|>" in the input as single ids (default false for user
   *  text; chat templates render with true). */
  parseSpecial?: boolean;
  /** The text went through protectSpecialText: special tokens right after a guard are plain text, and guards are
   *  dropped (see special-text.ts). Used with parseSpecial for rendered chat templates. */
  protectedText?: boolean;
}

export interface DecodeOptions {
  /** Drop special/control tokens from the text (default false). */
  skipSpecialTokens?: boolean;
}

/** Incremental decoder: push ids one at a time, get text that never ends inside a UTF-8 character. */
export interface StreamDecoder {
  push(id: number): string;
  /** Whatever is still held back: an incomplete character at the very end becomes U+FFFD, or nothing with
   *  dropIncomplete (text cut by a token limit, where the character's remaining bytes were never generated). */
  flush(options?: { dropIncomplete?: boolean }): string;
}

export interface Tokenizer {
  /** "bpe" (byte-level), "spm" (SentencePiece-style with byte fallback), "wordpiece". */
  readonly kind: "bpe" | "spm" | "wordpiece";
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  /** Every id that ends generation by default (EOS, end-of-turn ...). */
  readonly stopTokenIds: readonly number[];
  readonly padTokenId: number | null;
  encode(text: string, options?: EncodeOptions): number[];
  decode(ids: readonly number[], options?: DecodeOptions): string;
  createStreamDecoder(options?: DecodeOptions): StreamDecoder;
  /** The token's string as the vocabulary stores it (e.g. "Ġthe", "▁the", "<0x0A>"). */
  idToToken(id: number): string | undefined;
  tokenToId(token: string): number | undefined;
  /** The exact bytes this token adds to decoded text (empty for control tokens). Used by constrained decoding. */
  tokenBytes(id: number): Uint8Array;
  isSpecial(id: number): boolean;
  /** Marks every special-token text in a content string so that encode(…, { parseSpecial: true, protectedText:
   *  true }) reads it as plain text (special-text.ts). */
  protectSpecialText(text: string): string;
}

// The one Tokenizer implementation every loader builds: added-token matching → normalizer → pre-tokenizer →
// word model (BPE / SentencePiece-style / WordPiece), plus the BOS/EOS rule; decoding concatenates each
// token's bytes and lets a streaming TextDecoder hold back incomplete UTF-8 characters.
// Loaders (hf-json.ts, gguf-vocab.ts, the trainer) only fill in TokenizerParts.
// Leaves out: offsets/alignments, pairs of sequences (the post-processor's $B), truncation and padding, and
// HF's clean_up_tokenization_spaces (it would break decode(encode(x)) === x).
import { concatBytes } from "./byte-level.js";
import type { Normalizer } from "./normalizers.js";
import type { PreTokenizer } from "./pretokenizers.js";
import type { WordModel } from "./bpe.js";
import { escapeRegex } from "./regex.js";
import { guardSpecialText, SPECIAL_TEXT_GUARD, stripGuards } from "./special-text.js";
import type { DecodeOptions, EncodeOptions, StreamDecoder, Tokenizer } from "./tokenizer.js";

/** A token matched verbatim in the input before any normalization (HF added_tokens, GGUF control and
 *  user-defined tokens). Special ones are matched only with parseSpecial. */
export interface AddedToken {
  id: number;
  content: string;
  special: boolean;
  /** Swallow whitespace on the left / right of the match. */
  lstrip?: boolean;
  rstrip?: boolean;
  /** Match only where the token is not inside a word. */
  singleWord?: boolean;
}

export interface TokenizerParts {
  kind: Tokenizer["kind"];
  /** id → vocabulary string; holes (undefined) are allowed. */
  tokens: readonly (string | undefined)[];
  tokenToId: ReadonlyMap<string, number>;
  /** special[id] = 1 for control tokens: skipped by skipSpecialTokens, no bytes in tokenBytes. */
  special: Uint8Array;
  added: readonly AddedToken[];
  normalize: Normalizer | null;
  preTokenize: PreTokenizer;
  /** The pre-tokenizer's `isFirst` is also true right after an added token (llama.cpp's SentencePiece rule). */
  firstAfterAddedToken?: boolean;
  model: WordModel;
  /** The tokenizer's own BOS/EOS rule (added when addSpecialTokens is not false). */
  prefixIds: readonly number[];
  suffixIds: readonly number[];
  /** Bytes a non-special token contributes to decoded text. */
  decodeToken: (id: number) => Uint8Array;
  /** Drop one leading space from decoded text (SentencePiece's prefix space, WordPiece's word joiner). */
  stripLeadingSpace: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
  padTokenId: number | null;
  stopTokenIds: readonly number[];
}

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

export class PipelineTokenizer implements Tokenizer {
  readonly kind: Tokenizer["kind"];
  readonly vocabSize: number;
  readonly bosTokenId: number | null;
  readonly eosTokenId: number | null;
  readonly padTokenId: number | null;
  readonly stopTokenIds: readonly number[];
  private readonly bytesCache: (Uint8Array | undefined)[];
  private readonly matchAll: AddedTokenMatcher | null;
  private readonly matchNonSpecial: AddedTokenMatcher | null;
  /** matchAll that skips a token right after a guard (protected text). */
  private readonly matchProtected: AddedTokenMatcher | null;
  /** Every special added token's text, for protectSpecialText. */
  private readonly specialTexts: RegExp | null;

  constructor(readonly parts: TokenizerParts) {
    this.kind = parts.kind;
    this.vocabSize = parts.tokens.length;
    this.bosTokenId = parts.bosTokenId;
    this.eosTokenId = parts.eosTokenId;
    this.padTokenId = parts.padTokenId;
    this.stopTokenIds = parts.stopTokenIds;
    this.bytesCache = new Array(parts.tokens.length);
    this.matchAll = AddedTokenMatcher.build(parts.added);
    this.matchNonSpecial = AddedTokenMatcher.build(parts.added.filter((t) => !t.special));
    this.matchProtected = AddedTokenMatcher.build(parts.added, true);
    const specials = [...new Set(parts.added.filter((t) => t.special && t.content.length > 0).map((t) => t.content))];
    this.specialTexts = specials.length === 0 ? null
      : new RegExp(specials.sort((a, b) => b.length - a.length).map(escapeRegex).join("|"), "gu");
  }

  protectSpecialText(text: string): string {
    return guardSpecialText(text, this.specialTexts);
  }

  encode(text: string, options: EncodeOptions = {}): number[] {
    const { parts } = this;
    const ids: number[] = [];
    if (options.addSpecialTokens !== false) for (const id of parts.prefixIds) ids.push(id);
    const guarded = !!options.protectedText;
    const matcher = options.parseSpecial ? (guarded ? this.matchProtected : this.matchAll) : this.matchNonSpecial;
    if (matcher === null) {
      this.encodeText(guarded ? stripGuards(text) : text, true, ids);
    } else {
      let pos = 0;
      let afterToken = false;
      const plain = (piece: string) => (guarded ? stripGuards(piece) : piece);
      for (const m of matcher.find(text)) {
        if (m.start > pos) this.encodeText(plain(text.slice(pos, m.start)), pos === 0 || (afterToken && !!parts.firstAfterAddedToken), ids);
        ids.push(m.id);
        pos = m.end;
        afterToken = true;
      }
      if (pos < text.length) this.encodeText(plain(text.slice(pos)), pos === 0 || (afterToken && !!parts.firstAfterAddedToken), ids);
    }
    if (options.addSpecialTokens !== false) for (const id of parts.suffixIds) ids.push(id);
    return ids;
  }

  private encodeText(text: string, isFirst: boolean, out: number[]): void {
    const { parts } = this;
    const normalized = parts.normalize ? parts.normalize(text) : text;
    if (normalized.length === 0) return;
    const model = parts.model;
    parts.preTokenize(normalized, isFirst, (piece) => model.encodeWord(piece, out));
  }

  decode(ids: readonly number[], options: DecodeOptions = {}): string {
    const chunks: Uint8Array[] = [];
    for (const id of ids) chunks.push(this.textBytes(id, !!options.skipSpecialTokens));
    let bytes = concatBytes(chunks);
    if (this.parts.stripLeadingSpace && bytes[0] === 0x20) bytes = bytes.subarray(1);
    return new TextDecoder("utf-8", { ignoreBOM: true }).decode(bytes);
  }

  createStreamDecoder(options: DecodeOptions = {}): StreamDecoder {
    const decoder = new TextDecoder("utf-8", { ignoreBOM: true });
    const skip = !!options.skipSpecialTokens;
    let started = false;
    return {
      push: (id: number): string => {
        let bytes = this.textBytes(id, skip);
        if (!started && bytes.length > 0) {
          started = true;
          if (this.parts.stripLeadingSpace && bytes[0] === 0x20) bytes = bytes.subarray(1);
        }
        return decoder.decode(bytes, { stream: true });
      },
      // Only an incomplete trailing character is held back, so decode() yields "" or one U+FFFD.
      flush: (options: { dropIncomplete?: boolean } = {}): string => {
        const rest = decoder.decode();
        return options.dropIncomplete ? "" : rest;
      },
    };
  }

  /** Bytes of one id in decoded text: special tokens show their text unless skipped. */
  private textBytes(id: number, skipSpecial: boolean): Uint8Array {
    this.checkId(id);
    if (this.parts.special[id] === 1) return skipSpecial ? EMPTY : encoder.encode(this.parts.tokens[id] ?? "");
    return this.tokenBytes(id);
  }

  private checkId(id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
      throw new RangeError(`decode: token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
    }
  }

  idToToken(id: number): string | undefined {
    return this.parts.tokens[id];
  }

  tokenToId(token: string): number | undefined {
    return this.parts.tokenToId.get(token);
  }

  tokenBytes(id: number): Uint8Array {
    this.checkId(id);
    if (this.parts.special[id] === 1 || this.parts.tokens[id] === undefined) return EMPTY;
    let b = this.bytesCache[id];
    if (b === undefined) {
      b = this.parts.decodeToken(id);
      this.bytesCache[id] = b;
    }
    return b;
  }

  isSpecial(id: number): boolean {
    return this.parts.special[id] === 1;
  }
}

interface AddedMatch {
  start: number;
  end: number;
  id: number;
}

/** Finds added tokens in text, leftmost-longest, honouring lstrip/rstrip/single_word. */
class AddedTokenMatcher {
  private constructor(private readonly re: RegExp, private readonly byContent: Map<string, AddedToken>) {}

  /** With skipGuarded, a token right after SPECIAL_TEXT_GUARD is not matched (protected content). */
  static build(tokens: readonly AddedToken[], skipGuarded = false): AddedTokenMatcher | null {
    const usable = tokens.filter((t) => t.content.length > 0);
    if (usable.length === 0) return null;
    const byContent = new Map<string, AddedToken>();
    for (const t of usable) if (!byContent.has(t.content)) byContent.set(t.content, t);
    const alternatives = [...byContent.keys()].sort((a, b) => b.length - a.length).map(escapeRegex);
    const source = alternatives.join("|");
    const guard = escapeRegex(SPECIAL_TEXT_GUARD);
    return new AddedTokenMatcher(new RegExp(skipGuarded ? `(?<!${guard})(?:${source})` : source, "gu"), byContent);
  }

  *find(text: string): Generator<AddedMatch> {
    const re = this.re;
    re.lastIndex = 0;
    let floor = 0; // text before this belongs to an earlier match
    let m: RegExpExecArray | null;
    while ((m = re.exec(text)) !== null) {
      const tok = this.byContent.get(m[0])!;
      let start = m.index;
      let end = start + m[0].length;
      if (tok.singleWord && (isWordChar(text, start - 1) || isWordChar(text, end))) {
        re.lastIndex = start + 1;
        continue;
      }
      if (tok.lstrip) while (start > floor && /\s/u.test(text[start - 1])) start--;
      if (tok.rstrip) while (end < text.length && /\s/u.test(text[end])) end++;
      re.lastIndex = end;
      floor = end;
      yield { start, end, id: tok.id };
    }
  }
}

function isWordChar(text: string, i: number): boolean {
  return i >= 0 && i < text.length && /[\p{L}\p{N}_]/u.test(text[i]);
}

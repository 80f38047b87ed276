// Tokenising client text with work bounded by the context length, so that one big request cannot stall the event
// loop (and /health, and every other stream) for seconds. First a free check: a token covers at most
// maxTokenBytes bytes, so a text of more than context × maxTokenBytes × 4 bytes (the 4 leaves room for normalizers
// that shrink text) cannot fit and is refused untokenised. Then long texts are counted slice by slice (cut at line
// or word ends) and refused as soon as the count is clearly over the context; only a text that fits is encoded
// whole, so the encoding is exactly the tokenizer's. Either way the work is proportional to the context, not to
// the body (a 10 MB body costs the same as a context-sized one).
// Leaves out: yielding inside one encode (a context-sized encode is milliseconds to tens of milliseconds).
import type { EncodeOptions, Tokenizer } from "../tokenizers/tokenizer.js";

/** Characters per counting slice. */
const SLICE_CHARS = 16_384;
/** Slack per slice boundary: cutting a word can change its token count by a little. */
const BOUNDARY_SLACK = 4;

export class BoundedEncoder {
  private longest = 0;

  constructor(private readonly tokenizer: Tokenizer, private readonly vocabSize: number) {}

  /** Bytes of the longest token (special tokens by their text), computed once. */
  get maxTokenBytes(): number {
    if (this.longest === 0) {
      let longest = 1;
      const encoder = new TextEncoder();
      for (let id = 0; id < Math.min(this.vocabSize, this.tokenizer.vocabSize); id++) {
        const n = this.tokenizer.isSpecial(id) ? encoder.encode(this.tokenizer.idToToken(id) ?? "").length : this.tokenizer.tokenBytes(id).length;
        if (n > longest) longest = n;
      }
      this.longest = longest;
    }
    return this.longest;
  }

  /** False when text of this many UTF-16 characters (each at least one byte) cannot fit in `limit` tokens. */
  mayFit(chars: number, limit: number): boolean {
    return chars <= limit * this.maxTokenBytes * 4;
  }

  /** The ids of text, or null when it certainly has more than `limit` tokens. */
  encode(text: string, options: EncodeOptions, limit: number): number[] | null {
    // UTF-16 length ≤ UTF-8 bytes ≤ 3 × UTF-16 length: a check on the length first, bytes only when needed.
    const ceiling = limit * this.maxTokenBytes * 4;
    if (text.length > ceiling || (text.length * 3 > ceiling && Buffer.byteLength(text, "utf8") > ceiling)) return null;
    if (text.length > SLICE_CHARS) {
      let count = 0;
      let slices = 0;
      for (let start = 0; start < text.length;) {
        const end = sliceEnd(text, start);
        count += this.tokenizer.encode(text.slice(start, end), { ...options, addSpecialTokens: false }).length;
        slices++;
        if (count - BOUNDARY_SLACK * slices > limit) return null;
        start = end;
      }
    }
    return this.tokenizer.encode(text, options);
  }
}

/** Where the slice from `start` ends: after the last newline (else space) in the window, else at the window's end
 *  (never between the halves of a surrogate pair). */
function sliceEnd(text: string, start: number): number {
  const end = start + SLICE_CHARS;
  if (end >= text.length) return text.length;
  const newline = text.lastIndexOf("\n", end - 1);
  if (newline > start + SLICE_CHARS / 2) return newline + 1;
  const space = text.lastIndexOf(" ", end - 1);
  if (space > start + SLICE_CHARS / 2) return space + 1;
  const code = text.charCodeAt(end - 1);
  return code >= 0xd800 && code <= 0xdbff ? end - 1 : end;
}

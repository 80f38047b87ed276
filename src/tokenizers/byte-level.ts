// Byte-level BPE's byte ↔ character table (GPT-2's bytes_to_unicode) and the UTF-8 helpers every tokenizer here
// shares. Byte-level vocabularies store each byte as one printable character (space → "Ġ", "\n" → "Ċ"), so a
// token string maps back to exact bytes.
// Leaves out: any text normalization (normalizers.ts) and decoding of invalid UTF-8 (TextDecoder does that).

/** GPT-2's table: printable Latin-1 bytes map to themselves, the other 68 bytes to U+0100 onwards. */
function buildByteToChar(): string[] {
  const out: string[] = new Array(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    out[b] = String.fromCharCode(printable ? b : next++);
  }
  return out;
}

/** BYTE_TO_CHAR[b] is the one-character string a byte-level vocabulary uses for byte b. */
export const BYTE_TO_CHAR: readonly string[] = buildByteToChar();

/** Char code (≤ 0x143) → byte, or -1 for a character that is not a byte-level character. */
export const CHAR_TO_BYTE: Int16Array = (() => {
  const t = new Int16Array(0x144).fill(-1);
  BYTE_TO_CHAR.forEach((c, b) => (t[c.charCodeAt(0)] = b));
  return t;
})();

/** The byte-level spelling of a string's UTF-8 bytes ("ä" → "Ã¤"). */
export function toByteLevel(text: string): string {
  const bytes = utf8Encode(text);
  let s = "";
  for (let i = 0; i < bytes.length; i++) s += BYTE_TO_CHAR[bytes[i]];
  return s;
}

/** Bytes of a byte-level token string; characters outside the table contribute their own UTF-8 (as HF does for
 *  added tokens that were never byte-mapped). */
export function fromByteLevel(token: string): Uint8Array {
  const out: number[] = [];
  for (const ch of token) {
    const code = ch.codePointAt(0)!;
    const b = code < CHAR_TO_BYTE.length ? CHAR_TO_BYTE[code] : -1;
    if (b >= 0) out.push(b);
    else for (const x of utf8Encode(ch)) out.push(x);
  }
  return Uint8Array.from(out);
}

const encoder = new TextEncoder();

export function utf8Encode(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Writes the UTF-8 bytes of text[start, end) into out (growing it as needed); returns the byte count. Lone
 *  surrogates become U+FFFD, as TextEncoder does. Used on the encode hot path, where a TextEncoder call per
 *  word costs more than this loop. */
export function utf8EncodeInto(text: string, out: Uint8Array, start = 0, end = text.length): number {
  let n = 0;
  for (let i = start; i < end; i++) {
    let c = text.charCodeAt(i);
    if (c < 0x80) {
      out[n++] = c;
    } else if (c < 0x800) {
      out[n++] = 0xc0 | (c >> 6);
      out[n++] = 0x80 | (c & 63);
    } else {
      if (c >= 0xd800 && c <= 0xdfff) {
        const lo = i + 1 < end ? text.charCodeAt(i + 1) : 0;
        if (c <= 0xdbff && lo >= 0xdc00 && lo <= 0xdfff) {
          c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
          i++;
          out[n++] = 0xf0 | (c >> 18);
          out[n++] = 0x80 | ((c >> 12) & 63);
          out[n++] = 0x80 | ((c >> 6) & 63);
          out[n++] = 0x80 | (c & 63);
          continue;
        }
        c = 0xfffd;
      }
      out[n++] = 0xe0 | (c >> 12);
      out[n++] = 0x80 | ((c >> 6) & 63);
      out[n++] = 0x80 | (c & 63);
    }
  }
  return n;
}

/** "<0xE4>" → 0xE4 (SentencePiece byte-fallback tokens), else -1. */
export function parseByteToken(token: string): number {
  if (token.length !== 6 || !token.startsWith("<0x") || token[5] !== ">") return -1;
  const v = parseInt(token.slice(3, 5), 16);
  return Number.isNaN(v) ? -1 : v;
}

export function byteTokenName(b: number): string {
  return `<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** Concatenates byte arrays. */
export function concatBytes(parts: readonly Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

// Text normalizers applied before pre-tokenization (Hugging Face's NFC/NFD/NFKC/NFKD, Lowercase, Strip,
// StripAccents, Replace, Prepend, BertNormalizer, Sequence) as plain string → string functions.
// Leaves out: alignment tracking (no offsets here) and SentencePiece's Precompiled charsmap, which the
// tokenizer.json loader approximates with NFKC.

export type Normalizer = (text: string) => string;

/** Characters NFC leaves alone whatever follows them: everything below U+0300 and the common CJK blocks. A
 *  string made only of them needs no normalize() call (the call dominates encode time on plain text). */
const NFC_STABLE = /^[\u0000-\u02ff\u3000-\u3029\u3030-\u3098\u309b-\u30ff\u4e00-\u9fff\uff00-\uffef]*$/;

export function unicodeNormalizer(form: "NFC" | "NFD" | "NFKC" | "NFKD"): Normalizer {
  if (form === "NFC") return (t) => (NFC_STABLE.test(t) ? t : t.normalize("NFC"));
  return (t) => t.normalize(form);
}

export const lowercaseNormalizer: Normalizer = (t) => t.toLowerCase();

export function stripNormalizer(left: boolean, right: boolean): Normalizer {
  return (t) => (left && right ? t.trim() : left ? t.trimStart() : right ? t.trimEnd() : t);
}

/** Drops combining marks (run after NFD/NFKD, as HF expects). */
export const stripAccentsNormalizer: Normalizer = (t) => t.replace(/\p{Mn}/gu, "");

export function replaceNormalizer(pattern: RegExp, content: string): Normalizer {
  return (t) => t.replace(pattern, () => content);
}

export function prependNormalizer(prefix: string): Normalizer {
  return (t) => (t.length === 0 ? t : prefix + t);
}

export function sequenceNormalizer(steps: readonly Normalizer[]): Normalizer {
  return (t) => {
    for (const s of steps) t = s(t);
    return t;
  };
}

/** CJK ideographs as BERT defines them (each becomes its own word). */
export function isChineseChar(cp: number): boolean {
  return (
    (cp >= 0x4e00 && cp <= 0x9fff) || (cp >= 0x3400 && cp <= 0x4dbf) || (cp >= 0x20000 && cp <= 0x2a6df) ||
    (cp >= 0x2a700 && cp <= 0x2b73f) || (cp >= 0x2b740 && cp <= 0x2b81f) || (cp >= 0x2b820 && cp <= 0x2ceaf) ||
    (cp >= 0xf900 && cp <= 0xfaff) || (cp >= 0x2f800 && cp <= 0x2fa1f)
  );
}

/** HF BertNormalizer: drop control characters and U+0000/U+FFFD, whitespace → " ", spaces around CJK
 *  ideographs, then lowercase and strip accents (strip_accents null follows lowercase). */
export function bertNormalizer(cleanText: boolean, handleChineseChars: boolean, stripAccents: boolean | null, lowercase: boolean): Normalizer {
  const strip = stripAccents ?? lowercase;
  return (text) => {
    let out = "";
    for (const ch of text) {
      const cp = ch.codePointAt(0)!;
      if (cleanText) {
        if (cp === 0 || cp === 0xfffd) continue;
        if (ch === "\t" || ch === "\n" || ch === "\r" || /^\s$/u.test(ch)) {
          out += " ";
          continue;
        }
        if (/^[\p{Cc}\p{Cf}]$/u.test(ch)) continue;
      }
      if (handleChineseChars && isChineseChar(cp)) out += ` ${ch} `;
      else out += ch;
    }
    if (strip) out = out.normalize("NFD").replace(/\p{Mn}/gu, "");
    if (lowercase) out = out.toLowerCase();
    return out;
  };
}

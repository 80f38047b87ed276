// Pre-tokenizers: how text is cut into words before the model merges inside each word. One function shape for
// all of them — (text, isFirst, emit) — so a Sequence nests emitters instead of building arrays per step.
// Covers Hugging Face's Split, ByteLevel (its regex and add_prefix_space; the byte mapping itself happens in the
// BPE model), Metaspace, Digits, Whitespace, WhitespaceSplit, Punctuation, BertPreTokenizer and Sequence, plus
// llama.cpp's per-`tokenizer.ggml.pre` regex lists (each regex re-splits the pieces of the one before).
// Leaves out: offsets (nothing here needs them), FixedLength, UnicodeScripts and CharDelimiterSplit.
import { compileTokenizerRegex, escapeRegex, splitByRegex, type SplitBehavior } from "./regex.js";

/** Cuts `text` into pieces; `isFirst` says the text starts the whole input (Metaspace's "first" scheme). */
export type PreTokenizer = (text: string, isFirst: boolean, emit: (piece: string) => void) => void;

export const identityPreTokenizer: PreTokenizer = (text, _isFirst, emit) => emit(text);

/** GPT-2's word regex (ByteLevel's use_regex). */
export const GPT2_REGEX = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+";
/** llama.cpp's spelling of GPT-2's regex (no final `\s+`; the gaps it leaves are pieces anyway). */
const GPT2_REGEX_LLAMACPP = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)";
/** Llama 3's regex (tokenizer.json spelling). */
export const LLAMA3_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** Qwen2's regex: Llama 3's with single digits. */
export const QWEN2_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";
/** CJK ideographs, kana and hangul (BMP), as class contents — the part of \p{L} Zhiyu's regex keeps apart. */
export const CJK_CLASS = "\\u3040-\\u30ff\\u3400-\\u4dbf\\u4e00-\\u9fff\\uac00-\\ud7af\\uf900-\\ufaff";
/** Zhiyu's own regex for trained tokenizers: Llama 3's, except that a run of CJK characters is a word of its
 *  own (no leading space or punctuation, never glued to Latin letters), so merges learn Chinese words. */
export const ZHIYU_REGEX =
  "(?i:'s|'t|'re|'ve|'m|'ll|'d)" +
  `|[${CJK_CLASS}]+` +
  `|[^\\r\\n\\p{L}\\p{N}]?(?:(?![${CJK_CLASS}])\\p{L})+` +
  "|\\p{N}{1,3}| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+";

/** Split by a regex (or a literal string) with one of HF's behaviours. (V8's compiled regexes are fast
 *  enough here: the word regex is ~15% of encode time once the word cache is warm.) */
export function splitPreTokenizer(pattern: { regex: string } | { literal: string }, behavior: SplitBehavior, invert: boolean, field: string): PreTokenizer {
  const re = "regex" in pattern ? compileTokenizerRegex(pattern.regex, field) : new RegExp(escapeRegex(pattern.literal), "gu");
  return (text, _isFirst, emit) => splitByRegex(text, re, behavior, invert, emit);
}

/** llama.cpp's way: every regex in turn re-splits each piece (matches and the gaps between them kept). */
export function regexListPreTokenizer(regexes: readonly string[], field: string): PreTokenizer {
  return sequencePreTokenizer(regexes.map((r, i) => splitPreTokenizer({ regex: r }, "Isolated", false, `${field}[${i}]`)));
}

export function sequencePreTokenizer(steps: readonly PreTokenizer[]): PreTokenizer {
  if (steps.length === 0) return identityPreTokenizer;
  if (steps.length === 1) return steps[0];
  const [first, ...rest] = steps;
  const tail = sequencePreTokenizer(rest);
  return (text, isFirst, emit) => {
    let index = 0;
    first(text, isFirst, (piece) => tail(piece, isFirst && index++ === 0, emit));
  };
}

/** HF ByteLevel pre-tokenizer: optional leading space on every piece, optional GPT-2 regex. (The bytes →
 *  characters step is the BPE model's job here.) */
export function byteLevelPreTokenizer(addPrefixSpace: boolean, useRegex: boolean): PreTokenizer {
  const split = useRegex ? splitPreTokenizer({ regex: GPT2_REGEX }, "Isolated", false, "ByteLevel") : identityPreTokenizer;
  if (!addPrefixSpace) return split;
  return (text, isFirst, emit) => split(text.startsWith(" ") ? text : " " + text, isFirst, emit);
}

/** HF Metaspace: spaces become `replacement`, a replacement is prepended (always, or only at the start of the
 *  input for "first"), and with `split` every replacement starts a new piece. */
export function metaspacePreTokenizer(replacement: string, prependScheme: "always" | "first" | "never", split: boolean): PreTokenizer {
  const spaces = / /g;
  return (text, isFirst, emit) => {
    let s = text.replace(spaces, replacement);
    if ((prependScheme === "always" || (prependScheme === "first" && isFirst)) && !s.startsWith(replacement)) s = replacement + s;
    if (!split) {
      emit(s);
      return;
    }
    let start = 0;
    for (let i = s.indexOf(replacement, 1); i >= 0; i = s.indexOf(replacement, i + replacement.length)) {
      if (i > start) emit(s.slice(start, i));
      start = i;
    }
    if (start < s.length) emit(s.slice(start));
  };
}

export function digitsPreTokenizer(individualDigits: boolean): PreTokenizer {
  const re = individualDigits ? /\p{N}/gu : /\p{N}+/gu;
  return (text, _isFirst, emit) => splitByRegex(text, re, "Isolated", false, emit);
}

/** HF Whitespace: `\w+|[^\w\s]+` runs, whitespace dropped. */
export const whitespacePreTokenizer: PreTokenizer = (text, _isFirst, emit) => {
  const re = /[\p{L}\p{N}\p{M}\p{Pc}]+|[^\p{L}\p{N}\p{M}\p{Pc}\s]+/gu;
  for (const m of text.matchAll(re)) emit(m[0]);
};

export const whitespaceSplitPreTokenizer: PreTokenizer = (text, _isFirst, emit) => {
  for (const w of text.split(/\s+/u)) if (w) emit(w);
};

/** HF's is_punctuation: ASCII punctuation and symbols, or any Unicode P* character. */
export const PUNCT_REGEX_SOURCE = "[\\p{P}!-\\/:-@\\[-`{-~]";

export function punctuationPreTokenizer(behavior: SplitBehavior): PreTokenizer {
  const re = new RegExp(PUNCT_REGEX_SOURCE, "gu");
  return (text, _isFirst, emit) => splitByRegex(text, re, behavior, false, emit);
}

/** BERT: split on whitespace (dropped) and isolate each punctuation character. */
export const bertPreTokenizer: PreTokenizer = (text, isFirst, emit) => {
  const punct = punctuationPreTokenizer("Isolated");
  whitespaceSplitPreTokenizer(text, isFirst, (w) => punct(w, isFirst, emit));
};

/** llama.cpp's regex lists by `tokenizer.ggml.pre` (for `tokenizer.ggml.model` = gpt2), in its order. */
export const GGUF_PRE_REGEXES: Readonly<Record<string, readonly string[]>> = {
  "default": ["[\\p{P}\\$\\+<=>\\^~\\|]+", GPT2_REGEX_LLAMACPP, "\\p{N}+", "[0-9][0-9][0-9]"],
  "llama-bpe": [LLAMA3_REGEX],
  // Zhiyu's own trained vocabularies (zhiyu-mini): written by `zhiyu convert`; llama.cpp does not know this name.
  "zhiyu": [ZHIYU_REGEX],
  "qwen2": [QWEN2_REGEX],
  "deepseek-r1-qwen": [QWEN2_REGEX],
  "gpt-2": [GPT2_REGEX_LLAMACPP],
  "mpt": [GPT2_REGEX_LLAMACPP],
  "starcoder": ["\\p{N}", GPT2_REGEX_LLAMACPP],
  "refact": ["\\p{N}", GPT2_REGEX_LLAMACPP],
  "command-r": ["\\p{N}", GPT2_REGEX_LLAMACPP],
  "falcon": ["[\\p{P}\\$\\+<=>\\^~\\|`]+", GPT2_REGEX_LLAMACPP, "[0-9][0-9][0-9]"],
  "deepseek-coder": ["[\\r\\n]", "\\s?\\p{L}+", "\\s?\\p{P}+", "[\\u4e00-\\u9fa5\\u0800-\\u4e00\\uac00-\\ud7ff]+", "\\p{N}"],
  "deepseek-llm": [
    "[\\r\\n]",
    "\\s?[A-Za-z\\u00b5\\u00c0-\\u00d6\\u00d8-\\u00f6\\u00f8-\\u01ba\\u01bc-\\u01bf\\u01c4-\\u0293\\u0295-\\u02af\\u0370-\\u0373\\u0376\\u0377\\u037b-\\u037d\\u037f\\u0386\\u0388-\\u038a\\u038c\\u038e-\\u03a1\\u03a3-\\u03f5\\u03f7-\\u0481\\u048a-\\u052f\\u0531-\\u0556\\u10a0-\\u10c5\\u13a0-\\u13f5\\u13f8-\\u13fd\\u1c90-\\u1cba\\u1cbd-\\u1cbf\\u1d00-\\u1d2b\\u1d6b-\\u1d77\\u1d79-\\u1d9a\\u1e00-\\u1f15\\u1f18-\\u1f1d\\u1f20-\\u1f45\\u1f48-\\u1f4d\\u1f50-\\u1f57\\u1f59\\u1f5b\\u1f5d\\u1f5f-\\u1f7d\\u1f80-\\u1fb4\\u1fb6-\\u1fbc\\u03b9\\u1fc2-\\u1fc4\\u1fc6-\\u1fcc\\u1fd0-\\u1fd3\\u1fd6-\\u1fdb\\u1fe0-\\u1fec\\u1ff2-\\u1ff4\\u1ff6-\\u1ffc\\u2102\\u2107\\u210a-\\u2113\\u2115\\u2119-\\u211d\\u2124\\u2126\\u2128\\u212a-\\u212d\\u212f-\\u2134\\u2139\\u213c-\\u213f\\u2145-\\u2149\\u214e\\u2183\\u2184\\u2c00-\\u2c7b\\u2c7e-\\u2ce4\\u2ceb-\\u2cee\\u2cf2\\u2cf3\\ua640-\\ua66d\\ua680-\\ua69b\\ua722-\\ua76f\\ua771-\\ua787\\ua78b-\\ua78e\\uab70-\\uabbf\\ufb00-\\ufb06\\ufb13-\\ufb17\\uff21-\\uff3a\\uff41-\\uff5a\\u{10400}-\\u{1044f}\\u{104b0}-\\u{104d3}\\u{104d8}-\\u{104fb}\\u{10c80}-\\u{10cb2}\\u{10cc0}-\\u{10cf2}\\u{118a0}-\\u{118df}\\u{1e900}-\\u{1e943}]+",
    "\\s?[!-/:-~！-／：-～‘-‟　-。]+",
    "\\s+$",
    "[一-龥ࠀ-一가-퟿]+",
    "\\p{N}+",
  ],
};

// A BERT `vocab.txt` (one WordPiece token per line, the line number is the id) plus the options from
// tokenizer_config.json (do_lower_case, strip_accents, tokenize_chinese_chars, the special tokens) → the same
// tokenizer transformers' BertTokenizerFast builds from them: BertNormalizer, BertPreTokenizer, WordPiece with
// "##" continuations, "[CLS] … [SEP]" around a sequence, and the special tokens matched verbatim in text.
// It is built as the tokenizer.json that BertTokenizerFast would save, so hf-json.ts stays the one place that
// turns such a description into a Tokenizer.
// Leaves out: the slow BertTokenizer's never_split list and its basic-tokenizer-only mode (do_basic_tokenize false).
import { TokenizerFormatError, tokenizerFromHfJson } from "./hf-json.js";
import type { PipelineTokenizer } from "./pipeline.js";

/** Builds the tokenizer from vocab.txt's text and tokenizer_config.json's parsed content (or undefined). */
export function tokenizerFromVocabTxt(text: string, config: unknown, source = "vocab.txt"): PipelineTokenizer {
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop(); // the final newline
  if (lines.length === 0) throw new TokenizerFormatError(`${source}: the vocabulary is empty`);
  if (lines.length > 1 << 24) throw new TokenizerFormatError(`${source}: ${lines.length} lines is more than a vocabulary holds (2^24)`);
  const vocab: Record<string, number> = {};
  lines.forEach((tok, id) => {
    if (!Object.hasOwn(vocab, tok)) vocab[tok] = id; // a repeated line keeps its first id, as transformers does
  });
  const cfg = (typeof config === "object" && config !== null ? config : {}) as Record<string, unknown>;
  const str = (key: string, fallback: string): string => {
    const v = cfg[key];
    if (typeof v === "string") return v;
    if (typeof v === "object" && v !== null && typeof (v as { content?: unknown }).content === "string") return (v as { content: string }).content;
    return fallback;
  };
  const bool = (key: string, fallback: boolean | null): boolean | null => (typeof cfg[key] === "boolean" ? cfg[key] as boolean : fallback);
  const specials = { unk: str("unk_token", "[UNK]"), sep: str("sep_token", "[SEP]"), pad: str("pad_token", "[PAD]"),
    cls: str("cls_token", "[CLS]"), mask: str("mask_token", "[MASK]") };
  for (const key of ["unk", "sep", "cls"] as const) {
    if (!Object.hasOwn(vocab, specials[key])) {
      throw new TokenizerFormatError(`${source}: the ${key} token ${JSON.stringify(specials[key])} is not in the vocabulary ` +
        `(set ${key}_token in tokenizer_config.json to the vocabulary's spelling)`);
    }
  }
  const json = vocabTxtTokenizerJson(vocab, specials, { lowercase: bool("do_lower_case", true), stripAccents: bool("strip_accents", null),
    chineseChars: bool("tokenize_chinese_chars", true) });
  return tokenizerFromHfJson(json, { config: { ...cfg, ...(Object.hasOwn(vocab, specials.pad) ? { pad_token: specials.pad } : {}) }, source: source.replace(/vocab\.txt$/, "tokenizer.json") });
}

/** The tokenizer.json BertTokenizerFast saves for a WordPiece vocabulary and its special tokens. */
export function vocabTxtTokenizerJson(vocab: Record<string, number>, specials: { unk: string; sep: string; pad: string; cls: string; mask: string },
  o: { lowercase: boolean | null; stripAccents: boolean | null; chineseChars: boolean | null }): Record<string, unknown> {
  const added = Object.values(specials).filter((t) => Object.hasOwn(vocab, t)).map((t) => ({
    id: vocab[t], content: t, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  })).sort((a, b) => a.id - b.id);
  return {
    version: "1.0",
    added_tokens: added,
    normalizer: {
      type: "BertNormalizer", clean_text: true, handle_chinese_chars: o.chineseChars,
      strip_accents: o.stripAccents, lowercase: o.lowercase,
    },
    pre_tokenizer: { type: "BertPreTokenizer" },
    post_processor: {
      type: "TemplateProcessing",
      single: [{ SpecialToken: { id: specials.cls, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: specials.sep, type_id: 0 } }],
      // Python tokenizers refuses a TemplateProcessing without `pair` ("data did not match any variant …").
      pair: [{ SpecialToken: { id: specials.cls, type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: specials.sep, type_id: 0 } },
        { Sequence: { id: "B", type_id: 1 } }, { SpecialToken: { id: specials.sep, type_id: 1 } }],
      special_tokens: {
        [specials.cls]: { id: specials.cls, ids: [vocab[specials.cls]], tokens: [specials.cls] },
        [specials.sep]: { id: specials.sep, ids: [vocab[specials.sep]], tokens: [specials.sep] },
      },
    },
    decoder: { type: "WordPiece", prefix: "##", cleanup: true },
    model: { type: "WordPiece", unk_token: specials.unk, continuing_subword_prefix: "##", max_input_chars_per_word: 100, vocab },
  };
}

// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json + config.json) → the `tokenizer.ggml.*` GGUF
// metadata that llama.cpp's convert_hf_to_gguf.py writes for it, so a converted GGUF carries its own vocabulary:
// - byte-level BPE → model "gpt2": tokens in id order (a hole becomes "[PAD<id>]", user-defined), token_type
//   (1 normal, 3 control for special added tokens, 4 user-defined for other added tokens), merges as "a b", and
//   `pre` named by the pre-tokenizer's regex (ByteLevel's own regex → "gpt-2"; a Split regex → the llama.cpp name
//   with that regex list in pretokenizers.ts GGUF_PRE_REGEXES, e.g. "qwen2", "llama-bpe", or "zhiyu").
// - SentencePiece → model "llama" (pre "default"): from tokenizer.model as _create_vocab_sentencepiece reads it
//   (pieces, float32 scores, types: unknown 2, control 3, unused 5, byte 6, else normal 1; ids up to config.json
//   vocab_size padded "[PAD<id>]" / -10000 / unused; added_tokens.json and tokenizer_config.json's
//   added_tokens_decoder on top with score -1000, control when special or special-looking, else user-defined
//   with "▁" written as a space). Without tokenizer.model, from a tokenizer.json BPE with byte_fallback (what
//   transformers makes of a SentencePiece BPE model): the same tokens and types, and scores from the merge ranks
//   (a merged token scores -(rank+1), bytes 0, other tokens below every merge), so merging by score — how llama.cpp
//   and src/tokenizers/spm.ts run a `llama` vocabulary — merges in the tokenizer.json's order. (llama.cpp's
//   LlamaHfVocab writes -1000 for every token there, which loses the merge order.) add_space_prefix false when the
//   model adds no dummy "▁" (tokenizer_config.json add_prefix_space, tokenizer.model's normalizer, or a
//   tokenizer.json without a Prepend/Metaspace prefix), as llama.cpp's Gemma converters write it.
// - SentencePiece Unigram tokenizer.json → model "t5" (llama.cpp's layout of spiece.model: pieces, scores, token
//   types, whitespace flags).
// - special ids and add_bos/add_eos/add_sep as gguf-py's SpecialVocab finds them (special-vocab.ts); the chat
//   template when there is one.
// Inputs are parsed JSON and the tokenizer.model bytes (the caller reads the files); nothing here touches the file
// system. WordPiece (BERT) vocabularies are written by src/infer/encoder-export.ts.
// Leaves out: WordPiece in a decoder folder and other model types — an UnsupportedTokenizerExport error names the
// kind, and the caller writes the file without a vocabulary.
import type { GgufValue, GgufValueType } from "../io/gguf.js";
import { GGUF_PRE_REGEXES } from "./pretokenizers.js";
import { PIECE_BYTE, PIECE_CONTROL, PIECE_UNKNOWN, PIECE_UNUSED, readSentencePieceModel } from "./sentencepiece-model.js";
import { ggufSpecialVocab } from "./special-vocab.js";

export type GgufMetadataEntries = Array<readonly [string, GgufValue, GgufValueType?]>;
type Json = Record<string, unknown>;

export class UnsupportedTokenizerExport extends Error {
  override name = "UnsupportedTokenizerExport";
}

export interface HfTokenizerFiles {
  tokenizerJson: unknown;
  tokenizerConfig?: unknown;
  /** The model's config.json (vocab_size, *_token_id). */
  modelConfig?: unknown;
  chatTemplate?: string | null;
  /** The folder's tokenizer.model (a SentencePiece model), if it has one. */
  sentencePieceModel?: Uint8Array;
  /** The folder's added_tokens.json, if it has one. */
  addedTokens?: unknown;
}

const TOKEN_NORMAL = 1;
const TOKEN_CONTROL = 3;
const TOKEN_USER_DEFINED = 4;

const asObject = (v: unknown): Json => (typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Json) : {});

/** The GGUF `pre` name for a byte-level tokenizer's pre-tokenizer. */
function preName(pre: Json): string {
  const steps = pre.type === "Sequence" && Array.isArray(pre.pretokenizers) ? (pre.pretokenizers as unknown[]).map(asObject) : [pre];
  const regexes: string[] = [];
  for (const step of steps) {
    if (step.type === "ByteLevel") {
      if (step.use_regex !== false) regexes.push("gpt-2 builtin");
    } else if (step.type === "Split") {
      const pattern = asObject(step.pattern);
      if (typeof pattern.Regex !== "string") throw new UnsupportedTokenizerExport("a Split pre-tokenizer on a literal string");
      regexes.push(pattern.Regex);
    } else {
      throw new UnsupportedTokenizerExport(`pre-tokenizer ${JSON.stringify(step.type)}`);
    }
  }
  if (regexes.length === 1 && regexes[0] === "gpt-2 builtin") return "gpt-2";
  for (const [name, list] of Object.entries(GGUF_PRE_REGEXES)) {
    if (list.length === regexes.length && list.every((r, i) => r === regexes[i])) return name;
  }
  throw new UnsupportedTokenizerExport(`a pre-tokenizer regex llama.cpp has no name for (${regexes.join(" | ").slice(0, 80)}…)`);
}

/** tokenizer.ggml.* entries for the tokenizer; throws UnsupportedTokenizerExport for kinds it cannot write. */
export function ggufTokenizerMetadata(files: HfTokenizerFiles): GgufMetadataEntries {
  const tj = asObject(files.tokenizerJson);
  const model = asObject(tj.model);
  const decoder = asObject(tj.decoder);
  const byteLevel = decoder.type === "ByteLevel" || asObject(tj.pre_tokenizer).type === "ByteLevel" ||
    (Array.isArray(asObject(tj.pre_tokenizer).pretokenizers) &&
      (asObject(tj.pre_tokenizer).pretokenizers as unknown[]).some((p) => asObject(p).type === "ByteLevel"));
  if (files.tokenizerJson !== undefined && model.type === "BPE" && byteLevel && model.byte_fallback !== true) return byteLevelBpe(files);
  if (model.type === "Unigram") return unigramMetadata(files);
  if (files.sentencePieceModel) return sentencePieceFromModel(files, files.sentencePieceModel);
  if (model.type === "BPE" && model.byte_fallback === true) return sentencePieceFromJson(files);
  if (files.tokenizerJson === undefined) throw new UnsupportedTokenizerExport("a folder without tokenizer.json or tokenizer.model");
  throw new UnsupportedTokenizerExport(`a ${String(model.type ?? "unknown")} vocabulary that is neither byte-level BPE nor SentencePiece`);
}

/** The size of the vocabulary: config.json's vocab_size (the embedding's rows), at least `atLeast`. */
function vocabSizeOf(files: HfTokenizerFiles, atLeast: number): number {
  const c = asObject(files.modelConfig);
  const v = c.vocab_size_per_layer_input ?? c.vocab_size ?? asObject(c.text_config).vocab_size;
  return typeof v === "number" && Number.isInteger(v) && v > 0 ? Math.max(v, atLeast) : atLeast;
}

function byteLevelBpe(files: HfTokenizerFiles): GgufMetadataEntries {
  const tj = asObject(files.tokenizerJson);
  const model = asObject(tj.model);
  const pre = preName(asObject(tj.pre_tokenizer));
  const vocab = asObject(model.vocab);
  const added = Array.isArray(tj.added_tokens) ? (tj.added_tokens as unknown[]).map(asObject) : [];
  const byId = new Map<number, { text: string; type: number }>();
  for (const [text, id] of Object.entries(vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) throw new UnsupportedTokenizerExport(`vocab entry ${JSON.stringify(text)} has id ${String(id)}`);
    byId.set(id, { text, type: TOKEN_NORMAL });
  }
  for (const a of added) {
    if (typeof a.id !== "number" || typeof a.content !== "string") continue;
    byId.set(a.id, { text: a.content, type: a.special === true ? TOKEN_CONTROL : TOKEN_USER_DEFINED });
  }
  const size = vocabSizeOf(files, Math.max(-1, ...byId.keys()) + 1);
  const tokens: string[] = [];
  const types: number[] = [];
  for (let id = 0; id < size; id++) {
    const t = byId.get(id);
    tokens.push(t ? t.text : `[PAD${id}]`);
    types.push(t ? t.type : TOKEN_USER_DEFINED);
  }
  const merges = (Array.isArray(model.merges) ? model.merges : []).map((m, i) => {
    if (typeof m === "string") return m;
    if (Array.isArray(m) && m.length === 2 && m.every((x) => typeof x === "string")) return `${m[0]} ${m[1]}`;
    throw new UnsupportedTokenizerExport(`merge ${i} is neither "a b" nor ["a", "b"]`);
  });
  return [
    ["tokenizer.ggml.model", "gpt2"],
    ["tokenizer.ggml.pre", pre],
    ["tokenizer.ggml.tokens", tokens],
    ["tokenizer.ggml.token_type", types, "array:i32"],
    ["tokenizer.ggml.merges", merges],
    ...ggufSpecialVocab(files, size),
  ];
}

/** A SentencePiece vocabulary being built: token, score and type per id. */
interface SpmVocab {
  tokens: string[];
  scores: number[];
  types: number[];
}

/** Ids past the model's pieces up to vocab_size, as _create_vocab_sentencepiece fills them. */
function emptySpmVocab(size: number): SpmVocab {
  return { tokens: Array.from({ length: size }, (_, i) => `[PAD${i}]`), scores: new Array<number>(size).fill(-10000),
    types: new Array<number>(size).fill(PIECE_UNUSED) };
}

/** llama.cpp's does_token_look_special: added tokens some models leave unmarked that are control tokens. */
function looksSpecial(t: string): boolean {
  return ["<pad>", "<mask>", "<2mass>", "[@BOS@]"].includes(t) || (t.startsWith("<|") && t.endsWith("|>")) ||
    (t.startsWith("<\uff5c") && t.endsWith("\uff5c>")) || (t.startsWith("<unused") && t.endsWith(">"));
}

/** added_tokens.json, then tokenizer_config.json's added_tokens_decoder, over the vocabulary (score -1000). */
function addTokensOnTop(v: SpmVocab, files: HfTokenizerFiles): void {
  const size = v.tokens.length;
  for (const [text, id] of Object.entries(asObject(files.addedTokens))) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0 || id >= size) continue;
    v.tokens[id] = text;
    v.scores[id] = -1000;
    v.types[id] = TOKEN_USER_DEFINED;
  }
  for (const [key, entry] of Object.entries(asObject(asObject(files.tokenizerConfig).added_tokens_decoder))) {
    const id = Number(key);
    const content = asObject(entry).content;
    if (!Number.isInteger(id) || id < 0 || id >= size || typeof content !== "string") continue;
    const control = asObject(entry).special === true || looksSpecial(content);
    v.tokens[id] = control ? content : content.replaceAll("\u2581", " ");
    v.types[id] = control ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
    v.scores[id] = -1000;
  }
}

/** The entries of a `llama` vocabulary, with add_space_prefix false when the model adds no dummy prefix. */
function llamaEntries(v: SpmVocab, files: HfTokenizerFiles, dummyPrefix: boolean): GgufMetadataEntries {
  const fromConfig = asObject(files.tokenizerConfig).add_prefix_space;
  const spacePrefix = typeof fromConfig === "boolean" ? fromConfig : dummyPrefix;
  return [
    ["tokenizer.ggml.model", "llama"],
    ["tokenizer.ggml.pre", "default"],
    ["tokenizer.ggml.tokens", v.tokens],
    ["tokenizer.ggml.scores", v.scores, "array:f32"],
    ["tokenizer.ggml.token_type", v.types, "array:i32"],
    ...ggufSpecialVocab(files, v.tokens.length),
    ...(spacePrefix ? [] : [["tokenizer.ggml.add_space_prefix", false, "bool"] as const]),
  ];
}

function sentencePieceFromModel(files: HfTokenizerFiles, bytes: Uint8Array): GgufMetadataEntries {
  const spm = readSentencePieceModel(bytes);
  const v = emptySpmVocab(vocabSizeOf(files, 0) || spm.pieces.length);
  // Pieces past vocab_size are dropped, as llama.cpp's converter drops them (with a warning).
  for (let id = 0; id < Math.min(spm.pieces.length, v.tokens.length); id++) {
    const p = spm.pieces[id]!;
    v.tokens[id] = p.piece;
    v.scores[id] = p.score;
    v.types[id] = [PIECE_UNKNOWN, PIECE_CONTROL, PIECE_UNUSED, PIECE_BYTE].includes(p.type) ? p.type : TOKEN_NORMAL;
  }
  addTokensOnTop(v, files);
  return llamaEntries(v, files, spm.addDummyPrefix);
}

/** Whether a tokenizer.json puts a "▁" in front of the text (Prepend normalizer, or Metaspace prepending). */
function jsonAddsDummyPrefix(tj: Json): boolean {
  const flatten = (node: Json, list: string): Json[] =>
    node.type === "Sequence" && Array.isArray(node[list]) ? (node[list] as unknown[]).map(asObject).flatMap((n) => flatten(n, list)) : [node];
  if (flatten(asObject(tj.normalizer), "normalizers").some((n) => n.type === "Prepend" && n.prepend === "\u2581")) return true;
  return flatten(asObject(tj.pre_tokenizer), "pretokenizers").some((p) => p.type === "Metaspace" &&
    (p.prepend_scheme === "always" || p.prepend_scheme === "first" || (p.prepend_scheme === undefined && p.add_prefix_space !== false)));
}

function sentencePieceFromJson(files: HfTokenizerFiles): GgufMetadataEntries {
  const tj = asObject(files.tokenizerJson);
  const model = asObject(tj.model);
  const vocab = asObject(model.vocab);
  const added = Array.isArray(tj.added_tokens) ? (tj.added_tokens as unknown[]).map(asObject) : [];
  let largest = -1;
  for (const [text, id] of Object.entries(vocab)) {
    if (typeof id !== "number" || !Number.isInteger(id) || id < 0) throw new UnsupportedTokenizerExport(`vocab entry ${JSON.stringify(text)} has id ${String(id)}`);
    largest = Math.max(largest, id);
  }
  for (const a of added) if (typeof a.id === "number" && Number.isInteger(a.id) && a.id >= 0) largest = Math.max(largest, a.id);
  const v = emptySpmVocab(vocabSizeOf(files, largest + 1));
  const merges = Array.isArray(model.merges) ? model.merges : [];
  const rank = new Map<string, number>();
  merges.forEach((m, r) => {
    const pair = typeof m === "string" ? m.split(" ") : m;
    if (!Array.isArray(pair) || pair.length !== 2 || !pair.every((x) => typeof x === "string")) throw new UnsupportedTokenizerExport(`merge ${r} is neither "a b" nor ["a", "b"]`);
    const joined = (pair as string[]).join("");
    if (!rank.has(joined)) rank.set(joined, r);
  });
  for (const [text, id] of Object.entries(vocab) as [string, number][]) {
    const byte = /^<0x[0-9A-Fa-f]{2}>$/.test(text);
    v.tokens[id] = text;
    v.types[id] = byte ? PIECE_BYTE : text === model.unk_token ? PIECE_UNKNOWN : TOKEN_NORMAL;
    v.scores[id] = byte ? 0 : -((rank.get(text) ?? merges.length) + 1);
  }
  for (const a of added) {
    if (typeof a.id !== "number" || typeof a.content !== "string" || a.id >= v.tokens.length) continue;
    v.tokens[a.id] = a.special === true ? a.content : a.content.replaceAll("\u2581", " ");
    v.types[a.id] = a.special === true ? TOKEN_CONTROL : TOKEN_USER_DEFINED;
    v.scores[a.id] = -1000;
  }
  addTokensOnTop(v, files);
  return llamaEntries(v, files, jsonAddsDummyPrefix(tj));
}

/** A SentencePiece Unigram tokenizer.json → llama.cpp's `t5` vocabulary (what convert_hf_to_gguf.py writes from
 *  spiece.model): pieces with scores, token types (2 unknown, 3 control, 4 user-defined, 6 byte), the whitespace
 *  flags, and EOS appended when the post-processor appends </s>. Sentinels and other added tokens keep their ids. */
function unigramMetadata(files: HfTokenizerFiles): GgufMetadataEntries {
  const tj = asObject(files.tokenizerJson);
  const model = asObject(tj.model);
  const modelConfig = asObject(files.modelConfig);
  const vocab = Array.isArray(model.vocab) ? (model.vocab as unknown[]) : [];
  const added = Array.isArray(tj.added_tokens) ? (tj.added_tokens as unknown[]).map(asObject) : [];
  const byId = new Map<number, { text: string; score: number; type: number }>();
  vocab.forEach((entry, id) => {
    if (!Array.isArray(entry) || typeof entry[0] !== "string" || typeof entry[1] !== "number") {
      throw new UnsupportedTokenizerExport(`Unigram vocab entry ${id} that is not [piece, score]`);
    }
    const text = entry[0] as string;
    byId.set(id, { text, score: entry[1] as number, type: id === model.unk_id ? 2 : /^<0x[0-9A-F]{2}>$/.test(text) ? 6 : TOKEN_NORMAL });
  });
  for (const a of added) {
    if (typeof a.id !== "number" || typeof a.content !== "string") continue;
    const prev = byId.get(a.id);
    if (prev?.type === 2) continue;
    byId.set(a.id, { text: a.content, score: prev?.score ?? -1000, type: a.special === true ? TOKEN_CONTROL : TOKEN_USER_DEFINED });
  }
  const largest = Math.max(-1, ...byId.keys());
  const size = Math.max(largest + 1, typeof modelConfig.vocab_size === "number" ? modelConfig.vocab_size : 0);
  const tokens: string[] = [], scores: number[] = [], types: number[] = [];
  for (let id = 0; id < size; id++) {
    const t = byId.get(id);
    tokens.push(t ? t.text : `[PAD${id}]`);
    scores.push(t ? t.score : -1000);
    types.push(t ? t.type : 5);
  }
  const normalizerText = JSON.stringify(tj.normalizer ?? null);
  const post = JSON.stringify(tj.post_processor ?? null);
  const out: GgufMetadataEntries = [
    ["tokenizer.ggml.model", "t5"],
    ["tokenizer.ggml.pre", "default"],
    ["tokenizer.ggml.tokens", tokens],
    ["tokenizer.ggml.scores", scores, "array:f32"],
    ["tokenizer.ggml.token_type", types, "array:i32"],
    ["tokenizer.ggml.add_space_prefix", JSON.stringify(tj.pre_tokenizer ?? null).includes('"prepend_scheme":"never"') ? false : true, "bool"],
    ["tokenizer.ggml.remove_extra_whitespaces", normalizerText.includes(" {2,}"), "bool"],
  ];
  out.push(...ggufSpecialVocab(files, size));
  if (!out.some(([k]) => k === "tokenizer.ggml.add_eos_token")) out.push(["tokenizer.ggml.add_eos_token", post.includes("</s>"), "bool"]);
  return out;
}

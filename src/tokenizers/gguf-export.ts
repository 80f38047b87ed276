// A Hugging Face tokenizer (tokenizer.json + tokenizer_config.json + config.json) → the `tokenizer.ggml.*` GGUF
// metadata that llama.cpp's convert_hf_to_gguf.py writes for it, so a converted GGUF carries its own vocabulary:
// - byte-level BPE → model "gpt2": tokens in id order (a hole becomes "[PAD<id>]", user-defined), token_type
//   (1 normal, 3 control for special added tokens, 4 user-defined for other added tokens), merges as "a b", and
//   `pre` named by the pre-tokenizer's regex (ByteLevel's own regex → "gpt-2"; a Split regex → the llama.cpp name
//   with that regex list in pretokenizers.ts GGUF_PRE_REGEXES, e.g. "qwen2", "llama-bpe", or "zhiyu").
// - special ids as gguf-py's SpecialVocab finds them: tokenizer_config.json's bos/eos/unk/pad/sep/cls/mask token
//   strings looked up among the added tokens, then config.json's *_token_id for the ones still missing;
//   add_bos_token / add_eos_token from tokenizer_config.json; the chat template when there is one.
// Inputs are parsed JSON (the caller reads the files); nothing here touches the file system.
// - SentencePiece Unigram → model "t5" (llama.cpp's layout of spiece.model: pieces, scores, token types).
// Leaves out: SentencePiece-style BPE (Metaspace/byte-fallback) and WordPiece vocabularies — an
// UnsupportedTokenizerExport error names the kind, and the caller writes the file without a vocabulary.
import type { GgufValue, GgufValueType } from "../io/gguf.js";
import { GGUF_PRE_REGEXES } from "./pretokenizers.js";

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
}

const TOKEN_NORMAL = 1;
const TOKEN_CONTROL = 3;
const TOKEN_USER_DEFINED = 4;
const SPECIALS = ["bos", "eos", "unk", "sep", "pad", "cls", "mask"] as const;
const GGUF_ID_KEY: Record<(typeof SPECIALS)[number], string> = {
  bos: "tokenizer.ggml.bos_token_id", eos: "tokenizer.ggml.eos_token_id", unk: "tokenizer.ggml.unknown_token_id",
  sep: "tokenizer.ggml.seperator_token_id", pad: "tokenizer.ggml.padding_token_id", cls: "tokenizer.ggml.cls_token_id",
  mask: "tokenizer.ggml.mask_token_id",
};

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
  const cfg = asObject(files.tokenizerConfig);
  const modelConfig = asObject(files.modelConfig);
  const decoder = asObject(tj.decoder);
  const byteLevel = decoder.type === "ByteLevel" || asObject(tj.pre_tokenizer).type === "ByteLevel" ||
    (Array.isArray(asObject(tj.pre_tokenizer).pretokenizers) &&
      (asObject(tj.pre_tokenizer).pretokenizers as unknown[]).some((p) => asObject(p).type === "ByteLevel"));
  if (model.type === "Unigram") return unigramMetadata(tj, model, cfg, modelConfig, files);
  if (model.type !== "BPE" || !byteLevel || model.byte_fallback === true) {
    throw new UnsupportedTokenizerExport(`a ${String(model.type ?? "unknown")} vocabulary that is not byte-level BPE`);
  }
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
  const largest = Math.max(-1, ...byId.keys());
  const size = Math.max(largest + 1, typeof modelConfig.vocab_size === "number" ? modelConfig.vocab_size : 0);
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
  const out: GgufMetadataEntries = [
    ["tokenizer.ggml.model", "gpt2"],
    ["tokenizer.ggml.pre", pre],
    ["tokenizer.ggml.tokens", tokens],
    ["tokenizer.ggml.token_type", types, "array:i32"],
    ["tokenizer.ggml.merges", merges],
  ];
  specialEntries(out, added, cfg, modelConfig, size, files);
  return out;
}

/** Special ids (gguf-py SpecialVocab's lookup), add_bos/add_eos and the chat template, appended to `out`. */
function specialEntries(out: GgufMetadataEntries, added: Json[], cfg: Json, modelConfig: Json, size: number, files: HfTokenizerFiles): void {
  const addedId = new Map(added.filter((a) => typeof a.content === "string").map((a) => [a.content as string, a.id as number]));
  for (const kind of SPECIALS) {
    const v = cfg[`${kind}_token`];
    const text = typeof v === "string" ? v : typeof asObject(v).content === "string" ? (asObject(v).content as string) : null;
    let id = text !== null ? addedId.get(text) : undefined;
    const fromConfig = modelConfig[`${kind}_token_id`];
    if (id === undefined && typeof fromConfig === "number" && Number.isInteger(fromConfig) && fromConfig >= 0 && fromConfig < size) id = fromConfig;
    if (id !== undefined) out.push([GGUF_ID_KEY[kind], id, "u32"]);
  }
  for (const flag of ["add_bos_token", "add_eos_token"] as const) {
    if (typeof cfg[flag] === "boolean") out.push([`tokenizer.ggml.${flag}`, cfg[flag] as boolean, "bool"]);
  }
  if (files.chatTemplate) out.push(["tokenizer.chat_template", files.chatTemplate]);
}

/** A SentencePiece Unigram tokenizer.json → llama.cpp's `t5` vocabulary (what convert_hf_to_gguf.py writes from
 *  spiece.model): pieces with scores, token types (2 unknown, 3 control, 4 user-defined, 6 byte), the whitespace
 *  flags, and EOS appended when the post-processor appends </s>. Sentinels and other added tokens keep their ids. */
function unigramMetadata(tj: Json, model: Json, cfg: Json, modelConfig: Json, files: HfTokenizerFiles): GgufMetadataEntries {
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
  specialEntries(out, added, cfg, modelConfig, size, files);
  if (!out.some(([k]) => k === "tokenizer.ggml.add_eos_token")) out.push(["tokenizer.ggml.add_eos_token", post.includes("</s>"), "bool"]);
  return out;
}

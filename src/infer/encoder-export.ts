// Writing a loaded BERT-family encoder: a GGUF `bert` file in llama.cpp's layout (its metadata keys and tensor
// names, the WordPiece vocabulary in llama.cpp's "▁word / continuation" spelling; matrices as f32, f16, bf16, q8_0
// or q4_0, vectors f32), or a Hugging Face folder (config.json, model.safetensors in F32, vocab.txt +
// tokenizer_config.json) that transformers' BertModel / BertFor* / Roberta* load.
// RoBERTa's first pad + 1 position rows are dropped on the way to GGUF (as llama.cpp's converter does) and put back
// (as zeros: they are only read for padding) on the way to HF.
// Leaves out: k-quants, BPE / SentencePiece vocabularies in GGUF (RoBERTa / XLM-R files get tokenizer.ggml.model
// "no_vocab"; ids still work), tokenizer.json output (vocab.txt carries the WordPiece vocabulary).
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { refQuantize } from "../backend/ref/quant.js";
import { writeGguf, type GgufWriteTensor } from "../io/gguf-writer.js";
import type { GgufValue, GgufValueType } from "../io/gguf.js";
import type { GgmlType } from "../io/ggml-types.js";
import { writeSafetensors } from "../io/safetensors.js";
import { decodeWeightInto, isQuantWeight, type Tensor } from "../tensor/index.js";
import { bertParamSpecs, hfPositionRowsToRestore } from "../models/bert/config.js";
import { bertGgufMetadata, bertHfConfigJson } from "../models/bert/family.js";
import { bertGgufName, bertHfNames, hfLayoutFor } from "../models/bert/weights.js";
import type { ParamSpec } from "../models/weights.js";
import type { BertEncoder } from "./encoder.js";

export type EncoderExportType = "f32" | "f16" | "bf16" | "q8_0" | "q4_0";
type Metadata = Array<readonly [string, GgufValue, GgufValueType?]>;

// llama.cpp's LLAMA_FTYPE values for the whole-file type.
const FILE_TYPE: Record<EncoderExportType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7, bf16: 32 };
const TOKEN_NORMAL = 1, TOKEN_CONTROL = 3;

/** A parameter as f32, whatever encoding it was loaded in. */
function paramF32(enc: BertEncoder, spec: ParamSpec): Float32Array {
  const w = enc.model.params.get(spec.name);
  if (!w) throw new Error(`[export] parameter '${spec.name}' is missing from the loaded model`);
  if (!isQuantWeight(w)) return (w as Tensor).toFloat32Array();
  if (w.type.endsWith("_r16")) throw new Error(`[export] '${spec.name}' is in a repacked layout; load with repack: false to export`);
  const out = new Float32Array(w.rows * w.cols);
  decodeWeightInto(w.data, w.type as Parameters<typeof decodeWeightInto>[1], out, out.length, enc.backend);
  return out;
}

function encode(x: Float32Array, type: EncoderExportType): { type: GgmlType; data: Uint8Array } {
  if (type === "f32") return { type: "f32", data: new Uint8Array(x.buffer, x.byteOffset, x.byteLength) };
  const bytes = type === "f16" || type === "bf16" ? x.length * 2 : type === "q8_0" ? (x.length / 32) * 34 : (x.length / 32) * 18;
  const out = new Uint8Array(bytes);
  refQuantize(x, type, out, x.length);
  return { type, data: out };
}

/** llama.cpp's spelling of a WordPiece vocabulary: "[X]" kept, "##piece" → "piece", a word start → "▁word". */
function ggufWordPiece(token: string): string {
  if (token.startsWith("[") && token.endsWith("]")) return token;
  return token.startsWith("##") ? token.slice(2) : `\u2581${token}`;
}

function tokenizerMetadata(enc: BertEncoder): Metadata {
  const t = enc.tokenizer;
  if (t.kind !== "wordpiece" || t.vocabSize === 0) return [["tokenizer.ggml.model", "no_vocab"]];
  const fromGguf = isGgufSpelled(enc);
  const tokens: string[] = [], types: number[] = [];
  for (let i = 0; i < enc.config.vocabSize; i++) {
    const s = t.idToToken(i);
    tokens.push(s === undefined ? `[PAD${i}]` : fromGguf ? s : ggufWordPiece(s));
    types.push(s !== undefined && t.isSpecial(i) ? TOKEN_CONTROL : TOKEN_NORMAL);
  }
  const m: Metadata = [
    ["tokenizer.ggml.model", "bert"], ["tokenizer.ggml.pre", "default"],
    ["tokenizer.ggml.tokens", tokens, "array:string"], ["tokenizer.ggml.token_type", types, "array:i32"],
  ];
  const id = (key: string, v: number | null | undefined) => { if (v !== null && v !== undefined) m.push([key, v, "u32"]); };
  const look = (...names: string[]) => names.map((n) => t.tokenToId(n)).find((v) => v !== undefined);
  id("tokenizer.ggml.unknown_token_id", look("[UNK]"));
  id("tokenizer.ggml.seperator_token_id", t.eosTokenId ?? look("[SEP]"));
  id("tokenizer.ggml.padding_token_id", t.padTokenId ?? look("[PAD]"));
  id("tokenizer.ggml.cls_token_id", t.bosTokenId ?? look("[CLS]"));
  id("tokenizer.ggml.mask_token_id", look("[MASK]"));
  return m;
}

/** Writes the encoder as a GGUF `bert` file. */
export function writeEncoderGguf(file: string, enc: BertEncoder, type: EncoderExportType, name = path.basename(file, ".gguf"),
  options: { dropMlmHead?: boolean } = {}): void {
  // llama.cpp has no names for the MLM head and refuses a file with tensors it does not know: dropping the head
  // writes the bare encoder that llama-embedding / llama-server --embeddings load.
  const c = options.dropMlmHead && enc.config.head === "mlm" ? { ...enc.config, head: "none" as const } : enc.config;
  const drop = c.positionOffset; // RoBERTa: llama.cpp's table starts at the first real position
  const tensors: GgufWriteTensor[] = [];
  for (const spec of bertParamSpecs(c)) {
    let x = paramF32(enc, spec);
    let shape = spec.shape;
    if (spec.name === "embeddings.position_embeddings.weight" && drop > 0) {
      x = x.slice(drop * c.hiddenSize);
      shape = [shape[0] - drop, shape[1]];
    }
    const cols = shape[shape.length - 1];
    let t: EncoderExportType = spec.kind === "vector" ? "f32" : type;
    if ((t === "q8_0" || t === "q4_0") && (cols % 32 !== 0 || spec.lookupOnly && spec.name !== "embeddings.word_embeddings.weight")) t = "f16";
    // llama.cpp adds position and type rows to f32 activations: keep those small tables f32 as its converter does.
    if (spec.name === "embeddings.position_embeddings.weight" || spec.name === "embeddings.token_type_embeddings.weight") t = "f32";
    const e = encode(x, t);
    const gguf = bertGgufName(spec.name);
    if (!gguf) throw new Error(`[export] no GGUF name for '${spec.name}'`);
    tensors.push({ name: gguf, dims: [...shape].reverse(), type: e.type, data: e.data });
  }
  const metadata: Metadata = [
    ["general.architecture", "bert"], ["general.name", name], ["general.file_type", FILE_TYPE[type], "u32"],
    ["general.quantization_version", 2, "u32"],
    ...bertGgufMetadata(c),
  ];
  if (c.hiddenAct !== "gelu") throw new Error(`[export] hidden_act ${c.hiddenAct}: llama.cpp's bert uses GELU; only GELU models export to GGUF`);
  writeGguf(file, { metadata: [...metadata, ...tokenizerMetadata(enc)], tensors });
}

/** Writes config.json + model.safetensors (F32) + vocab.txt / tokenizer_config.json for a WordPiece vocabulary. */
export function writeEncoderHf(dir: string, enc: BertEncoder): void {
  const c = enc.config;
  // A GGUF RoBERTa lost its offset rows: put pad + 1 zero rows back in front.
  const offsetRows = hfPositionRowsToRestore(c);
  const layout = hfLayoutFor(c);
  mkdirSync(dir, { recursive: true });
  const tensors = bertParamSpecs(c).map((spec) => {
    let x = paramF32(enc, spec);
    let shape = spec.shape;
    if (spec.name === "embeddings.position_embeddings.weight" && offsetRows > 0) {
      const padded = new Float32Array(x.length + offsetRows * c.hiddenSize);
      padded.set(x, offsetRows * c.hiddenSize);
      x = padded;
      shape = [shape[0] + offsetRows, shape[1]];
    }
    return { name: bertHfNames(spec.name, layout, c)[0], dtype: "F32" as const, shape, data: new Uint8Array(x.buffer, x.byteOffset, x.byteLength) };
  });
  writeSafetensors(path.join(dir, "model.safetensors"), tensors);
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(bertHfConfigJson(c, offsetRows), null, 2) + "\n");
  const t = enc.tokenizer;
  if (t.kind === "wordpiece" && t.vocabSize > 0) {
    const ggufSpelled = isGgufSpelled(enc);
    const lines: string[] = [];
    for (let i = 0; i < t.vocabSize; i++) {
      const s = t.idToToken(i) ?? `[unused_${i}]`;
      // GGUF spelling back to vocab.txt's: "▁word" → "word", a bare continuation → "##piece".
      lines.push(s.startsWith("\u2581") ? s.slice(1) : (s.startsWith("[") && s.endsWith("]")) || !ggufSpelled ? s : `##${s}`);
    }
    writeFileSync(path.join(dir, "vocab.txt"), lines.join("\n") + "\n");
    writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({
      tokenizer_class: "BertTokenizer", do_lower_case: true, tokenize_chinese_chars: true, strip_accents: null,
      unk_token: "[UNK]", sep_token: "[SEP]", pad_token: "[PAD]", cls_token: "[CLS]", mask_token: "[MASK]",
    }, null, 2) + "\n");
  }
}

/** Whether the encoder's WordPiece vocabulary is spelled the GGUF way (word starts marked with ▁). */
function isGgufSpelled(enc: BertEncoder): boolean {
  const t = enc.tokenizer;
  for (let i = 0; i < t.vocabSize; i++) if (t.idToToken(i)?.startsWith("\u2581")) return true;
  return false;
}

// Writing models: a family's f32 parameters (HF names, HF row order, [out, in] matrices) → a GGUF file that
// llama.cpp loads (arch metadata, llama Q/K rows permuted to llama.cpp's order, matrices encoded as f32, f16,
// q8_0 or q4_0) or a Hugging Face folder (config.json + model.safetensors, GPT-2's Conv1D matrices transposed back).
// Parameters are produced one at a time by a callback, so a 1B model never needs all its f32 weights at once.
// Also: reading any loadable model back as f32 parameters in that same HF order (for GGUF → HF conversion).
// Leaves out: k-quant encoding (use llama-quantize on the f16 file), tokenizer.json export.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../backend/backend.js";
import { refQuantize } from "../backend/ref/quant.js";
import { writeGguf, type GgufWriteTensor } from "../io/gguf-writer.js";
import { writeSafetensors } from "../io/safetensors.js";
import type { GgufValue, GgufValueType } from "../io/gguf.js";
import type { GgmlType } from "../io/ggml-types.js";
import { type LlamaConfig, ggufQkRowOrder, llamaGgufName } from "../models/llama-config.js";
import { GPT2_CONV1D_WEIGHT, gpt2GgufName } from "../models/gpt2-config.js";
import type { ParamSpec, RawTensor, WeightSource } from "../models/weights.js";
import { type ModelConfig, paramSpecs } from "../models/presets.js";
import { decodeToF32, readChecked } from "../models/weights.js";
import { transposeBytes } from "./sources.js";

export type { ModelConfig };
export type ExportType = "f32" | "f16" | "q8_0" | "q4_0";
type Metadata = Array<readonly [string, GgufValue, GgufValueType?]>;

function ggufName(config: ModelConfig, hfName: string): string {
  const n = config.architecture === "gpt2" ? gpt2GgufName(hfName) : llamaGgufName(hfName);
  if (!n) throw new Error(`[export] no GGUF name for parameter '${hfName}'`);
  return n;
}

/** GGUF `<arch>.*` and `general.*` keys llama.cpp needs for this config. */
export function ggufMetadata(config: ModelConfig, name: string, fileType: number): Metadata {
  const a = config.architecture;
  const m: Metadata = [
    ["general.architecture", a],
    ["general.name", name],
    ["general.file_type", fileType, "u32"],
    ["general.quantization_version", 2, "u32"],
    [`${a}.context_length`, config.contextLength, "u32"],
    [`${a}.embedding_length`, config.hiddenSize, "u32"],
    [`${a}.block_count`, config.numLayers, "u32"],
    [`${a}.feed_forward_length`, config.intermediateSize, "u32"],
    [`${a}.attention.head_count`, config.numHeads, "u32"],
  ];
  if (config.architecture === "gpt2") {
    m.push([`${a}.attention.layer_norm_epsilon`, config.layerNormEps, "f32"]);
  } else {
    m.push([`${a}.attention.head_count_kv`, config.numKvHeads, "u32"]);
    m.push([`${a}.attention.layer_norm_rms_epsilon`, config.rmsNormEps, "f32"]);
    m.push([`${a}.rope.freq_base`, config.ropeTheta, "f32"]);
    m.push([`${a}.rope.dimension_count`, config.headDim, "u32"]);
    if (config.headDim * config.numHeads !== config.hiddenSize) {
      m.push([`${a}.attention.key_length`, config.headDim, "u32"]);
      m.push([`${a}.attention.value_length`, config.headDim, "u32"]);
    }
    if (config.ropeScaling?.type === "linear") {
      m.push([`${a}.rope.scaling.type`, "linear"]);
      m.push([`${a}.rope.scaling.factor`, config.ropeScaling.factor, "f32"]);
    }
  }
  return m;
}

// llama.cpp's LLAMA_FTYPE values for the whole-file type.
const FILE_TYPE: Record<ExportType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };

function encode(x: Float32Array, type: ExportType): { type: GgmlType; data: Uint8Array } {
  if (type === "f32") return { type: "f32", data: new Uint8Array(x.buffer, x.byteOffset, x.byteLength) };
  const bytes = type === "f16" ? x.length * 2 : type === "q8_0" ? (x.length / 32) * 34 : (x.length / 32) * 18;
  const out = new Uint8Array(bytes);
  refQuantize(x, type, out, x.length);
  return { type, data: out };
}

/** Writes a GGUF file. getParam returns each f32 parameter in HF order (HF rows, [out, in] matrices). */
export function writeModelGguf(file: string, config: ModelConfig, getParam: (spec: ParamSpec) => Float32Array,
  options: { type: ExportType; name?: string; extraMetadata?: Metadata }): void {
  const tensors: GgufWriteTensor[] = [];
  for (const spec of paramSpecs(config)) {
    let x = getParam(spec);
    if (config.architecture === "llama" && /self_attn\.(q|k)_proj\.weight$/.test(spec.name)) {
      // llama.cpp rotates adjacent pairs for LLaMA: permute HF rows the way its converter does.
      const heads = spec.name.includes("q_proj") ? config.numHeads : config.numKvHeads;
      x = permuteF32Rows(x, spec.shape[0], ggufQkRowOrder(spec.shape[0], heads, true));
    }
    const cols = spec.shape[spec.shape.length - 1];
    // Vectors stay f32 (as llama.cpp keeps norms and biases); rows that are not whole blocks fall back to f16.
    let type: ExportType = spec.kind === "vector" ? "f32" : options.type;
    if ((type === "q8_0" || type === "q4_0") && cols % 32 !== 0) type = "f16";
    if (config.architecture === "gpt2" && spec.name === "transformer.wpe.weight") type = "f32";
    const enc = encode(x, type);
    tensors.push({ name: ggufName(config, spec.name), dims: [...spec.shape].reverse(), type: enc.type, data: enc.data });
  }
  // llama.cpp's gpt2 loader wants output.weight even when tied (its converter writes a copy).
  if (config.architecture === "gpt2" && config.tieWordEmbeddings) {
    const wte = tensors.find((t) => t.name === "token_embd.weight")!;
    tensors.push({ ...wte, name: "output.weight" });
  }
  const metadata = [...ggufMetadata(config, options.name ?? path.basename(file, ".gguf"), FILE_TYPE[options.type]),
    ...(options.extraMetadata ?? [])];
  writeGguf(file, { metadata, tensors });
}

function permuteF32Rows(x: Float32Array, rows: number, order: Int32Array): Float32Array {
  const cols = x.length / rows;
  const out = new Float32Array(x.length);
  for (let r = 0; r < rows; r++) out.set(x.subarray(order[r] * cols, (order[r] + 1) * cols), r * cols);
  return out;
}

/** HF config.json for the config. */
export function hfConfigJson(config: ModelConfig): Record<string, unknown> {
  if (config.architecture === "gpt2") {
    return {
      architectures: ["GPT2LMHeadModel"], model_type: "gpt2", vocab_size: config.vocabSize, n_positions: config.contextLength,
      n_ctx: config.contextLength, n_embd: config.hiddenSize, n_layer: config.numLayers, n_head: config.numHeads,
      n_inner: config.intermediateSize, activation_function: "gelu_new", layer_norm_epsilon: config.layerNormEps,
      tie_word_embeddings: config.tieWordEmbeddings, torch_dtype: "float32",
    };
  }
  const qwen = config.architecture === "qwen2";
  return {
    architectures: [qwen ? "Qwen2ForCausalLM" : "LlamaForCausalLM"], model_type: config.architecture,
    vocab_size: config.vocabSize, hidden_size: config.hiddenSize, intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers, num_attention_heads: config.numHeads, num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim, hidden_act: "silu", max_position_embeddings: config.contextLength,
    rms_norm_eps: config.rmsNormEps, rope_theta: config.ropeTheta,
    rope_scaling: config.ropeScaling?.type === "linear" ? { rope_type: "linear", factor: config.ropeScaling.factor } : null,
    tie_word_embeddings: config.tieWordEmbeddings, attention_bias: config.attentionBias, torch_dtype: "float32",
  };
}

/** Writes config.json + model.safetensors (F32). */
export function writeModelHf(dir: string, config: ModelConfig, getParam: (spec: ParamSpec) => Float32Array): void {
  mkdirSync(dir, { recursive: true });
  const tensors = paramSpecs(config).map((spec) => {
    const x = getParam(spec);
    let bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    let shape = spec.shape;
    if (config.architecture === "gpt2" && GPT2_CONV1D_WEIGHT.test(spec.name)) {
      bytes = transposeBytes(bytes, shape[0], shape[1], 4);
      shape = [shape[1], shape[0]];
    }
    return { name: spec.name, dtype: "F32" as const, shape, data: bytes };
  });
  writeSafetensors(path.join(dir, "model.safetensors"), tensors);
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(hfConfigJson(config), null, 2) + "\n");
}

/** f32 parameters in HF order from a weight source (GGUF llama rows un-permuted back to HF order). */
export function readParamF32(source: WeightSource, config: ModelConfig, spec: ParamSpec, backend: Backend,
  ggufLayout: boolean): Float32Array {
  const raw: RawTensor = readChecked(source, spec);
  let x = decodeToF32(raw, backend);
  if (ggufLayout && config.architecture === "llama" && /self_attn\.(q|k)_proj\.weight$/.test(spec.name)) {
    const heads = spec.name.includes("q_proj") ? config.numHeads : (config as LlamaConfig).numKvHeads;
    x = permuteF32Rows(x, spec.shape[0], ggufQkRowOrder(spec.shape[0], heads, false));
  }
  return x;
}

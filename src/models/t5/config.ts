// T5-family configuration (T5 v1.0, T5 v1.1 / Flan-T5, mT5): a typed config parsed from a Hugging Face config.json
// (T5ForConditionalGeneration, MT5ForConditionalGeneration) or a GGUF file of llama.cpp's `t5` architecture, every
// count checked before anything is allocated; the parameter list a config implies (HF names); the HF ↔ GGUF name
// table (llama.cpp's enc.blk.N.* / dec.blk.N.* / cross_attn_* names); GGUF metadata and config.json on export.
// Kept apart from model.ts so loaders and converters can use it without the tensor layer.
// Leaves out: UMT5 (a relative-bias table per layer), encoder-only T5EncoderModel / llama.cpp `t5encoder` files
// (refused by name: they cannot generate), T5 with a decoder of other width than the encoder.
import type { GgufFile } from "../../io/gguf.js";
import { getOptionalNumber, getOptionalString } from "../../io/gguf.js";
import type { FamilyConfig, GgufMetadata } from "../descriptor.js";
import { ModelLoadError, type ParamSpec, mapName } from "../weights.js";

/** The feed-forward activation: HF's dense_act_fn (gelu_new and gelu_pytorch_tanh are the tanh form). */
export type T5Activation = "relu" | "gelu" | "gelu_tanh" | "silu";

export interface T5Config extends FamilyConfig {
  architecture: "t5" | "mt5";
  /** d_model. */
  hiddenSize: number;
  /** Encoder layers (num_layers). */
  numLayers: number;
  numDecoderLayers: number;
  numHeads: number;
  /** d_kv: per-head width (numHeads · headDim need not equal hiddenSize). */
  headDim: number;
  /** d_ff. */
  intermediateSize: number;
  relativeBuckets: number;
  relativeMaxDistance: number;
  layerNormEps: number;
  activation: T5Activation;
  /** v1.1 / Flan / mT5: act(wi_0 x) ⊙ wi_1 x; v1.0: act(wi x). */
  gated: boolean;
  /** lm_head is the shared embedding (v1.0); then the decoder output is scaled by d_model^-0.5 when scaleDecoderOutput. */
  tieWordEmbeddings: boolean;
  scaleDecoderOutput: boolean;
  padTokenId: number;
  eosTokenId: number;
  decoderStartTokenId: number;
  /** Longest target (contextLength) and source (sourceLength): T5 has no position table; n_positions, default 512. */
  contextLength: number;
  sourceLength: number;
}

type Json = Record<string, unknown>;
const MAX_COUNT = 1 << 24;

function check(c: T5Config, where: string): T5Config {
  const positive = ["vocabSize", "hiddenSize", "numLayers", "numDecoderLayers", "numHeads", "headDim", "intermediateSize",
    "relativeBuckets", "relativeMaxDistance", "contextLength", "sourceLength"] as const;
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] <= 0 || c[k] > MAX_COUNT) throw new ModelLoadError(`${where}: ${k} = ${c[k]} must be a positive integer ≤ ${MAX_COUNT}`);
  }
  for (const k of ["padTokenId", "eosTokenId", "decoderStartTokenId"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0 || c[k] >= c.vocabSize) {
      throw new ModelLoadError(`${where}: ${k} = ${c[k]} must be a token id in [0, ${c.vocabSize})`);
    }
  }
  if (c.relativeBuckets < 4) throw new ModelLoadError(`${where}: relative_attention_num_buckets = ${c.relativeBuckets}; T5 needs at least 4`);
  if (!(c.layerNormEps > 0 && c.layerNormEps < 1)) throw new ModelLoadError(`${where}: layer_norm_epsilon = ${c.layerNormEps} must be in (0, 1)`);
  return c;
}

const ACTIVATIONS: Record<string, T5Activation> = {
  relu: "relu", gelu: "gelu", gelu_new: "gelu_tanh", gelu_pytorch_tanh: "gelu_tanh", gelu_fast: "gelu_tanh", silu: "silu", swish: "silu",
};

/** feed_forward_proj ("relu", "gated-gelu", …) and dense_act_fn as transformers' T5Config reads them. */
function feedForwardOf(json: Json, where: string): { activation: T5Activation; gated: boolean } {
  const proj = json.feed_forward_proj ?? "relu";
  if (typeof proj !== "string") throw new ModelLoadError(`${where}: feed_forward_proj must be a string such as "relu" or "gated-gelu"`);
  const parts = proj.split("-");
  const gated = parts[0] === "gated";
  if ((gated && parts.length !== 2) || (!gated && parts.length !== 1)) {
    throw new ModelLoadError(`${where}: feed_forward_proj '${proj}' is not of the form "ACT" or "gated-ACT" (e.g. "relu", "gated-gelu")`);
  }
  // transformers: "gated-gelu" means gelu_new (the tanh form), for backwards compatibility.
  const name = proj === "gated-gelu" ? "gelu_new" : typeof json.dense_act_fn === "string" ? json.dense_act_fn : parts[parts.length - 1]!;
  const activation = ACTIVATIONS[name];
  if (!activation) throw new ModelLoadError(`${where}: activation '${name}' is not supported (${Object.keys(ACTIVATIONS).join(", ")})`);
  return { activation, gated };
}

export function t5ConfigFromHf(json: Json, where = "config.json"): T5Config {
  const num = (key: string, fallback?: number): number => {
    const v = json[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ModelLoadError(`${where}: '${key}' is missing; a T5 config needs it`);
    }
    if (typeof v !== "number" || !Number.isFinite(v)) throw new ModelLoadError(`${where}: '${key}' is ${JSON.stringify(v)}, expected a number`);
    return v;
  };
  const type = typeof json.model_type === "string" ? json.model_type : "";
  const arch = Array.isArray(json.architectures) ? String(json.architectures[0] ?? "") : "";
  if (type === "umt5" || /^UMT5/.test(arch)) throw new ModelLoadError(`${where}: UMT5 (a relative-bias table per layer) is not supported; T5 and mT5 are`);
  if (/EncoderModel$/.test(arch)) {
    throw new ModelLoadError(`${where}: ${arch} is an encoder-only checkpoint (no decoder): it cannot generate; ` +
      "use a T5ForConditionalGeneration / MT5ForConditionalGeneration checkpoint");
  }
  const tied = json.tie_word_embeddings !== false;
  const { activation, gated } = feedForwardOf(json, where);
  const layers = num("num_layers");
  const n = num("n_positions", 512);
  return check({
    architecture: type === "mt5" || /^MT5/.test(arch) ? "mt5" : "t5",
    vocabSize: num("vocab_size"), hiddenSize: num("d_model"), numLayers: layers, numDecoderLayers: num("num_decoder_layers", layers),
    numHeads: num("num_heads"), headDim: num("d_kv"), intermediateSize: num("d_ff"),
    relativeBuckets: num("relative_attention_num_buckets", 32), relativeMaxDistance: num("relative_attention_max_distance", 128),
    layerNormEps: num("layer_norm_epsilon", 1e-6), activation, gated, tieWordEmbeddings: tied,
    // transformers 5 spells the v1.0 rescale as its own key; older configs imply it by tying.
    scaleDecoderOutput: typeof json.scale_decoder_outputs === "boolean" ? json.scale_decoder_outputs && tied : tied,
    padTokenId: num("pad_token_id", 0), eosTokenId: num("eos_token_id", 1), decoderStartTokenId: num("decoder_start_token_id", num("pad_token_id", 0)),
    contextLength: n, sourceLength: n,
  }, where);
}

/** Zhiyu's own GGUF keys for what llama.cpp's `t5` metadata does not say. */
export const T5_ZHIYU_KEYS = {
  maxDistance: "zhiyu.t5.relative_attention_max_distance", activation: "zhiyu.t5.activation", scale: "zhiyu.t5.scale_decoder_output",
  variant: "zhiyu.t5.variant",
} as const;

export function t5ConfigFromGguf(file: GgufFile): T5Config {
  const where = file.path;
  const arch = getOptionalString(file, "general.architecture");
  if (arch === "t5encoder") {
    throw new ModelLoadError(`${where}: a t5encoder GGUF is an encoder-only checkpoint (no decoder): it cannot generate; convert the full T5ForConditionalGeneration model`);
  }
  if (arch !== "t5") throw new ModelLoadError(`${where}: architecture '${arch ?? "(none)"}' is not t5`);
  const need = (key: string, fallback?: number): number => {
    const v = getOptionalNumber(file, `t5.${key}`);
    if (v !== undefined) return v;
    if (fallback !== undefined) return fallback;
    throw new ModelLoadError(`${where}: metadata 't5.${key}' is missing; a t5 GGUF needs it`);
  };
  const embd = file.tensorByName.get("token_embd.weight")?.dims;
  if (!embd || embd.length !== 2) throw new ModelLoadError(`${where}: tensor 'token_embd.weight' is missing or not 2-D`);
  const gated = file.tensorByName.has("enc.blk.0.ffn_gate.weight");
  const tied = !file.tensorByName.has("output.weight");
  const actKey = getOptionalString(file, T5_ZHIYU_KEYS.activation);
  const activation: T5Activation = actKey !== undefined ? (ACTIVATIONS[actKey] ?? actKey as T5Activation) : gated ? "gelu_tanh" : "relu";
  if (!["relu", "gelu", "gelu_tanh", "silu"].includes(activation)) throw new ModelLoadError(`${where}: ${T5_ZHIYU_KEYS.activation} '${actKey}' is not supported`);
  const scale = file.metadata.get(T5_ZHIYU_KEYS.scale);
  const layers = need("block_count");
  const n = need("context_length", 512);
  const headDim = need("attention.key_length", 0) || need("embedding_length") / need("attention.head_count");
  return check({
    architecture: getOptionalString(file, T5_ZHIYU_KEYS.variant) === "mt5" ? "mt5" : "t5",
    vocabSize: Number(embd[1]), hiddenSize: need("embedding_length"), numLayers: layers, numDecoderLayers: need("decoder_block_count", layers),
    numHeads: need("attention.head_count"), headDim, intermediateSize: need("feed_forward_length"),
    relativeBuckets: need("attention.relative_buckets_count", 32),
    relativeMaxDistance: getOptionalNumber(file, T5_ZHIYU_KEYS.maxDistance) ?? 128,
    layerNormEps: getOptionalNumber(file, "t5.attention.layer_norm_rms_epsilon") ?? need("attention.layer_norm_epsilon", 1e-6),
    activation, gated, tieWordEmbeddings: tied, scaleDecoderOutput: typeof scale === "boolean" ? scale : tied,
    padTokenId: getOptionalNumber(file, "tokenizer.ggml.padding_token_id") ?? 0,
    eosTokenId: getOptionalNumber(file, "tokenizer.ggml.eos_token_id") ?? 1,
    decoderStartTokenId: need("decoder_start_token_id", getOptionalNumber(file, "tokenizer.ggml.padding_token_id") ?? 0),
    contextLength: n, sourceLength: n,
  }, where);
}

export function t5GgufMetadata(c: T5Config): GgufMetadata {
  const m: GgufMetadata = [
    ["t5.context_length", c.contextLength, "u32"], ["t5.embedding_length", c.hiddenSize, "u32"],
    ["t5.feed_forward_length", c.intermediateSize, "u32"], ["t5.block_count", c.numLayers, "u32"],
    ["t5.decoder_block_count", c.numDecoderLayers, "u32"], ["t5.attention.head_count", c.numHeads, "u32"],
    ["t5.attention.key_length", c.headDim, "u32"], ["t5.attention.value_length", c.headDim, "u32"],
    ["t5.attention.layer_norm_epsilon", c.layerNormEps, "f32"], ["t5.attention.layer_norm_rms_epsilon", c.layerNormEps, "f32"],
    ["t5.attention.relative_buckets_count", c.relativeBuckets, "u32"], ["t5.decoder_start_token_id", c.decoderStartTokenId, "u32"],
    [T5_ZHIYU_KEYS.activation, { relu: "relu", gelu: "gelu", gelu_tanh: "gelu_new", silu: "silu" }[c.activation]],
    [T5_ZHIYU_KEYS.scale, c.scaleDecoderOutput, "bool"],
  ];
  if (c.relativeMaxDistance !== 128) m.push([T5_ZHIYU_KEYS.maxDistance, c.relativeMaxDistance, "u32"]);
  if (c.architecture === "mt5") m.push([T5_ZHIYU_KEYS.variant, "mt5"]);
  return m;
}

export function t5HfConfigJson(c: T5Config): Json {
  const act = { relu: "relu", gelu: "gelu", gelu_tanh: "gelu_new", silu: "silu" }[c.activation];
  return {
    architectures: [c.architecture === "mt5" ? "MT5ForConditionalGeneration" : "T5ForConditionalGeneration"], model_type: c.architecture,
    vocab_size: c.vocabSize, d_model: c.hiddenSize, d_kv: c.headDim, d_ff: c.intermediateSize, num_layers: c.numLayers,
    num_decoder_layers: c.numDecoderLayers, num_heads: c.numHeads, relative_attention_num_buckets: c.relativeBuckets,
    relative_attention_max_distance: c.relativeMaxDistance, layer_norm_epsilon: c.layerNormEps,
    feed_forward_proj: c.gated ? (c.activation === "gelu_tanh" ? "gated-gelu" : `gated-${act}`) : act, dense_act_fn: act,
    is_gated_act: c.gated, tie_word_embeddings: c.tieWordEmbeddings, scale_decoder_outputs: c.scaleDecoderOutput,
    pad_token_id: c.padTokenId, eos_token_id: c.eosTokenId, decoder_start_token_id: c.decoderStartTokenId,
    n_positions: c.contextLength, is_encoder_decoder: true, dropout_rate: 0.1, dtype: "float32", // no integer-valued float fields: transformers 5 checks types
  };
}

/** The parameters a config implies, in HF names ([out, in] matrices). The embedding is `shared.weight`. */
export function t5ParamSpecs(c: T5Config): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const d = c.hiddenSize, inner = c.numHeads * c.headDim, f = c.intermediateSize;
  const mat = (name: string, shape: number[], role?: ParamSpec["role"]) => specs.push({ name, shape, kind: "matrix", init: "normal", ...(role ? { role } : {}) });
  const norm = (name: string) => specs.push({ name, shape: [d], kind: "vector", init: "ones" });
  mat("shared.weight", [c.vocabSize, d], "embedding");
  const attention = (p: string, relative: boolean) => {
    mat(`${p}.q.weight`, [inner, d]);
    mat(`${p}.k.weight`, [inner, d]);
    mat(`${p}.v.weight`, [inner, d]);
    mat(`${p}.o.weight`, [d, inner], "residual");
    if (relative) specs.push({ name: `${p}.relative_attention_bias.weight`, shape: [c.relativeBuckets, c.numHeads], kind: "matrix", init: "normal", lookupOnly: true });
  };
  const ffn = (p: string) => {
    if (c.gated) { mat(`${p}.DenseReluDense.wi_0.weight`, [f, d]); mat(`${p}.DenseReluDense.wi_1.weight`, [f, d]); }
    else mat(`${p}.DenseReluDense.wi.weight`, [f, d]);
    mat(`${p}.DenseReluDense.wo.weight`, [d, f], "residual");
    norm(`${p}.layer_norm.weight`);
  };
  for (let l = 0; l < c.numLayers; l++) {
    const p = `encoder.block.${l}.layer`;
    attention(`${p}.0.SelfAttention`, l === 0);
    norm(`${p}.0.layer_norm.weight`);
    ffn(`${p}.1`);
  }
  norm("encoder.final_layer_norm.weight");
  for (let l = 0; l < c.numDecoderLayers; l++) {
    const p = `decoder.block.${l}.layer`;
    attention(`${p}.0.SelfAttention`, l === 0);
    norm(`${p}.0.layer_norm.weight`);
    attention(`${p}.1.EncDecAttention`, false);
    norm(`${p}.1.layer_norm.weight`);
    ffn(`${p}.2`);
  }
  norm("decoder.final_layer_norm.weight");
  if (!c.tieWordEmbeddings) mat("lm_head.weight", [c.vocabSize, d]);
  return specs;
}

/** HF → GGUF names (llama.cpp's gguf-py tensor_mapping for `t5`); N is the layer. */
const T5_GGUF_NAMES: ReadonlyArray<readonly [string, string]> = [
  ["shared.weight", "token_embd.weight"],
  ["lm_head.weight", "output.weight"],
  ["encoder.final_layer_norm.weight", "enc.output_norm.weight"],
  ["decoder.final_layer_norm.weight", "dec.output_norm.weight"],
  ...(["q", "k", "v", "o"] as const).flatMap((x) => [
    [`encoder.block.N.layer.0.SelfAttention.${x}.weight`, `enc.blk.N.attn_${x}.weight`] as const,
    [`decoder.block.N.layer.0.SelfAttention.${x}.weight`, `dec.blk.N.attn_${x}.weight`] as const,
    [`decoder.block.N.layer.1.EncDecAttention.${x}.weight`, `dec.blk.N.cross_attn_${x}.weight`] as const,
  ]),
  ["encoder.block.N.layer.0.SelfAttention.relative_attention_bias.weight", "enc.blk.N.attn_rel_b.weight"],
  ["decoder.block.N.layer.0.SelfAttention.relative_attention_bias.weight", "dec.blk.N.attn_rel_b.weight"],
  ["encoder.block.N.layer.0.layer_norm.weight", "enc.blk.N.attn_norm.weight"],
  ["encoder.block.N.layer.1.layer_norm.weight", "enc.blk.N.ffn_norm.weight"],
  ["decoder.block.N.layer.0.layer_norm.weight", "dec.blk.N.attn_norm.weight"],
  ["decoder.block.N.layer.1.layer_norm.weight", "dec.blk.N.cross_attn_norm.weight"],
  ["decoder.block.N.layer.2.layer_norm.weight", "dec.blk.N.ffn_norm.weight"],
  ...([["encoder", "enc", 1], ["decoder", "dec", 2]] as const).flatMap(([hf, g, i]) => [
    [`${hf}.block.N.layer.${i}.DenseReluDense.wi.weight`, `${g}.blk.N.ffn_up.weight`] as const,
    [`${hf}.block.N.layer.${i}.DenseReluDense.wi_0.weight`, `${g}.blk.N.ffn_gate.weight`] as const,
    [`${hf}.block.N.layer.${i}.DenseReluDense.wi_1.weight`, `${g}.blk.N.ffn_up.weight`] as const,
    [`${hf}.block.N.layer.${i}.DenseReluDense.wo.weight`, `${g}.blk.N.ffn_down.weight`] as const,
  ]),
];

export function t5GgufName(hfName: string): string | null {
  return mapName(T5_GGUF_NAMES, hfName);
}

/** The shared embedding's name in a HF folder: Hub checkpoints store it as shared.weight, or only as
 *  encoder.embed_tokens.weight / decoder.embed_tokens.weight (llama.cpp's converter accepts the same three). */
export function t5HfFileName(name: string, has: (fileName: string) => boolean): string {
  if (name !== "shared.weight" || has(name)) return name;
  return ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight"].find(has) ?? name;
}

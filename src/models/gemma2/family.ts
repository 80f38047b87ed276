// The Gemma 2 family: embeddings scaled by √hidden, four RMSNorms per layer (before and after attention, before and
// after the MLP) computing x̂·(1 + w), GeGLU with tanh-GELU, queries scaled by query_pre_attn_scalar^−½, attention
// scores and final logits soft-capped (cap·tanh(s / cap)), and sliding-window attention on alternate layers
// (layer_types, else every even layer). Built on the shared decoder. HF folders store w (the + 1 is added on load);
// llama.cpp's converter stores 1 + w, and writes neither the RoPE base nor query_pre_attn_scalar (llama.cpp assumes
// 10000 and head_dim, as every Gemma 2 model has).
// Leaves out: `zhiyu init` presets, training
// (soft-capped attention has no autograd op). `zhiyu convert` adds / removes the 1 (ggufValueOffset).
import type { GgufFile } from "../../io/gguf.js";
import { getOptionalNumber } from "../../io/gguf.js";
import { type FamilyDescriptor, PLAIN_LAYOUT } from "../descriptor.js";
import { type DecoderConfig, type DecoderNames, checkDecoderConfig, decoderParamSpecs, ggufCountFields, ggufNumber, hfNumber,
  hfSlidingWindows } from "../decoder/config.js";
import { DECODER_GGUF_NAMES, decoderGgufMetadata, loadDecoder } from "../decoder/load.js";
import { ropeParamsFromGguf, ropeParamsFromHf } from "../rope-params.js";
import { add, isAdaptedWeight, isQuantWeight, keep } from "../../tensor/index.js";
import type { Weight } from "../embed.js";
import { ModelLoadError, mapName } from "../weights.js";

export const GEMMA_NAMES: DecoderNames = {
  postAttnNorm: "post_attention_layernorm", preFfnNorm: "pre_feedforward_layernorm", postFfnNorm: "post_feedforward_layernorm",
  router: "", experts: { gate: "", up: "", down: "" },
};
const LAYER = { qkvFused: false, qkvBias: false, qkNorm: false, norms: "sandwich", activation: "gelu-tanh", gateUpFused: false } as const;
export const GEMMA_GGUF_NAMES: ReadonlyArray<readonly [string, string]> = [...DECODER_GGUF_NAMES,
  ["model.layers.N.post_attention_layernorm.weight", "blk.N.post_attention_norm.weight"],
  ["model.layers.N.pre_feedforward_layernorm.weight", "blk.N.ffn_norm.weight"],
  ["model.layers.N.post_feedforward_layernorm.weight", "blk.N.post_ffw_norm.weight"]];

type Json = Record<string, unknown>;
export const cap = (v: unknown, where: string, key: string): number | null => {
  if (v === null || v === undefined) return null;
  if (typeof v !== "number" || !(v > 0)) throw new ModelLoadError(`${where}: '${key}' = ${JSON.stringify(v)} must be a positive number or null`);
  return v;
};

function configFromHf(json: Json, where: string): DecoderConfig {
  const hiddenSize = hfNumber(json, "hidden_size", where);
  const numHeads = hfNumber(json, "num_attention_heads", where);
  const numLayers = hfNumber(json, "num_hidden_layers", where);
  const headDim = hfNumber(json, "head_dim", where, hiddenSize / numHeads);
  const act = String(json.hidden_activation ?? json.hidden_act ?? "gelu_pytorch_tanh");
  if (act !== "gelu_pytorch_tanh" && act !== "gelu_new") throw new ModelLoadError(`${where}: 'hidden_activation' ${act} is not supported (gelu_pytorch_tanh)`);
  return checkDecoderConfig({
    architecture: "gemma2", vocabSize: hfNumber(json, "vocab_size", where), hiddenSize, numLayers,
    intermediateSize: hfNumber(json, "intermediate_size", where), numHeads,
    numKvHeads: hfNumber(json, "num_key_value_heads", where, numHeads), headDim,
    rmsNormEps: hfNumber(json, "rms_norm_eps", where, 1e-6), rope: ropeParamsFromHf(json, where), rotaryDim: headDim, ropeLayout: "neox",
    contextLength: hfNumber(json, "max_position_embeddings", where, 8192), tieWordEmbeddings: true, layer: LAYER, moe: null,
    attentionScale: 1 / Math.sqrt(hfNumber(json, "query_pre_attn_scalar", where, headDim)),
    attnSoftcap: cap(json.attn_logit_softcapping, where, "attn_logit_softcapping"),
    finalSoftcap: cap(json.final_logit_softcapping, where, "final_logit_softcapping"),
    slidingWindows: hfSlidingWindows(json, where, numLayers, 2), embedScale: Math.fround(Math.sqrt(hiddenSize)),
  }, where);
}

/** The GGUF keys Gemma 2 and Gemma 3 read alike (`<arch>.*`), with the window (0 or absent: none). */
export function gemmaGgufShape(file: GgufFile, arch: string) {
  const n = (key: string, fallback?: number) => ggufNumber(file, arch, key, fallback);
  const embd = file.tensorByName.get("token_embd.weight");
  if (!embd) throw new ModelLoadError(`${file.path}: tensor 'token_embd.weight' is missing`);
  const hiddenSize = n("embedding_length"), numHeads = n("attention.head_count"), numLayers = n("block_count");
  const headDim = n("attention.key_length", hiddenSize / numHeads);
  return {
    n, window: getOptionalNumber(file, `${arch}.attention.sliding_window`) || null,
    shape: { vocabSize: n("vocab_size", embd.dims[1]), hiddenSize, numLayers, intermediateSize: n("feed_forward_length"), numHeads,
      numKvHeads: n("attention.head_count_kv", numHeads), headDim, rmsNormEps: n("attention.layer_norm_rms_epsilon", 1e-6),
      rope: ropeParamsFromGguf(file, arch), rotaryDim: headDim, ropeLayout: "neox" as const,
      tieWordEmbeddings: !file.tensorByName.has("output.weight"), moe: null, embedScale: Math.fround(Math.sqrt(hiddenSize)) },
  };
}

function configFromGguf(file: GgufFile): DecoderConfig {
  const { n, window, shape } = gemmaGgufShape(file, "gemma2");
  const numLayers = shape.numLayers;
  return checkDecoderConfig({
    ...shape, architecture: "gemma2", contextLength: n("context_length", 8192), layer: LAYER, attentionScale: null,
    attnSoftcap: cap(getOptionalNumber(file, "gemma2.attn_logit_softcapping"), file.path, "gemma2.attn_logit_softcapping"),
    finalSoftcap: cap(getOptionalNumber(file, "gemma2.final_logit_softcapping"), file.path, "gemma2.final_logit_softcapping"),
    // llama.cpp: even layers use the window, odd layers are global.
    slidingWindows: Array.from({ length: numLayers }, (_, l) => (l % 2 === 0 ? window : null)),
  }, file.path, ggufCountFields("gemma2"), file.tensors.length);
}

function hfConfigJson(c: DecoderConfig): Json {
  return {
    architectures: ["Gemma2ForCausalLM"], model_type: "gemma2", vocab_size: c.vocabSize, hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize, num_hidden_layers: c.numLayers, num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads, head_dim: c.headDim, hidden_activation: "gelu_pytorch_tanh", max_position_embeddings: c.contextLength,
    rms_norm_eps: c.rmsNormEps, rope_theta: c.rope.theta, query_pre_attn_scalar: c.attentionScale ? Math.round(c.attentionScale ** -2) : c.headDim,
    attn_logit_softcapping: c.attnSoftcap, final_logit_softcapping: c.finalSoftcap, sliding_window: c.slidingWindows.find((w) => w) ?? null,
    layer_types: c.slidingWindows.map((w) => (w ? "sliding_attention" : "full_attention")), tie_word_embeddings: true, torch_dtype: "float32",
  };
}

const isNorm = (name: string) => /(layernorm|model\.norm)\.weight$/.test(name);

/** Gemma's HF RMSNorm weights w become the 1 + w the network multiplies by. */
export function addOneToNorms(params: Map<string, Weight>, isNormName: (name: string) => boolean): void {
  for (const [name, w] of params) {
    if (!isNormName(name) || isQuantWeight(w) || isAdaptedWeight(w)) continue;
    params.set(name, keep(add(w, 1)));
    w.dispose();
  }
}

export const gemma2Family: FamilyDescriptor<DecoderConfig> = {
  id: "gemma2",
  kind: "causal-lm",
  hfModelTypes: ["gemma2"],
  hfArchitectures: ["Gemma2ForCausalLM"],
  ggufArchitectures: ["gemma2"],
  variants: ["gemma2"],
  configFromHf,
  configFromGguf,
  hfConfigJson,
  ggufMetadata: (c) => [...decoderGgufMetadata(c, "gemma2"),
    ...(c.attnSoftcap ? [["gemma2.attn_logit_softcapping", c.attnSoftcap, "f32"] as const] : []),
    ...(c.finalSoftcap ? [["gemma2.final_logit_softcapping", c.finalSoftcap, "f32"] as const] : []),
    ...(c.slidingWindows.some((w) => w) ? [["gemma2.attention.sliding_window", c.slidingWindows.find((w) => w)!, "u32"] as const] : [])],
  paramSpecs: (c) => decoderParamSpecs(c, GEMMA_NAMES),
  ggufName: (hfName) => mapName(GEMMA_GGUF_NAMES, hfName),
  ...PLAIN_LAYOUT,
  ggufValueOffset: (_c, spec) => (isNorm(spec.name) ? 1 : 0),
  presets: [],
  presetConfig: () => { throw new RangeError("gemma2 has no zhiyu init presets"); },
  load: (config, ctx) => loadDecoder(config, ctx, GEMMA_NAMES, { experts: "", expertFfn: "", hidden: "" }, (params) => {
    if (ctx.format === "hf") addOneToNorms(params, isNorm); // GGUF norms already hold 1 + w
  }),
  trainable: () => { throw new RangeError("gemma2: training is not supported (soft-capped attention has no autograd op)"); },
};

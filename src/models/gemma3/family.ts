// The Gemma 3 family (text models: Gemma3ForCausalLM, model_type gemma3_text): Gemma 2's layer (√hidden embeddings,
// sandwich RMSNorms computing x̂·(1 + w), GeGLU with tanh-GELU) plus an RMSNorm over each head's q and k (also
// 1 + w), no soft caps, five sliding-window layers to one global (layer_types, else sliding_window_pattern 6), and
// two RoPEs: the sliding layers' (base 10,000, no scaling) and the global layers' (rope_theta, 1,000,000, with the
// linear scaling the 4B+ models state). Config spellings: transformers 5's `rope_parameters` keyed by layer type, or
// the Hub's `rope_theta` + `rope_scaling` + `rope_local_base_freq`. GGUF as llama.cpp's `gemma3`: the local base in
// `rope.freq_base_swa`, norms stored as 1 + w, attention scale head_dim^−½ (27B: (hidden / heads)^−½, llama.cpp's rule;
// another query_pre_attn_scalar goes into `attention.scale`, which only Zhiyu reads).
// Leaves out: the multimodal Gemma3ForConditionalGeneration folders (vision tower; model_type gemma3), Gemma 3n,
// `zhiyu init` presets, training.
import type { GgufFile } from "../../io/gguf.js";
import { getOptionalNumber } from "../../io/gguf.js";
import { type FamilyDescriptor, type GgufMetadata, PLAIN_LAYOUT } from "../descriptor.js";
import { type DecoderConfig, checkDecoderConfig, decoderParamSpecs, ggufCountFields, hfNumber, hfSlidingWindows } from "../decoder/config.js";
import { decoderGgufMetadata, loadDecoder } from "../decoder/load.js";
import { GEMMA_GGUF_NAMES, GEMMA_NAMES, addOneToNorms, cap, gemmaGgufShape } from "../gemma2/family.js";
import { type RopeParams, ropeParamsFromHf } from "../rope-params.js";
import { ModelLoadError, mapName } from "../weights.js";

const LAYER = { qkvFused: false, qkvBias: false, qkNorm: true, norms: "sandwich", activation: "gelu-tanh", gateUpFused: false } as const;
type Json = Record<string, unknown>;

/** Both RoPEs from either config spelling. */
function ropesFromHf(json: Json, where: string): { global: RopeParams; local: RopeParams } {
  const rp = json.rope_parameters as Json | undefined;
  if (rp && typeof rp === "object" && ("full_attention" in rp || "sliding_attention" in rp)) {
    const part = (key: string) => {
      const v = rp[key];
      if (!v || typeof v !== "object") throw new ModelLoadError(`${where}: rope_parameters.${key} is missing (Gemma 3 states one RoPE per layer type)`);
      return ropeParamsFromHf({ ...json, rope_parameters: v, rope_scaling: undefined }, `${where} (${key})`);
    };
    return { global: part("full_attention"), local: part("sliding_attention") };
  }
  const local = hfNumber(json, "rope_local_base_freq", where, 10000);
  return { global: ropeParamsFromHf(json, where), local: { theta: local, scaling: null, partialRotaryFactor: 1 } };
}

function configFromHf(json: Json, where: string): DecoderConfig {
  const hiddenSize = hfNumber(json, "hidden_size", where);
  const numHeads = hfNumber(json, "num_attention_heads", where);
  const numLayers = hfNumber(json, "num_hidden_layers", where);
  const headDim = hfNumber(json, "head_dim", where, hiddenSize / numHeads);
  const act = String(json.hidden_activation ?? json.hidden_act ?? "gelu_pytorch_tanh");
  if (act !== "gelu_pytorch_tanh") throw new ModelLoadError(`${where}: 'hidden_activation' ${act} is not supported (gelu_pytorch_tanh)`);
  if (json.use_bidirectional_attention === true) throw new ModelLoadError(`${where}: 'use_bidirectional_attention' (EmbeddingGemma) is not supported; Zhiyu runs Gemma 3 as a causal LM`);
  const { global, local } = ropesFromHf(json, where);
  return checkDecoderConfig({
    architecture: "gemma3", vocabSize: hfNumber(json, "vocab_size", where), hiddenSize, numLayers,
    intermediateSize: hfNumber(json, "intermediate_size", where), numHeads, numKvHeads: hfNumber(json, "num_key_value_heads", where, numHeads),
    headDim, rmsNormEps: hfNumber(json, "rms_norm_eps", where, 1e-6), rope: global, localRope: local, rotaryDim: headDim, ropeLayout: "neox",
    contextLength: hfNumber(json, "max_position_embeddings", where, 131072), tieWordEmbeddings: json.tie_word_embeddings !== false, layer: LAYER, moe: null,
    attentionScale: 1 / Math.sqrt(hfNumber(json, "query_pre_attn_scalar", where, headDim)),
    attnSoftcap: cap(json.attn_logit_softcapping, where, "attn_logit_softcapping"),
    finalSoftcap: cap(json.final_logit_softcapping, where, "final_logit_softcapping"),
    slidingWindows: hfSlidingWindows({ sliding_window_pattern: json._sliding_window_pattern ?? 6, ...json }, where, numLayers, 6),
    embedScale: Math.fround(Math.sqrt(hiddenSize)),
  }, where);
}

function configFromGguf(file: GgufFile): DecoderConfig {
  const { n, window, shape } = gemmaGgufShape(file, "gemma3");
  const { numLayers, hiddenSize, numHeads } = shape;
  const period = n("attention.sliding_window_pattern", 6);
  return checkDecoderConfig({
    ...shape, architecture: "gemma3", localRope: { theta: n("rope.freq_base_swa", 10000), scaling: null, partialRotaryFactor: 1 },
    contextLength: n("context_length", 131072), layer: LAYER,
    attentionScale: getOptionalNumber(file, "gemma3.attention.scale") ?? (numLayers === 62 ? 1 / Math.sqrt(hiddenSize / numHeads) : null),
    attnSoftcap: null, finalSoftcap: cap(getOptionalNumber(file, "gemma3.final_logit_softcapping"), file.path, "gemma3.final_logit_softcapping"),
    // llama.cpp: every period-th layer (1-based) is global, the rest slide.
    slidingWindows: Array.from({ length: numLayers }, (_, l) => (window && (l + 1) % period !== 0 ? window : null)),
  }, file.path, ggufCountFields("gemma3"), file.tensors.length);
}

function ropeJson(r: RopeParams): Json {
  const s = r.scaling;
  if (s && s.type !== "linear") throw new ModelLoadError(`gemma3: writing rope scaling '${s.type}' is not supported (linear only)`);
  return s ? { rope_type: "linear", factor: s.factor, rope_theta: r.theta } : { rope_type: "default", rope_theta: r.theta };
}

function hfConfigJson(c: DecoderConfig): Json {
  return {
    architectures: ["Gemma3ForCausalLM"], model_type: "gemma3_text", vocab_size: c.vocabSize, hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize, num_hidden_layers: c.numLayers, num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads, head_dim: c.headDim, hidden_activation: "gelu_pytorch_tanh", max_position_embeddings: c.contextLength,
    rms_norm_eps: c.rmsNormEps, query_pre_attn_scalar: c.attentionScale ? Math.round(c.attentionScale ** -2) : c.headDim,
    attn_logit_softcapping: c.attnSoftcap, final_logit_softcapping: c.finalSoftcap, sliding_window: c.slidingWindows.find((w) => w) ?? null,
    layer_types: c.slidingWindows.map((w) => (w ? "sliding_attention" : "full_attention")),
    rope_parameters: { full_attention: ropeJson(c.rope), sliding_attention: ropeJson(c.localRope ?? c.rope) },
    tie_word_embeddings: c.tieWordEmbeddings, torch_dtype: "float32",
  };
}

const isNorm = (name: string) => /(layernorm|model\.norm|q_norm|k_norm)\.weight$/.test(name);

function ggufMetadata(c: DecoderConfig): GgufMetadata {
  const window = c.slidingWindows.find((w) => w);
  const m: GgufMetadata = [...decoderGgufMetadata(c, "gemma3")];
  if (window) {
    const period = c.slidingWindows.findIndex((w) => !w) + 1;
    m.push(["gemma3.attention.sliding_window", window, "u32"], ["gemma3.rope.freq_base_swa", (c.localRope ?? c.rope).theta, "f32"]);
    if (period > 0) m.push(["gemma3.attention.sliding_window_pattern", period, "u32"]);
  }
  if (c.finalSoftcap) m.push(["gemma3.final_logit_softcapping", c.finalSoftcap, "f32"]);
  // llama.cpp derives the scale (head_dim^−½; 27B: (hidden / heads)^−½); a config whose query_pre_attn_scalar says
  // otherwise keeps it in the generic key, which Zhiyu reads back (llama.cpp's gemma3 loader does not).
  const derived = c.numLayers === 62 ? 1 / Math.sqrt(c.hiddenSize / c.numHeads) : 1 / Math.sqrt(c.headDim);
  if (c.attentionScale !== null && Math.abs(c.attentionScale - derived) > 1e-7) m.push(["gemma3.attention.scale", c.attentionScale, "f32"]);
  return m;
}

export const gemma3Family: FamilyDescriptor<DecoderConfig> = {
  id: "gemma3",
  kind: "causal-lm",
  hfModelTypes: ["gemma3_text"],
  hfArchitectures: ["Gemma3ForCausalLM"],
  ggufArchitectures: ["gemma3"],
  variants: ["gemma3"],
  configFromHf,
  configFromGguf,
  hfConfigJson,
  ggufMetadata,
  paramSpecs: (c) => decoderParamSpecs(c, GEMMA_NAMES),
  ggufName: (hfName) => mapName(GEMMA_GGUF_NAMES, hfName),
  ...PLAIN_LAYOUT,
  ggufValueOffset: (_c, spec) => (isNorm(spec.name) ? 1 : 0),
  presets: [],
  presetConfig: () => { throw new RangeError("gemma3 has no zhiyu init presets"); },
  load: (config, ctx) => loadDecoder(config, ctx, GEMMA_NAMES, { experts: "", expertFfn: "", hidden: "" }, (params) => {
    if (ctx.format === "hf") addOneToNorms(params, isNorm); // GGUF norms already hold 1 + w
  }),
  trainable: () => { throw new RangeError("gemma3: training is not supported (sliding-window attention has no autograd op)"); },
};

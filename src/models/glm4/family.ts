// The GLM-4 family (Glm4ForCausalLM, llama.cpp's `glm4`): q/k/v biases, partial rotary over the first
// head_dim × partial_rotary_factor dims of each head rotating interleaved pairs (x₂ᵢ, x₂ᵢ₊₁), four RMSNorms per layer
// (input, on the attention output, before the MLP, on the MLP output) and a fused gate_up matrix (gate rows first).
// Built on the shared decoder. GGUF names: `post_attention_norm` is HF's post_self_attn_layernorm, `ffn_norm` its
// post_attention_layernorm, `post_ffw_norm` its post_mlp_layernorm; `rope.dimension_count` is the rotary part.
// Leaves out: ChatGLM (model_type chatglm, GLM-4-9B's original remote-code format), GLM-4-MoE, `zhiyu init` presets.
import type { GgufFile } from "../../io/gguf.js";
import { type FamilyDescriptor, PLAIN_LAYOUT } from "../descriptor.js";
import { type DecoderConfig, type DecoderNames, checkDecoderConfig, decoderParamSpecs, ggufCountFields, ggufNumber, hfNumber,
  hfSlidingWindows } from "../decoder/config.js";
import { DecoderModel } from "../decoder/model.js";
import { DECODER_GGUF_NAMES, decoderGgufMetadata, loadDecoder } from "../decoder/load.js";
import { ropeParamsFromGguf, ropeParamsFromHf } from "../rope-params.js";
import { ModelLoadError, mapName } from "../weights.js";

const NAMES: DecoderNames = {
  postAttnNorm: "post_self_attn_layernorm", preFfnNorm: "post_attention_layernorm", postFfnNorm: "post_mlp_layernorm",
  router: "", experts: { gate: "", up: "", down: "" },
};
const LAYER = { qkvFused: false, qkvBias: true, qkNorm: false, norms: "sandwich", activation: "silu", gateUpFused: true } as const;
const GGUF_NAMES: ReadonlyArray<readonly [string, string]> = [...DECODER_GGUF_NAMES,
  ["model.layers.N.post_self_attn_layernorm.weight", "blk.N.post_attention_norm.weight"],
  ["model.layers.N.post_attention_layernorm.weight", "blk.N.ffn_norm.weight"],
  ["model.layers.N.post_mlp_layernorm.weight", "blk.N.post_ffw_norm.weight"]];

type Json = Record<string, unknown>;

function configFromHf(json: Json, where: string): DecoderConfig {
  const hiddenSize = hfNumber(json, "hidden_size", where);
  const numHeads = hfNumber(json, "num_attention_heads", where);
  const numLayers = hfNumber(json, "num_hidden_layers", where);
  const headDim = hfNumber(json, "head_dim", where, hiddenSize / numHeads);
  const rope = ropeParamsFromHf(json, where);
  const rotaryDim = Math.floor(headDim * (rope.partialRotaryFactor ?? 0.5));
  return checkDecoderConfig({
    architecture: "glm4", vocabSize: hfNumber(json, "vocab_size", where), hiddenSize, numLayers,
    intermediateSize: hfNumber(json, "intermediate_size", where), numHeads, numKvHeads: hfNumber(json, "num_key_value_heads", where, numHeads),
    headDim, rmsNormEps: hfNumber(json, "rms_norm_eps", where, 1e-5), rope, rotaryDim, ropeLayout: "interleaved",
    contextLength: hfNumber(json, "max_position_embeddings", where, 32768), tieWordEmbeddings: json.tie_word_embeddings === true,
    layer: { ...LAYER, qkvBias: json.attention_bias !== false }, moe: null, attentionScale: null, attnSoftcap: null, finalSoftcap: null,
    slidingWindows: hfSlidingWindows(json, where, numLayers, null), embedScale: null,
  }, where);
}

function configFromGguf(file: GgufFile): DecoderConfig {
  const n = (key: string, fallback?: number) => ggufNumber(file, "glm4", key, fallback);
  const embd = file.tensorByName.get("token_embd.weight");
  if (!embd) throw new ModelLoadError(`${file.path}: tensor 'token_embd.weight' is missing`);
  const hiddenSize = n("embedding_length"), numHeads = n("attention.head_count"), numLayers = n("block_count");
  const headDim = n("attention.key_length", hiddenSize / numHeads);
  return checkDecoderConfig({
    architecture: "glm4", vocabSize: n("vocab_size", embd.dims[1]), hiddenSize, numLayers, intermediateSize: n("feed_forward_length"),
    numHeads, numKvHeads: n("attention.head_count_kv", numHeads), headDim, rmsNormEps: n("attention.layer_norm_rms_epsilon", 1e-5),
    rope: ropeParamsFromGguf(file, "glm4"), rotaryDim: n("rope.dimension_count", headDim / 2), ropeLayout: "interleaved",
    contextLength: n("context_length", 32768), tieWordEmbeddings: !file.tensorByName.has("output.weight"),
    layer: { ...LAYER, qkvBias: file.tensorByName.has("blk.0.attn_q.bias") }, moe: null, attentionScale: null, attnSoftcap: null,
    finalSoftcap: null, slidingWindows: Array(numLayers).fill(null), embedScale: null,
  }, file.path, ggufCountFields("glm4"), file.tensors.length);
}

function hfConfigJson(c: DecoderConfig): Json {
  return {
    architectures: ["Glm4ForCausalLM"], model_type: "glm4", vocab_size: c.vocabSize, hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize, num_hidden_layers: c.numLayers, num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads, head_dim: c.headDim, hidden_act: "silu", max_position_embeddings: c.contextLength,
    rms_norm_eps: c.rmsNormEps, rope_theta: c.rope.theta, partial_rotary_factor: c.rotaryDim / c.headDim,
    attention_bias: c.layer.qkvBias, tie_word_embeddings: c.tieWordEmbeddings, torch_dtype: "float32",
  };
}

export const glm4Family: FamilyDescriptor<DecoderConfig> = {
  id: "glm4",
  kind: "causal-lm",
  hfModelTypes: ["glm4"],
  hfArchitectures: ["Glm4ForCausalLM"],
  ggufArchitectures: ["glm4"],
  variants: ["glm4"],
  configFromHf,
  configFromGguf,
  hfConfigJson,
  ggufMetadata: (c) => decoderGgufMetadata(c, "glm4"),
  paramSpecs: (c) => decoderParamSpecs(c, NAMES),
  ggufName: (hfName) => mapName(GGUF_NAMES, hfName),
  ...PLAIN_LAYOUT,
  presets: [],
  presetConfig: () => { throw new RangeError("glm4 has no zhiyu init presets"); },
  load: (config, ctx) => loadDecoder(config, ctx, NAMES, { experts: "", expertFfn: "", hidden: "" }),
  trainable: (config, params) => new DecoderModel(config, params, NAMES),
};

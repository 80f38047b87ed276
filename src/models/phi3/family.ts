// The Phi-3 / Phi-4 family: LLaMA's layer with q, k, v stored as one matrix (`qkv_proj`, rows q then k then v) and
// gate, up as one (`gate_up_proj`, gate rows first), as llama.cpp keeps them (`attn_qkv`, `ffn_up`); optional
// partial rotary and a sliding window on every layer (Phi-3-mini's 2047). Built on the shared decoder.
// Leaves out: LongRoPE ("longrope"/"su" scaling of the 128k models: refused by name), Phi-3-small's blocksparse
// attention, Phi-3.5-MoE, `zhiyu init` presets.
import type { GgufFile } from "../../io/gguf.js";
import { getOptionalNumber } from "../../io/gguf.js";
import { type FamilyDescriptor, PLAIN_LAYOUT } from "../descriptor.js";
import { type DecoderConfig, LLAMA_STYLE_NAMES, checkDecoderConfig, decoderParamSpecs, ggufCountFields, ggufNumber, hfNumber,
  hfSlidingWindows } from "../decoder/config.js";
import { DecoderModel } from "../decoder/model.js";
import { DECODER_GGUF_NAMES, decoderGgufMetadata, loadDecoder } from "../decoder/load.js";
import { ropeParamsFromGguf, ropeParamsFromHf } from "../rope-params.js";
import { ModelLoadError, mapName } from "../weights.js";

const LAYER = { qkvFused: true, qkvBias: false, qkNorm: false, norms: "pre", activation: "silu", gateUpFused: true } as const;
const GGUF_NAMES: ReadonlyArray<readonly [string, string]> = [...DECODER_GGUF_NAMES,
  ["model.layers.N.post_attention_layernorm.weight", "blk.N.ffn_norm.weight"]];

type Json = Record<string, unknown>;

function rotaryDim(headDim: number, factor: number, where: string): number {
  const d = Math.floor(headDim * factor);
  if (d % 2 !== 0 || d <= 0) throw new ModelLoadError(`${where}: partial_rotary_factor ${factor} × head_dim ${headDim} must give an even rotary size`);
  return d;
}

function configFromHf(json: Json, where: string): DecoderConfig {
  const hiddenSize = hfNumber(json, "hidden_size", where);
  const numHeads = hfNumber(json, "num_attention_heads", where);
  const numLayers = hfNumber(json, "num_hidden_layers", where);
  const headDim = hfNumber(json, "head_dim", where, hiddenSize / numHeads);
  const rope = ropeParamsFromHf(json, where);
  return checkDecoderConfig({
    architecture: "phi3", vocabSize: hfNumber(json, "vocab_size", where), hiddenSize, numLayers,
    intermediateSize: hfNumber(json, "intermediate_size", where), numHeads, numKvHeads: hfNumber(json, "num_key_value_heads", where, numHeads),
    headDim, rmsNormEps: hfNumber(json, "rms_norm_eps", where, 1e-5), rope, rotaryDim: rotaryDim(headDim, rope.partialRotaryFactor, where),
    ropeLayout: "neox", contextLength: hfNumber(json, "max_position_embeddings", where, 4096), tieWordEmbeddings: json.tie_word_embeddings === true,
    layer: LAYER, moe: null, attentionScale: null, attnSoftcap: null, finalSoftcap: null,
    slidingWindows: hfSlidingWindows(json, where, numLayers, null), embedScale: null,
  }, where);
}

function configFromGguf(file: GgufFile): DecoderConfig {
  const n = (key: string, fallback?: number) => ggufNumber(file, "phi3", key, fallback);
  const embd = file.tensorByName.get("token_embd.weight");
  if (!embd) throw new ModelLoadError(`${file.path}: tensor 'token_embd.weight' is missing`);
  const hiddenSize = n("embedding_length"), numHeads = n("attention.head_count"), numLayers = n("block_count");
  const headDim = n("attention.key_length", hiddenSize / numHeads);
  const window = getOptionalNumber(file, "phi3.attention.sliding_window") || null;
  return checkDecoderConfig({
    architecture: "phi3", vocabSize: n("vocab_size", embd.dims[1]), hiddenSize, numLayers, intermediateSize: n("feed_forward_length"),
    numHeads, numKvHeads: n("attention.head_count_kv", numHeads), headDim, rmsNormEps: n("attention.layer_norm_rms_epsilon", 1e-5),
    rope: ropeParamsFromGguf(file, "phi3"), rotaryDim: n("rope.dimension_count", headDim), ropeLayout: "neox",
    contextLength: n("context_length", 4096), tieWordEmbeddings: !file.tensorByName.has("output.weight"), layer: LAYER, moe: null,
    attentionScale: null, attnSoftcap: null, finalSoftcap: null, slidingWindows: Array(numLayers).fill(window), embedScale: null,
  }, file.path, ggufCountFields("phi3"), file.tensors.length);
}

function hfConfigJson(c: DecoderConfig): Json {
  return {
    architectures: ["Phi3ForCausalLM"], model_type: "phi3", vocab_size: c.vocabSize, hidden_size: c.hiddenSize,
    intermediate_size: c.intermediateSize, num_hidden_layers: c.numLayers, num_attention_heads: c.numHeads,
    num_key_value_heads: c.numKvHeads, hidden_act: "silu", max_position_embeddings: c.contextLength, rms_norm_eps: c.rmsNormEps,
    rope_theta: c.rope.theta, partial_rotary_factor: c.rotaryDim / c.headDim, sliding_window: c.slidingWindows[0] ?? null,
    tie_word_embeddings: c.tieWordEmbeddings, torch_dtype: "float32",
  };
}

export const phi3Family: FamilyDescriptor<DecoderConfig> = {
  id: "phi3",
  kind: "causal-lm",
  hfModelTypes: ["phi3"],
  hfArchitectures: ["Phi3ForCausalLM"],
  ggufArchitectures: ["phi3"],
  variants: ["phi3"],
  configFromHf,
  configFromGguf,
  hfConfigJson,
  ggufMetadata: (c) => [...decoderGgufMetadata(c, "phi3"), ["phi3.attention.sliding_window", c.slidingWindows[0] ?? 0, "u32"]],
  paramSpecs: (c) => decoderParamSpecs(c, LLAMA_STYLE_NAMES),
  ggufName: (hfName) => mapName(GGUF_NAMES, hfName),
  ...PLAIN_LAYOUT,
  presets: [],
  presetConfig: () => { throw new RangeError("phi3 has no zhiyu init presets"); },
  load: (config, ctx) => loadDecoder(config, ctx, LLAMA_STYLE_NAMES, { experts: "", expertFfn: "", hidden: "" }),
  trainable: (config, params) => new DecoderModel(config, params, LLAMA_STYLE_NAMES),
};

// The Qwen3 family: Qwen3 (dense) and Qwen3-MoE. Qwen3's layer is LLaMA's with an RMSNorm over each head's q and k
// (weight [head_dim]) before RoPE and no q/k/v biases; head_dim is its own setting (not hidden / heads).
// Qwen3-MoE replaces the MLP by num_experts SwiGLU experts with top-k routing, renormalised when norm_topk_prob
// (llama.cpp's qwen3moe always renormalises and stores no key for it). Built on the shared decoder (../decoder/).
// Leaves out: Qwen3-MoE's dense layers (mlp_only_layers, decoder_sparse_step ≠ 1: refused by name), sliding windows
// (use_sliding_window, off in every released Qwen3). MoE experts go to GGUF stacked as llama.cpp stores them.
import type { GgufFile } from "../../io/gguf.js";
import { getOptionalString } from "../../io/gguf.js";
import { type FamilyDescriptor, PLAIN_LAYOUT } from "../descriptor.js";
import { type DecoderConfig, LLAMA_STYLE_NAMES, checkDecoderConfig, decoderParamSpecs, expertGgufStack, ggufCountFields, ggufNumber, hfNumber,
  hfSlidingWindows } from "../decoder/config.js";
import { DecoderModel } from "../decoder/model.js";
import { DECODER_GGUF_NAMES, decoderGgufMetadata, loadDecoder } from "../decoder/load.js";
import { ropeParamsFromGguf, ropeParamsFromHf } from "../rope-params.js";
import { ModelLoadError, mapName } from "../weights.js";

const VARIANTS = ["qwen3", "qwen3moe"] as const;
const QWEN3_LAYER = { qkvFused: false, qkvBias: false, qkNorm: true, norms: "pre", activation: "silu", gateUpFused: false } as const;
const GGUF_NAMES: ReadonlyArray<readonly [string, string]> = [...DECODER_GGUF_NAMES,
  ["model.layers.N.post_attention_layernorm.weight", "blk.N.ffn_norm.weight"], ["model.layers.N.mlp.gate.weight", "blk.N.ffn_gate_inp.weight"]];

type Json = Record<string, unknown>;

function configFromHf(json: Json, where: string): DecoderConfig {
  const moe = json.model_type === "qwen3_moe" || json.architectures?.toString() === "Qwen3MoeForCausalLM";
  const hiddenSize = hfNumber(json, "hidden_size", where);
  const numHeads = hfNumber(json, "num_attention_heads", where);
  const numLayers = hfNumber(json, "num_hidden_layers", where);
  const headDim = hfNumber(json, "head_dim", where, hiddenSize / numHeads);
  if (moe) {
    const dense = Array.isArray(json.mlp_only_layers) ? json.mlp_only_layers : [];
    if (dense.length > 0 || hfNumber(json, "decoder_sparse_step", where, 1) !== 1) {
      throw new ModelLoadError(`${where}: 'mlp_only_layers' / 'decoder_sparse_step' make some layers dense; Zhiyu's Qwen3-MoE needs every layer MoE`);
    }
  }
  const expertsKey = json.num_experts !== undefined ? "num_experts" : "num_local_experts";
  const rope = ropeParamsFromHf(json, where);
  return checkDecoderConfig({
    architecture: moe ? "qwen3moe" : "qwen3",
    vocabSize: hfNumber(json, "vocab_size", where), hiddenSize, numLayers,
    intermediateSize: hfNumber(json, "intermediate_size", where),
    numHeads, numKvHeads: hfNumber(json, "num_key_value_heads", where, numHeads), headDim,
    rmsNormEps: hfNumber(json, "rms_norm_eps", where, 1e-6),
    rope, rotaryDim: headDim, ropeLayout: "neox",
    contextLength: hfNumber(json, "max_position_embeddings", where, 32768),
    tieWordEmbeddings: json.tie_word_embeddings === true,
    layer: QWEN3_LAYER,
    moe: moe ? { numExperts: hfNumber(json, expertsKey, where), topK: hfNumber(json, "num_experts_per_tok", where),
      expertFfn: hfNumber(json, "moe_intermediate_size", where), normTopK: json.norm_topk_prob === true } : null,
    attentionScale: null, attnSoftcap: null, finalSoftcap: null,
    slidingWindows: hfSlidingWindows(json, where, numLayers, null), embedScale: null,
  }, where, undefined, undefined, { experts: expertsKey, topK: "num_experts_per_tok", expertFfn: "moe_intermediate_size" });
}

function configFromGguf(file: GgufFile): DecoderConfig {
  const arch = getOptionalString(file, "general.architecture") ?? "qwen3";
  const n = (key: string, fallback?: number) => ggufNumber(file, arch, key, fallback);
  const embd = file.tensorByName.get("token_embd.weight");
  if (!embd) throw new ModelLoadError(`${file.path}: tensor 'token_embd.weight' is missing`);
  const hiddenSize = n("embedding_length"), numHeads = n("attention.head_count");
  const headDim = n("attention.key_length", hiddenSize / numHeads);
  const moe = arch === "qwen3moe";
  return checkDecoderConfig({
    architecture: moe ? "qwen3moe" : "qwen3",
    vocabSize: n("vocab_size", embd.dims[1]), hiddenSize, numLayers: n("block_count"),
    intermediateSize: n("feed_forward_length", moe ? n("expert_feed_forward_length") : undefined),
    numHeads, numKvHeads: n("attention.head_count_kv", numHeads), headDim,
    rmsNormEps: n("attention.layer_norm_rms_epsilon", 1e-6),
    rope: ropeParamsFromGguf(file, arch, 1e6), rotaryDim: headDim, ropeLayout: "neox",
    contextLength: n("context_length", 32768),
    tieWordEmbeddings: !file.tensorByName.has("output.weight"),
    layer: QWEN3_LAYER,
    moe: moe ? { numExperts: n("expert_count"), topK: n("expert_used_count"), expertFfn: n("expert_feed_forward_length"), normTopK: true } : null,
    attentionScale: null, attnSoftcap: null, finalSoftcap: null,
    slidingWindows: Array(n("block_count")).fill(null), embedScale: null,
  }, file.path, ggufCountFields(arch), file.tensors.length,
  { experts: `${arch}.expert_count`, topK: `${arch}.expert_used_count`, expertFfn: `${arch}.expert_feed_forward_length` });
}

function hfConfigJson(c: DecoderConfig): Json {
  const moe = c.moe;
  return {
    architectures: [moe ? "Qwen3MoeForCausalLM" : "Qwen3ForCausalLM"], model_type: moe ? "qwen3_moe" : "qwen3",
    vocab_size: c.vocabSize, hidden_size: c.hiddenSize, intermediate_size: c.intermediateSize, num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads, num_key_value_heads: c.numKvHeads, head_dim: c.headDim, hidden_act: "silu",
    max_position_embeddings: c.contextLength, rms_norm_eps: c.rmsNormEps, rope_theta: c.rope.theta,
    tie_word_embeddings: c.tieWordEmbeddings, attention_bias: false, torch_dtype: "float32",
    ...(moe && { num_experts: moe.numExperts, num_experts_per_tok: moe.topK, moe_intermediate_size: moe.expertFfn,
      norm_topk_prob: moe.normTopK, decoder_sparse_step: 1, mlp_only_layers: [] }),
  };
}

/** `zhiyu init` presets; qwen3moe's "1b" is Qwen3-30B-A3B scaled down for one CPU (16 experts, top-2; ~0.95B total,
 *  ~0.2B active), the shape for benchmarking MoE decode against llama.cpp. */
const PRESETS: Record<string, { vocabSize: number; hiddenSize: number; numLayers: number; numHeads: number; numKvHeads: number;
  headDim: number; intermediateSize: number; experts: number; topK: number; expertFfn: number }> = {
  tiny: { vocabSize: 512, hiddenSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 32, intermediateSize: 192, experts: 8, topK: 2, expertFfn: 32 },
  "1b": { vocabSize: 32000, hiddenSize: 1024, numLayers: 16, numHeads: 16, numKvHeads: 8, headDim: 64, intermediateSize: 3072, experts: 16, topK: 2, expertFfn: 1024 },
};

function presetConfig(variant: string, preset: string, vocabSize?: number): DecoderConfig {
  if (!(VARIANTS as readonly string[]).includes(variant)) throw new RangeError(`--arch ${variant}: the qwen3 family has ${VARIANTS.join(", ")}`);
  const p = PRESETS[preset];
  if (!p) throw new RangeError(`--preset ${preset}: ${variant} presets are ${Object.keys(PRESETS).join(", ")}`);
  const moe = variant === "qwen3moe";
  return {
    architecture: variant, vocabSize: vocabSize ?? p.vocabSize, hiddenSize: p.hiddenSize, numLayers: p.numLayers, contextLength: 2048,
    intermediateSize: p.intermediateSize, numHeads: p.numHeads, numKvHeads: p.numKvHeads, headDim: p.headDim, rmsNormEps: 1e-6,
    rope: { theta: 1e6, scaling: null, partialRotaryFactor: 1 }, rotaryDim: p.headDim, ropeLayout: "neox", tieWordEmbeddings: false,
    layer: QWEN3_LAYER, moe: moe ? { numExperts: p.experts, topK: p.topK, expertFfn: p.expertFfn, normTopK: true } : null,
    attentionScale: null, attnSoftcap: null, finalSoftcap: null, slidingWindows: Array(p.numLayers).fill(null), embedScale: null,
  };
}

export const qwen3Family: FamilyDescriptor<DecoderConfig> = {
  id: "qwen3",
  kind: "causal-lm",
  hfModelTypes: ["qwen3", "qwen3_moe"],
  hfArchitectures: ["Qwen3ForCausalLM", "Qwen3MoeForCausalLM"],
  ggufArchitectures: ["qwen3", "qwen3moe"],
  variants: VARIANTS,
  configFromHf,
  configFromGguf,
  hfConfigJson,
  ggufMetadata: (c) => decoderGgufMetadata(c, c.architecture),
  paramSpecs: (c) => decoderParamSpecs(c, LLAMA_STYLE_NAMES),
  ggufName: (hfName) => mapName(GGUF_NAMES, hfName),
  ggufStack: (hfName) => expertGgufStack(hfName, LLAMA_STYLE_NAMES),
  ...PLAIN_LAYOUT,
  presets: Object.keys(PRESETS),
  presetConfig,
  load: (config, ctx) => loadDecoder(config, ctx, LLAMA_STYLE_NAMES,
    { experts: `${config.architecture}.expert_count`, expertFfn: `${config.architecture}.expert_feed_forward_length`, hidden: `${config.architecture}.embedding_length` }),
  trainable: (config, params) => {
    if (config.moe) throw new RangeError(`${config.architecture}: training MoE models is not supported yet`);
    return new DecoderModel(config, params, LLAMA_STYLE_NAMES);
  },
};

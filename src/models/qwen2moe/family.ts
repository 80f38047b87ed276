// The Qwen2-MoE family (Qwen1.5-MoE, Qwen2-57B-A14B): Qwen2's attention (q/k/v biases, no q/k norms, NeoX RoPE) and
// in every layer a sparse MoE — softmax over num_experts, top-k, renormalised only when norm_topk_prob (default
// false; llama.cpp's qwen2moe never renormalises and stores no key for it) — plus a shared SwiGLU expert every
// token runs, scaled by sigmoid(shared_expert_gate · x). GGUF as llama.cpp's converter writes it: experts stacked in
// `ffn_{gate,up,down}_exps`, the shared expert in `ffn_{gate,up,down}_shexp`, its gate `ffn_gate_inp_shexp`.
// Built on the shared decoder (../decoder/); the shared expert runs in moe.ts (tensor path) and in the backend's fused
// decode op (with encoded weights).
// Leaves out: dense layers (mlp_only_layers, decoder_sparse_step ≠ 1: refused by name), sliding windows (off in the
// released checkpoints), training, a norm_topk_prob true model in GGUF (no key; llama.cpp would not renormalise).
import type { GgufFile } from "../../io/gguf.js";
import { type FamilyDescriptor, PLAIN_LAYOUT } from "../descriptor.js";
import { type DecoderConfig, type DecoderNames, LLAMA_STYLE_NAMES, checkDecoderConfig, decoderParamSpecs, expertGgufStack, ggufCountFields,
  ggufNumber, hfNumber, hfSlidingWindows } from "../decoder/config.js";
import { DECODER_GGUF_NAMES, decoderGgufMetadata, loadDecoder } from "../decoder/load.js";
import { ropeParamsFromGguf, ropeParamsFromHf } from "../rope-params.js";
import { ModelLoadError, mapName } from "../weights.js";

const ARCH = "qwen2moe";
const LAYER = { qkvFused: false, qkvBias: true, qkNorm: false, norms: "pre", activation: "silu", gateUpFused: false } as const;
const NAMES: DecoderNames = { ...LLAMA_STYLE_NAMES, sharedExpert: { gate: "mlp.shared_expert.gate_proj", up: "mlp.shared_expert.up_proj",
  down: "mlp.shared_expert.down_proj", gateInp: "mlp.shared_expert_gate" } };
const GGUF_NAMES: ReadonlyArray<readonly [string, string]> = [...DECODER_GGUF_NAMES,
  ["model.layers.N.post_attention_layernorm.weight", "blk.N.ffn_norm.weight"], ["model.layers.N.mlp.gate.weight", "blk.N.ffn_gate_inp.weight"],
  ["model.layers.N.mlp.shared_expert.gate_proj.weight", "blk.N.ffn_gate_shexp.weight"],
  ["model.layers.N.mlp.shared_expert.up_proj.weight", "blk.N.ffn_up_shexp.weight"],
  ["model.layers.N.mlp.shared_expert.down_proj.weight", "blk.N.ffn_down_shexp.weight"],
  ["model.layers.N.mlp.shared_expert_gate.weight", "blk.N.ffn_gate_inp_shexp.weight"]];
const MOE_FIELDS = { experts: "num_experts", topK: "num_experts_per_tok", expertFfn: "moe_intermediate_size", sharedExpertFfn: "shared_expert_intermediate_size" };
const GGUF_MOE_FIELDS = { experts: `${ARCH}.expert_count`, topK: `${ARCH}.expert_used_count`, expertFfn: `${ARCH}.expert_feed_forward_length`,
  sharedExpertFfn: `${ARCH}.expert_shared_feed_forward_length` };

type Json = Record<string, unknown>;

function configFromHf(json: Json, where: string): DecoderConfig {
  const hiddenSize = hfNumber(json, "hidden_size", where);
  const numHeads = hfNumber(json, "num_attention_heads", where);
  const numLayers = hfNumber(json, "num_hidden_layers", where);
  const dense = Array.isArray(json.mlp_only_layers) ? json.mlp_only_layers : [];
  if (dense.length > 0 || hfNumber(json, "decoder_sparse_step", where, 1) !== 1) {
    throw new ModelLoadError(`${where}: 'mlp_only_layers' / 'decoder_sparse_step' make some layers dense; Zhiyu's Qwen2-MoE needs every layer MoE`);
  }
  const headDim = hiddenSize / numHeads;
  const shared = hfNumber(json, "shared_expert_intermediate_size", where, 0);
  return checkDecoderConfig({
    architecture: ARCH, vocabSize: hfNumber(json, "vocab_size", where), hiddenSize, numLayers,
    intermediateSize: hfNumber(json, "intermediate_size", where),
    numHeads, numKvHeads: hfNumber(json, "num_key_value_heads", where, numHeads), headDim,
    rmsNormEps: hfNumber(json, "rms_norm_eps", where, 1e-6),
    rope: ropeParamsFromHf(json, where), rotaryDim: headDim, ropeLayout: "neox",
    contextLength: hfNumber(json, "max_position_embeddings", where, 32768),
    tieWordEmbeddings: json.tie_word_embeddings === true, layer: LAYER,
    moe: { numExperts: hfNumber(json, "num_experts", where), topK: hfNumber(json, "num_experts_per_tok", where),
      expertFfn: hfNumber(json, "moe_intermediate_size", where), normTopK: json.norm_topk_prob === true, sharedExpertFfn: shared > 0 ? shared : null },
    attentionScale: null, attnSoftcap: null, finalSoftcap: null,
    slidingWindows: hfSlidingWindows(json, where, numLayers, null), embedScale: null,
  }, where, undefined, undefined, MOE_FIELDS);
}

function configFromGguf(file: GgufFile): DecoderConfig {
  const n = (key: string, fallback?: number) => ggufNumber(file, ARCH, key, fallback);
  const embd = file.tensorByName.get("token_embd.weight");
  if (!embd) throw new ModelLoadError(`${file.path}: tensor 'token_embd.weight' is missing`);
  const hiddenSize = n("embedding_length"), numHeads = n("attention.head_count"), numLayers = n("block_count");
  const headDim = n("attention.key_length", hiddenSize / numHeads);
  // llama.cpp: the shared expert's size falls back to feed_forward_length; its tensors are required in every layer.
  const hasShared = file.tensorByName.has("blk.0.ffn_up_shexp.weight");
  return checkDecoderConfig({
    architecture: ARCH, vocabSize: n("vocab_size", embd.dims[1]), hiddenSize, numLayers,
    intermediateSize: n("feed_forward_length", n("expert_feed_forward_length")),
    numHeads, numKvHeads: n("attention.head_count_kv", numHeads), headDim,
    rmsNormEps: n("attention.layer_norm_rms_epsilon", 1e-6),
    rope: ropeParamsFromGguf(file, ARCH, 1e6), rotaryDim: headDim, ropeLayout: "neox",
    contextLength: n("context_length", 32768),
    tieWordEmbeddings: !file.tensorByName.has("output.weight"), layer: LAYER,
    moe: { numExperts: n("expert_count"), topK: n("expert_used_count"), expertFfn: n("expert_feed_forward_length"), normTopK: false,
      sharedExpertFfn: hasShared ? n("expert_shared_feed_forward_length", n("feed_forward_length")) : null },
    attentionScale: null, attnSoftcap: null, finalSoftcap: null,
    slidingWindows: Array(numLayers).fill(null), embedScale: null,
  }, file.path, ggufCountFields(ARCH), file.tensors.length, GGUF_MOE_FIELDS);
}

function hfConfigJson(c: DecoderConfig): Json {
  const moe = c.moe!;
  return {
    architectures: ["Qwen2MoeForCausalLM"], model_type: "qwen2_moe",
    vocab_size: c.vocabSize, hidden_size: c.hiddenSize, intermediate_size: c.intermediateSize, num_hidden_layers: c.numLayers,
    num_attention_heads: c.numHeads, num_key_value_heads: c.numKvHeads, hidden_act: "silu",
    max_position_embeddings: c.contextLength, rms_norm_eps: c.rmsNormEps, rope_theta: c.rope.theta,
    tie_word_embeddings: c.tieWordEmbeddings, qkv_bias: true, use_sliding_window: false, torch_dtype: "float32",
    num_experts: moe.numExperts, num_experts_per_tok: moe.topK, moe_intermediate_size: moe.expertFfn, norm_topk_prob: moe.normTopK,
    shared_expert_intermediate_size: moe.sharedExpertFfn ?? 0, decoder_sparse_step: 1, mlp_only_layers: [],
  };
}

/** `zhiyu init` preset: a tiny model for tests and demos (Qwen1.5-MoE-A2.7B's proportions: 4 of 60 experts → here 2 of 8). */
function presetConfig(variant: string, preset: string, vocabSize?: number): DecoderConfig {
  if (variant !== ARCH) throw new RangeError(`--arch ${variant}: the qwen2moe family has ${ARCH}`);
  if (preset !== "tiny") throw new RangeError(`--preset ${preset}: ${ARCH} presets are tiny`);
  return {
    architecture: ARCH, vocabSize: vocabSize ?? 512, hiddenSize: 64, numLayers: 2, contextLength: 2048, intermediateSize: 192,
    numHeads: 4, numKvHeads: 2, headDim: 16, rmsNormEps: 1e-6, rope: { theta: 1e6, scaling: null, partialRotaryFactor: 1 }, rotaryDim: 16,
    ropeLayout: "neox", tieWordEmbeddings: false, layer: LAYER,
    moe: { numExperts: 8, topK: 2, expertFfn: 32, normTopK: false, sharedExpertFfn: 128 },
    attentionScale: null, attnSoftcap: null, finalSoftcap: null, slidingWindows: [null, null], embedScale: null,
  };
}

export const qwen2moeFamily: FamilyDescriptor<DecoderConfig> = {
  id: "qwen2moe",
  kind: "causal-lm",
  hfModelTypes: ["qwen2_moe"],
  hfArchitectures: ["Qwen2MoeForCausalLM"],
  ggufArchitectures: [ARCH],
  variants: [ARCH],
  configFromHf,
  configFromGguf,
  hfConfigJson,
  ggufMetadata: (c) => [...decoderGgufMetadata(c, ARCH),
    ...(c.moe?.sharedExpertFfn ? [[`${ARCH}.expert_shared_feed_forward_length`, c.moe.sharedExpertFfn, "u32"] as const] : [])],
  paramSpecs: (c) => decoderParamSpecs(c, NAMES),
  ggufName: (hfName) => mapName(GGUF_NAMES, hfName),
  ggufStack: (hfName) => expertGgufStack(hfName, NAMES),
  ...PLAIN_LAYOUT,
  presets: ["tiny"],
  presetConfig,
  load: (config, ctx) => loadDecoder(config, ctx, NAMES,
    { experts: GGUF_MOE_FIELDS.experts, expertFfn: GGUF_MOE_FIELDS.expertFfn, hidden: `${ARCH}.embedding_length` }),
  trainable: (config) => {
    throw new RangeError(`${config.architecture}: training MoE models is not supported yet`);
  },
};

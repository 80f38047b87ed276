// The LLaMA family's descriptor (registered in src/models/registry.ts): LLaMA 1–3, Mistral and Qwen2 checkpoints
// from HF config.json or GGUF, their config.json / GGUF metadata on export, llama.cpp's Q/K row order, the
// `zhiyu init` presets, and the inference and training networks built over LlamaModel.
// Leaves out: the math (model.ts), config parsing and the name table (config.ts).
import { readTensorBytes } from "../../io/gguf.js";
import { type FamilyDescriptor, type GgufMetadata, PLAIN_LAYOUT } from "../descriptor.js";
import { type LlamaConfig, MIXTRAL_NAMES, ggufQkRowOrder, llamaAsDecoder, llamaConfigFromGguf, llamaConfigFromHf, llamaGgufName, llamaNeedsDecoder,
  llamaParamSpecs } from "./config.js";
import { expertGgufStack } from "../decoder/config.js";
import { loadDecoder } from "../decoder/load.js";
import { LlamaModel, fuseProjections } from "./model.js";
import { decodeToF32 } from "../weights.js";

type LlamaShape = Pick<LlamaConfig, "vocabSize" | "hiddenSize" | "intermediateSize" | "numLayers" | "numHeads" | "numKvHeads" | "contextLength" | "tieWordEmbeddings">;

/** `zhiyu init` presets (qwen2 uses the same shapes with Q/K/V biases and θ = 1e6). */
export const LLAMA_PRESETS: Record<string, LlamaShape> = {
  tiny: { vocabSize: 512, hiddenSize: 64, intermediateSize: 192, numLayers: 2, numHeads: 4, numKvHeads: 2, contextLength: 256, tieWordEmbeddings: false },
  small: { vocabSize: 32000, hiddenSize: 512, intermediateSize: 1408, numLayers: 8, numHeads: 8, numKvHeads: 8, contextLength: 2048, tieWordEmbeddings: true },
  // ~110M parameters: the benchmark model.
  "110m": { vocabSize: 32000, hiddenSize: 768, intermediateSize: 2048, numLayers: 12, numHeads: 12, numKvHeads: 12, contextLength: 2048, tieWordEmbeddings: true },
  // ~1.0B parameters (Llama-3.2-1B-like shape with a 32k vocabulary).
  "1b": { vocabSize: 32000, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, contextLength: 2048, tieWordEmbeddings: true },
};

const VARIANTS = ["llama", "qwen2"] as const;

function ggufMetadata(c: LlamaConfig): GgufMetadata {
  const a = c.architecture;
  const m: GgufMetadata = [
    [`${a}.context_length`, c.contextLength, "u32"],
    [`${a}.embedding_length`, c.hiddenSize, "u32"],
    [`${a}.block_count`, c.numLayers, "u32"],
    [`${a}.feed_forward_length`, c.intermediateSize, "u32"],
    [`${a}.attention.head_count`, c.numHeads, "u32"],
    [`${a}.attention.head_count_kv`, c.numKvHeads, "u32"],
    [`${a}.attention.layer_norm_rms_epsilon`, c.rmsNormEps, "f32"],
    [`${a}.rope.freq_base`, c.ropeTheta, "f32"],
    [`${a}.rope.dimension_count`, c.headDim, "u32"],
  ];
  if (c.headDim * c.numHeads !== c.hiddenSize) {
    m.push([`${a}.attention.key_length`, c.headDim, "u32"]);
    m.push([`${a}.attention.value_length`, c.headDim, "u32"]);
  }
  if (c.ropeScaling?.type === "linear") {
    m.push([`${a}.rope.scaling.type`, "linear"]);
    m.push([`${a}.rope.scaling.factor`, c.ropeScaling.factor, "f32"]);
  } else if (c.ropeScaling?.type === "yarn") {
    m.push([`${a}.rope.scaling.type`, "yarn"], [`${a}.rope.scaling.factor`, c.ropeScaling.factor, "f32"],
      [`${a}.rope.scaling.original_context_length`, c.ropeScaling.originalContextLength, "u32"]);
  }
  if (c.moe) m.push([`${a}.expert_count`, c.moe.numExperts, "u32"], [`${a}.expert_used_count`, c.moe.topK, "u32"]);
  return m;
}

function hfConfigJson(c: LlamaConfig): Record<string, unknown> {
  return {
    architectures: [c.architecture === "qwen2" ? "Qwen2ForCausalLM" : "LlamaForCausalLM"], model_type: c.architecture,
    vocab_size: c.vocabSize, hidden_size: c.hiddenSize, intermediate_size: c.intermediateSize,
    num_hidden_layers: c.numLayers, num_attention_heads: c.numHeads, num_key_value_heads: c.numKvHeads,
    head_dim: c.headDim, hidden_act: "silu", max_position_embeddings: c.contextLength,
    rms_norm_eps: c.rmsNormEps, rope_theta: c.ropeTheta,
    rope_scaling: hfRopeScaling(c.ropeScaling),
    tie_word_embeddings: c.tieWordEmbeddings, attention_bias: c.attentionBias, torch_dtype: "float32",
    ...(c.moe && { architectures: ["MixtralForCausalLM"], model_type: "mixtral", num_local_experts: c.moe.numExperts,
      num_experts_per_tok: c.moe.topK }),
  };
}

function hfRopeScaling(s: LlamaConfig["ropeScaling"]): Record<string, unknown> | null {
  if (s?.type === "linear" || s?.type === "dynamic") return { rope_type: s.type, factor: s.factor };
  if (s?.type === "yarn") return { rope_type: "yarn", factor: s.factor, original_max_position_embeddings: s.originalContextLength };
  if (s?.type === "llama3") {
    return { rope_type: "llama3", factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor,
      original_max_position_embeddings: s.originalContextLength };
  }
  return null;
}

function presetConfig(variant: string, preset: string, vocabSize?: number): LlamaConfig {
  if (!(VARIANTS as readonly string[]).includes(variant)) throw new RangeError(`--arch ${variant}: the llama family has ${VARIANTS.join(", ")}`);
  const p = LLAMA_PRESETS[preset];
  if (!p) throw new RangeError(`--preset ${preset}: ${variant} presets are ${Object.keys(LLAMA_PRESETS).join(", ")}`);
  const qwen2 = variant === "qwen2";
  return {
    architecture: variant as LlamaConfig["architecture"], ...p, vocabSize: vocabSize ?? p.vocabSize, headDim: p.hiddenSize / p.numHeads,
    rmsNormEps: qwen2 ? 1e-6 : 1e-5, ropeTheta: qwen2 ? 1e6 : 1e4, ropeScaling: null,
    ropeFreqFactors: null, ropeLayout: "neox", attentionBias: qwen2, moe: null,
  };
}

/** q/k/v and gate/up of every layer: a GGUF read puts each group in one buffer so fuseProjections needs no copy. */
function projectionGroups(c: LlamaConfig): string[][] {
  return Array.from({ length: c.numLayers }, (_, l) => [
    ["q_proj", "k_proj", "v_proj"].map((n) => `model.layers.${l}.self_attn.${n}.weight`),
    ["gate_proj", "up_proj"].map((n) => `model.layers.${l}.mlp.${n}.weight`),
  ]).flat();
}

export const llamaFamily: FamilyDescriptor<LlamaConfig> = {
  id: "llama",
  kind: "causal-lm",
  hfModelTypes: ["llama", "mistral", "qwen2", "mixtral"],
  hfArchitectures: ["LlamaForCausalLM", "MistralForCausalLM", "Qwen2ForCausalLM", "MixtralForCausalLM"],
  ggufArchitectures: ["llama", "qwen2"],
  variants: VARIANTS,
  configFromHf: llamaConfigFromHf,
  configFromGguf: llamaConfigFromGguf,
  hfConfigJson,
  ggufMetadata,
  paramSpecs: llamaParamSpecs,
  ggufName: llamaGgufName,
  ggufStack: (hfName) => expertGgufStack(hfName, MIXTRAL_NAMES),
  ...PLAIN_LAYOUT,
  ggufRowOrder(c, spec, toGguf) {
    // llama.cpp rotates adjacent pairs for LLaMA (not Qwen2): its converter permutes HF Q/K rows.
    if (c.architecture !== "llama" || !/self_attn\.(q|k)_proj\.weight$/.test(spec.name)) return null;
    const heads = spec.name.includes("q_proj") ? c.numHeads : c.numKvHeads;
    return ggufQkRowOrder(spec.shape[0], heads, toGguf);
  },
  presets: Object.keys(LLAMA_PRESETS),
  presetConfig,
  load(config, ctx) {
    const freqs = ctx.gguf?.tensorByName.get("rope_freqs.weight");
    if (freqs && ctx.gguf) {
      config.ropeFreqFactors = decodeToF32({ fileName: freqs.name, shape: [...freqs.dims].reverse(), type: "f32",
        data: readTensorBytes(ctx.gguf, freqs) }, ctx.backend);
    }
    if (ctx.contextLength) config.contextLength = ctx.contextLength;
    if (llamaNeedsDecoder(config)) {
      const a = config.architecture;
      return loadDecoder(llamaAsDecoder(config), ctx, MIXTRAL_NAMES,
        { experts: `${a}.expert_count`, expertFfn: `${a}.feed_forward_length`, hidden: `${a}.embedding_length` });
    }
    const gguf = ctx.format === "gguf";
    const params = ctx.loadParams(llamaParamSpecs(config), gguf ? { stackedGroups: projectionGroups(config) } : {});
    const model = new LlamaModel(config, params, gguf ? fuseProjections(config, params) : null);
    return { kind: "causal-lm", network: model };
  },
  trainable: (config, params, { matmulDtype }) => {
    if (config.moe) throw new RangeError("mixtral: training MoE models is not supported yet");
    return new LlamaModel(config, params, null, { matmulDtype });
  },
};


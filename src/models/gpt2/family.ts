// The GPT-2 family's descriptor (registered in src/models/registry.ts): GPT2LMHeadModel checkpoints from HF
// config.json or GGUF, config.json / GGUF metadata on export (llama.cpp's loader wants output.weight even when tied,
// and keeps the position table in f32), the HF Conv1D transposition, the `zhiyu init` presets, and the inference
// and training networks built over Gpt2Model.
// Leaves out: the math (model.ts), config parsing and the name table (config.ts).
import type { FamilyDescriptor, GgufMetadata } from "../descriptor.js";
import { type Gpt2Config, GPT2_CONV1D_WEIGHT, gpt2ConfigFromGguf, gpt2ConfigFromHf, gpt2GgufName, gpt2ParamSpecs } from "./config.js";
import { Gpt2Model } from "./model.js";

/** `zhiyu init` presets. */
export const GPT2_PRESETS: Record<string, Omit<Gpt2Config, "architecture" | "layerNormEps" | "tieWordEmbeddings">> = {
  tiny: { vocabSize: 512, hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, contextLength: 256 },
  small: { vocabSize: 50257, hiddenSize: 384, intermediateSize: 1536, numLayers: 6, numHeads: 6, contextLength: 1024 },
  "124m": { vocabSize: 50257, hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, contextLength: 1024 },
};

function ggufMetadata(c: Gpt2Config): GgufMetadata {
  return [
    ["gpt2.context_length", c.contextLength, "u32"],
    ["gpt2.embedding_length", c.hiddenSize, "u32"],
    ["gpt2.block_count", c.numLayers, "u32"],
    ["gpt2.feed_forward_length", c.intermediateSize, "u32"],
    ["gpt2.attention.head_count", c.numHeads, "u32"],
    ["gpt2.attention.layer_norm_epsilon", c.layerNormEps, "f32"],
  ];
}

function hfConfigJson(c: Gpt2Config): Record<string, unknown> {
  return {
    architectures: ["GPT2LMHeadModel"], model_type: "gpt2", vocab_size: c.vocabSize, n_positions: c.contextLength,
    n_ctx: c.contextLength, n_embd: c.hiddenSize, n_layer: c.numLayers, n_head: c.numHeads,
    n_inner: c.intermediateSize, activation_function: "gelu_new", layer_norm_epsilon: c.layerNormEps,
    tie_word_embeddings: c.tieWordEmbeddings, torch_dtype: "float32",
  };
}

function presetConfig(variant: string, preset: string, vocabSize?: number): Gpt2Config {
  if (variant !== "gpt2") throw new RangeError(`--arch ${variant}: the gpt2 family has gpt2`);
  const p = GPT2_PRESETS[preset];
  if (!p) throw new RangeError(`--preset ${preset}: gpt2 presets are ${Object.keys(GPT2_PRESETS).join(", ")}`);
  return { architecture: "gpt2", ...p, vocabSize: vocabSize ?? p.vocabSize, layerNormEps: 1e-5, tieWordEmbeddings: true };
}

export const gpt2Family: FamilyDescriptor<Gpt2Config> = {
  id: "gpt2",
  kind: "causal-lm",
  hfModelTypes: ["gpt2"],
  hfArchitectures: ["GPT2LMHeadModel"],
  ggufArchitectures: ["gpt2"],
  variants: ["gpt2"],
  configFromHf: gpt2ConfigFromHf,
  configFromGguf: gpt2ConfigFromGguf,
  hfConfigJson,
  ggufMetadata,
  paramSpecs: gpt2ParamSpecs,
  ggufName: gpt2GgufName,
  hfTransposed: GPT2_CONV1D_WEIGHT,
  ggufRowOrder: () => null,
  ggufTensorType: (_c, spec, requested) => (spec.name === "transformer.wpe.weight" ? "f32" : requested),
  ggufCopies: (c) => (c.tieWordEmbeddings ? [["output.weight", "token_embd.weight"]] : []),
  presets: Object.keys(GPT2_PRESETS),
  presetConfig,
  load(config, ctx) {
    // Learned positions: the config's context length is the table's size, so an override cannot extend it.
    const params = ctx.loadParams(gpt2ParamSpecs(config));
    const model = new Gpt2Model(config, params, { ggmlGelu: ctx.format === "gguf" });
    return { kind: "causal-lm", network: model };
  },
  trainable: (config, params, { matmulDtype }) => new Gpt2Model(config, params, { matmulDtype }),
};

// Model presets (tiny … ~1B) per family, as validated data, and the random initialisation used by `zhiyu init`
// and the trainer: normal(0, std) matrices, ones for norm weights, zeros for biases, from one seeded Rng in
// parameter order (so a seed names a model exactly). Also paramSpecs(config) for any family.
// Leaves out: scaled init schemes (GPT-2's 1/sqrt(2·layers) residual scaling is the trainer's choice).
import type { Rng } from "../core/rng.js";
import type { LlamaConfig } from "./llama-config.js";
import { llamaParamSpecs } from "./llama-config.js";
import type { Gpt2Config } from "./gpt2-config.js";
import { gpt2ParamSpecs } from "./gpt2-config.js";
import type { ParamSpec } from "./weights.js";

export type ModelConfig = LlamaConfig | Gpt2Config;

export function paramSpecs(config: ModelConfig): ParamSpec[] {
  return config.architecture === "gpt2" ? gpt2ParamSpecs(config) : llamaParamSpecs(config);
}

type LlamaShape = Pick<LlamaConfig, "vocabSize" | "hiddenSize" | "intermediateSize" | "numLayers" | "numHeads" | "numKvHeads" | "contextLength" | "tieWordEmbeddings">;

/** LLaMA-shaped presets (qwen2 uses the same shapes with Q/K/V biases and θ = 1e6). */
export const LLAMA_PRESETS: Record<string, LlamaShape> = {
  tiny: { vocabSize: 512, hiddenSize: 64, intermediateSize: 192, numLayers: 2, numHeads: 4, numKvHeads: 2, contextLength: 256, tieWordEmbeddings: false },
  small: { vocabSize: 32000, hiddenSize: 512, intermediateSize: 1408, numLayers: 8, numHeads: 8, numKvHeads: 8, contextLength: 2048, tieWordEmbeddings: true },
  // ~110M parameters: the benchmark model.
  "110m": { vocabSize: 32000, hiddenSize: 768, intermediateSize: 2048, numLayers: 12, numHeads: 12, numKvHeads: 12, contextLength: 2048, tieWordEmbeddings: true },
  // ~1.0B parameters (Llama-3.2-1B-like shape with a 32k vocabulary).
  "1b": { vocabSize: 32000, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, contextLength: 2048, tieWordEmbeddings: true },
};

export const GPT2_PRESETS: Record<string, Omit<Gpt2Config, "architecture" | "layerNormEps" | "tieWordEmbeddings">> = {
  tiny: { vocabSize: 512, hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, contextLength: 256 },
  small: { vocabSize: 50257, hiddenSize: 384, intermediateSize: 1536, numLayers: 6, numHeads: 6, contextLength: 1024 },
  "124m": { vocabSize: 50257, hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, contextLength: 1024 },
};

/** The config of a preset; vocabSize overrides the preset's (e.g. to match a copied vocabulary). */
export function presetConfig(arch: string, preset: string, vocabSize?: number): ModelConfig {
  if (arch === "gpt2") {
    const p = GPT2_PRESETS[preset];
    if (!p) throw new RangeError(`--preset ${preset}: gpt2 presets are ${Object.keys(GPT2_PRESETS).join(", ")}`);
    return { architecture: "gpt2", ...p, vocabSize: vocabSize ?? p.vocabSize, layerNormEps: 1e-5, tieWordEmbeddings: true };
  }
  if (arch !== "llama" && arch !== "qwen2") throw new RangeError(`--arch ${arch}: expected llama, qwen2 or gpt2`);
  const p = LLAMA_PRESETS[preset];
  if (!p) throw new RangeError(`--preset ${preset}: ${arch} presets are ${Object.keys(LLAMA_PRESETS).join(", ")}`);
  return {
    architecture: arch, ...p, vocabSize: vocabSize ?? p.vocabSize, headDim: p.hiddenSize / p.numHeads,
    rmsNormEps: arch === "qwen2" ? 1e-6 : 1e-5, ropeTheta: arch === "qwen2" ? 1e6 : 1e4, ropeScaling: null,
    ropeFreqFactors: null, ropeLayout: "neox", attentionBias: arch === "qwen2",
  };
}

/** Random parameters in spec order from one seeded RNG. */
export function randomParam(rng: Rng, std: number): (spec: ParamSpec) => Float32Array {
  return (spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    if (spec.init === "ones") x.fill(1);
    else if (spec.init === "normal") for (let i = 0; i < n; i++) x[i] = rng.normal(0, std);
    return x;
  };
}


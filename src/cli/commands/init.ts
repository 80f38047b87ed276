// `zhiyu init --arch llama|qwen2|gpt2 --preset NAME --out PATH [--seed S] [--type f32|f16|q8_0|q4_0]
// [--vocab-from FILE.gguf]`: a randomly initialised model (normal(0, 0.02) matrices, unit norms, zero biases) for
// benchmarks and tests, written as a Hugging Face folder or, when PATH ends in .gguf, a GGUF file llama.cpp loads.
// --vocab-from copies the tokenizer.* keys of a GGUF vocabulary (and its size) so text works end to end.
import { parseArgs } from "node:util";
import { UsageError } from "../errors.js";
import { Rng } from "../../core/rng.js";
import { readGguf, type GgufValue, type GgufValueType } from "../../io/gguf.js";
import type { LlamaConfig } from "../../models/llama-config.js";
import type { Gpt2Config } from "../../models/gpt2-config.js";
import type { ParamSpec } from "../../models/weights.js";
import { type ExportType, type ModelConfig, writeModelGguf, writeModelHf } from "../../infer/export.js";

type LlamaShape = Pick<LlamaConfig, "vocabSize" | "hiddenSize" | "intermediateSize" | "numLayers" | "numHeads" | "numKvHeads" | "contextLength" | "tieWordEmbeddings">;

/** LLaMA-shaped presets (qwen2 uses the same shapes with Q/K/V biases and θ = 1e6). */
const LLAMA_PRESETS: Record<string, LlamaShape> = {
  tiny: { vocabSize: 512, hiddenSize: 64, intermediateSize: 192, numLayers: 2, numHeads: 4, numKvHeads: 2, contextLength: 256, tieWordEmbeddings: false },
  small: { vocabSize: 32000, hiddenSize: 512, intermediateSize: 1408, numLayers: 8, numHeads: 8, numKvHeads: 8, contextLength: 2048, tieWordEmbeddings: true },
  // ~110M parameters: the benchmark model.
  "110m": { vocabSize: 32000, hiddenSize: 768, intermediateSize: 2048, numLayers: 12, numHeads: 12, numKvHeads: 12, contextLength: 2048, tieWordEmbeddings: true },
  // ~1.0B parameters (Llama-3.2-1B-like shape with a 32k vocabulary).
  "1b": { vocabSize: 32000, hiddenSize: 2048, intermediateSize: 8192, numLayers: 16, numHeads: 32, numKvHeads: 8, contextLength: 2048, tieWordEmbeddings: true },
};

const GPT2_PRESETS: Record<string, Omit<Gpt2Config, "architecture" | "layerNormEps" | "tieWordEmbeddings">> = {
  tiny: { vocabSize: 512, hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, contextLength: 256 },
  small: { vocabSize: 50257, hiddenSize: 384, intermediateSize: 1536, numLayers: 6, numHeads: 6, contextLength: 1024 },
  "124m": { vocabSize: 50257, hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, contextLength: 1024 },
};

export function presetConfig(arch: string, preset: string, vocabSize?: number): ModelConfig {
  if (arch === "gpt2") {
    const p = GPT2_PRESETS[preset];
    if (!p) throw new UsageError(`--preset ${preset}: gpt2 presets are ${Object.keys(GPT2_PRESETS).join(", ")}`);
    return { architecture: "gpt2", ...p, vocabSize: vocabSize ?? p.vocabSize, layerNormEps: 1e-5, tieWordEmbeddings: true };
  }
  if (arch !== "llama" && arch !== "qwen2") throw new UsageError(`--arch ${arch}: expected llama, qwen2 or gpt2`);
  const p = LLAMA_PRESETS[preset];
  if (!p) throw new UsageError(`--preset ${preset}: ${arch} presets are ${Object.keys(LLAMA_PRESETS).join(", ")}`);
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

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      arch: { type: "string" }, preset: { type: "string" }, out: { type: "string" }, seed: { type: "string" },
      type: { type: "string" }, "vocab-from": { type: "string" }, std: { type: "string" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  });
  if (values.help || !values.arch || !values.preset || !values.out) {
    console.log(`usage: zhiyu init --arch llama|qwen2|gpt2 --preset NAME --out PATH(.gguf or folder) [--seed S] ` +
      `[--type f32|f16|q8_0|q4_0] [--vocab-from FILE.gguf] [--std 0.02]\n  llama/qwen2 presets: ${Object.keys(LLAMA_PRESETS).join(", ")}` +
      `\n  gpt2 presets: ${Object.keys(GPT2_PRESETS).join(", ")}`);
    return values.help ? 0 : 2;
  }
  const type = (values.type ?? "f32") as ExportType;
  if (!["f32", "f16", "q8_0", "q4_0"].includes(type)) throw new UsageError(`--type ${values.type}: expected f32, f16, q8_0 or q4_0`);
  const seed = Number(values.seed ?? 0);
  const std = Number(values.std ?? 0.02);
  let extra: Array<readonly [string, GgufValue, GgufValueType?]> = [];
  let vocabSize: number | undefined;
  if (values["vocab-from"]) {
    const v = readGguf(values["vocab-from"]);
    extra = [...v.metadata].filter(([k]) => k.startsWith("tokenizer.")).map(([k, val]) => [k, val, v.metadataTypes.get(k)] as const);
    const tokens = v.metadata.get("tokenizer.ggml.tokens");
    if (Array.isArray(tokens)) vocabSize = tokens.length;
  }
  const config = presetConfig(values.arch, values.preset, vocabSize);
  const getParam = randomParam(new Rng(seed), std);
  const t0 = Date.now();
  if (values.out.endsWith(".gguf")) {
    if (extra.length === 0) extra = [["tokenizer.ggml.model", "no_vocab"]];
    writeModelGguf(values.out, config, getParam, { type, name: `zhiyu-${values.arch}-${values.preset}`, extraMetadata: extra });
  } else {
    if (type !== "f32") throw new UsageError("--type applies to .gguf output; HF folders are written in f32");
    writeModelHf(values.out, config, getParam);
  }
  const params = (await import("../../infer/export.js")).paramSpecs(config).reduce((n, s) => n + s.shape.reduce((a, b) => a * b, 1), 0);
  console.log(`wrote ${values.out}: ${values.arch} ${values.preset}, ${(params / 1e6).toFixed(1)}M parameters, ${type}, seed ${seed} (${((Date.now() - t0) / 1000).toFixed(1)} s)`);
  return 0;
}

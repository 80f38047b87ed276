// The T5 family's descriptor (registered in src/models/registry.ts as kind "seq2seq"): T5 v1.0, T5 v1.1 / Flan-T5
// and mT5 checkpoints from HF config.json (T5ForConditionalGeneration, MT5ForConditionalGeneration) or GGUF files of
// llama.cpp's `t5` architecture; GGUF metadata and config.json on export; `zhiyu init --arch t5` presets; the
// Seq2SeqNetwork inference runs (encode once, decoder states with cross K/V, packed decode steps) and the training
// network (teacher-forced decoder logits).
// Leaves out: the math (model.ts), config parsing and names (config.ts), tokenizers (src/tokenizers/unigram.ts).
import type { FamilyDescriptor, Seq2SeqNetwork } from "../descriptor.js";
import {
  type T5Config, t5ConfigFromGguf, t5ConfigFromHf, t5GgufMetadata, t5GgufName, t5HfConfigJson, t5HfFileName, t5ParamSpecs,
} from "./config.js";
import { T5Model } from "./model.js";

type Shape = Pick<T5Config, "vocabSize" | "hiddenSize" | "numLayers" | "numDecoderLayers" | "numHeads" | "headDim" | "intermediateSize">;

/** `zhiyu init --arch t5|mt5` presets ("small" is t5-small's shape with v1.1's gated GELU). */
export const T5_PRESETS: Record<string, Shape> = {
  tiny: { vocabSize: 512, hiddenSize: 64, numLayers: 2, numDecoderLayers: 2, numHeads: 4, headDim: 16, intermediateSize: 128 },
  small: { vocabSize: 32128, hiddenSize: 512, numLayers: 6, numDecoderLayers: 6, numHeads: 8, headDim: 64, intermediateSize: 1024 },
};

function presetConfig(variant: string, preset: string, vocabSize?: number): T5Config {
  if (variant !== "t5" && variant !== "mt5") throw new RangeError(`--arch ${variant}: the t5 family has t5, mt5`);
  const p = T5_PRESETS[preset];
  if (!p) throw new RangeError(`--preset ${preset}: t5 presets are ${Object.keys(T5_PRESETS).join(", ")}`);
  return {
    architecture: variant, ...p, vocabSize: vocabSize ?? p.vocabSize, relativeBuckets: 32, relativeMaxDistance: 128,
    layerNormEps: 1e-6, activation: "gelu_tanh", gated: true, tieWordEmbeddings: false, scaleDecoderOutput: false,
    padTokenId: 0, eosTokenId: 1, decoderStartTokenId: 0, contextLength: 512, sourceLength: 512,
  };
}

/** The inference network over a loaded model. */
export function t5Network(model: T5Model): Seq2SeqNetwork {
  return {
    params: model.params,
    decoderStartTokenId: model.config.decoderStartTokenId,
    encode: (input) => model.encode(input.ids, input.batch, input.length, input.attentionMask),
    createDecoderState: (encoderOutput, maxLength) => model.createState(encoderOutput, maxLength),
    decode: (items) => model.decodeStep(items),
  };
}

export const t5Family: FamilyDescriptor<T5Config> = {
  id: "t5",
  kind: "seq2seq",
  hfModelTypes: ["t5", "mt5"],
  hfArchitectures: ["T5ForConditionalGeneration", "MT5ForConditionalGeneration", "T5WithLMHeadModel", "T5EncoderModel", "MT5EncoderModel"],
  ggufArchitectures: ["t5", "t5encoder"],
  variants: ["t5", "mt5"],
  configFromHf: t5ConfigFromHf,
  configFromGguf: t5ConfigFromGguf,
  hfConfigJson: t5HfConfigJson,
  ggufMetadata: t5GgufMetadata,
  paramSpecs: t5ParamSpecs,
  ggufName: t5GgufName,
  hfTransposed: null,
  hfFileName: (_config, name, has) => t5HfFileName(name, has),
  ggufRowOrder: () => null,
  // llama.cpp reads the relative-bias tables with get_rows into f32 activations: its converter keeps them f32.
  ggufTensorType: (_c, spec, requested) => (spec.name.endsWith("relative_attention_bias.weight") ? "f32" : requested),
  ggufCopies: () => [],
  presets: Object.keys(T5_PRESETS),
  presetConfig,
  load(config, ctx) {
    const contextLength = ctx.contextLength ?? config.contextLength;
    const model = new T5Model({ ...config, contextLength }, ctx.loadParams(t5ParamSpecs(config)));
    return { kind: "seq2seq", network: t5Network(model) };
  },
  trainable(config, params, { matmulDtype }) {
    const model = new T5Model(config, params, { matmulDtype });
    return {
      forward() {
        throw new Error("[t5] a seq2seq model has no causal forward(ids); train it with a seq2seq objective (span corruption, seq2seq fine-tuning)");
      },
      seq2seq(b) {
        const enc = model.encode(b.sourceIds, b.batch, b.sourceLength, b.sourceMask);
        return model.decodeAll(b.decoderIds, b.batch, b.targetLength, enc, b.sourceMask);
      },
    };
  },
};

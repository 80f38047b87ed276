// The BERT family's descriptor (registered in src/models/registry.ts as kind "encoder"): BERT, RoBERTa and
// XLM-RoBERTa checkpoints from HF config.json (BertModel, BertFor{MaskedLM,SequenceClassification,
// TokenClassification} and their twins) or GGUF `bert` files; GGUF metadata and config.json on export; the
// `zhiyu init --arch bert` presets; the encoder network (hidden states plus the checkpoint's heads) and the training
// network (masked-LM logits, or the classifier's) over BertModel.
// A HF folder spells the encoder under "bert.", "roberta." or no prefix: hfFileName resolves a canonical name
// against the folder's tensors (weights.ts). The pooler is optional in a BertModel checkpoint, so load() reads it
// only when the file has it.
// Leaves out: the math (model.ts), config parsing (config.ts), names (weights.ts), tokenizers and pooling choices
// (src/infer/encoder.ts).
import { select } from "../../tensor/index.js";
import type { EncoderNetwork, FamilyDescriptor, GgufMetadata, TaskHeads } from "../descriptor.js";
import { ModelLoadError } from "../weights.js";
import { type BertConfig, GGUF_ZHIYU_KEYS, POOLING_TO_GGUF, bertConfigFromGguf, bertConfigFromHf, bertParamSpecs } from "./config.js";
import { bertGgufName, bertHfNames, detectHfLayout } from "./weights.js";
import { BertModel } from "./model.js";

type Shape = Pick<BertConfig, "vocabSize" | "hiddenSize" | "intermediateSize" | "numLayers" | "numHeads" | "maxPositions">;

/** `zhiyu init --arch bert` presets ("base" is bert-base's shape with a 32k vocabulary: ~110M parameters). */
export const BERT_PRESETS: Record<string, Shape> = {
  tiny: { vocabSize: 512, hiddenSize: 64, intermediateSize: 256, numLayers: 2, numHeads: 4, maxPositions: 128 },
  small: { vocabSize: 21128, hiddenSize: 256, intermediateSize: 1024, numLayers: 4, numHeads: 4, maxPositions: 512 },
  base: { vocabSize: 32000, hiddenSize: 768, intermediateSize: 3072, numLayers: 12, numHeads: 12, maxPositions: 512 },
};

function presetConfig(variant: string, preset: string, vocabSize?: number): BertConfig {
  if (variant !== "bert") throw new RangeError(`--arch ${variant}: the bert family has bert`);
  const p = BERT_PRESETS[preset];
  if (!p) throw new RangeError(`--preset ${preset}: bert presets are ${Object.keys(BERT_PRESETS).join(", ")}`);
  return {
    architecture: "bert", variant: "bert", head: "mlm", hasPooler: false, ...p, vocabSize: vocabSize ?? p.vocabSize,
    contextLength: p.maxPositions, typeVocabSize: 2, layerNormEps: 1e-12, hiddenAct: "gelu", padTokenId: 0, positionOffset: 0,
    numLabels: 0, labels: [], tieWordEmbeddings: true, pooling: null,
  };
}

/** The `bert.*` GGUF keys llama.cpp reads (RoBERTa's offset rows are dropped from the file, as its converter does). */
export function bertGgufMetadata(c: BertConfig): GgufMetadata {
  const m: GgufMetadata = [
    ["bert.block_count", c.numLayers, "u32"], ["bert.context_length", c.maxPositions - c.positionOffset, "u32"],
    ["bert.embedding_length", c.hiddenSize, "u32"], ["bert.feed_forward_length", c.intermediateSize, "u32"],
    ["bert.attention.head_count", c.numHeads, "u32"], ["bert.attention.layer_norm_epsilon", c.layerNormEps, "f32"],
    ["bert.attention.causal", false, "bool"], ["tokenizer.ggml.token_type_count", c.typeVocabSize, "u32"],
  ];
  if (c.pooling) m.push(["bert.pooling_type", POOLING_TO_GGUF[c.pooling], "u32"]);
  if (c.numLabels > 0) m.push(["bert.classifier.output_labels", c.labels, "array:string"]);
  if (c.head !== "none") m.push([GGUF_ZHIYU_KEYS.head, c.head]);
  if (c.variant !== "bert") m.push([GGUF_ZHIYU_KEYS.variant, c.variant]);
  return m;
}

const ARCH_NAMES: Record<BertConfig["variant"], string> = { bert: "Bert", roberta: "Roberta", "xlm-roberta": "XLMRoberta" };
const HEAD_SUFFIX: Record<BertConfig["head"], string> = {
  none: "Model", mlm: "ForMaskedLM", "sequence-classification": "ForSequenceClassification", "token-classification": "ForTokenClassification",
};

/** config.json for the encoder; offsetRows = RoBERTa position rows a GGUF table lacks and the HF one gets back. */
export function bertHfConfigJson(c: BertConfig, offsetRows = 0): Record<string, unknown> {
  const json: Record<string, unknown> = {
    architectures: [ARCH_NAMES[c.variant] + HEAD_SUFFIX[c.head]], model_type: c.variant,
    vocab_size: c.vocabSize, hidden_size: c.hiddenSize, num_hidden_layers: c.numLayers, num_attention_heads: c.numHeads,
    intermediate_size: c.intermediateSize, hidden_act: { gelu: "gelu", gelu_tanh: "gelu_new", relu: "relu" }[c.hiddenAct],
    max_position_embeddings: c.maxPositions + offsetRows, type_vocab_size: c.typeVocabSize, layer_norm_eps: c.layerNormEps,
    pad_token_id: c.padTokenId, position_embedding_type: "absolute", hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1,
    tie_word_embeddings: c.tieWordEmbeddings, dtype: "float32",
  };
  if (c.numLabels > 0) {
    json.id2label = Object.fromEntries(c.labels.map((l, i) => [String(i), l]));
    json.label2id = Object.fromEntries(c.labels.map((l, i) => [l, i]));
  }
  return json;
}

/** The encoder network of a loaded model: padded-batch hidden states and the checkpoint's heads. */
export function bertEncoderNetwork(model: BertModel): EncoderNetwork {
  const c = model.config;
  const heads: Record<string, (hidden: import("../../tensor/index.js").Tensor) => import("../../tensor/index.js").Tensor> = {};
  // Heads over [B, T, D]: the pooler and the sequence classifier read the first token of each row.
  const first = (hidden: import("../../tensor/index.js").Tensor) => select(hidden, 1, 0);
  const batch1 = (n: number) => ({ ids: new Int32Array(n), typeIds: new Int32Array(n), positions: new Int32Array(n),
    segments: Array.from({ length: n }, (_, i) => ({ start: i, length: 1 })) });
  if (c.hasPooler) heads.pooler = (h) => model.pooler(first(h), batch1(h.shape[0]));
  if (c.head === "mlm") heads.mlm = (h) => model.mlmLogits(h);
  if (c.head === "sequence-classification") heads.classifier = (h) => model.sequenceLogits(first(h), batch1(h.shape[0]));
  if (c.head === "token-classification") heads.classifier = (h) => model.tokenLogits(h);
  return {
    params: model.params,
    encode(input) {
      const rows = (src: ArrayLike<number> | undefined, fill: number) => Array.from({ length: input.batch }, (_, b) =>
        Array.from({ length: input.length }, (_, t) => (src ? src[b * input.length + t] : fill)));
      return model.encodePadded(rows(input.ids, 0), rows(input.attentionMask, 1), input.tokenTypeIds ? rows(input.tokenTypeIds, 0) : null);
    },
    heads,
  };
}

/** BERT keeps its task heads in its own parameters: the pooler + `classifier.*` (HF's BertForSequenceClassification;
 *  RoBERTa's classifier.dense/out_proj map onto them in weights.ts), `classifier.*` per token, the MLM head. */
export const bertTaskHeads: TaskHeads<BertConfig> = {
  headOf: (c) => ({ head: c.head, labels: c.labels }),
  headParamNames: (c) => bertParamSpecs(c).map((s) => s.name).filter((n) => n.startsWith("classifier.") || n.startsWith("cls.")),
  withHead(json, head, labels, where) {
    const c = bertConfigFromHf(json, where);
    const classifies = head === "sequence-classification" || head === "token-classification";
    if (classifies && labels.length === 0) throw new ModelLoadError(`${where}: a ${head} head needs at least one label`);
    const next: BertConfig = { ...c, head, labels: classifies ? [...labels] : [], numLabels: classifies ? labels.length : 0 };
    const out: Record<string, unknown> = { ...json, ...bertHfConfigJson(next) };
    if (!classifies) { delete out.id2label; delete out.label2id; delete out.num_labels; }
    return out;
  },
};

export const bertFamily: FamilyDescriptor<BertConfig> = {
  id: "bert",
  kind: "encoder",
  hfModelTypes: ["bert", "roberta", "xlm-roberta", "camembert"],
  hfArchitectures: ["Bert", "Roberta", "XLMRoberta"].flatMap((p) =>
    ["Model", "ForMaskedLM", "ForPreTraining", "ForSequenceClassification", "ForTokenClassification"].map((s) => p + s)),
  ggufArchitectures: ["bert"],
  variants: ["bert"],
  configFromHf: (json, where) => bertConfigFromHf(json, where),
  configFromGguf: bertConfigFromGguf,
  hfConfigJson: (c) => bertHfConfigJson(c),
  ggufMetadata: bertGgufMetadata,
  paramSpecs: bertParamSpecs,
  ggufName: bertGgufName,
  hfTransposed: null,
  hfFileName(config, name, has) {
    const layout = detectHfLayout(has, config.variant);
    if (!layout) return name;
    const names = bertHfNames(name, layout, config);
    return names.find(has) ?? names[0];
  },
  ggufRowOrder: () => null,
  // llama.cpp adds position and segment rows to f32 activations: its converter keeps those tables f32.
  ggufTensorType: (_c, spec, requested) =>
    (spec.name === "embeddings.position_embeddings.weight" || spec.name === "embeddings.token_type_embeddings.weight" ? "f32" : requested),
  ggufCopies: () => [],
  presets: Object.keys(BERT_PRESETS),
  presetConfig,
  load(config, ctx) {
    const params = ctx.loadParams(bertParamSpecs(config));
    let c = config;
    if (!c.hasPooler) {
      // A BertModel checkpoint may or may not hold its pooler (HF's add_pooling_layer): read it when present.
      try {
        const pooler = ctx.loadParams(bertParamSpecs({ ...c, hasPooler: true }).filter((s) => s.name.startsWith("pooler.")));
        for (const [k, v] of pooler) params.set(k, v);
        c = { ...c, hasPooler: true };
      } catch (err) {
        if (!(err instanceof ModelLoadError)) throw err;
      }
    }
    return { kind: "encoder", network: bertEncoderNetwork(new BertModel(c, params)) };
  },
  taskHeads: bertTaskHeads,
  trainable(config, params, { matmulDtype }) {
    const model = new BertModel(config, params, { matmulDtype });
    const encoder = bertEncoderNetwork(model);
    return {
      encoder,
      /** ids [B, T] (no padding) → MLM logits [B, T, V] (or the classifier's output for a classification head). */
      forward(ids) {
        const [b, t] = ids.shape;
        const flat = Array.from(ids.toArray() as number[]);
        const rows = Array.from({ length: b }, (_, i) => flat.slice(i * t, (i + 1) * t));
        const hidden = model.encodePadded(rows, rows.map((r) => r.map(() => 1)));
        const head = encoder.heads.mlm ?? encoder.heads.classifier;
        return head ? head(hidden) : hidden;
      },
    };
  },
};

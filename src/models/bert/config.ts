// BERT-family configuration (BERT, RoBERTa, XLM-RoBERTa and the bge/e5/MiniLM-style embedding models built on
// them): a typed config parsed from a Hugging Face config.json or from a GGUF file's `bert.*` metadata, every count
// checked before anything is allocated, and the parameter list a config implies (in Zhiyu's canonical names, which
// are HF BertModel's names without a prefix plus the heads' BertFor* names; weights.ts maps them to files).
// Kept apart from model.ts so loaders and converters can use it without the tensor layer.
// Leaves out: relative position embeddings (position_embedding_type other than "absolute"), cross-attention
// (is_decoder / add_cross_attention), ALiBi (jina-bert) and rotary (nomic-bert) variants: refused by name.
import type { GgufFile } from "../../io/gguf.js";
import { getOptionalArray, getOptionalNumber, getOptionalString } from "../../io/gguf.js";
import { ModelLoadError, type ParamSpec } from "../weights.js";

/** Which layout of weight names and positions: BERT, or RoBERTa (positions offset past the padding id). */
export type BertVariant = "bert" | "roberta" | "xlm-roberta";
/** The task head on top of the encoder. */
export type BertHead = "none" | "mlm" | "sequence-classification" | "token-classification";
export type BertActivation = "gelu" | "gelu_tanh" | "relu";
/** How hidden states become one vector per text (sentence-transformers' Pooling, llama.cpp's pooling_type). */
export type BertPooling = "none" | "mean" | "cls";

export interface BertConfig {
  architecture: "bert";
  variant: BertVariant;
  head: BertHead;
  /** The pooler (dense + tanh over the first token); sequence classification always has one. */
  hasPooler: boolean;
  vocabSize: number;
  hiddenSize: number;
  intermediateSize: number;
  numLayers: number;
  numHeads: number;
  /** Learned positions (max_position_embeddings), including RoBERTa's offset rows. */
  maxPositions: number;
  /** Longest sequence: maxPositions − positionOffset (the registry's FamilyConfig field). */
  contextLength: number;
  /** Segment embeddings (token_type_ids range over [0, typeVocabSize)); 0 = the model has none. */
  typeVocabSize: number;
  layerNormEps: number;
  hiddenAct: BertActivation;
  padTokenId: number;
  /** Position of the first token: 0 for BERT, pad_token_id + 1 for RoBERTa / XLM-R in HF files (0 in GGUF files,
   *  whose converter drops those rows). RoBERTa variants count positions over non-padding ids (HF's
   *  create_position_ids_from_input_ids); BERT uses the index in the row. */
  positionOffset: number;
  /** Classifier outputs (sequence or token classification), else 0. */
  numLabels: number;
  /** Label names, index = class id (HF id2label); length numLabels. */
  labels: string[];
  /** Whether the MLM decoder is the word-embedding matrix (HF always ties BERT's; an untied one is stored). */
  tieWordEmbeddings: boolean;
  /** Pooling the model's own files ask for (GGUF pooling_type, sentence-transformers 1_Pooling), or null. */
  pooling: BertPooling | null;
}

type Json = Record<string, unknown>;

/** Longest sequence / largest table Zhiyu accepts from a file before allocating (2^24 rows). */
const MAX_COUNT = 1 << 24;

function checkConfig(c: BertConfig, where: string): BertConfig {
  const positive = ["vocabSize", "hiddenSize", "intermediateSize", "numLayers", "numHeads", "maxPositions"] as const;
  for (const k of positive) {
    if (!Number.isInteger(c[k]) || c[k] <= 0 || c[k] > MAX_COUNT) {
      throw new ModelLoadError(`${where}: ${k} = ${c[k]} must be a positive integer ≤ ${MAX_COUNT}`);
    }
  }
  for (const k of ["typeVocabSize", "numLabels", "padTokenId", "positionOffset"] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 0 || c[k] > MAX_COUNT) throw new ModelLoadError(`${where}: ${k} = ${c[k]} must be an integer in [0, ${MAX_COUNT}]`);
  }
  if (c.hiddenSize % c.numHeads !== 0) {
    throw new ModelLoadError(`${where}: hidden size ${c.hiddenSize} is not a multiple of ${c.numHeads} attention heads`);
  }
  if (c.positionOffset >= c.maxPositions) {
    throw new ModelLoadError(`${where}: position offset ${c.positionOffset} (pad_token_id + 1) leaves no room in ${c.maxPositions} positions`);
  }
  if (!(c.layerNormEps > 0 && c.layerNormEps < 1)) throw new ModelLoadError(`${where}: layer_norm_eps = ${c.layerNormEps} must be in (0, 1)`);
  if ((c.head === "sequence-classification" || c.head === "token-classification") && c.numLabels <= 0) {
    throw new ModelLoadError(`${where}: a ${c.head} head needs num_labels ≥ 1 (or id2label)`);
  }
  if (c.labels.length !== c.numLabels) {
    throw new ModelLoadError(`${where}: ${c.labels.length} label names for ${c.numLabels} labels (id2label and num_labels disagree)`);
  }
  if (c.head === "sequence-classification" && !c.hasPooler) c.hasPooler = true;
  c.contextLength = c.maxPositions - c.positionOffset;
  return c;
}

const HF_VARIANTS: Record<string, BertVariant> = {
  bert: "bert", roberta: "roberta", "xlm-roberta": "xlm-roberta", camembert: "roberta",
};

/** Whether a config.json describes a BERT-family encoder (model_type, else the first architecture's prefix). */
export function isBertHfConfig(json: Json): boolean {
  const type = typeof json.model_type === "string" ? json.model_type : "";
  if (Object.hasOwn(HF_VARIANTS, type)) return true;
  const arch = Array.isArray(json.architectures) ? String(json.architectures[0] ?? "") : "";
  return /^(Bert|Roberta|XLMRoberta)(Model|ForMaskedLM|ForPreTraining|ForSequenceClassification|ForTokenClassification)$/.test(arch);
}

function headOfArchitecture(arch: string, where: string): BertHead {
  if (arch === "" || /Model$/.test(arch)) return "none";
  if (/ForMaskedLM$|ForPreTraining$/.test(arch)) return "mlm";
  if (/ForSequenceClassification$/.test(arch)) return "sequence-classification";
  if (/ForTokenClassification$/.test(arch)) return "token-classification";
  throw new ModelLoadError(`${where}: architecture '${arch}' is not supported (BertModel, BertForMaskedLM, ` +
    "BertForSequenceClassification, BertForTokenClassification and their RoBERTa / XLM-RoBERTa twins are)");
}

/** Labels from id2label (keys "0" … "n-1"), else LABEL_i for num_labels. */
function labelsOf(json: Json, where: string, head: BertHead): string[] {
  const id2label = json.id2label;
  if (id2label !== undefined && id2label !== null) {
    if (typeof id2label !== "object" || Array.isArray(id2label)) throw new ModelLoadError(`${where}: id2label must be an object of "id": "label"`);
    const entries = Object.entries(id2label as Json);
    if (entries.length > MAX_COUNT) throw new ModelLoadError(`${where}: id2label has ${entries.length} entries (at most ${MAX_COUNT})`);
    const labels = new Array<string>(entries.length);
    for (const [k, v] of entries) {
      const i = Number(k);
      if (!Number.isInteger(i) || i < 0 || i >= entries.length || labels[i] !== undefined) {
        throw new ModelLoadError(`${where}: id2label key '${k}' is not one of 0 … ${entries.length - 1} (each once)`);
      }
      labels[i] = String(v);
    }
    const n = json.num_labels;
    if (n !== undefined && n !== entries.length) throw new ModelLoadError(`${where}: num_labels ${String(n)} but id2label has ${entries.length} entries`);
    return head === "sequence-classification" || head === "token-classification" ? labels : [];
  }
  if (head !== "sequence-classification" && head !== "token-classification") return [];
  const n = json.num_labels ?? 2; // transformers' PretrainedConfig default
  if (typeof n !== "number" || !Number.isInteger(n) || n <= 0 || n > MAX_COUNT) throw new ModelLoadError(`${where}: num_labels is ${JSON.stringify(n)}, expected a positive integer`);
  return Array.from({ length: n }, (_, i) => `LABEL_${i}`);
}

function activationOf(act: unknown, where: string): BertActivation {
  if (act === undefined || act === "gelu") return "gelu";
  if (act === "gelu_new" || act === "gelu_pytorch_tanh") return "gelu_tanh";
  if (act === "relu") return "relu";
  throw new ModelLoadError(`${where}: hidden_act ${JSON.stringify(act)} is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)`);
}

/** Parses config.json; `hasPooler` says whether the weights hold a pooler (the config cannot tell). */
export function bertConfigFromHf(json: Json, where = "config.json", hasPooler = false): BertConfig {
  const num = (key: string, fallback?: number): number => {
    const v = json[key];
    if (v === undefined || v === null) {
      if (fallback !== undefined) return fallback;
      throw new ModelLoadError(`${where}: '${key}' is missing; a BERT config needs it`);
    }
    if (typeof v !== "number" || !Number.isFinite(v)) throw new ModelLoadError(`${where}: '${key}' is ${JSON.stringify(v)}, expected a number`);
    return v;
  };
  const type = typeof json.model_type === "string" ? json.model_type : "bert";
  const arch = Array.isArray(json.architectures) ? String(json.architectures[0] ?? "") : "";
  const variant = Object.hasOwn(HF_VARIANTS, type) ? HF_VARIANTS[type]
    : /^XLMRoberta/.test(arch) ? "xlm-roberta" : /^Roberta/.test(arch) ? "roberta" : "bert";
  const pet = json.position_embedding_type;
  if (pet !== undefined && pet !== null && pet !== "absolute") {
    throw new ModelLoadError(`${where}: position_embedding_type '${String(pet)}' is not supported (absolute only)`);
  }
  if (json.is_decoder === true || json.add_cross_attention === true) {
    throw new ModelLoadError(`${where}: is_decoder / add_cross_attention: BERT as a decoder is not supported (encoders only)`);
  }
  const head = headOfArchitecture(arch, where);
  const labels = labelsOf(json, where, head);
  const pad = num("pad_token_id", variant === "bert" ? 0 : 1);
  return checkConfig({
    architecture: "bert", variant, head, hasPooler: hasPooler || head === "sequence-classification",
    vocabSize: num("vocab_size"), hiddenSize: num("hidden_size"), intermediateSize: num("intermediate_size"),
    numLayers: num("num_hidden_layers"), numHeads: num("num_attention_heads"),
    maxPositions: num("max_position_embeddings", 512), contextLength: 0, typeVocabSize: num("type_vocab_size", 2),
    layerNormEps: num("layer_norm_eps", 1e-12), hiddenAct: activationOf(json.hidden_act, where),
    padTokenId: pad, positionOffset: variant === "bert" ? 0 : pad + 1,
    numLabels: labels.length, labels, tieWordEmbeddings: json.tie_word_embeddings !== false, pooling: null,
  }, where);
}

/** GGUF pooling_type values (llama.cpp's enum llama_pooling_type). */
const GGUF_POOLING: Record<number, BertPooling> = { 0: "none", 1: "mean", 2: "cls" };
export const POOLING_TO_GGUF: Record<BertPooling, number> = { none: 0, mean: 1, cls: 2 };

/** Zhiyu's own GGUF keys for what llama.cpp's `bert` metadata cannot say (written by our converter). */
export const GGUF_ZHIYU_KEYS = { head: "zhiyu.bert.head", variant: "zhiyu.bert.variant" } as const;

/** Parses a GGUF `bert` file's metadata; tensor shapes fill in what the keys leave out (vocab, type vocab). */
export function bertConfigFromGguf(file: GgufFile): BertConfig {
  const where = file.path;
  const arch = getOptionalString(file, "general.architecture");
  if (arch !== "bert") throw new ModelLoadError(`${where}: architecture '${arch ?? "(none)"}' is not bert`);
  const need = (key: string, fallback?: number): number => {
    const v = getOptionalNumber(file, `bert.${key}`);
    if (v !== undefined) return v;
    if (fallback !== undefined) return fallback;
    throw new ModelLoadError(`${where}: metadata 'bert.${key}' is missing; a bert GGUF needs it`);
  };
  if (file.metadata.get("bert.attention.causal") === true) {
    throw new ModelLoadError(`${where}: bert.attention.causal is true; Zhiyu's BERT is bidirectional only`);
  }
  const dims = (name: string) => file.tensorByName.get(name)?.dims;
  const embd = dims("token_embd.weight");
  if (!embd || embd.length !== 2) throw new ModelLoadError(`${where}: tensor 'token_embd.weight' is missing or not 2-D`);
  const types = dims("token_types.weight");
  const headKey = getOptionalString(file, GGUF_ZHIYU_KEYS.head);
  const clsOut = dims("cls.output.weight");
  const head: BertHead = headKey !== undefined ? headOfGgufKey(headKey, where)
    : file.tensorByName.has("mlm.bias") ? "mlm" : clsOut ? "sequence-classification" : "none";
  const rawLabels = getOptionalArray(file, "bert.classifier.output_labels");
  const numLabels = clsOut ? Number(clsOut[1] ?? 1) : 0;
  const labels = rawLabels ? rawLabels.map(String) : Array.from({ length: numLabels }, (_, i) => `LABEL_${i}`);
  const variantKey = getOptionalString(file, GGUF_ZHIYU_KEYS.variant);
  const variant: BertVariant = variantKey === "roberta" || variantKey === "xlm-roberta" ? variantKey : "bert";
  const pad = getOptionalNumber(file, "tokenizer.ggml.padding_token_id") ?? 0;
  const poolingType = getOptionalNumber(file, "bert.pooling_type");
  return checkConfig({
    architecture: "bert", variant, head, hasPooler: file.tensorByName.has("cls.weight"),
    vocabSize: need("vocab_size", Number(embd[1])), hiddenSize: need("embedding_length"),
    intermediateSize: need("feed_forward_length"), numLayers: need("block_count"), numHeads: need("attention.head_count"),
    maxPositions: need("context_length"), contextLength: 0, typeVocabSize: types ? Number(types[1] ?? 1) : 0,
    layerNormEps: need("attention.layer_norm_epsilon", 1e-12), hiddenAct: "gelu", padTokenId: pad,
    // llama.cpp's converter drops RoBERTa's first pad + 1 position rows, so a GGUF table starts at position 0.
    positionOffset: 0,
    numLabels: head === "sequence-classification" || head === "token-classification" ? numLabels : 0,
    labels: head === "sequence-classification" || head === "token-classification" ? labels : [],
    tieWordEmbeddings: !file.tensorByName.has("mlm.decoder.weight"),
    pooling: poolingType !== undefined ? (GGUF_POOLING[poolingType] ?? null) : null,
  }, where);
}

function headOfGgufKey(v: string, where: string): BertHead {
  if (v === "none" || v === "mlm" || v === "sequence-classification" || v === "token-classification") return v;
  throw new ModelLoadError(`${where}: ${GGUF_ZHIYU_KEYS.head} '${v}' is not one of none, mlm, sequence-classification, token-classification`);
}

/** The parameters a config implies, in canonical names (torch shapes, matrices [out, in]). */
export function bertParamSpecs(c: BertConfig): ParamSpec[] {
  const specs: ParamSpec[] = [];
  const d = c.hiddenSize, f = c.intermediateSize;
  const mat = (name: string, shape: number[], lookupOnly = false) => specs.push({ name, shape, kind: "matrix", init: "normal", lookupOnly });
  const vec = (name: string, n: number, init: "ones" | "zeros") => specs.push({ name, shape: [n], kind: "vector", init });
  const dense = (p: string, out: number, inp: number) => { mat(`${p}.weight`, [out, inp]); vec(`${p}.bias`, out, "zeros"); };
  const norm = (p: string) => { vec(`${p}.weight`, d, "ones"); vec(`${p}.bias`, d, "zeros"); };
  mat("embeddings.word_embeddings.weight", [c.vocabSize, d], !(c.head === "mlm" && c.tieWordEmbeddings));
  mat("embeddings.position_embeddings.weight", [c.maxPositions, d], true);
  if (c.typeVocabSize > 0) mat("embeddings.token_type_embeddings.weight", [c.typeVocabSize, d], true);
  norm("embeddings.LayerNorm");
  for (let l = 0; l < c.numLayers; l++) {
    const p = `encoder.layer.${l}`;
    dense(`${p}.attention.self.query`, d, d);
    dense(`${p}.attention.self.key`, d, d);
    dense(`${p}.attention.self.value`, d, d);
    dense(`${p}.attention.output.dense`, d, d);
    norm(`${p}.attention.output.LayerNorm`);
    dense(`${p}.intermediate.dense`, f, d);
    dense(`${p}.output.dense`, d, f);
    norm(`${p}.output.LayerNorm`);
  }
  if (c.hasPooler) dense("pooler.dense", d, d);
  if (c.head === "mlm") {
    dense("cls.predictions.transform.dense", d, d);
    norm("cls.predictions.transform.LayerNorm");
    if (!c.tieWordEmbeddings) mat("cls.predictions.decoder.weight", [c.vocabSize, d]);
    vec("cls.predictions.bias", c.vocabSize, "zeros");
  }
  if (c.head === "sequence-classification" || c.head === "token-classification") dense("classifier", c.numLabels, d);
  return specs;
}

/** How text inputs are framed for this variant: the special tokens' spellings, the separator between the two
 *  segments of a pair ([SEP] for BERT, </s></s> for RoBERTa) and the second segment's token_type_id. */
export function inputFraming(c: BertConfig): { cls: string; sep: string; mask: string; sepsBetweenPair: number; secondTypeId: number } {
  const roberta = c.variant !== "bert";
  return {
    cls: roberta ? "<s>" : "[CLS]", sep: roberta ? "</s>" : "[SEP]", mask: roberta ? "<mask>" : "[MASK]",
    sepsBetweenPair: roberta ? 2 : 1, secondTypeId: roberta || c.typeVocabSize < 2 ? 0 : 1,
  };
}

/** Position rows a HF export must put back in front of a GGUF table (RoBERTa's pad + 1 rows, which llama.cpp's
 *  converter drops); 0 for BERT or a table that still has them. */
export function hfPositionRowsToRestore(c: BertConfig): number {
  return c.variant !== "bert" && c.positionOffset === 0 ? c.padTokenId + 1 : 0;
}

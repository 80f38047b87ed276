// loadEncoder(path): a BERT-family encoder (src/models/bert) from a Hugging Face folder or a GGUF `bert` file, with
// its tokenizer and pooling, ready for embeddings, classification, token tagging, reranking and MLM logits.
// - HF folder: config.json, model.safetensors or a sharded index (f32/f16/bf16 → f32 tensors), tokenizer.json or
//   vocab.txt (+ tokenizer_config.json); sentence-transformers' modules.json / 1_Pooling/config.json choose the
//   pooling and whether embeddings are L2-normalised.
// - GGUF: `bert.*` metadata and llama.cpp's tensor names; matrices stay in their encoding (f32, f16, bf16, q8_0, …)
//   and are multiplied as such; the vocabulary comes from tokenizer.ggml.*.
// Text inputs become [CLS] A [SEP] (B [SEP]) with token_type_ids 0/1 (RoBERTa: <s> A </s></s> B </s>, all 0).
// A classifier from `zhiyu finetune --sparse-ngrams` (sparse_ngrams.json + `zhiyu_sparse_head.weight`) adds
// head_scale · W_sparse · tfidf(text) to its logits; it needs the text of each input (ids alone are refused).
// Leaves out: truncation (a text longer than the model's positions is an error naming the limit), prompts/instructions
// that some embedding models prepend (callers add them to the text).
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { readJsonObject } from "../io/json-file.js";
import type { Backend } from "../backend/backend.js";
import { readGguf } from "../io/gguf.js";
import { openSafetensorsFolder } from "../io/safetensors.js";
import { type Tensor, noGrad, tidy } from "../tensor/index.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import type { EncodeItem, EncoderModel } from "./model-api.js";
import { loadTokenizer } from "../tokenizers/load.js";
import { readSparseNgrams, type SparseNgrams } from "../tokenizers/sparse-ngrams.js";
import { f16ToF32, bf16ToF32 } from "../core/dtype.js";
import {
  type BertConfig, type BertPooling, bertConfigFromGguf, bertConfigFromHf, bertParamSpecs, inputFraming, isBertHfConfig,
} from "../models/bert/config.js";
import { bertGgufName, bertHfNames, detectHfLayout } from "../models/bert/weights.js";
import { bertFamily } from "../models/bert/family.js";
import { BertInputError, BertModel, type BertOptions, type EncoderSequence, packSequences } from "../models/bert/model.js";
import { ModelLoadError } from "../models/weights.js";
import { GgufSource, SafetensorsSource } from "./sources.js";
import { loadParams, loaderBackend } from "./load.js";
import { idsOnlyTokenizer, tokenizerForGguf } from "./tokenizer-source.js";

export interface LoadEncoderOptions {
  threads?: number;
  backend?: Backend;
  /** Let the backend rewrite encoded GGUF matrices into its faster layout (same results). Default true. */
  repack?: boolean;
  /** A tokenizer to use instead of the model's own (e.g. for a classifier folder saved without one). */
  tokenizer?: Tokenizer;
  /** Pack the f32 / f16 / bf16 matrices once into the backend's GEMM panels on the first pass (BertOptions.packWeights:
   *  same results, faster at 9+ tokens, one extra copy of those matrices in memory). Default true. */
  packWeights?: boolean;
}


function readJson(file: string): Record<string, unknown> {
  return readJsonObject(file, (message) => new ModelLoadError(message));
}

/** sentence-transformers' pooling and normalisation (modules.json, 1_Pooling/config.json), if the folder has them. */
function sentenceTransformersPooling(dir: string): { pooling: BertPooling | null; normalize: boolean } {
  const modulesPath = path.join(dir, "modules.json");
  let poolingDir = path.join(dir, "1_Pooling");
  let normalize = false;
  if (existsSync(modulesPath)) {
    let modules: unknown;
    try {
      modules = JSON.parse(readFileSync(modulesPath, "utf8"));
    } catch (err) {
      throw new ModelLoadError(`${modulesPath}: not valid JSON (${(err as Error).message})`);
    }
    if (!Array.isArray(modules)) throw new ModelLoadError(`${modulesPath}: expected a list of modules`);
    for (const m of modules as Array<Record<string, unknown>>) {
      const type = String(m?.type ?? "");
      if (type.endsWith("Normalize")) normalize = true;
      if (type.endsWith("Pooling") && typeof m.path === "string") poolingDir = path.join(dir, m.path);
    }
  }
  const cfgPath = path.join(poolingDir, "config.json");
  if (!existsSync(cfgPath)) return { pooling: null, normalize };
  const cfg = readJson(cfgPath);
  if (cfg.pooling_mode_cls_token === true) return { pooling: "cls", normalize };
  if (cfg.pooling_mode_mean_tokens === true) return { pooling: "mean", normalize };
  const modes = Object.keys(cfg).filter((k) => k.startsWith("pooling_mode_") && cfg[k] === true);
  throw new ModelLoadError(`${cfgPath}: pooling ${modes.join(", ") || "(none set)"} is not supported (pooling_mode_cls_token or pooling_mode_mean_tokens)`);
}

/** Loads a BERT-family encoder from a HF folder or a GGUF file. */
export function loadEncoder(modelPath: string, options: LoadEncoderOptions = {}): BertEncoder {
  if (!existsSync(modelPath)) throw new ModelLoadError(`model path '${modelPath}' does not exist`);
  const backend = loaderBackend(options);
  const model = { packWeights: options.packWeights ?? true };
  return statSync(modelPath).isDirectory() ? loadHfEncoder(modelPath, backend, options.tokenizer, model)
    : loadGgufEncoder(modelPath, backend, options.repack ?? true, options.tokenizer, model);
}

/** Whether a path holds a BERT-family model (config.json model_type/architectures, or GGUF general.architecture). */
export function isEncoderPath(modelPath: string): boolean {
  if (!existsSync(modelPath)) return false;
  if (statSync(modelPath).isDirectory()) {
    const cfg = path.join(modelPath, "config.json");
    return existsSync(cfg) && isBertHfConfig(readJson(cfg));
  }
  if (!modelPath.endsWith(".gguf")) return false;
  const arch = readGguf(modelPath).metadata.get("general.architecture");
  return bertFamily.ggufArchitectures.includes(String(arch));
}


function loadHfEncoder(dir: string, backend: Backend, given: Tokenizer | undefined, options: BertOptions): BertEncoder {
  const configPath = path.join(dir, "config.json");
  if (!existsSync(configPath)) throw new ModelLoadError(`${dir}: no config.json (is this a Hugging Face model folder?)`);
  const json = readJson(configPath);
  if (!isBertHfConfig(json)) throw new ModelLoadError(`${configPath}: model_type '${String(json.model_type)}' is not a BERT-family encoder (bert, roberta, xlm-roberta)`);
  let folder;
  try {
    folder = openSafetensorsFolder(dir);
  } catch (err) {
    throw new ModelLoadError(`${dir}: the model's weights are missing or unreadable: ${(err as Error).message} ` +
      "(a BERT folder needs model.safetensors or model.safetensors.index.json with its shards; convert a pytorch_model.bin with transformers' save_pretrained(safe_serialization=True))");
  }
  const probe = bertConfigFromHf(json, configPath);
  const has = (n: string) => folder.has(n);
  const layout = detectHfLayout(has, probe.variant);
  if (!layout) {
    throw new ModelLoadError(`${dir} (safetensors): no word-embedding table 'embeddings.word_embeddings.weight' ` +
      "(nor under bert., roberta. or model.); the weights do not belong to this BERT config");
  }
  const hasPooler = has(bertHfNames("pooler.dense.weight", layout, probe)[0]);
  const config = bertConfigFromHf(json, configPath, hasPooler);
  const st = sentenceTransformersPooling(dir);
  config.pooling = st.pooling;
  const source = new SafetensorsSource(folder, null, (name) => bertFamily.hfFileName!(config, name, has));
  const params = loadParams(bertParamSpecs(config), source, false, backend, false);
  const hasTokenizer = existsSync(path.join(dir, "tokenizer.json")) || existsSync(path.join(dir, "vocab.txt"));
  const tokenizer = given ?? (hasTokenizer ? loadTokenizer(dir)
    : idsOnlyTokenizer(dir, config.vocabSize, "the folder has neither tokenizer.json nor vocab.txt; pass --tokenizer PATH"));
  checkVocab(tokenizer, config, existsSync(path.join(dir, "tokenizer.json")) ? path.join(dir, "tokenizer.json") : path.join(dir, "vocab.txt"));
  const encoder = new BertEncoder(path.basename(path.resolve(dir)), new BertModel(config, params, options), tokenizer, backend, st.normalize);
  encoder.calibration = calibrationOf(json.zhiyu_calibration, configPath);
  encoder.sparse = sparseHeadOf(dir, folder, config);
  return encoder;
}

function loadGgufEncoder(file: string, backend: Backend, repack: boolean, given: Tokenizer | undefined, options: BertOptions): BertEncoder {
  const gguf = readGguf(file);
  const config = bertConfigFromGguf(gguf);
  const params = loadParams(bertParamSpecs(config), new GgufSource(gguf, bertGgufName), true, backend, repack);
  const tokenizer = given ?? tokenizerForGguf(gguf, config.vocabSize);
  checkVocab(tokenizer, config, `${file} (tokenizer.ggml.tokens)`);
  return new BertEncoder(path.basename(file), new BertModel(config, params, options), tokenizer, backend, false);
}

/** A vocabulary with ids the embedding matrix has no row for is refused (a smaller one is fine: padded tables). */
function checkVocab(tokenizer: Tokenizer, c: BertConfig, where: string): void {
  if (tokenizer.vocabSize > c.vocabSize) {
    throw new ModelLoadError(`${where}: the vocabulary has ${tokenizer.vocabSize} tokens but the word-embedding matrix has ` +
      `${c.vocabSize} rows (vocab_size); the tokenizer does not belong to this model`);
  }
}

/** A sequence classifier's sparse n-gram head: the featurizer, W_sparse [labels × features] as f32, its scale. */
export interface SparseHead { ngrams: SparseNgrams; weight: Float32Array; scale: number }

const SPARSE_HEAD_TENSOR = "zhiyu_sparse_head.weight";

/** sparse_ngrams.json and its head tensor (F32, F16 or BF16 [labels, features]), checked against each other. */
function sparseHeadOf(dir: string, folder: ReturnType<typeof openSafetensorsFolder>, c: BertConfig): SparseHead | null {
  const file = path.join(dir, "sparse_ngrams.json");
  if (!existsSync(file)) return null;
  const { ngrams, json } = readSparseNgrams(file);
  const scale = json.head_scale;
  if (typeof scale !== "number" || !(scale > 0) || !Number.isFinite(scale)) throw new ModelLoadError(`${file}: head_scale must be a number > 0`);
  if (c.head !== "sequence-classification") throw new ModelLoadError(`${file}: sparse features need a sequence classifier, but config.json's head is ${c.head}`);
  if (!folder.has(SPARSE_HEAD_TENSOR)) throw new ModelLoadError(`${dir}: sparse_ngrams.json is there but the weights lack '${SPARSE_HEAD_TENSOR}'`);
  const info = folder.info(SPARSE_HEAD_TENSOR);
  if (info.shape.length !== 2 || info.shape[0] !== c.numLabels || info.shape[1] !== ngrams.dimension) {
    throw new ModelLoadError(`${dir}: '${SPARSE_HEAD_TENSOR}' is [${info.shape.join(", ")}], expected [${c.numLabels} labels, ${ngrams.dimension} features of sparse_ngrams.json]`);
  }
  const raw = folder.readTensor(SPARSE_HEAD_TENSOR);
  let weight: Float32Array;
  if (info.dtype === "F32") weight = Float32Array.from(raw as Float32Array);
  else if (info.dtype === "F16" || info.dtype === "BF16") weight = Float32Array.from(raw as Uint16Array, info.dtype === "F16" ? f16ToF32 : bf16ToF32);
  else throw new ModelLoadError(`${dir}: '${SPARSE_HEAD_TENSOR}' is ${info.dtype}; expected F32, F16 or BF16`);
  return { ngrams, weight, scale };
}

/** What `zhiyu finetune --task classify` fitted on its validation split (config.json's zhiyu_calibration). */
export interface Calibration {
  /** Logits are divided by it before the softmax. */
  temperature: number;
  /** Below this calibrated confidence the answer is out of scope (0 = never). */
  oosThreshold: number;
  /** The label an out-of-scope answer gets. */
  oosLabel: string;
}

function calibrationOf(v: unknown, where: string): Calibration | null {
  if (v === undefined || v === null) return null;
  const o = v as Record<string, unknown>;
  const t = o.temperature, th = o.oos_threshold ?? 0;
  if (typeof t !== "number" || !(t > 0) || !Number.isFinite(t) || typeof th !== "number" || !(th >= 0 && th <= 1)) {
    throw new ModelLoadError(`${where}: zhiyu_calibration must hold temperature > 0 and oos_threshold in [0, 1], got ${JSON.stringify(v)}`);
  }
  return { temperature: t, oosThreshold: th, oosLabel: typeof o.oos_label === "string" ? o.oos_label : "out_of_scope" };
}

export interface Classification {
  logits: Float32Array;
  /** Softmax over the logits (one logit: its sigmoid). */
  probabilities: Float32Array;
  label: string;
  /** The winning class's probability (temperature-calibrated when the model carries a calibration). */
  confidence: number;
  /** With a calibration that has an out-of-scope threshold: false when the confidence is below it (the label is then
   *  the out-of-scope label). */
  inScope?: boolean;
}

/** A loaded BERT-family encoder with its tokenizer and pooling: the EncoderModel the server and scheduler take
 *  (kind "encoder"), plus text framing, pooled embeddings, classification, tagging and MLM logits over packed
 *  (unpadded) batches. */
export class BertEncoder implements EncoderModel {
  readonly kind = "encoder" as const;
  readonly architecture = "bert";
  readonly config: BertConfig;
  /** Longest sequence (tokens) the learned positions allow. */
  readonly contextLength: number;
  readonly vocabSize: number;
  readonly embeddingDim: number;
  readonly heads: readonly string[];
  /** Temperature and out-of-scope threshold fitted by `zhiyu finetune` (HF folders only), or null. */
  calibration: Calibration | null = null;
  /** The sparse n-gram head of a `finetune --sparse-ngrams` classifier, or null. */
  sparse: SparseHead | null = null;
  constructor(readonly id: string, readonly model: BertModel, readonly tokenizer: Tokenizer, readonly backend: Backend,
    /** Whether the model's own files ask for L2-normalised embeddings (sentence-transformers' Normalize). */
    readonly normalizeByDefault: boolean) {
    this.config = model.config;
    this.contextLength = this.config.contextLength;
    this.vocabSize = this.config.vocabSize;
    this.embeddingDim = this.config.hiddenSize;
    this.heads = [...(this.config.hasPooler ? ["pooler"] : []), ...(this.config.head === "mlm" ? ["mlm"] : []),
      ...(this.config.numLabels > 0 ? ["classifier"] : [])];
  }

  /** EncoderModel: per item, its hidden states [T, D] row-major. */
  encode(batch: readonly EncodeItem[]): Float32Array[] {
    return batch.length === 0 ? [] : this.hidden(batch.map((it) => ({ ids: it.tokens, typeIds: it.tokenTypeIds ?? null })));
  }

  /** EncoderModel: per item, a head's output (pooler [D], mlm [T, V], classifier [L] or [T, L]). */
  runHead(head: string, batch: readonly EncodeItem[]): Float32Array[] {
    if (!this.heads.includes(head)) throw new Error(`[runHead] model '${this.id}' has no head '${head}' (heads: ${this.heads.join(", ") || "none"})`);
    if (batch.length === 0) return [];
    const seqs = batch.map((it) => ({ ids: it.tokens, typeIds: it.tokenTypeIds ?? null }));
    if (head === "pooler") return this.pooled(seqs);
    if (head === "mlm") return this.mlmLogits(seqs);
    if (this.config.head === "token-classification") return this.tagTokens(seqs).map((tags) => Float32Array.from(tags.flatMap((t) => [...t.logits])));
    return this.classify(seqs).map((c) => c.logits);
  }

  /** EncoderModel: the sentence embedding of the tokens (the model's pooling, unnormalised; /v1/embeddings normalises). */
  embed(tokens: readonly number[]): Float32Array {
    const pooling = this.defaultPooling === "none" ? "mean" : this.defaultPooling;
    return this.embedSequences([{ ids: tokens }], pooling, false)[0];
  }

  /** The pooling the model's files ask for, else mean. */
  get defaultPooling(): BertPooling {
    return this.config.pooling ?? "mean";
  }

  /** The mask token's spelling for this variant ([MASK], <mask>). */
  get maskToken(): string {
    return inputFraming(this.config).mask;
  }

  private specialId(which: "cls" | "sep"): number {
    const t = this.tokenizer;
    const name = inputFraming(this.config)[which];
    const id = (which === "cls" ? t.bosTokenId : t.eosTokenId) ?? t.tokenToId(name);
    if (id === undefined || id === null) throw new Error(`[encoder] ${this.id}: the tokenizer has no ${name} token`);
    return id;
  }

  /** A text (and an optional second segment) → ids and token_type_ids as the HF tokenizer makes them. */
  tokenize(text: string, pair?: string): EncoderSequence {
    const enc = (s: string) => this.tokenizer.encode(s, { addSpecialTokens: false, parseSpecial: true });
    const first = enc(text); // an ids-only stand-in tokenizer throws here, saying why text does not work
    const cls = this.specialId("cls"), sep = this.specialId("sep");
    const a = [cls, ...first, sep];
    if (pair === undefined) return { ids: a, typeIds: new Array<number>(a.length).fill(0), text };
    const framing = inputFraming(this.config);
    const b = [...new Array<number>(framing.sepsBetweenPair - 1).fill(sep), ...enc(pair), sep];
    return { ids: [...a, ...b], typeIds: [...new Array<number>(a.length).fill(0), ...new Array<number>(b.length).fill(framing.secondTypeId)] };
  }

  /** One input object as scripts write it: {"text": …, "text_pair"?: …} or {"ids": [...], "token_type_ids"?: [...]}.
   *  `where` names the input (e.g. "inputs.jsonl:3") in errors. */
  sequenceFromJson(value: unknown, where: string): EncoderSequence {
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      throw new BertInputError(`${where}: expected an object {"text": …} or {"ids": [...], "token_type_ids": [...]}`);
    }
    const o = value as Record<string, unknown>;
    if (o.text !== undefined && o.ids !== undefined) throw new BertInputError(`${where}: give "text" or "ids", not both`);
    if (typeof o.text === "string") {
      const pair = o.text_pair ?? o.pair;
      if (pair !== undefined && typeof pair !== "string") throw new BertInputError(`${where}: "text_pair" must be a string`);
      const seq = this.tokenize(o.text, pair as string | undefined);
      if (seq.ids.length > this.contextLength) {
        throw new BertInputError(`${where}: the text is ${seq.ids.length} tokens; the model takes at most ${this.contextLength} (shorten it)`);
      }
      return seq;
    }
    const ids = intList(o.ids, `${where}: "ids"`);
    if (ids === null) throw new BertInputError(`${where}: expected "text" (a string) or "ids" (a list of token ids)`);
    if (ids.length === 0) throw new BertInputError(`${where}: "ids" is empty`);
    const bad = ids.find((id) => id >= this.config.vocabSize);
    if (bad !== undefined) throw new BertInputError(`${where}: token id ${bad} is outside the vocabulary [0, ${this.config.vocabSize})`);
    if (ids.length > this.contextLength) {
      throw new BertInputError(`${where}: ${ids.length} ids; the model takes at most ${this.contextLength} (shorten the input)`);
    }
    const typeIds = intList(o.token_type_ids, `${where}: "token_type_ids"`);
    if (typeIds && typeIds.length !== ids.length) {
      throw new BertInputError(`${where}: ${typeIds.length} token_type_ids for ${ids.length} ids (they must be equal)`);
    }
    if (typeIds && this.config.typeVocabSize < 2 && typeIds.some((t) => t !== 0)) {
      throw new BertInputError(`${where}: "token_type_ids" has non-zero values, but ${this.id} has no segment embeddings ` +
        `(type_vocab_size ${this.config.typeVocabSize}); leave token_type_ids out`);
    }
    return { ids, typeIds };
  }

  /** Runs fn over the packed batch's final hidden states without autograd; returns what fn copies out. */
  private run<T>(seqs: readonly EncoderSequence[], fn: (hidden: Tensor, batch: ReturnType<typeof packSequences>) => T): T {
    if (seqs.length === 0) throw new Error("[encoder] no inputs");
    const batch = packSequences(this.config, seqs);
    return noGrad(() => tidy(() => fn(this.model.encode(batch), batch)));
  }

  /** Final hidden states of each sequence: [length × D] row-major. */
  hidden(seqs: readonly EncoderSequence[]): Float32Array[] {
    const d = this.config.hiddenSize;
    return this.run(seqs, (h, batch) => {
      const all = h.toFloat32Array();
      return batch.segments.map((s) => all.slice(s.start * d, (s.start + s.length) * d));
    });
  }

  /** One vector per sequence: mean or first-token (CLS) pooling of the final hidden states, optionally L2-normalised. */
  embedSequences(seqs: readonly EncoderSequence[], pooling: Exclude<BertPooling, "none"> = this.defaultPooling === "none" ? "mean" : this.defaultPooling,
    normalize = this.normalizeByDefault): Float32Array[] {
    const d = this.config.hiddenSize;
    return this.run(seqs, (h, batch) => {
      const pooled = (pooling === "cls" ? this.model.firstTokens(h, batch) : this.model.meanTokens(h, batch)).toFloat32Array();
      return batch.segments.map((_, i) => {
        const v = pooled.slice(i * d, (i + 1) * d);
        if (normalize) l2Normalize(v);
        return v;
      });
    });
  }

  /** BertModel's pooler_output (tanh pooler over the first token), one vector per sequence. */
  pooled(seqs: readonly EncoderSequence[]): Float32Array[] {
    const d = this.config.hiddenSize;
    return this.run(seqs, (h, batch) => {
      const p = this.model.pooler(h, batch).toFloat32Array();
      return batch.segments.map((_, i) => p.slice(i * d, (i + 1) * d));
    });
  }

  /** Sequence classification: logits, probabilities, the winning label and its probability per sequence. */
  classify(seqs: readonly EncoderSequence[]): Classification[] {
    const c = this.config;
    return this.run(seqs, (h, batch) => {
      const logits = this.model.sequenceLogits(h, batch).toFloat32Array();
      if (this.sparse) this.addSparseLogits(logits, seqs);
      return batch.segments.map((_, i) => classification(logits.slice(i * c.numLabels, (i + 1) * c.numLabels), c.labels, this.calibration));
    });
  }

  /** logits[i] += scale · W_sparse · tfidf(text of seqs[i]). */
  private addSparseLogits(logits: Float32Array, seqs: readonly EncoderSequence[]): void {
    const { ngrams, weight, scale } = this.sparse!;
    const k = this.config.numLabels, f = ngrams.dimension;
    seqs.forEach((s, i) => {
      if (s.text === undefined) {
        throw new BertInputError(`[classify] ${this.id}: input ${i} has ids but no text; this classifier also reads sparse n-gram features of ` +
          "the text (sparse_ngrams.json), so give {\"text\": …} inputs (a single text, no text_pair)");
      }
      const v = ngrams.transform(s.text);
      for (let c = 0; c < k; c++) {
        let z = 0;
        v.indices.forEach((j, n) => { z += weight[c * f + j]! * v.values[n]!; });
        logits[i * k + c] += scale * z;
      }
    });
  }

  /** Token classification: per sequence, one Classification per token. */
  tagTokens(seqs: readonly EncoderSequence[]): Classification[][] {
    const c = this.config;
    return this.run(seqs, (h, batch) => {
      const logits = this.model.tokenLogits(h).toFloat32Array();
      return batch.segments.map((s) => Array.from({ length: s.length }, (_, t) =>
        classification(logits.slice((s.start + t) * c.numLabels, (s.start + t + 1) * c.numLabels), c.labels)));
    });
  }

  /** Masked-LM logits of every position: per sequence [length × V] row-major. */
  mlmLogits(seqs: readonly EncoderSequence[]): Float32Array[] {
    const v = this.config.vocabSize;
    return this.run(seqs, (h, batch) => {
      const all = this.model.mlmLogits(h).toFloat32Array();
      return batch.segments.map((s) => all.slice(s.start * v, (s.start + s.length) * v));
    });
  }

  dispose(): void {
    for (const p of this.model.params.values()) if ("dispose" in p) (p as Tensor).dispose();
  }
}

function intList(v: unknown, where: string): number[] | null {
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.length > 1 << 20 || !v.every((x) => Number.isInteger(x) && x >= 0)) {
    throw new BertInputError(`${where} must be a list of non-negative integers`);
  }
  return v as number[];
}

export function l2Normalize(v: Float32Array): void {
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += v[i] * v[i];
  const inv = 1 / Math.max(Math.sqrt(ss), 1e-12); // torch.nn.functional.normalize's eps
  for (let i = 0; i < v.length; i++) v[i] *= inv;
}

function classification(logits: Float32Array, labels: readonly string[], calibration: Calibration | null = null): Classification {
  let probabilities: Float32Array;
  const t = calibration?.temperature ?? 1;
  if (logits.length === 1) probabilities = Float32Array.of(1 / (1 + Math.exp(-logits[0] / t)));
  else {
    const m = Math.max(...logits);
    const e = Array.from(logits, (x) => Math.exp((x - m) / t));
    const s = e.reduce((a, b) => a + b, 0);
    probabilities = Float32Array.from(e, (x) => x / s);
  }
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  const confidence = probabilities[logits.length === 1 ? 0 : best];
  const label = labels[best] ?? String(best);
  if (!calibration || !(calibration.oosThreshold > 0) || logits.length === 1) return { logits, probabilities, label, confidence };
  const inScope = confidence >= calibration.oosThreshold && label !== calibration.oosLabel;
  return { logits, probabilities, label: inScope ? label : calibration.oosLabel, confidence, inScope };
}

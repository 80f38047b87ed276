// loadModel(path): a .gguf file or a Hugging Face folder → a TextModel (src/infer/model-api.ts) ready for
// generation and for the server's continuous batching; loadAnyModel(path): a model of any kind (causal LM, encoder,
// seq2seq; the other two are wrapped in kind-models.ts), tagged by `kind`.
// - GGUF: config from `<arch>.*` metadata, tokenizer and chat template from `tokenizer.*`; 2-D weights stay in
//   their GGUF encoding (QuantWeight: f32, f16, bf16, q8_0, q4_0, …, q6_k), each read once from the file into one
//   buffer on 2 MiB pages (GgufWeightArena), so resident memory stays close to the file size; the backend
//   multiplies them with llama.cpp's activation rounding.
// - HF folder: config.json, model.safetensors or a sharded index, tokenizer.json, tokenizer_config.json or
//   chat_template.jinja, generation_config.json (EOS may be a list; sampling defaults). Weights become f32 tensors
//   (exact float semantics, and what the trainer needs).
// The family (config parsing, parameter names, the network) comes from the model registry (src/models/registry.ts).
// Leaves out: LoRA adapters, multimodal projectors, families the registry does not list.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { readJsonObject } from "../io/json-file.js";
import type { Backend } from "../backend/backend.js";
import { createBackend, tunable, type TuningOptions } from "../backend/index.js";
import { type GgufFile, type GgufTensorInfo, readGguf, readTensorBytes, readTensorBytesInto, getOptionalString } from "../io/gguf.js";
import { openSafetensorsFolder } from "../io/safetensors.js";
import {
  type Tensor, type QuantWeight, fromTypedArray, getDefaultBackend, setDefaultBackend, noGrad, tidy, untracked,
  mean,
} from "../tensor/index.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { loadTokenizer } from "../tokenizers/load.js";
import { idsOnlyTokenizer, tokenizerForGguf } from "./tokenizer-source.js";
import { KV_CACHE_TYPES, KvCache, type KvCacheType, kvTypeUnfit } from "../models/kv-cache.js";
import type { Weight } from "../models/embed.js";
import { ModelLoadError, type ParamSpec, type RawTensor, type WeightSource, decodeToF32, readChecked } from "../models/weights.js";
import type { CausalLmNetwork, FamilyConfig, FamilyNetwork, LoadContext } from "../models/descriptor.js";
import { type AnyFamily, MODEL_REGISTRY, type ModelRegistry } from "../models/registry.js";
import { type LoadedInfo, LoadedEncoder, LoadedSeq2Seq } from "./kind-models.js";
import { GgufSource, SafetensorsSource, rawTensor } from "./sources.js";
import { chatTemplateFromFolder, TEXT_TO_TEXT_TEMPLATE } from "./chat-template.js";
import { type ModelInfo, readModelInfo } from "./model-info.js";
import { type AdapterChoice, type ForwardItem, type ForwardOptions, type SequenceState, type ServedModel, type TextModel, withArticle } from "./model-api.js";
import type { LoraSlots } from "./lora-slots.js";

export interface LoadModelOptions {
  threads?: number;
  backend?: Backend;
  /** Override the context length from the file (e.g. stories260K's GGUF says 128; it was trained on 512). */
  contextLength?: number;
  /** A tokenizer to use instead of the model's own (needed for HF folders without tokenizer.json). */
  tokenizer?: Tokenizer;
  /** Let the backend rewrite encoded matmul weights into its faster layout (Backend.repackWeight; same results).
   *  Default true; false keeps every matrix in the file's layout (to compare the two). */
  repack?: boolean;
  /** Put the GGUF matrices that stay encoded in one buffer advised onto 2 MiB pages before it is filled
   *  (Backend.adviseHugePages; same values). Default true; false leaves that buffer on ordinary pages (to compare). */
  hugePages?: boolean;
  /** The families to load from (default: MODEL_REGISTRY, every family Zhiyu implements). */
  registry?: ModelRegistry;
  /** Element type of each sequence's KV cache: "f32" (default) or "f16" (half the bytes, as llama.cpp's
   *  -ctk/-ctv f16; values rounded when written). */
  kvCacheType?: KvCacheType;
  /** Run-time tuning of the decode kernels (TunableBackend.configureTuning; the entry point resolves the cache file and the
   *  --no-tune flag). Absent: the backend keeps what it had (the fixed fallback unless tuning was configured). */
  tuning?: TuningOptions;
}

/** Builds one parameter from raw bytes: matrices may stay encoded, vectors always become f32 tensors. An encoded
 *  matrix that only feeds matmuls is handed to the backend's repackWeight when `repack` (in place: the bytes of a
 *  fused q/k/v or gate/up group stay side by side, and resident memory does not grow). */
function toParam(raw: RawTensor, spec: ParamSpec, keepEncoded: boolean, backend: Backend, repack: boolean): Weight {
  // f32 matrices become tensors: exact either way, and dense f32 goes through the GEMM kernels.
  if (spec.kind === "matrix" && keepEncoded && raw.type !== "f32") {
    const q: QuantWeight = { type: raw.type, rows: spec.shape[0], cols: spec.shape[1], data: raw.data };
    if (repack && !spec.lookupOnly && backend.repackWeight) q.type = backend.repackWeight(q.data, q.type, q.rows, q.cols) ?? q.type;
    // f16 / bf16 projections get GEMM panels on their first prompt-sized product (QuantWeight.packPanels); not the
    // embedding table, which the LM head reads only a few rows at a time
    if (repack && !spec.lookupOnly && spec.role !== "embedding" && (q.type === "f16" || q.type === "bf16")) q.packPanels = true;
    return q;
  }
  return fromTypedArray(decodeToF32(raw, backend), spec.shape);
}

/** Every spec'd parameter from a source (see toParam); also the encoder loader's. */
export function loadParams(specs: ParamSpec[], source: WeightSource, keepEncoded: boolean, backend: Backend,
  repack = false): Map<string, Weight> {
  const params = new Map<string, Weight>();
  untracked(() => { // parameters outlive any tidy scope the caller is in
    for (const spec of specs) params.set(spec.name, toParam(readChecked(source, spec), spec, keepEncoded, backend, repack));
  });
  return params;
}

/** GGUF reads of every matrix that stays encoded into one buffer, made before the first read and advised onto 2 MiB
 *  pages (Backend.adviseHugePages): decode streams all of them every token (140 MB at 1B Q4_0, 468 MB at 1B F16),
 *  and on 4 KiB pages that is a TLB miss and a restart of the hardware prefetcher every 4 KiB — one matrix alone
 *  (1.8 MB at 1B Q4_0) rarely holds an aligned 2 MiB page. Each group of tensors (a LLaMA layer's q/k/v, gate/up)
 *  lies side by side, so fuseProjections stacks them without a copy; other slots start 64-byte aligned. Resident
 *  memory stays near the file size: vectors and f32 matrices (decoded into tensors) are read as usual, and a slot
 *  is read once (a second read, e.g. after an in-place repack, gets a fresh buffer). */
class GgufWeightArena implements WeightSource {
  readonly description: string;
  private readonly slots = new Map<string, { t: GgufTensorInfo; at: number }>();
  private readonly arena: Uint8Array;
  constructor(private readonly file: GgufFile, private readonly inner: GgufSource, specs: readonly ParamSpec[], groups: string[][],
    backend: Backend, adviseHugePages: boolean) {
    this.description = inner.description;
    const encoded = (name: string): GgufTensorInfo | null => {
      const t = inner.has(name) ? inner.wholeInfo(name) : null;
      return t && t.type !== "f32" && t.dims.length >= 2 ? t : null;
    };
    const matrices = new Set(specs.filter((s) => s.kind === "matrix").map((s) => s.name));
    let end = 0;
    const place = (names: string[]): void => {
      end = Math.ceil(end / 64) * 64;
      for (const n of names) {
        const t = encoded(n)!;
        this.slots.set(n, { t, at: end });
        end += t.byteSize;
      }
    };
    for (const g of groups) {
      const infos = g.map((n) => (matrices.has(n) ? encoded(n) : null));
      if (!infos.every((t) => t && t.type === infos[0]!.type)) continue; // not all encoded alike: read one by one
      for (const n of g) matrices.delete(n);
      place(g);
    }
    for (const n of matrices) if (encoded(n)) place([n]);
    // Int32Array: the advice takes backend storage; a fresh buffer this large is untouched until its first read.
    const words = new Int32Array(Math.ceil(end / 4));
    if (adviseHugePages) backend.adviseHugePages?.(words);
    this.arena = new Uint8Array(words.buffer, 0, end);
  }
  fileName(hfName: string): string {
    return this.inner.fileName(hfName);
  }
  has(hfName: string): boolean {
    return this.inner.has(hfName);
  }
  read(hfName: string): RawTensor {
    const slot = this.slots.get(hfName);
    if (!slot) return this.inner.read(hfName);
    this.slots.delete(hfName);
    const out = this.arena.subarray(slot.at, slot.at + slot.t.byteSize);
    readTensorBytesInto(this.file, this.inner.weightInfo(hfName), this.arena, slot.at);
    return rawTensor(slot.t, out);
  }
}

/** A sequence's state: its KV cache. */
class Sequence implements SequenceState {
  constructor(readonly cache: KvCache) {}
  get length(): number {
    return this.cache.length;
  }
  truncate(n: number): void {
    this.cache.truncate(n);
  }
  get minTruncate(): number {
    return this.cache.minTruncate;
  }
  fork(): SequenceState {
    return new Sequence(this.cache.clone());
  }
  dispose(): void {
    this.cache.dispose();
  }
  reserve(extra: number): void {
    this.cache.reserve(Math.max(0, Math.min(extra, this.cache.shape.maxLength - this.cache.length)));
  }
}

export class LoadedModel implements TextModel {
  readonly kind = "causal-lm" as const;
  readonly vocabSize: number;
  readonly embeddingDim: number;
  /** Adapters chosen per sequence (attachLoraSlots, zhiyu serve --lora); null: every sequence runs the same weights. */
  loraSlots: LoraSlots | null = null;
  constructor(
    readonly id: string,
    readonly architecture: string,
    readonly config: FamilyConfig,
    readonly model: CausalLmNetwork,
    readonly contextLength: number,
    readonly tokenizer: Tokenizer,
    readonly chatTemplate: string | null,
    readonly stopTokenIds: readonly number[],
    readonly generationDefaults: Readonly<Record<string, number>>,
    readonly backend: Backend,
    /** Bytes of weights held (for memory reports). */
    readonly weightBytes: number,
    /** Its name and whether it was trained for tool calls, read from its files (model-info.ts). */
    readonly info: ModelInfo,
  ) {
    this.vocabSize = config.vocabSize;
    this.embeddingDim = config.hiddenSize;
  }

  /** Element type of the caches createSequence makes (LoadModelOptions.kvCacheType). */
  kvCacheType: KvCacheType = "f32";

  get loraAdapters(): ReadonlyMap<string, number> | undefined {
    return this.loraSlots?.defaults;
  }

  createSequence(): SequenceState {
    return new Sequence(new KvCache({ ...this.model.cacheShape(this.contextLength), dtype: this.kvCacheType }));
  }

  forward(batch: readonly ForwardItem[], options: ForwardOptions = {}): Float32Array[] {
    if (batch.length === 0) return [];
    const items = batch.map((item, i) => {
      if (!(item.seq instanceof Sequence)) throw new Error(`[forward] batch[${i}].seq was not created by this model's createSequence()`);
      if (item.tokens.length === 0) throw new Error(`[forward] batch[${i}] has no tokens`);
      const need = item.seq.length + item.tokens.length;
      if (need > this.contextLength) {
        throw new RangeError(`[forward] batch[${i}]: ${item.seq.length} cached + ${item.tokens.length} new tokens = ` +
          `${need} exceeds the context length ${this.contextLength}`);
      }
      for (const id of item.tokens) {
        if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
          throw new RangeError(`[forward] batch[${i}]: token id ${id} is outside the vocabulary [0, ${this.vocabSize})`);
        }
      }
      if (item.adapters && item.adapters.size > 0) {
        if (!this.loraSlots) throw new Error(`[forward] batch[${i}] asks for LoRA adapters but none are loaded for per-sequence use (attachLoraSlots)`);
        this.loraSlots.check(item.adapters, `batch[${i}]`);
      }
      return { ids: item.tokens, cache: item.seq.cache, adapters: item.adapters };
    });
    // A step that mixes single-token decodes with prompt chunks runs as two passes, so the decodes still get the
    // backend's fused decode path (it takes single-token steps only). Rows do not interact: each group's
    // logits are what that group would get as a step of its own; the cost is one more pass over the weights.
    const v = this.vocabSize;
    const into = options.into && options.into.length >= items.length * v ? options.into : null;
    const decodes = items.flatMap((it, i) => (it.ids.length === 1 ? [i] : []));
    if (decodes.length > 0 && decodes.length < items.length && this.model.fusesDecodeSteps(this.backend)) {
      const out = new Array<Float32Array>(items.length);
      const prompts = items.flatMap((it, i) => (it.ids.length > 1 ? [i] : []));
      for (const [g, group] of [decodes, prompts].entries()) {
        // the second group's rows after the first's in the caller's buffer
        const logits = this.forwardItems(group.map((i) => items[i]!), into && into.subarray(g === 0 ? 0 : decodes.length * v));
        group.forEach((i, k) => { out[i] = logits[k]!; });
      }
      return out;
    }
    return this.forwardItems(items, into);
  }

  /** The logits of one pass, per item: views of `into` (copied there), or fresh arrays when it is null. */
  private forwardItems(items: { ids: readonly number[]; cache: KvCache; adapters?: AdapterChoice }[], into: Float32Array | null): Float32Array[] {
    const v = this.vocabSize;
    const slots = this.loraSlots;
    return noGrad(() => tidy(() => {
      slots?.select(items.map((it) => it.ids.length), items.map((it) => it.adapters));
      let t: Tensor;
      try {
        t = this.model.forwardSegments(items);
      } finally {
        slots?.clear();
      }
      // The logits are a fresh contiguous f32 tensor: copy each row straight out of its storage (the generic
      // toFloat32Array walks element by element, ~1 ms per 32k-vocab step).
      const flat = t.isContiguous && t.dtype === "f32" ? (t.storage("forward") as Float32Array).subarray(t.offset, t.offset + t.size)
        : t.toFloat32Array();
      // A fresh vocab-sized array per step costs far more than the copy (V8's external allocation: 15–200 µs for
      // 600 KB on a loaded machine, against a few µs into a buffer the caller reuses).
      if (into) {
        into.set(flat.subarray(0, items.length * v));
        return items.map((_, i) => into.subarray(i * v, (i + 1) * v));
      }
      return items.map((_, i) => flat.slice(i * v, (i + 1) * v));
    }));
  }

  embed(tokens: readonly number[]): Float32Array {
    if (tokens.length === 0) throw new Error("[embed] no tokens");
    if (tokens.length > this.contextLength) throw new RangeError(`[embed] ${tokens.length} tokens exceed the context length ${this.contextLength}`);
    return noGrad(() => tidy(() => mean(this.model.hiddenStates(Int32Array.from(tokens)), 0).toFloat32Array()));
  }

  dispose(): void {
    for (const p of this.model.params.values()) if ("dispose" in p) (p as Tensor).dispose();
  }
}

/** Loads a causal LM (.gguf file or Hugging Face folder) for generation, chat and the server; a model of another
 *  kind is refused naming the file and its kind (loadAnyModel loads every kind). */
export async function loadModel(modelPath: string, options: LoadModelOptions = {}): Promise<TextModel & LoadedModel> {
  checkKvCacheType(options.kvCacheType);
  const opened = await openModel(modelPath, options);
  if (opened.network.kind !== "causal-lm") {
    const causal = (options.registry ?? MODEL_REGISTRY).all.filter((f) => f.kind === "causal-lm").map((f) => f.id);
    throw new ModelLoadError(`${modelPath}: ${opened.family.id} is ${withArticle(opened.network.kind)} model; generation, chat and ` +
      `completions need a causal LM (causal-lm families: ${causal.join(", ")})`);
  }
  const model = causalModel(opened, opened.network.network, modelPath, options.tuning);
  model.kvCacheType = checkedKvType(model, modelPath, options.kvCacheType);
  return model;
}

/** The cache type, refused at load (naming the file) when the model's rows do not fit it. */
function checkedKvType(model: LoadedModel, modelPath: string, t: KvCacheType | undefined): KvCacheType {
  const shape = model.model.cacheShape(model.contextLength);
  const unfit = kvTypeUnfit(t ?? "f32", shape.numKvHeads, shape.headDim);
  if (unfit) throw new ModelLoadError(`${modelPath}: kvCacheType ${t}: ${unfit}`);
  return t ?? "f32";
}

function checkKvCacheType(t: unknown): void {
  if (t !== undefined && !KV_CACHE_TYPES.includes(t as KvCacheType)) {
    throw new ModelLoadError(`kvCacheType ${JSON.stringify(t)}: expected one of ${KV_CACHE_TYPES.join(", ")}`);
  }
}

/** Loads a model of any kind (causal LM, encoder, seq2seq), tagged by `kind`. */
export async function loadAnyModel(modelPath: string, options: LoadModelOptions = {}): Promise<ServedModel> {
  checkKvCacheType(options.kvCacheType);
  const opened = await openModel(modelPath, options);
  const n = opened.network;
  if (n.kind === "causal-lm") {
    const model = causalModel(opened, n.network, modelPath, options.tuning);
    model.kvCacheType = checkedKvType(model, modelPath, options.kvCacheType);
    return model;
  }
  const info: LoadedInfo = { id: opened.id, architecture: opened.architecture, vocabSize: opened.config.vocabSize,
    hiddenSize: opened.config.hiddenSize, contextLength: opened.contextLength, tokenizer: opened.tokenizer,
    stopTokenIds: opened.stopTokenIds, generationDefaults: opened.generationDefaults, backend: opened.backend };
  if (n.kind === "encoder") return new LoadedEncoder(info, n.network);
  // Served like a causal LM, so it carries its name and tool-call training too (its template is the fixed one).
  return new LoadedSeq2Seq({ ...info, modelInfo: readModelInfo(modelPath, TEXT_TO_TEXT_TEMPLATE) }, n.network,
    opened.config.sourceLength ?? opened.config.contextLength);
}

function causalModel(o: OpenedModel, network: CausalLmNetwork, modelPath: string, tuning?: TuningOptions): LoadedModel {
  // The decode step streams every weight: that is the working set the tuner calibrates against.
  if (tuning) tunable(o.backend)?.configureTuning(tuning, weightBytes(network.params as Map<string, Weight>));
  return new LoadedModel(o.id, o.architecture, o.config, network, o.contextLength, o.tokenizer, o.chatTemplate,
    o.stopTokenIds, o.generationDefaults, o.backend, weightBytes(network.params as Map<string, Weight>),
    readModelInfo(modelPath, o.chatTemplate));
}

/** A file's family, config and network, with what serving needs around them (tokenizer, template, stop ids). */
interface OpenedModel {
  family: AnyFamily;
  config: FamilyConfig;
  network: FamilyNetwork;
  id: string;
  architecture: string;
  contextLength: number;
  tokenizer: Tokenizer;
  chatTemplate: string | null;
  stopTokenIds: number[];
  generationDefaults: Record<string, number>;
  backend: Backend;
}

/** The backend a loader uses: the one given, else the process default (made on first use), with `threads` set. */
export function loaderBackend(options: { backend?: Backend; threads?: number }): Backend {
  let backend: Backend;
  if (options.backend) backend = options.backend;
  else {
    try {
      backend = getDefaultBackend();
    } catch {
      backend = createBackend({ threads: options.threads });
      setDefaultBackend(backend);
    }
  }
  if (options.threads) backend.setThreads(options.threads);
  return backend;
}

async function openModel(modelPath: string, options: LoadModelOptions): Promise<OpenedModel> {
  if (!existsSync(modelPath)) throw new ModelLoadError(`model path '${modelPath}' does not exist`);
  const backend = loaderBackend(options);
  return statSync(modelPath).isDirectory()
    ? openHfFolder(modelPath, options, backend)
    : openGgufFile(modelPath, options, backend);
}

/** Bytes of the parameters as held (encoded matrices at their encoded size, f32 tensors at 4 bytes a value). */
export function weightBytes(params: ReadonlyMap<string, Weight>): number {
  let n = 0;
  for (const p of params.values()) n += "data" in p && p.data instanceof Uint8Array ? p.data.length : (p as Tensor).size * 4;
  return n;
}

/** The family's network from a weight source, with the loader's parameter reading (encoded matrices stay encoded
 *  for GGUF, and may be repacked). */
function loadNetwork(family: AnyFamily, config: FamilyConfig, format: "gguf" | "hf", gguf: GgufFile | null,
  source: WeightSource, options: LoadModelOptions, backend: Backend): FamilyNetwork {
  const ctx: LoadContext = {
    backend, format, gguf, contextLength: options.contextLength, repack: format === "gguf" && (options.repack ?? true),
    loadParams(specs, { stackedGroups } = {}) {
      const from = gguf ? new GgufWeightArena(gguf, source as GgufSource, specs, (stackedGroups ?? []).map((g) => [...g]), backend,
        options.hugePages ?? true) : source;
      return format === "gguf" ? loadParams([...specs], from, true, backend, options.repack ?? true) : loadParams([...specs], from, false, backend);
    },
  };
  let network: FamilyNetwork | undefined;
  untracked(() => { network = family.load(config, ctx); }); // parameters must outlive any tidy scope the caller is in
  return network!;
}

async function openGgufFile(file: string, options: LoadModelOptions, backend: Backend): Promise<OpenedModel> {
  const gguf = readGguf(file);
  const arch = getOptionalString(gguf, "general.architecture") ?? "(none)";
  const family = (options.registry ?? MODEL_REGISTRY).ofGgufArchitecture(arch, file);
  const config = family.configFromGguf(gguf);
  const source = new GgufSource(gguf, (name) => family.ggufName(name));
  const network = loadNetwork(family, config, "gguf", gguf, source, options, backend);
  const tokenizer = options.tokenizer ?? tokenizerForGguf(gguf, config.vocabSize);
  return {
    family, config, network, id: path.basename(file), architecture: arch, contextLength: options.contextLength ?? config.contextLength,
    tokenizer, chatTemplate: getOptionalString(gguf, "tokenizer.chat_template") ?? null, stopTokenIds: stopIdsOf(tokenizer, []),
    generationDefaults: {}, backend,
  };
}

function readJson(file: string): Record<string, unknown> {
  return readJsonObject(file, (message) => new ModelLoadError(message));
}

async function openHfFolder(dir: string, options: LoadModelOptions, backend: Backend): Promise<OpenedModel> {
  const configPath = path.join(dir, "config.json");
  if (!existsSync(configPath)) throw new ModelLoadError(`${dir}: no config.json (is this a Hugging Face model folder?)`);
  const json = readJson(configPath);
  const family = (options.registry ?? MODEL_REGISTRY).ofHfConfig(json, configPath);
  const config = family.configFromHf(json, configPath);
  const folder = openSafetensorsFolder(dir);
  const source = new SafetensorsSource(folder, family.hfTransposed,
    family.hfFileName ? (name) => family.hfFileName!(config, name, (f) => folder.has(f)) : null);
  const network = loadNetwork(family, config, "hf", null, source, options, backend);
  const tokenizer = options.tokenizer ?? (existsSync(path.join(dir, "tokenizer.json")) ? loadTokenizer(dir)
    : idsOnlyTokenizer(dir, config.vocabSize, "the folder has no tokenizer.json"));
  const gen = existsSync(path.join(dir, "generation_config.json")) ? readJson(path.join(dir, "generation_config.json")) : {};
  const eos = [gen.eos_token_id, json.eos_token_id].flatMap((v) => (Array.isArray(v) ? v : v == null ? [] : [v]))
    .filter((v): v is number => typeof v === "number");
  const defaults: Record<string, number> = {};
  const keys: Array<[string, string]> = [["temperature", "temperature"], ["top_p", "topP"], ["top_k", "topK"],
    ["min_p", "minP"], ["repetition_penalty", "repetitionPenalty"], ["max_new_tokens", "maxTokens"]];
  for (const [from, to] of keys) if (typeof gen[from] === "number") defaults[to] = gen[from] as number;
  if (gen.do_sample === false) defaults.temperature = 0;
  return {
    family, config, network, id: path.basename(path.resolve(dir)), architecture: config.architecture,
    contextLength: options.contextLength ?? config.contextLength, tokenizer, chatTemplate: chatTemplateFromFolder(dir),
    stopTokenIds: stopIdsOf(tokenizer, eos), generationDefaults: defaults, backend,
  };
}

function stopIdsOf(tokenizer: Tokenizer, extra: number[]): number[] {
  return [...new Set([...tokenizer.stopTokenIds, ...(tokenizer.eosTokenId != null ? [tokenizer.eosTokenId] : []), ...extra])];
}

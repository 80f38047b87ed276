// The trainer's view of a model: the GPT-2 or LLaMA model of src/models (written once, over the Tensor API)
// with its parameters as trainable f32 tensors, plus what training needs around it — random init from a
// config, import/export of Hugging Face weights (model.safetensors, GPT-2's Conv1D matrices transposed), the
// weight-decay mask, the mean cross-entropy loss of a batch, the FLOPs shape for MFU, PPO's value head. Sequence
// classifiers: where the head lives comes from the family descriptor — a family with `taskHeads` (BERT) holds its heads
// in its own parameters (pooler + `classifier.*`, read at [CLS]); any other family's `…ForSequenceClassification` is
// the trunk plus transformers' `score.weight`, read at the last non-pad token.
// With LoRA (withLora) the trained tensors are the adapter's A/B matrices, the base frozen (f32 or GGUF-encoded):
// `params`/`specs` list the adapter's tensors in peft's names, so loop, optimizer and checkpoints treat them as any.
// Leaves out: the model math (src/models), quantized or f16 master weights (training keeps f32 masters).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { readJsonObject } from "../io/json-file.js";
import type { Rng } from "../core/rng.js";
import { bf16ToF32, f16ToF32 } from "../core/dtype.js";
import { type Tensor, crossEntropy, detach, fromTypedArray, isQuantWeight, linear, mul, noGrad, reshape, sum, tidy } from "../tensor/index.js";
import { openSafetensorsFolder, writeSafetensors, type SafetensorsWriteTensor } from "../io/safetensors.js";
import type { ParamSpec } from "../models/weights.js";
import type { Weight } from "../models/embed.js";
import type { LoraAdapter } from "../models/adapters/lora.js";
import type { EncoderInput, FamilyConfig, Seq2SeqTrainBatch, TaskHead, TrainableNetwork } from "../models/descriptor.js";
import { type AnyFamily, MODEL_REGISTRY } from "../models/registry.js";
import type { TrainDType } from "./options.js";

/** A registered family's id (e.g. "gpt2", "llama"). */
export type TrainFamily = string;

/** The sparse n-gram classifier head's tensor name (model.safetensors of a finetune --sparse-ngrams model). */
export const SPARSE_HEAD_WEIGHT = "zhiyu_sparse_head.weight";

export class TrainModelError extends Error {
  override name = "TrainModelError";
}

/** Which family a config.json describes (the list of supported models is src/models/registry.ts). */
export function familyOf(hfConfig: Record<string, unknown>, where: string): AnyFamily {
  try {
    return MODEL_REGISTRY.ofHfConfig(hfConfig, where);
  } catch (err) {
    throw new TrainModelError(`${(err as Error).message}; not trainable here`);
  }
}

/** Parameters that take no weight decay by default: norms, biases and embedding tables. */
export function isNoDecay(spec: ParamSpec): boolean {
  return spec.kind === "vector" || spec.role === "embedding";
}

export class TrainModel {
  /** The family's id (e.g. "gpt2", "llama"), as metrics and logs name it. */
  readonly family: TrainFamily;
  readonly config: FamilyConfig;
  readonly specs: readonly ParamSpec[];
  private readonly descriptor: AnyFamily;
  private readonly network: TrainableNetwork;

  /** Labels of the head of a sequence classifier (1 for a reward model), null for a causal LM or another head. */
  readonly scoreLabels: number | null;
  /** The task head and its labels of a family that holds its heads itself (encoders), else null. */
  readonly taskHead: { head: TaskHead; labels: readonly string[] } | null;
  /** The LoRA adapter when this model trains one (then `params`/`specs` are the adapter's A/B tensors). */
  readonly lora: LoraAdapter | null = null;
  /** With LoRA: the frozen base parameters (f32 tensors, or GGUF-encoded matrices for QLoRA). */
  readonly baseParams: ReadonlyMap<string, Weight> | null = null;

  private constructor(readonly hfConfig: Record<string, unknown>, readonly params: ReadonlyMap<string, Tensor>,
    readonly matmulDtype: TrainDType, private readonly loraInit?: { adapter: LoraAdapter; base: ReadonlyMap<string, Weight>; dropout?: (x: Tensor) => Tensor },
    /** Trained parameters beside the network's (PPO's value head), listed after its specs. */
    private readonly extraSpecs: readonly ParamSpec[] = []) {
    const lora = loraInit;
    this.descriptor = familyOf(hfConfig, "config.json");
    this.family = this.descriptor.id;
    this.config = this.descriptor.configFromHf(hfConfig, "config.json");
    this.taskHead = this.descriptor.taskHeads?.headOf(this.config) ?? null;
    this.scoreLabels = this.taskHead ? (this.taskHead.head === "sequence-classification" ? this.taskHead.labels.length : null)
      : scoreHeadLabels(hfConfig);
    const baseSpecs = modelSpecs(this.descriptor, this.config, this.scoreLabels);
    if (lora) {
      lora.adapter.checkBase(baseSpecs, "LoRA");
      this.lora = lora.adapter;
      this.baseParams = lora.base;
      this.specs = [...lora.adapter.paramSpecs(), ...extraSpecs];
      const attached = lora.adapter.attach(lora.base, { dropout: lora.dropout, dequantizeBase: true }); // QLoRA: f32 decode
      this.network = this.descriptor.trainable(this.config, attached as ReadonlyMap<string, Tensor>, { matmulDtype });
    } else {
      this.specs = [...baseSpecs, ...extraSpecs];
      // matmulDtype: bf16 mixed precision in the model's linear layers.
      this.network = this.descriptor.trainable(this.config, params, { matmulDtype });
    }
    for (const s of this.specs) {
      const t = params.get(s.name);
      if (!t) throw new TrainModelError(`[TrainModel] parameter '${s.name}' is missing`);
      if (t.shape.length !== s.shape.length || t.shape.some((d, i) => d !== s.shape[i])) {
        throw new TrainModelError(`[TrainModel] parameter '${s.name}' has shape [${t.shape.join(", ")}], expected [${s.shape.join(", ")}]`);
      }
    }
  }

  get vocabSize(): number {
    return this.config.vocabSize;
  }

  get contextLength(): number {
    return this.config.contextLength;
  }

  /** Parameter count (tied embeddings counted once). */
  get parameterCount(): number {
    let n = 0;
    for (const t of this.params.values()) n += t.size;
    return n;
  }

  /** Shape for the MFU estimate: parameters used in matmuls (all but the embedding tables, plus the head), and of
   *  those the output head's — the vocabulary projection and the family's own head layers (BERT's MLM transform) —
   *  which an objective may run on some positions only. */
  flopsShape(): { matmulParams: number; nLayer: number; nEmbd: number; headParams: number } {
    const vocabHead = this.config.vocabSize * this.config.hiddenSize;
    const headNames = new Set(this.descriptor.taskHeads?.headParamNames(this.config) ?? []);
    let n = vocabHead, head = vocabHead; // the vocabulary projection, once (tied or not)
    for (const s of this.specs) {
      if (s.role === "embedding" || s.lookupOnly) continue; // lookup tables: no matmul FLOPs
      const size = s.shape.reduce((a, b) => a * b, 1);
      // The vocabulary projection's own matrix (lm_head, an untied decoder) or an input table tied to it: counted above.
      if (s.kind === "matrix" && s.shape[0] === this.config.vocabSize && size === vocabHead) continue;
      n += size;
      if (headNames.has(s.name)) head += size;
    }
    return { matmulParams: n, nLayer: this.config.numLayers, nEmbd: this.config.hiddenSize, headParams: Math.min(head, n) };
  }

  /** Next-token logits [B, T, V] of B rows of T input ids (objectives that need more than the mean loss). */
  logits(inputs: Int32Array, batch: number, seq: number): Tensor {
    const ids = fromTypedArray(inputs, [batch, seq]);
    return this.network.forward(ids);
  }

  /** A seq2seq model's teacher-forced decoder logits [B, T, V] (sources encoded, decoder inputs attending to them). */
  seq2seqLogits(batch: Seq2SeqTrainBatch): Tensor {
    if (!this.network.seq2seq) {
      throw new TrainModelError(`[TrainModel] ${this.family} is not an encoder-decoder model; seq2seq objectives (span corruption, ` +
        "seq2seq fine-tuning) need one such as T5");
    }
    return this.network.seq2seq(batch);
  }

  /** Mean cross-entropy of next-token prediction over a batch: inputs/targets are B rows of T ids. */
  loss(inputs: Int32Array, targets: Int32Array, batch: number, seq: number): Tensor {
    const logits = this.logits(inputs, batch, seq); // [B, T, V]
    const v = logits.shape[logits.shape.length - 1]!;
    return crossEntropy(reshape(logits, [batch * seq, v]), fromTypedArray(targets, [batch * seq]));
  }

  /** The base model's parameter specs (with LoRA, `specs` lists the adapter's tensors instead). */
  get baseSpecs(): readonly ParamSpec[] {
    return modelSpecs(this.descriptor, this.config, this.scoreLabels);
  }

  /** A sequence classifier's logits [B, labels] for B rows of T ids padded with padId (null: no padding): the
   *  family's own head at the first token with the padding masked out (encoders), else `score.weight` at each row's
   *  last non-pad token (transformers' rule for decoders; a reward model has one label). */
  sequenceLogits(inputs: Int32Array, batch: number, seq: number, padId: number | null, tokenTypeIds?: Int32Array): Tensor {
    if (this.taskHead) {
      if (this.taskHead.head !== "sequence-classification") {
        throw new TrainModelError(`[TrainModel] this ${this.family} model has a ${this.taskHead.head} head, not a sequence classifier; ` +
          "fine-tune it with --task classify (which gives it one)");
      }
      return this.encoderHead("classifier", this.encode(encoderInput(inputs, batch, seq, padId, tokenTypeIds)));
    }
    const scores = this.scores(inputs, batch, seq); // [B, T, L]
    const pick = new Float32Array(batch * seq);
    scorePositions(inputs, batch, seq, padId).forEach((p, b) => { pick[b * seq + p] = 1; });
    return sum(mul(scores, fromTypedArray(pick, [batch, seq, 1])), 1);
  }

  /** Encoders: hidden states [B, T, D] of a padded batch (differentiable). */
  encode(input: EncoderInput): Tensor {
    if (!this.network.encoder) throw new TrainModelError(`[TrainModel] ${this.family} is not an encoder; it has no encode()`);
    return this.network.encoder.encode(input);
  }

  /** Encoders: a head of the checkpoint ("pooler", "mlm", "classifier") over hidden states [B, T, D]. */
  encoderHead(name: string, hidden: Tensor): Tensor {
    const head = this.network.encoder?.heads[name];
    if (!head) {
      throw new TrainModelError(`[TrainModel] this ${this.family} model has no '${name}' head ` +
        `(it has: ${Object.keys(this.network.encoder?.heads ?? {}).join(", ") || "none"})`);
    }
    return head(hidden);
  }

  /** A decoder sequence classifier's head outputs [B, T, labels] (`score.weight` over the final hidden states;
   *  a reward model has one label). Throws for a causal LM (no score head). */
  scores(inputs: Int32Array, batch: number, seq: number): Tensor {
    const w = this.baseParams?.get("score.weight") ?? this.params.get("score.weight");
    if (this.scoreLabels === null || w === undefined) {
      throw new TrainModelError(`[TrainModel] this ${this.family} model has no score head ('score.weight'); a reward model is a ` +
        `…ForSequenceClassification folder (zhiyu rm train makes one from a causal LM)`);
    }
    if (!this.network.features) throw new TrainModelError(`[TrainModel] the ${this.family} network has no features(); it cannot carry a score head`);
    return linear(this.network.features(fromTypedArray(inputs, [batch, seq])), w as Tensor);
  }

  /** The parameter specs of the model a config.json describes (what a LoRA adapter over it is made from). */
  static specsOf(hfConfig: Record<string, unknown>, where: string): readonly ParamSpec[] {
    const family = familyOf(hfConfig, where);
    return modelSpecs(family, family.configFromHf(hfConfig, where), family.taskHeads ? null : scoreHeadLabels(hfConfig));
  }

  /** A model that trains `adapter` over a base read elsewhere and kept frozen as it is — a GGUF file's encoded
   *  matrices (QLoRA-style; src/infer/frozen-base.ts reads them) with f32 norms and embedding tables. Every base
   *  parameter must be there with the spec's shape. */
  static withFrozenBase(hfConfig: Record<string, unknown>, base: ReadonlyMap<string, Weight>, dtype: TrainDType, adapter: LoraAdapter,
    dropout?: (x: Tensor) => Tensor): TrainModel {
    for (const s of TrainModel.specsOf(hfConfig, "the frozen base")) {
      const w = base.get(s.name);
      if (w === undefined) throw new TrainModelError(`[TrainModel] the frozen base has no parameter '${s.name}'`);
      const shape = isQuantWeight(w) ? [w.rows, w.cols] : (w as Tensor).shape;
      if (shape.length !== s.shape.length || shape.some((d, i) => d !== s.shape[i])) {
        throw new TrainModelError(`[TrainModel] the frozen base's '${s.name}' is [${shape.join(", ")}], expected [${s.shape.join(", ")}]`);
      }
      if (!isQuantWeight(w)) (w as Tensor).requiresGrad = false;
    }
    return new TrainModel(hfConfig, adapter.tensors(), dtype, { adapter, base, dropout });
  }

  /** A model that trains `adapter` over this model's weights, which become frozen (their requiresGrad is cleared;
   *  encoded GGUF matrices stay encoded). `dropout` is LoRA dropout on the adapters' inputs (training). */
  withLora(adapter: LoraAdapter, dropout?: (x: Tensor) => Tensor): TrainModel {
    const base = this.baseParams ?? this.params;
    for (const t of base.values()) if (!isQuantWeight(t) && "requiresGrad" in t) (t as Tensor).requiresGrad = false;
    return new TrainModel(this.hfConfig, adapter.tensors(), this.matmulDtype, { adapter, base, dropout });
  }

  /** The parameters as an inference network reads them (rollouts: src/infer/rollout.ts), sharing these tensors: the
   *  base model's, or with LoRA the frozen base with the adapter attached (no dropout). */
  inferenceWeights(): ReadonlyMap<string, Weight> {
    if (this.lora && this.baseParams) return this.lora.attach(this.baseParams);
    return this.params;
  }

  /** The same model with a value head (PPO's critic on the policy's trunk): `v_head.weight` [1, hidden] drawn from
   *  N(0, 1/√hidden) and `v_head.bias` 0, trained with the rest (checkpointed in model.safetensors beside them). */
  withValueHead(rng: Rng): TrainModel {
    if (this.params.has("v_head.weight")) return this;
    const h = this.config.hiddenSize;
    const w = fromTypedArray(Float32Array.from({ length: h }, () => rng.normal(0, 1 / Math.sqrt(h))), [1, h]);
    const b = fromTypedArray(new Float32Array(1), [1]);
    w.requiresGrad = true;
    b.requiresGrad = true;
    const extra: ParamSpec[] = [{ name: "v_head.weight", shape: [1, h], kind: "matrix", init: "normal" },
      { name: "v_head.bias", shape: [1], kind: "vector", init: "zeros" }];
    return new TrainModel(this.hfConfig, new Map([...this.params, ["v_head.weight", w], ["v_head.bias", b]]), this.matmulDtype,
      this.loraInit, [...this.extraSpecs, ...extra]);
  }

  /** The same model with a sparse-feature classifier head beside its own (finetune --task classify --sparse-ngrams):
   *  `zhiyu_sparse_head.weight` [labels, features], zeros (logistic regression's start), trained with the rest and
   *  checkpointed in model.safetensors; `values` (a checkpoint's tensor) replaces the zeros on resume. */
  withSparseHead(features: number, values?: Float32Array): TrainModel {
    const name = SPARSE_HEAD_WEIGHT;
    if (this.params.has(name)) return this;
    const labels = this.taskHead?.head === "sequence-classification" ? this.taskHead.labels.length : 0;
    if (labels === 0) throw new TrainModelError(`[TrainModel] a sparse-feature head needs a sequence classifier; this ${this.family} model has none`);
    if (values && values.length !== labels * features) {
      throw new TrainModelError(`[TrainModel] ${name} holds ${values.length} values, expected ${labels} labels × ${features} features`);
    }
    const w = fromTypedArray(values ? Float32Array.from(values) : new Float32Array(labels * features), [labels, features]);
    w.requiresGrad = true;
    return new TrainModel(this.hfConfig, new Map([...this.params, [name, w]]), this.matmulDtype, this.loraInit,
      [...this.extraSpecs, { name, shape: [labels, features], kind: "matrix", init: "zeros" }]);
  }

  /** Gradients only into the heads (classifier.*, pooler, sparse head) and the last `trainTopLayers` encoder layers. */
  freezeEncoder(trainTopLayers = 0): void {
    for (const s of this.specs) {
      if (/(^|\.)(classifier|pooler)\./.test(s.name) || s.name === SPARSE_HEAD_WEIGHT) continue;
      if (Number(/^encoder\.layer\.(\d+)\./.exec(s.name)?.[1] ?? -1) >= this.config.numLayers - trainTopLayers) continue;
      this.params.get(s.name)!.requiresGrad = false;
    }
  }

  /** Value-head outputs [B, T] of B rows of T ids (withValueHead first); `detachTrunk`: a value loss trains the head alone. */
  values(inputs: Int32Array, batch: number, seq: number, opts: { detachTrunk?: boolean } = {}): Tensor {
    const w = this.params.get("v_head.weight");
    if (!w) throw new TrainModelError("[TrainModel] this model has no value head; call withValueHead() first");
    if (!this.network.features) throw new TrainModelError(`[TrainModel] the ${this.family} network has no features(); it cannot carry a value head`);
    const f = this.network.features(fromTypedArray(inputs, [batch, seq])), trunk = opts.detachTrunk ? detach(f) : f;
    return reshape(linear(trunk, w, this.params.get("v_head.bias")!), [batch, seq]);
  }

  /** Whether bf16 matmuls change this model's loss on a batch (false = the model code ignores matmulDtype). */
  bf16Effective(inputs: Int32Array, targets: Int32Array, batch: number, seq: number): boolean {
    const lora = this.lora && this.baseParams ? { adapter: this.lora, base: this.baseParams } : undefined;
    const f32 = new TrainModel(this.hfConfig, this.params, "f32", lora);
    const bf16 = new TrainModel(this.hfConfig, this.params, "bf16", lora);
    const a = noGrad(() => tidy(() => f32.loss(inputs, targets, batch, seq).item()));
    const b = noGrad(() => tidy(() => bf16.loss(inputs, targets, batch, seq).item()));
    return a !== b;
  }

  /** The config.json to write into checkpoints. */
  configJson(): Record<string, unknown> {
    return { ...this.hfConfig };
  }

  /** Parameters in Hugging Face layout (GPT-2's Conv1D matrices back to [in, out]) for model.safetensors. */
  hfTensors(): SafetensorsWriteTensor[] {
    return this.specs.map((s) => {
      const data = this.params.get(s.name)!.toFloat32Array();
      if (this.descriptor.hfTransposed?.test(s.name)) {
        const [rows, cols] = s.shape as [number, number];
        return { name: s.name, dtype: "F32", shape: [cols, rows], data: transpose(data, rows, cols) };
      }
      return { name: s.name, dtype: "F32", shape: s.shape, data };
    });
  }

  /** Whether parameter `name` is stored transposed in the Hugging Face file (GPT-2's Conv1D weights). */
  hfTransposed(name: string): boolean {
    return this.descriptor.hfTransposed?.test(name) ?? false;
  }

  saveSafetensors(filePath: string): void {
    writeSafetensors(filePath, this.hfTensors(), { format: "pt" });
  }

  /** Overwrites every parameter with the values of an HF folder's weights (the same shapes). */
  loadWeightsFrom(dir: string): void {
    const values = readHfWeights(dir, this.descriptor, this.specs, this.config);
    for (const s of this.specs) {
      const t = this.params.get(s.name)!;
      const dst = t.storage("loadWeights") as Float32Array;
      dst.set(values.get(s.name)!, t.offset);
    }
  }

  /** A model with freshly initialised weights (GPT-2 scheme: N(0, 0.02), residual projections 0.02/√(2L)). */
  static random(hfConfig: Record<string, unknown>, rng: Rng, dtype: TrainDType): TrainModel {
    const family = familyOf(hfConfig, "config");
    const config = family.configFromHf(hfConfig, "config");
    const specs = family.paramSpecs(config);
    const nLayer = config.numLayers; // the family's parse (n_layer, num_hidden_layers, T5's num_layers …)
    const std = typeof hfConfig.initializer_range === "number" ? hfConfig.initializer_range : 0.02;
    const params = new Map<string, Tensor>();
    for (const s of specs) {
      const n = s.shape.reduce((a, b) => a * b, 1);
      const data = new Float32Array(n);
      if (s.init === "ones") data.fill(1);
      else if (s.init === "normal") {
        const residual = s.role === "residual";
        const sd = residual ? std / Math.sqrt(2 * nLayer) : std;
        for (let i = 0; i < n; i++) data[i] = rng.normal(0, sd);
      }
      params.set(s.name, trainable(data, s.shape));
    }
    return new TrainModel(hfConfig, params, dtype);
  }

  /** Loads an HF folder (config.json + model.safetensors) as trainable f32 parameters. A
   *  `…ForSequenceClassification` folder loads with its `score` head instead of the LM head. With
   *  `addScoreHead`, a causal LM becomes a one-label sequence classifier (a reward model to train) whose score head
   *  is drawn from N(0, initializer_range) with `rng`. */
  static fromHfFolder(dir: string, dtype: TrainDType, addScoreHead?: { rng: Rng; head?: { head: TaskHead; labels: readonly string[] } }): TrainModel {
    const where = path.join(dir, "config.json");
    let hfConfig = readConfigJson(dir);
    const family = familyOf(hfConfig, where);
    const oldConfig = family.configFromHf(hfConfig, where);
    const oldSpecs = new Set(modelSpecs(family, oldConfig, family.taskHeads ? null : scoreHeadLabels(hfConfig)).map((s) => s.name));
    let retarget = false;
    if (family.taskHeads) {
      // Heads the family holds itself: the wanted head (a reward model: one label), fresh when it differs.
      const old = family.taskHeads.headOf(oldConfig);
      const want = addScoreHead ? addScoreHead.head ?? (old.head === "sequence-classification" ? old : { head: "sequence-classification" as const, labels: ["LABEL_0"] }) : old;
      retarget = want.head !== old.head || want.labels.join("\n") !== old.labels.join("\n");
      if (retarget) hfConfig = family.taskHeads.withHead(hfConfig, want.head, want.labels, where);
    } else {
      if (addScoreHead?.head && addScoreHead.head.head !== "sequence-classification") {
        throw new TrainModelError(`${dir}: a ${family.id} model can carry a sequence-classification (score) head only, not ${addScoreHead.head.head}`);
      }
      if (addScoreHead && scoreHeadLabels(hfConfig) === null) { hfConfig = asSequenceClassifier(hfConfig, addScoreHead.head?.labels); retarget = true; }
    }
    const config = family.configFromHf(hfConfig, where);
    const specs = modelSpecs(family, config, family.taskHeads ? null : scoreHeadLabels(hfConfig));
    const headNames = new Set(family.taskHeads ? family.taskHeads.headParamNames(config) : ["score.weight"]);
    // Fresh: what the folder's own config does not have (a pooler an MLM checkpoint lacks), and a replaced head.
    const fresh = retarget ? specs.filter((s) => !oldSpecs.has(s.name) || headNames.has(s.name)) : [];
    const values = readHfWeights(dir, family, specs.filter((s) => !fresh.includes(s)), config);
    const std = typeof hfConfig.initializer_range === "number" ? hfConfig.initializer_range : 0.02;
    for (const s of fresh) values.set(s.name, initialValues(s, std, addScoreHead!.rng));
    const params = new Map<string, Tensor>();
    for (const s of specs) params.set(s.name, trainable(values.get(s.name)!, s.shape));
    return new TrainModel(hfConfig, params, dtype);
  }
}

/** The number of labels of a `…ForSequenceClassification` config (num_labels, else id2label's size), else null. */
export function scoreHeadLabels(hfConfig: Record<string, unknown>): number | null {
  const arch = Array.isArray(hfConfig.architectures) ? String(hfConfig.architectures[0] ?? "") : "";
  if (!arch.endsWith("ForSequenceClassification")) return null;
  if (typeof hfConfig.num_labels === "number") return hfConfig.num_labels;
  const id2label = hfConfig.id2label;
  return id2label && typeof id2label === "object" ? Math.max(1, Object.keys(id2label).length) : 2;
}

/** A causal LM's config.json turned into a sequence classifier's (default: one label, a reward model). */
function asSequenceClassifier(hfConfig: Record<string, unknown>, labels: readonly string[] = ["LABEL_0"]): Record<string, unknown> {
  const arch = Array.isArray(hfConfig.architectures) ? String(hfConfig.architectures[0] ?? "") : "";
  const stem = arch.replace(/For[A-Za-z]+$/, "") || "Llama";
  return { ...hfConfig, architectures: [`${stem}ForSequenceClassification`], num_labels: labels.length,
    id2label: Object.fromEntries(labels.map((l, i) => [i, l])), label2id: Object.fromEntries(labels.map((l, i) => [l, i])) };
}

/** Per row, the last position whose id is not padId (transformers' rule for decoder classifiers; 0 for an all-pad
 *  row). padId null: the last position. */
export function scorePositions(inputs: Int32Array, rows: number, seq: number, padId: number | null): Int32Array {
  const out = new Int32Array(rows);
  for (let b = 0; b < rows; b++) {
    let p = seq - 1;
    if (padId !== null) {
      p = 0;
      for (let t = seq - 1; t >= 0; t--) if (inputs[b * seq + t] !== padId) { p = t; break; }
    }
    out[b] = p;
  }
  return out;
}

/** An encoder's padded input: attention mask 0 where the id is padId (null: no padding). */
export function encoderInput(ids: Int32Array, batch: number, length: number, padId: number | null, tokenTypeIds?: Int32Array): EncoderInput {
  const attentionMask = new Uint8Array(ids.length).fill(1);
  if (padId !== null) for (let i = 0; i < ids.length; i++) if (ids[i] === padId) attentionMask[i] = 0;
  return { ids, attentionMask, tokenTypeIds, batch, length };
}

/** A fresh parameter as HF initialises it: normal(0, std) matrices, ones for norm weights, zeros for biases. */
function initialValues(s: ParamSpec, std: number, rng: Rng): Float32Array {
  const data = new Float32Array(s.shape.reduce((a, b) => a * b, 1));
  if (s.init === "ones") data.fill(1);
  else if (s.init === "normal") for (let i = 0; i < data.length; i++) data[i] = rng.normal(0, std);
  return data;
}

/** The parameters of a model: the family's (which hold the heads of a family with taskHeads), or for a decoder
 *  sequence classifier the trunk's plus `score.weight` [labels, hidden] in place of the LM head. */
function modelSpecs(family: AnyFamily, config: FamilyConfig, labels: number | null): ParamSpec[] {
  const specs = family.paramSpecs(config);
  if (labels === null || family.taskHeads) return specs;
  return [...specs.filter((s) => s.name !== "lm_head.weight"),
    { name: "score.weight", shape: [labels, config.hiddenSize], kind: "matrix", init: "normal" }];
}

function trainable(data: Float32Array, shape: readonly number[]): Tensor {
  const t = fromTypedArray(data, [...shape]);
  t.requiresGrad = true;
  return t;
}

function transpose(src: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = src[r * cols + c]!;
  return out;
}

export function readConfigJson(dir: string): Record<string, unknown> {
  const file = path.join(dir, "config.json");
  if (!existsSync(file)) throw new TrainModelError(`${dir}: no config.json; --init needs a Hugging Face model folder`);
  return readJsonObject(file, (message) => new TrainModelError(message));
}

/** Reads every spec'd parameter as f32 in Zhiyu layout; errors name the tensor, its shape and the expected one. */
function readHfWeights(dir: string, family: AnyFamily, specs: readonly ParamSpec[], config: FamilyConfig): Map<string, Float32Array> {
  const folder = openSafetensorsFolder(dir);
  const out = new Map<string, Float32Array>();
  // A family whose file names depend on the folder (BERT's "bert." prefix) names each parameter's tensor.
  const fileName = (name: string) => (family.hfFileName ? family.hfFileName(config, name, (f) => folder.has(f)) : name);
  for (const spec of specs) {
    const s = { ...spec, name: fileName(spec.name) };
    const conv1d = family.hfTransposed?.test(s.name) ?? false;
    const fileShape = conv1d ? [s.shape[1]!, s.shape[0]!] : s.shape;
    let info;
    try {
      info = folder.info(s.name);
    } catch {
      throw new TrainModelError(`${dir}: tensor '${s.name}' is missing (expected shape [${fileShape.join(", ")}] from config.json)`);
    }
    if (info.shape.length !== fileShape.length || info.shape.some((d, i) => d !== fileShape[i])) {
      throw new TrainModelError(`${dir}: tensor '${s.name}' has shape [${info.shape.join(", ")}], expected ` +
        `[${fileShape.join(", ")}] from config.json`);
    }
    const raw = folder.readTensor(s.name);
    let data: Float32Array;
    if (info.dtype === "F32") data = Float32Array.from(raw as Float32Array);
    else if (info.dtype === "BF16") data = Float32Array.from(raw as Uint16Array, (b) => bf16ToF32(b));
    else if (info.dtype === "F16") data = Float32Array.from(raw as Uint16Array, (b) => f16ToF32(b));
    else throw new TrainModelError(`${dir}: tensor '${s.name}' is ${info.dtype}; training loads F32, BF16 or F16 weights`);
    out.set(spec.name, conv1d ? transpose(data, fileShape[0]!, fileShape[1]!) : data);
  }
  return out;
}

// `zhiyu finetune --task classify|tag|embed`: fine-tuning an encoder (BERT family) on the one training loop
// (loop.ts), with one objective per task — objectives/classify.ts (sequence classification, cross-entropy with
// optional balanced class weights), objectives/tag.ts (BIO token classification on first word pieces),
// objectives/contrastive.ts (InfoNCE with in-batch negatives for sentence embeddings). This file reads and tokenizes
// the data (finetune-data.ts), gives the checkpoint the task's head (a fresh pooler/classifier with the labels of the
// training data; an embedding model drops the MLM head), runs the loop (checkpoints, resume, spike guard), and after
// it: classify fits a temperature and an out-of-scope threshold on the validation split; every task measures the
// validation split and writes OUT/model — a Hugging Face folder `zhiyu classify` / `embed` / `serve` load directly
// (config.json carries `zhiyu_calibration`; an embedding model gets sentence-transformers' pooling files).
// Data-parallel under mpirun (input.distributed): --batch stays the global batch; each step's batch is split into
// equal row slices, one per rank (encoder-batches.ts), classify and tag weigh the slices by what their means are
// over, embed all-gathers the pooled embeddings so its in-batch negatives are the global batch's
// (objectives/contrastive.ts); rank 0 writes checkpoints, the report and OUT/model.
// classify --sparse-ngrams adds TF-IDF n-gram features of the training texts (src/tokenizers/sparse-ngrams.ts)
// with their own linear head, trained jointly with the encoder (or with it frozen: --freeze-encoder); the model
// folder then also holds sparse_ngrams.json, and model.safetensors the head `zhiyu_sparse_head.weight`.
// Leaves out: LoRA, cross-encoder (pair) classification, distillation.
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../backend/backend.js";
import { Rng } from "../core/rng.js";
import { noGrad, setDefaultBackend, tidy } from "../tensor/index.js";
import { openSafetensors } from "../io/safetensors.js";
import { fitSparseNgrams, parseNgramSpec, type SparseNgrams } from "../tokenizers/sparse-ngrams.js";
import type { TaskHead } from "../models/descriptor.js";
import { loadTokenizer } from "../tokenizers/load.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { writeFileAtomic } from "./atomic.js";
import { latestCheckpoint } from "./checkpoint.js";
import { FinetuneDataError, readClassifyFile, readPairFile, readTagFile } from "./finetune-data.js";
import { DataParallel, type DataParallelSettings } from "./data-parallel.js";
import { modelOptimizer, readTrainerState } from "./loop-state.js";
import { resumedScheduleSteps, runLoop } from "./loop.js";
import { SPARSE_HEAD_WEIGHT, TrainModel } from "./model.js";
import type { TrainingObjective } from "./objective.js";
import {
  balancedClassWeights, ClassifyObjective, FrozenEncoderCache, type ClassExample, chooseOosThreshold, classifierMetrics, fitTemperature, predictLogits,
} from "./objectives/classify.js";
import { ContrastiveObjective, type EmbedPooling, type PairExample, pooledEmbeddings } from "./objectives/contrastive.js";
import { padRows, truncateFramed } from "./objectives/encoder-batches.js";
import { alignWords, predictTags, spanScores, TagObjective, type TagExample } from "./objectives/tag.js";
import { ProgressDisplay, type ProgressSink } from "./progress.js";

export type FinetuneTask = "classify" | "tag" | "embed";

export interface FinetuneOptions {
  task: FinetuneTask;
  /** An encoder HF folder with its tokenizer (vocab.txt or tokenizer.json). */
  model: string;
  train: string;
  /** Validation file; null = hold out valFraction of the training examples (seeded). */
  val: string | null;
  valFraction: number;
  out: string;
  epochs: number;
  steps: number | null;
  batch: number;
  maxLen: number;
  lr: number;
  minLr: number;
  /** Warm-up as a share of the steps. */
  warmupFraction: number;
  weightDecay: number;
  gradClip: number;
  seed: number;
  dtype: "f32" | "bf16";
  /** classify: weigh the loss by n / (k · n_class). */
  classWeights: boolean;
  /** classify: the out-of-scope label (its examples are a class if the training data has them; a threshold is fitted). */
  oosLabel: string | null;
  /** classify: in-scope validation accuracy the threshold may cost (0.005 = half a point). */
  oosBudget: number;
  /** classify: sparse n-gram analyzers ("word:1-2,char_wb:1-5"), null = encoder only. */
  sparseNgrams: string | null;
  /** classify: a sparse term must occur in this many training texts. */
  sparseMinDf: number;
  /** classify: at most this many sparse terms per analyzer (the most frequent), null = all. */
  sparseMaxFeatures: number | null;
  /** classify: the sparse head's weight multiplier (its learning rate relative to the encoder's under Adam). */
  sparseScale: number;
  /** classify, tag: train only the head (classifier, pooler, sparse head); the encoder stays as loaded. */
  freezeEncoder: boolean;
  /** With freezeEncoder: the last K encoder layers train too (their weights then differ from the loaded encoder's). */
  trainTopLayers: number;
  /** embed: pooling written into the model (and trained with). */
  pooling: EmbedPooling;
  checkpointEvery: number;
  keepLast: number;
  logEvery: number;
}

export const DEFAULT_FINETUNE_OPTIONS = {
  val: null, valFraction: 0.1, epochs: 3, steps: null, batch: 32, maxLen: 64, lr: 1e-4, minLr: 0, warmupFraction: 0.06,
  weightDecay: 0.01, gradClip: 1.0, seed: 42, dtype: "f32", classWeights: false, oosLabel: null, oosBudget: 0.005,
  sparseNgrams: null, sparseMinDf: 2, sparseMaxFeatures: 20000, sparseScale: 100, freezeEncoder: false, trainTopLayers: 0,
  pooling: "mean", checkpointEvery: 200, keepLast: 2, logEvery: 10,
} as const satisfies Partial<FinetuneOptions>;

export interface FinetuneResult {
  finalStep: number;
  totalSteps: number;
  valLoss: number | null;
  /** The finished model folder (OUT/model). */
  modelDir: string;
  /** What the validation split measured (and, for classify, the calibration). */
  report: Record<string, unknown>;
}

/** [CLS] pieces… [SEP] framing from the tokenizer's own special tokens (BERT's or RoBERTa's spelling). */
function framer(tok: Tokenizer, where: string) {
  const id = (names: string[]) => names.map((n) => tok.tokenToId(n)).find((x) => x !== undefined);
  const cls = id(["[CLS]", "<s>"]), sep = id(["[SEP]", "</s>"]);
  if (cls === undefined || sep === undefined) throw new FinetuneDataError(`${where}: the tokenizer has no [CLS]/[SEP] (or <s>/</s>) tokens; finetune needs an encoder's tokenizer`);
  const pad = tok.padTokenId ?? id(["[PAD]", "<pad>"]) ?? 0;
  return { cls, sep, pad, pieces: (text: string) => tok.encode(text, { addSpecialTokens: false }) };
}

/** A seeded split of n items: every item whose draw is below `share` goes to validation. */
export function carve<T>(items: readonly T[], share: number, seed: number): { train: T[]; val: T[] } {
  const rng = new Rng(seed ^ 0x51ed);
  const train: T[] = [], val: T[] = [];
  for (const x of items) (rng.nextFloat() < share ? val : train).push(x);
  return { train, val };
}

const TOKENIZER_FILES = ["vocab.txt", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"];

export async function runFinetune(input: { options: FinetuneOptions; backend: Backend; stdout: ProgressSink; resume?: boolean;
  shouldStop?: () => boolean; distributed?: DataParallelSettings | null }): Promise<FinetuneResult> {
  const o = input.options;
  setDefaultBackend(input.backend);
  const display = new ProgressDisplay(input.stdout, o.logEvery);
  const tok = loadTokenizer(o.model);
  const f = framer(tok, o.model);
  const frame = (text: string) => truncateFramed([f.cls, ...f.pieces(text), f.sep], o.maxLen);
  const split = <T>(train: T[], val: T[] | null) => (val ? { train, val } : carve(train, o.valFraction, o.seed));

  // Data → examples, and the head the task needs.
  let head: { head: TaskHead; labels: string[] };
  let build: (model: TrainModel) => TrainingObjective;
  let evaluate: (model: TrainModel) => Record<string, unknown>;
  let ngrams: SparseNgrams | null = null;
  if (o.task === "classify") {
    const { train, val } = split(readClassifyFile(o.train), o.val ? readClassifyFile(o.val) : null);
    const labels = [...new Set(train.map((e) => e.label))].sort();
    if (labels.length < 2) throw new FinetuneDataError(`${o.train}: ${labels.length} label(s); classification needs at least 2`);
    const index = new Map(labels.map((l, i) => [l, i]));
    const oosClass = o.oosLabel !== null && index.has(o.oosLabel) ? index.get(o.oosLabel)! : null;
    if (o.sparseNgrams !== null) {
      ngrams = fitSparseNgrams(train.map((e) => e.text), parseNgramSpec(o.sparseNgrams), { minDf: o.sparseMinDf, maxFeatures: o.sparseMaxFeatures });
      display.log(`sparse n-grams ${o.sparseNgrams}: ${ngrams.dimension} features (${ngrams.analyzers.map((a) => a.terms.length).join(" + ")})`);
    }
    const encode = (e: { text: string; label: string; where: string }) => {
      const label = index.get(e.label) ?? (e.label === o.oosLabel ? -1 : undefined);
      if (label === undefined) throw new FinetuneDataError(`${e.where}: label ${JSON.stringify(e.label)} does not occur in the training data ${o.train}`);
      return { ids: frame(e.text), label, ...(ngrams ? { sparse: ngrams.transform(e.text) } : {}) };
    };
    const sparse = ngrams ? { dimension: ngrams.dimension, scale: o.sparseScale } : null;
    // The cache of encoder outputs holds only while no encoder layer trains.
    const frozen = o.freezeEncoder && o.trainTopLayers === 0 ? new FrozenEncoderCache(f.pad) : null;
    const trainEx = train.map(encode), valEx = val.map(encode);
    const inScopeVal = valEx.filter((e) => e.label >= 0) as ClassExample[];
    display.log(`${trainEx.length} training and ${valEx.length} validation examples, ${labels.length} labels` +
      (o.oosLabel !== null ? `, out-of-scope label '${o.oosLabel}'${oosClass === null ? " (not in training: threshold only)" : ""}` : ""));
    head = { head: "sequence-classification", labels };
    const weights = o.classWeights ? balancedClassWeights(trainEx.map((e) => e.label), labels.length) : null;
    build = () => new ClassifyObjective(trainEx, inScopeVal, o.batch, f.pad, o.maxLen, o.seed, weights, sparse, frozen);
    evaluate = (model) => {
      const logits = predictLogits(model, valEx, o.batch, f.pad, sparse, frozen);
      const gold = valEx.map((e) => e.label);
      const calib = logits.filter((_, i) => gold[i]! >= 0), calibGold = gold.filter((g) => g >= 0);
      const temperature = fitTemperature(calib, calibGold);
      const threshold = o.oosLabel !== null ? chooseOosThreshold(logits, gold, temperature, oosClass, o.oosBudget) : 0;
      return {
        temperature, oos_threshold: threshold, oos_label: o.oosLabel,
        val_uncalibrated: classifierMetrics(logits, gold, 1, 0, oosClass), val: classifierMetrics(logits, gold, temperature, threshold, oosClass),
      };
    };
  } else if (o.task === "tag") {
    const { train, val } = split(readTagFile(o.train), o.val ? readTagFile(o.val) : null);
    const tags = ["O", ...[...new Set(train.flatMap((s) => s.tags))].filter((t) => t !== "O").sort()];
    const index = new Map(tags.map((t, i) => [t, i]));
    const encode = (s: { words: string[]; tags: string[]; where: string }): TagExample => alignWords(s.words, s.tags.map((t, k) => {
      const id = index.get(t);
      if (id === undefined) throw new FinetuneDataError(`${s.where}: tag ${JSON.stringify(t)} (token ${k}) does not occur in the training data ${o.train}`);
      return id;
    }), f.pieces, f.cls, f.sep, o.maxLen, s.where);
    const trainEx = train.map(encode), valEx = val.map(encode);
    display.log(`${trainEx.length} training and ${valEx.length} validation sentences, ${tags.length} tags`);
    head = { head: "token-classification", labels: tags };
    build = () => new TagObjective(trainEx, valEx, o.batch, f.pad, o.maxLen, o.seed);
    evaluate = (model) => {
      const pred = predictTags(model, valEx, o.batch, f.pad, 0, tags).map((p) => p.map((i) => tags[i]!));
      return { val: spanScores(val.map((s) => s.tags), pred) };
    };
  } else {
    const { train, val } = split(readPairFile(o.train), o.val ? readPairFile(o.val) : null);
    const encode = (p: { a: string; b: string }): PairExample => ({ a: frame(p.a), b: frame(p.b) });
    const trainEx = train.map(encode), valEx = val.map(encode);
    display.log(`${trainEx.length} training and ${valEx.length} validation pairs, ${o.pooling} pooling`);
    head = { head: "none", labels: [] };
    build = () => new ContrastiveObjective(trainEx, valEx, o.batch, f.pad, o.maxLen, o.seed, o.pooling);
    evaluate = (model) => ({ val: retrievalScores(model, valEx, o.batch, f.pad, o.pooling) });
  }

  // The model: the newest checkpoint of --out (resume), else the given folder with the task's head.
  const ck0 = input.resume === false ? null : latestCheckpoint(o.out);
  let model = ck0 ? TrainModel.fromHfFolder(ck0.dir, o.dtype) : TrainModel.fromHfFolder(o.model, o.dtype, { rng: new Rng(o.seed), head });
  if (!model.taskHead) throw new FinetuneDataError(`${o.model}: a ${model.family} model; finetune --task ${o.task} trains an encoder (BERT family)`);
  if (model.taskHead.head !== head.head || model.taskHead.labels.join("\n") !== head.labels.join("\n")) {
    throw new FinetuneDataError(`${ck0?.dir}: the checkpoint's head (${model.taskHead.head}: ${model.taskHead.labels.length} labels) is not this ` +
      `run's (${head.head}: ${head.labels.length}); use a new --out or the data the run started with`);
  }
  if (ngrams) model = withSparseHead(model, ngrams.dimension, ck0?.dir ?? null);
  if (o.freezeEncoder) model.freezeEncoder(o.trainTopLayers);
  const objective = build(model) as TrainingObjective & { batchesPerEpoch: number; shardRows(n: number): void };
  const comm = input.distributed?.comm ?? null;
  const ranks = comm?.size ?? 1;
  if (comm && ranks > 1) {
    if (objective instanceof ContrastiveObjective) {
      objective.gatherAcrossRanks({
        rank: comm.rank, ranks,
        gather: (local) => { const all = new Float32Array(local.length * ranks); comm.allgatherNow(local, all); return all; },
      });
    } else {
      objective.shardRows(ranks);
    }
  }
  const totalSteps = o.steps ?? Math.max(1, Math.ceil(o.epochs * objective.batchesPerEpoch));
  let scheduleSteps = totalSteps;
  if (ck0) {
    scheduleSteps = resumedScheduleSteps(readTrainerState(ck0.dir), null, totalSteps);
    display.log(`resuming from ${ck0.dir}`);
  }
  const optimizer = modelOptimizer(model, { lr: o.lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: o.weightDecay });
  const copies = new Map<string, string>();
  for (const name of TOKENIZER_FILES) if (existsSync(path.join(o.model, name))) copies.set(name, path.join(o.model, name));
  const r = await runLoop({
    model, optimizer, objective, rng: new Rng(o.seed), runDir: o.out, resumeFrom: ck0, options: o, copies,
    distributed: input.distributed ? DataParallel.forModel(input.distributed, input.backend, model, optimizer) : null,
    settings: {
      steps: totalSteps, schedule: { lr: o.lr, minLr: o.minLr, warmupSteps: Math.round(o.warmupFraction * scheduleSteps), totalSteps: scheduleSteps, kind: "linear" },
      // Only non-finite losses/norms roll back: near convergence a fine-tuning loss is heavy-tailed (one hard example
      // makes a batch 10–30× the window's mean), and a z-score guard stopped real runs with "6 loss spikes".
      gradAccum: ranks, gradClip: o.gradClip, spikeGuard: true, spikeWindow: 50, spikeZscore: Infinity, maxRollbacks: 5, spikeLrFactor: 1, spikeSkip: 0,
      checkpointEvery: o.checkpointEvery, keepLast: o.keepLast, evalEvery: 0, evalAtEnd: true, logEvery: o.logEvery, mfu: null,
    },
    banner: `finetune --task ${o.task} of ${model.family} (${(model.parameterCount / 1e6).toFixed(2)}M parameters), steps ${ck0?.step ?? 0}…${totalSteps}, batch ${o.batch}`,
    display, jsonOut: null, shouldStop: input.shouldStop,
  });
  const modelDir = path.join(o.out, "model");
  if (comm && comm.rank !== 0) return { finalStep: r.finalStep, totalSteps, valLoss: r.valLoss, modelDir, report: {} };
  const report = { task: o.task, steps: r.finalStep, val_loss: r.valLoss, ...evaluate(model) };
  writeModelFolder(model, o, copies, report, ngrams);
  return { finalStep: r.finalStep, totalSteps, valLoss: r.valLoss, modelDir, report };
}

/** The model with its sparse head: zeros, or on resume the checkpoint's tensor (which must fit the refitted features). */
function withSparseHead(model: TrainModel, features: number, checkpoint: string | null): TrainModel {
  if (!checkpoint) return model.withSparseHead(features);
  const file = path.join(checkpoint, "model.safetensors");
  const st = openSafetensors(file);
  if (!st.tensors.has(SPARSE_HEAD_WEIGHT)) {
    throw new FinetuneDataError(`${file}: no '${SPARSE_HEAD_WEIGHT}'; this run started without --sparse-ngrams (use a new --out or drop the flag)`);
  }
  const info = st.info(SPARSE_HEAD_WEIGHT);
  if (info.dtype !== "F32" || info.shape.length !== 2 || info.shape[1] !== features) {
    throw new FinetuneDataError(`${file}: '${SPARSE_HEAD_WEIGHT}' is ${info.dtype} [${info.shape.join(", ")}], but the training data give ${features} ` +
      "sparse features; use the --sparse-ngrams settings and data the run started with, or a new --out");
  }
  return model.withSparseHead(features, st.readTensor(SPARSE_HEAD_WEIGHT) as Float32Array);
}

/** For each validation query, is its own positive the nearest of all validation positives (recall@1), and MRR. */
function retrievalScores(model: TrainModel, pairs: readonly PairExample[], batch: number, padId: number, pooling: EmbedPooling) {
  const embed = (rows: Int32Array[]) => {
    const out: Float32Array[] = [];
    for (let i = 0; i < rows.length; i += batch) {
      const p = padRows(rows.slice(i, i + batch), padId);
      const e = pooledEmbeddings(model, p, padId, pooling).toFloat32Array(), d = e.length / p.rows;
      for (let r = 0; r < p.rows; r++) out.push(e.slice(r * d, (r + 1) * d));
    }
    return out;
  };
  const a = noGradEmbed(() => embed(pairs.map((p) => p.a))), b = noGradEmbed(() => embed(pairs.map((p) => p.b)));
  let top1 = 0, mrr = 0;
  a.forEach((q, i) => {
    const own = dot(q, b[i]!);
    const rank = 1 + b.reduce((n, v, j) => n + (j !== i && dot(q, v) > own ? 1 : 0), 0);
    if (rank === 1) top1++;
    mrr += 1 / rank;
  });
  return { recall_at_1: pairs.length ? top1 / pairs.length : 0, mrr: pairs.length ? mrr / pairs.length : 0, pairs: pairs.length };
}

function dot(x: Float32Array, y: Float32Array): number {
  let s = 0;
  for (let i = 0; i < x.length; i++) s += x[i]! * y[i]!;
  return s;
}

function noGradEmbed<T>(fn: () => T): T {
  return noGrad(() => tidy(fn));
}

/** OUT/model: config.json (+ zhiyu_calibration), model.safetensors, the tokenizer files, finetune_report.json; an
 *  embedding model also gets modules.json + 1_Pooling/config.json (its pooling, L2-normalised). */
function writeModelFolder(model: TrainModel, o: FinetuneOptions, copies: ReadonlyMap<string, string>, report: Record<string, unknown>,
  ngrams: SparseNgrams | null): void {
  const dir = path.join(o.out, "model");
  mkdirSync(dir, { recursive: true });
  const config = model.configJson();
  if (o.task === "classify") {
    config.zhiyu_calibration = { temperature: report.temperature, oos_threshold: report.oos_threshold, oos_label: report.oos_label };
  }
  model.saveSafetensors(path.join(dir, "model.safetensors"));
  writeFileAtomic(path.join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
  for (const [name, src] of copies) copyFileSync(src, path.join(dir, name));
  if (o.task === "embed") {
    mkdirSync(path.join(dir, "1_Pooling"), { recursive: true });
    writeFileAtomic(path.join(dir, "1_Pooling", "config.json"), JSON.stringify({
      word_embedding_dimension: model.config.hiddenSize, pooling_mode_cls_token: o.pooling === "cls", pooling_mode_mean_tokens: o.pooling === "mean",
    }, null, 2) + "\n");
    writeFileAtomic(path.join(dir, "modules.json"), JSON.stringify([
      { idx: 0, name: "0", path: "", type: "sentence_transformers.models.Transformer" },
      { idx: 1, name: "1", path: "1_Pooling", type: "sentence_transformers.models.Pooling" },
      { idx: 2, name: "2", path: "2_Normalize", type: "sentence_transformers.models.Normalize" },
    ], null, 2) + "\n");
  }
  if (ngrams) writeFileAtomic(path.join(dir, "sparse_ngrams.json"), ngrams.toJson({ head_scale: o.sparseScale, head_tensor: SPARSE_HEAD_WEIGHT }));
  writeFileAtomic(path.join(dir, "finetune_report.json"), JSON.stringify(report, null, 2) + "\n");
}

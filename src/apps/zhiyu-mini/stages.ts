// The zhiyu-mini recipe's stages from text to an evaluated model: extract (data.ts) → tokenizer → prepare → sweep →
// fit (the prediction is written BEFORE the final run) → pretrain → sft → eval. Each returns what its
// <work>/<stage>.done.json records; recipe.ts runs them in order, skips finished ones, and adds the export.
// Everything is seeded: for a fixed thread count and budget the tokenizer and the training losses are the same on
// every run. The final model's size and token budget come from the scaling fit and the time budget, using the
// config's assumed training speed (not a live measurement, which would make the choice depend on machine load).
// Leaves out: the export and the model card (export.ts, model-card.ts).
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../../backend/backend.js";
import { Rng } from "../../core/rng.js";
import { CHATML_TEMPLATE } from "../../infer/chat-template.js";
import { loadTokenizer } from "../../tokenizers/load.js";
import { BpeTrainer, DEFAULT_SPECIAL_TOKENS, trainedTokenizerConfig, trainedTokenizerJson } from "../../tokenizers/train-bpe.js";
import { writeFileAtomic } from "../../train/atomic.js";
import { latestCheckpoint, resolveResume } from "../../train/checkpoint.js";
import { prepareData } from "../../train/data-prepare.js";
import { bestBigram, evaluateModel, fitBigram, readEvalDocuments, scoredStream, type EvalFigures } from "../../train/eval.js";
import { readMetrics } from "../../train/metrics.js";
import { TrainModel } from "../../train/model.js";
import type { ProgressSink } from "../../train/progress.js";
import {
  bootstrapFit, computeOptimal, fitLaw, llamaHfConfig, llamaParamCount, llamaTrainFlopsPerToken, predictionInterval,
  predictLoss, readRuns, renderFitSvg, runSweep, shapeName, type LawConstants, type LlamaShape, type RunRecord, type SweepConfig,
  sweepRunOptions,
} from "../../train/scaling.js";
import { DEFAULT_SFT_OPTIONS, prepareSftData, runSft } from "../../train/sft.js";
import { openTokenStream, resolveTokenPaths } from "../../train/token-file.js";
import { runTraining } from "../../train/trainer.js";
import { RecipeError, type RecipeConfig } from "./config.js";
import { LICENSED_SETS, pretrainingDocuments, sftConversations } from "./data.js";

export interface RecipeContext {
  config: RecipeConfig;
  /** Work folder (intermediate files, checkpoints). */
  work: string;
  /** ../shared/data */
  dataRoot: string;
  /** Repository root (exportDir is relative to it). */
  repoRoot: string;
  backend: Backend;
  log: (line: string) => void;
  stdout: ProgressSink;
}

export const STAGES = ["extract", "tokenizer", "prepare", "sweep", "fit", "pretrain", "sft", "eval", "export"] as const;
export type StageName = typeof STAGES[number];

export function doneFile(ctx: RecipeContext, stage: StageName): string {
  return path.join(ctx.work, `${stage}.done.json`);
}

export function markDone(ctx: RecipeContext, stage: StageName, info: Record<string, unknown>): void {
  const f = doneFile(ctx, stage);
  writeFileAtomic(f, JSON.stringify({ stage, ...info }, null, 2) + "\n");
}

export function readDone<T = Record<string, unknown>>(work: string, stage: StageName): T | null {
  const f = path.join(work, `${stage}.done.json`);
  return existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) as T : null;
}

export function sweepConfig(ctx: RecipeContext): SweepConfig {
  const c = ctx.config;
  return {
    data: path.join(ctx.work, "tokens"), valData: path.join(ctx.work, "tokens-val", "train_000000.bin"),
    vocabSize: readDone<{ vocabSize: number }>(ctx.work, "tokenizer")!.vocabSize,
    shapes: c.sweep.shapes, tokens: c.sweep.tokens, batch: c.train.batch, seq: c.train.seq, lr: c.train.lr,
    warmupFraction: c.train.warmupFraction, maxWarmup: c.train.maxWarmup, evalBatches: c.train.evalBatches,
    seed: c.seed, threads: c.threads, minTokensPerParam: c.sweep.fitMinTokensPerParam ?? 0,
  };
}

export async function stageExtract(ctx: RecipeContext): Promise<Record<string, unknown>> {
  const dir = path.join(ctx.work, "text");
  mkdirSync(dir, { recursive: true });
  const docs = pretrainingDocuments(ctx.dataRoot, ctx.config.poetryMaxChars);
  const rng = new Rng(ctx.config.seed);
  const split: Record<string, string[]> = { train_zh: [], train_en: [], val_zh: [], val_en: [] };
  const perSet = new Map<string, number>();
  for (const doc of docs) {
    const i = perSet.get(doc.set) ?? 0;
    perSet.set(doc.set, i + 1);
    const text = doc.text.replace(/\n\s*\n/g, "\n");
    split[`${i % ctx.config.valEvery === ctx.config.valEvery - 1 ? "val" : "train"}_${doc.lang}`]!.push(text);
  }
  const stats: Record<string, { documents: number; bytes: number }> = {};
  for (const [name, list] of Object.entries(split)) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [list[i], list[j]] = [list[j]!, list[i]!];
    }
    writeFileSync(path.join(dir, `${name}.txt`), list.join("\n\n") + "\n");
    stats[name] = { documents: list.length, bytes: Buffer.byteLength(list.join("\n\n")) };
  }
  // Validation text mixed across languages so the trainer's first validation batches cover both.
  const val = [...split.val_zh!, ...split.val_en!];
  for (let i = val.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [val[i], val[j]] = [val[j]!, val[i]!];
  }
  writeFileSync(path.join(dir, "val_mixed.txt"), val.join("\n\n") + "\n");
  const sft = sftConversations(ctx.dataRoot, ctx.config.seed);
  mkdirSync(path.join(ctx.work, "sft-data"), { recursive: true });
  writeFileSync(path.join(ctx.work, "sft-data", "sft_train.jsonl"), sft.map((c) => JSON.stringify({ messages: c.messages })).join("\n") + "\n");
  ctx.log(`extract: ${JSON.stringify(stats)}; ${sft.length} SFT conversations`);
  return { stats, sftConversations: sft.length, sets: LICENSED_SETS };
}

export async function stageTokenizer(ctx: RecipeContext): Promise<Record<string, unknown>> {
  const dir = path.join(ctx.work, "tokenizer");
  mkdirSync(dir, { recursive: true });
  const trainer = new BpeTrainer({
    vocabSize: ctx.config.tokenizer.vocabSize, specialTokens: DEFAULT_SPECIAL_TOKENS, minFrequency: ctx.config.tokenizer.minFrequency,
  });
  for (const f of ["train_zh.txt", "train_en.txt"]) {
    for (const line of readFileSync(path.join(ctx.work, "text", f), "utf8").split("\n")) if (line) trainer.addText(line + "\n");
  }
  const trained = trainer.train();
  const config = { ...trainedTokenizerConfig(trained) as Record<string, unknown>, chat_template: CHATML_TEMPLATE };
  writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(trainedTokenizerJson(trained)));
  writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");
  const tok = loadTokenizer(dir);
  ctx.log(`tokenizer: ${tok.vocabSize} tokens`);
  return { vocabSize: tok.vocabSize, imEnd: tok.tokenToId("<|im_end|>"), endOfText: tok.tokenToId("<|endoftext|>") };
}

export async function stagePrepare(ctx: RecipeContext): Promise<Record<string, unknown>> {
  const tok = loadTokenizer(path.join(ctx.work, "tokenizer"));
  const t = (f: string) => path.join(ctx.work, "text", f);
  for (const d of ["tokens", "tokens-val"]) rmSync(path.join(ctx.work, d), { recursive: true, force: true });
  const train = prepareData(tok, { inputs: [t("train_zh.txt"), t("train_en.txt")], outDir: path.join(ctx.work, "tokens"), split: "blank-line" });
  const val = prepareData(tok, { inputs: [t("val_mixed.txt")], outDir: path.join(ctx.work, "tokens-val"), split: "blank-line" });
  ctx.log(`prepare: ${train.train.tokens} training tokens (${train.charsPerToken.toFixed(2)} chars/token), ${val.train.tokens} validation tokens`);
  return { trainTokens: train.train.tokens, valTokens: val.train.tokens, charsPerToken: train.charsPerToken };
}

export async function stageSweep(ctx: RecipeContext): Promise<Record<string, unknown>> {
  const runs = await runSweep(sweepConfig(ctx), path.join(ctx.work, "sweep"), ctx.backend, ctx.log);
  return { runs: runs.length };
}

export interface Prediction {
  constants: LawConstants;
  std: LawConstants;
  bootstrapSamples: number;
  shape: LlamaShape;
  N: number;
  D: number;
  steps: number;
  predictedValLoss: number;
  interval90: [number, number];
  /** The fit's Huber δ, and the predictions the other usual δ would have made, recorded with the prediction. */
  fitDelta?: number;
  alternativePredictions?: { delta: number; predictedValLoss: number }[];
  computeOptimal: { N: number; D: number; loss: number };
  flops: number;
  measuredSweepFlopsPerSecond: number;
  createdAt: string;
}

/** The final run's shape and tokens: the lowest predicted loss among candidates that fit the time and size budget. */
export function chooseFinal(ctx: { config: RecipeConfig }, vocabSize: number, c: LawConstants): { shape: LlamaShape; D: number; predicted: number } {
  const cfg = ctx.config;
  const seconds = cfg.budgetMinutes * 60 * cfg.pretrainShare;
  const tokensPerStep = cfg.train.batch * cfg.train.seq;
  let best: { shape: LlamaShape; D: number; predicted: number } | null = null;
  for (const s of cfg.candidates) {
    if (llamaParamCount(s, vocabSize) * 2 > cfg.maxModelBytes) continue;
    const rate = cfg.trainFlopsPerSecond / llamaTrainFlopsPerToken(s, vocabSize, cfg.train.seq);
    const steps = Math.max(10, Math.floor((rate * seconds) / tokensPerStep / 10) * 10);
    const D = steps * tokensPerStep;
    const predicted = predictLoss(c, llamaParamCount(s, vocabSize), D);
    if (!best || predicted < best.predicted) best = { shape: s, D, predicted };
  }
  if (!best) throw new RecipeError("no candidate shape fits maxModelBytes; add smaller candidates");
  return best;
}

export function describeFit(delta: number): string {
  return delta >= 0.1 ? "least squares on log L" : `Huber on log L, δ = ${delta}`;
}

/** The sweep runs the fit uses (see fitMinTokensPerParam). */
export function fittedRuns(ctx: { config: RecipeConfig; work: string }): RunRecord[] {
  const min = ctx.config.sweep.fitMinTokensPerParam ?? 0;
  return readRuns(path.join(ctx.work, "sweep")).filter((r) => r.tokens >= min * r.params);
}

export async function stageFit(ctx: RecipeContext): Promise<Record<string, unknown>> {
  const runs = fittedRuns(ctx);
  const pts = runs.map((r) => ({ N: r.params, D: r.tokens, loss: r.valLoss }));
  const delta = ctx.config.sweep.fitDelta ?? 1e-3;
  const fit = fitLaw(pts, { delta });
  const boot = bootstrapFit(pts, fit.constants, 100, ctx.config.seed, delta);
  const vocab = readDone<{ vocabSize: number }>(ctx.work, "tokenizer")!.vocabSize;
  const choice = chooseFinal(ctx, vocab, fit.constants);
  const N = llamaParamCount(choice.shape, vocab);
  const alternativePredictions = [1e-3, 1].filter((d) => d !== delta)
    .map((d) => ({ delta: d, predictedValLoss: predictLoss(fitLaw(pts, { delta: d }).constants, N, choice.D) }));
  const flops = 6 * N * choice.D;
  const largest = runs.reduce((a, b) => (a.params * a.tokens > b.params * b.tokens ? a : b));
  const prediction: Prediction = {
    constants: fit.constants, std: boot.std, bootstrapSamples: boot.samples.length, shape: choice.shape, N, D: choice.D,
    steps: choice.D / (ctx.config.train.batch * ctx.config.train.seq), predictedValLoss: choice.predicted,
    interval90: predictionInterval(boot.samples, N, choice.D), fitDelta: delta, alternativePredictions,
    computeOptimal: computeOptimal(fit.constants, flops), flops,
    measuredSweepFlopsPerSecond: largest.tokensPerSecond * largest.flopsPerToken, createdAt: new Date().toISOString(),
  };
  writeFileSync(path.join(ctx.work, "prediction.json"), JSON.stringify(prediction, null, 2) + "\n");
  writeFileSync(path.join(ctx.work, "scaling-fit.svg"), renderFitSvg({
    runs: pts, constants: fit.constants, target: { N, D: choice.D, predicted: choice.predicted },
  }));
  ctx.log(`fit: E=${fit.constants.E.toFixed(3)} A=${fit.constants.A.toPrecision(3)} α=${fit.constants.alpha.toFixed(3)} ` +
    `B=${fit.constants.B.toPrecision(3)} β=${fit.constants.beta.toFixed(3)}; final ${shapeName(choice.shape)} (${N} parameters) × ` +
    `${choice.D} tokens, predicted validation loss ${choice.predicted.toFixed(4)}`);
  return { prediction: "prediction.json" };
}

export function readPrediction(ctx: RecipeContext): Prediction {
  return JSON.parse(readFileSync(path.join(ctx.work, "prediction.json"), "utf8")) as Prediction;
}

export function pretrainOptions(ctx: RecipeContext) {
  const p = readPrediction(ctx);
  const cfg = sweepConfig(ctx);
  const vocab = cfg.vocabSize;
  const tokDone = readDone<{ endOfText: number }>(ctx.work, "tokenizer")!;
  const configPath = path.join(ctx.work, "final.config.json");
  writeFileSync(configPath, JSON.stringify(llamaHfConfig(p.shape, vocab, Math.max(ctx.config.train.seq, ctx.config.sft.seq), tokDone.endOfText), null, 2) + "\n");
  const base = sweepRunOptions(cfg, configPath, p.D);
  return {
    ...base, out: path.join(ctx.work, "pretrain"), tokenizer: path.join(ctx.work, "tokenizer"), jsonLog: false,
    evalEvery: Math.max(1, base.steps / 10), checkpointEvery: Math.max(10, Math.round(base.steps / 20)), keepLast: 2,
    spikeGuard: true, logEvery: 20,
  };
}

export async function stagePretrain(ctx: RecipeContext): Promise<Record<string, unknown>> {
  const o = pretrainOptions(ctx);
  const resume = latestCheckpoint(o.out!) ? resolveResume(o.out!) : null;
  const result = await runTraining({ options: o, resume, backend: ctx.backend, stdout: ctx.stdout, stderr: ctx.stdout });
  const records = readMetrics(path.join(o.out!, "metrics.jsonl"));
  const val = records.filter((r): r is { step: number; val_loss: number; val_ppl: number } => "val_loss" in r);
  const last = val[val.length - 1];
  if (!last || last.step !== o.steps) throw new RecipeError(`pretrain: no validation loss at the final step ${o.steps}`);
  const p = readPrediction(ctx);
  ctx.log(`pretrain: final validation loss ${last.val_loss.toFixed(4)} (predicted ${p.predictedValLoss.toFixed(4)}, ` +
    `${(100 * (last.val_loss - p.predictedValLoss) / p.predictedValLoss).toFixed(1)}%)`);
  return { finalStep: result.finalStep, valLoss: last.val_loss, checkpoint: latestCheckpoint(o.out!)!.dir };
}

export async function stageSft(ctx: RecipeContext): Promise<Record<string, unknown>> {
  const pre = readDone<{ checkpoint: string }>(ctx.work, "pretrain")!;
  const records = readMetrics(path.join(ctx.work, "pretrain", "metrics.jsonl"));
  const rates = records.filter((r): r is { tokens_per_s: number } & typeof r => "tokens_per_s" in r).map((r) => r.tokens_per_s).sort((a, b) => a - b);
  const rate = rates[Math.floor(rates.length / 2)] ?? 1000;
  const c = ctx.config;
  // Deterministic step count: the assumed speed scaled like pretraining's (not the measured one).
  const p = readPrediction(ctx);
  const assumedRate = c.trainFlopsPerSecond / llamaTrainFlopsPerToken(p.shape, sweepConfig(ctx).vocabSize, c.sft.seq);
  const budgetSteps = Math.max(20, Math.floor((assumedRate * c.budgetMinutes * 60 * c.sftShare) / (c.sft.batch * c.sft.seq)));
  const out = path.join(ctx.work, "sft");
  const replay = writeReplayText(ctx);
  const text = replay ? [replay] : [];
  const probe = prepareSftData(pre.checkpoint, [path.join(ctx.work, "sft-data", "sft_train.jsonl")], c.sft.seq, DEFAULT_SFT_OPTIONS.valEvery, text);
  const epochSteps = Math.floor(probe.train.rows / c.sft.batch);
  const steps = Math.min(budgetSteps, Math.round(c.sft.maxEpochs * epochSteps));
  ctx.log(`sft: ${steps} steps (${(steps / epochSteps).toFixed(2)} epochs; measured pretraining speed ${rate.toFixed(0)} tokens/s)`);
  const result = await runSft({
    options: {
      ...DEFAULT_SFT_OPTIONS, model: pre.checkpoint, data: [path.join(ctx.work, "sft-data", "sft_train.jsonl")], text, out,
      seq: c.sft.seq, batch: c.sft.batch, steps, lr: c.sft.lr, minLr: c.sft.lr / 10, seed: c.seed,
      checkpointEvery: Math.max(20, Math.round(steps / 10)), warmup: Math.min(50, Math.round(steps / 20)),
    },
    backend: ctx.backend, stdout: ctx.stdout,
  });
  return { finalStep: result.finalStep, valLoss: result.valLoss, checkpoint: latestCheckpoint(out)!.dir };
}

/** A seeded sample of training documents (both languages) for SFT replay; null when replayChars is 0/absent. */
function writeReplayText(ctx: RecipeContext): string | null {
  const want = ctx.config.sft.replayChars ?? 0;
  if (want <= 0) return null;
  const docs = ["train_zh.txt", "train_en.txt"].flatMap((f) => readEvalDocuments(path.join(ctx.work, "text", f)));
  const rng = new Rng(ctx.config.seed + 1);
  for (let i = docs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [docs[i], docs[j]] = [docs[j]!, docs[i]!];
  }
  const picked: string[] = [];
  let chars = 0;
  for (const d of docs) {
    if (chars >= want) break;
    picked.push(d);
    chars += d.length;
  }
  const file = path.join(ctx.work, "sft-data", "replay.txt");
  writeFileSync(file, picked.join("\n\n") + "\n");
  return file;
}

export interface LanguageEval {
  file: string;
  model: EvalFigures;
  bigram: EvalFigures & { k: number };
  /** 1 − model bits per byte / bigram bits per byte. */
  reduction: number;
}

export async function stageEval(ctx: RecipeContext): Promise<Record<string, unknown>> {
  const sft = readDone<{ checkpoint: string }>(ctx.work, "sft")!;
  const pre = readDone<{ checkpoint: string }>(ctx.work, "pretrain")!;
  const tok = loadTokenizer(path.join(ctx.work, "tokenizer"));
  const trainIds = openTokenStream(resolveTokenPaths(path.join(ctx.work, "tokens"), "train"));
  const ids = new Int32Array(trainIds.length);
  trainIds.copyTo(0, trainIds.length, ids);
  const bigram = fitBigram(ids, tok.vocabSize);
  const result: Record<string, Record<string, LanguageEval>> = {};
  for (const [which, dir] of [["pretrained", pre.checkpoint], ["sft", sft.checkpoint]] as const) {
    const model = TrainModel.fromHfFolder(dir, "f32");
    result[which] = {};
    for (const lang of ["zh", "en"]) {
      const file = path.join(ctx.work, "text", `val_${lang}.txt`);
      const s = scoredStream(tok, readEvalDocuments(file));
      const m = evaluateModel(model, s, ctx.config.train.seq);
      const b = bestBigram(bigram, s);
      result[which]![lang] = { file, model: m, bigram: { ...b.figures, k: b.k }, reduction: 1 - m.bitsPerByte / b.figures.bitsPerByte };
      ctx.log(`eval ${which} ${lang}: loss ${m.loss.toFixed(4)}, ${m.bitsPerByte.toFixed(4)} bits/byte; bigram (k=${b.k}) ` +
        `${b.figures.bitsPerByte.toFixed(4)} bits/byte; ${(100 * (1 - m.bitsPerByte / b.figures.bitsPerByte)).toFixed(1)}% lower`);
    }
  }
  writeFileSync(path.join(ctx.work, "eval.json"), JSON.stringify(result, null, 2) + "\n");
  return { eval: "eval.json" };
}

// `zhiyu train`'s run: causal-LM pretraining of GPT-2-style and LLaMA-style decoders on token shards. This file
// turns TrainOptions into a model (random from a preset or config, --init from a Hugging Face folder, or the
// checkpoint of --resume), token data, an AdamW optimizer and the CausalLmObjective, checks that they fit
// together before any step runs, and hands them to the shared training loop (loop.ts), which does the steps,
// accumulation, clipping, spike guard, rollbacks, checkpoints and metrics.
// The LR schedule's length is --schedule-steps, else --steps; a resumed run keeps the length stored in its
// checkpoint unless --schedule-steps is given again, so raising --steps on --resume extends the run without
// restarting the schedule.
// Data-parallel over mpirun ranks when input.distributed is set (data-parallel.ts).
// Leaves out: dropout, sequence packing masks.
import { existsSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { readJsonObject } from "../io/json-file.js";
import type { Backend } from "../backend/backend.js";
import { Rng } from "../core/rng.js";
import { setDefaultBackend } from "../tensor/index.js";
import { BatchIterator, seededPermutation, type BatchPosition } from "./batches.js";
import type { CheckpointInfo } from "./checkpoint.js";
import { defaultPeakFlops, trainFlopsPerToken } from "./metrics.js";
import { TrainModel, readConfigJson } from "./model.js";
import { runLoop, resumedScheduleSteps } from "./loop.js";
import { DataParallel, type DataParallelSettings } from "./data-parallel.js";
import { modelOptimizer, readTrainerState } from "./loop-state.js";
import { CausalLmObjective } from "./objectives/causal-lm.js";
import { type MaskingOptions, MlmObjective } from "./objectives/mlm.js";
import { MODEL_REGISTRY } from "../models/registry.js";
import { TrainConfigError, type TrainOptions } from "./options.js";
import { findPreset } from "./presets.js";
import { ProgressDisplay, type ProgressSink } from "./progress.js";
import { openTokenStream, resolveTokenPaths, type TokenStream } from "./token-file.js";

const TOKENIZER_FILES = [
  "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model",
  "chat_template.jinja", "generation_config.json",
];

/** Options with file paths made absolute, so `--resume` works from any working directory. */
function absolutePaths(o: TrainOptions): TrainOptions {
  const abs = (p: string | null) => (p === null ? null : path.resolve(p));
  return {
    ...o, data: path.resolve(o.data), valData: abs(o.valData), tokenizer: abs(o.tokenizer), init: abs(o.init),
    modelConfig: abs(o.modelConfig), out: abs(o.out),
  };
}

export interface RunTrainingInput {
  options: TrainOptions;
  /** Continue from this checkpoint of this run folder (options.out is set to the run folder). */
  resume?: { runDir: string; checkpoint: CheckpointInfo } | null;
  backend: Backend;
  stdout: ProgressSink;
  stderr: ProgressSink;
  /** Polled after every step; true stops the run cleanly (checkpoint at exit). */
  shouldStop?: () => boolean;
  /** --objective mlm: the masking the CLI built from the tokenizer ([MASK] id, special ids, word starts). */
  masking?: MaskingOptions | null;
  /** Data-parallel training (the CLI sets it under mpirun); null = one process. */
  distributed?: DataParallelSettings | null;
}

export interface RunTrainingResult {
  /** The trained model as this process holds it at the end (tests compare ranks' parameters). */
  model: TrainModel;
  /** Loss of every step run in this process (after rollbacks, the re-run steps appear again). */
  losses: number[];
  finalStep: number;
  rollbacks: number;
  lastCheckpoint: CheckpointInfo | null;
}

function fail(message: string): never {
  throw new TrainConfigError(message);
}

function openData(o: TrainOptions): { train: TokenStream; val: TokenStream | null } {
  const train = openTokenStream(resolveTokenPaths(o.data, "train"));
  let valPaths: string[] = [];
  if (o.valData) valPaths = resolveTokenPaths(o.valData, statSync(o.valData).isDirectory() ? "val" : "train");
  else if (statSync(o.data).isDirectory()) valPaths = resolveTokenPaths(o.data, "val");
  return { train, val: valPaths.length > 0 ? openTokenStream(valPaths) : null };
}

function modelConfigFor(o: TrainOptions, data: TokenStream): Record<string, unknown> {
  const config = o.preset ? findPreset(o.preset).config : readJsonFile(o.modelConfig!);
  // The vocabulary follows the data (or --vocab-size), so a preset trains on any tokenizer's ids.
  const vocab = o.vocabSize ?? data.vocabSize;
  if (vocab !== null) config.vocab_size = vocab;
  return config;
}

function readJsonFile(file: string): Record<string, unknown> {
  return readJsonObject(file, (message) => new TrainConfigError(`--model-config ${message}`));
}

/** Checks that must pass before any step runs; each message says what to change. */
function checkCompatible(o: TrainOptions, model: TrainModel, data: { train: TokenStream; val: TokenStream | null }): void {
  const v = model.vocabSize;
  if (data.train.vocabSize !== null && data.train.vocabSize > v) {
    fail(`vocabulary mismatch: the data was tokenized with a vocabulary of ${data.train.vocabSize} but the model has ` +
      `${v}; use a model with vocab_size ≥ ${data.train.vocabSize} (e.g. --vocab-size ${data.train.vocabSize} with a ` +
      "preset) or prepare the data with the model's tokenizer");
  }
  const maxId = Math.max(data.train.maxId(), data.val ? data.val.maxId() : 0);
  if (maxId >= v) {
    fail(`vocabulary mismatch: the data holds token id ${maxId} but the model's vocabulary has ${v} entries ` +
      `(ids 0…${v - 1}); use a model with vocab_size > ${maxId} (e.g. --vocab-size ${maxId + 1}) or the matching data`);
  }
  if (o.seq > model.contextLength) {
    fail(`--seq ${o.seq} is longer than the model's context of ${model.contextLength} positions; lower --seq to ` +
      `≤ ${model.contextLength} or use a model with a longer context`);
  }
}

/** The objective --objective names, checked against the model's kind (a causal LM cannot learn MLM, nor an encoder
 *  next-token prediction). */
function objectiveFor(o: TrainOptions, model: TrainModel, trainIt: BatchIterator, valIt: BatchIterator | null,
  masking: MaskingOptions | null): CausalLmObjective | MlmObjective {
  const kind = MODEL_REGISTRY.byId(model.family).kind;
  if (o.objective === "mlm") {
    if (kind !== "encoder") fail(`--objective mlm trains an encoder; ${model.family} is a ${kind} model (use --preset bert-tiny … or a BERT --init)`);
    if (!masking) fail("--objective mlm: no masking options (the CLI builds them from --tokenizer)");
    return new MlmObjective(trainIt, valIt, o.evalBatches, masking, o.seed);
  }
  if (kind !== "causal-lm") fail(`${model.family} is an ${kind} model; train it with --objective mlm`);
  return new CausalLmObjective(trainIt, valIt, o.evalBatches);
}

function makeIterator(stream: TokenStream, o: TrainOptions, position: BatchPosition | undefined, what: string): BatchIterator {
  let it: BatchIterator;
  try {
    it = new BatchIterator(stream, {
      batch: o.batch, seq: o.seq, shuffle: o.shuffle ? seededPermutation(o.seed) : null, position,
    });
  } catch (err) {
    throw new TrainConfigError(`${what}: ${(err as Error).message}`);
  }
  if (it.batchesPerEpoch() < 1) {
    fail(`${what}: ${stream.length} tokens make fewer than --batch ${o.batch} rows of --seq ${o.seq} + 1; lower ` +
      "--batch or --seq, or use --no-shuffle");
  }
  return it;
}

function tokenizerCopies(o: TrainOptions, sourceDir: string | null): Map<string, string> {
  const copies = new Map<string, string>();
  const fromDir = (dir: string) => {
    for (const name of TOKENIZER_FILES) if (existsSync(path.join(dir, name))) copies.set(name, path.join(dir, name));
  };
  if (o.tokenizer) {
    if (!existsSync(o.tokenizer)) fail(`--tokenizer ${o.tokenizer} does not exist`);
    if (statSync(o.tokenizer).isDirectory()) fromDir(o.tokenizer);
    // A .gguf vocabulary is not a Hugging Face tokenizer file (and would look like a model in the folder).
    else if (!o.tokenizer.endsWith(".gguf")) copies.set(path.basename(o.tokenizer), o.tokenizer);
  } else if (sourceDir) {
    fromDir(sourceDir);
  }
  return copies;
}

export async function runTraining(input: RunTrainingInput): Promise<RunTrainingResult> {
  const o = input.options;
  setDefaultBackend(input.backend);
  const resume = input.resume ?? null;
  const runDir = resume ? resume.runDir : o.out;
  const display = new ProgressDisplay(o.jsonLog ? input.stderr : input.stdout, o.logEvery);

  // ---- everything that can be wrong is checked before the first step ----
  const data = openData(o);
  const trainIt = makeIterator(data.train, o, undefined, "--data");
  if (o.evalEvery > 0 && !data.val) {
    fail(`--eval-every ${o.evalEvery} but there is no validation data; pass --val-data FILE|DIR, or prepare --data with ` +
      "`zhiyu data prepare --val-fraction F`");
  }
  const valIt = data.val && o.evalEvery > 0 ? makeIterator(data.val, { ...o, shuffle: false }, undefined, "validation data") : null;
  const state = resume ? readTrainerState<TrainOptions>(resume.checkpoint.dir) : null;
  const rng = new Rng(o.seed);
  let model: TrainModel;
  let sourceDir: string | null = null;
  if (resume) {
    model = TrainModel.fromHfFolder(resume.checkpoint.dir, o.dtype);
    sourceDir = resume.checkpoint.dir;
  } else if (o.init) {
    if (o.vocabSize !== null && o.vocabSize !== Number(readConfigJson(o.init).vocab_size)) {
      fail(`--vocab-size ${o.vocabSize} differs from ${o.init}/config.json's vocab_size; drop --vocab-size with --init`);
    }
    model = TrainModel.fromHfFolder(o.init, o.dtype);
    sourceDir = o.init;
  } else {
    model = TrainModel.random(modelConfigFor(o, data.train), rng, o.dtype);
  }
  checkCompatible(o, model, data);
  if (o.dtype === "bf16") {
    const probe = new BatchIterator(data.train, { batch: o.batch, seq: o.seq, shuffle: null }).next();
    if (!model.bf16Effective(probe.inputs, probe.targets, o.batch, o.seq)) {
      fail(`--dtype bf16: the ${model.family} model code does not apply bf16 matmuls yet (its loss is identical to f32); ` +
        "use --dtype f32");
    }
  }
  const copies = tokenizerCopies(o, sourceDir);
  const optimizer = modelOptimizer(model, { lr: o.lr, betas: [o.beta1, o.beta2], eps: o.eps, weightDecay: o.weightDecay }, o.decayAll);
  const scheduleSteps = state ? resumedScheduleSteps(state, o.scheduleSteps, o.steps) : o.scheduleSteps ?? o.steps;
  const result = await runLoop({
    model, optimizer, rng, runDir, resumeFrom: resume?.checkpoint ?? null, options: absolutePaths(o), copies,
    objective: objectiveFor(o, model, trainIt, valIt, input.masking ?? null),
    settings: {
      steps: o.steps, schedule: { lr: o.lr, minLr: o.minLr, warmupSteps: o.warmup, totalSteps: scheduleSteps, kind: o.schedule },
      gradAccum: o.gradAccum, gradClip: o.gradClip, spikeGuard: o.spikeGuard, spikeWindow: o.spikeWindow,
      spikeZscore: o.spikeZscore, maxRollbacks: o.maxRollbacks, spikeLrFactor: o.spikeLrFactor, spikeSkip: o.spikeSkip,
      checkpointEvery: o.checkpointEvery, keepLast: o.keepLast, evalEvery: valIt ? o.evalEvery : 0, evalAtEnd: false,
      logEvery: o.logEvery,
      mfu: {
        // MLM: mlmLoss runs the MLM head on the masked rows only (the masking rate of the positions, in expectation).
        flopsPerToken: trainFlopsPerToken({ ...model.flopsShape(), seq: o.seq },
          o.objective === "mlm" && model.taskHead?.head === "mlm" ? input.masking?.probability ?? 0.15 : 1),
        peakFlops: o.peakFlops ?? defaultPeakFlops(input.backend.info().threads),
      },
    },
    banner: `${resume ? "resuming" : "training"} ${model.family} (${(model.parameterCount / 1e6).toFixed(2)}M parameters) ` +
      `from step ${state?.step ?? 0} to ${o.steps}: batch ${o.batch}×${o.seq}${o.gradAccum > 1 ? ` ×${o.gradAccum} accumulated` : ""}, ` +
      `${o.dtype}, ${data.train.length} training tokens${runDir ? `, run folder ${runDir}` : ""}`,
    display, jsonOut: o.jsonLog ? input.stdout : null, shouldStop: input.shouldStop,
    distributed: input.distributed ? DataParallel.forModel(input.distributed, input.backend, model, optimizer) : null,
  });
  return { model, losses: result.losses, finalStep: result.finalStep, rollbacks: result.rollbacks, lastCheckpoint: result.lastCheckpoint };
}

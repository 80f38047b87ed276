// The training loop. Each step: read gradAccum micro-batches, forward + backward (mean cross-entropy), check the
// loss with the spike guard *before* the update, clip, AdamW, log; every K steps validate and checkpoint.
// Step k's logged loss is measured before the k-th update (llm.c's convention), so the first line is the loss
// of the initial weights.
//
// A checkpoint holds everything the loop's future depends on — weights, AdamW m/v/step, data position, RNG
// state, spike-guard window, LR factor and rollback count — so `--resume` continues bit for bit as if the run
// had never stopped. On a spike (NaN/Inf, or a z-score above the threshold) the loop restores the newest
// checkpoint, keeps the data position past the bad batch (+ --spike-skip more), optionally lowers the LR, logs
// the event, and carries on; after --max-rollbacks it stops with an error.
// Leaves out: distributed training, dropout, sequence packing masks.
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../backend/backend.js";
import { Rng, type RngState } from "../core/rng.js";
import { noGrad, setDefaultBackend, tidy, mul } from "../tensor/index.js";
import { openSafetensors, writeSafetensors } from "../io/safetensors.js";
import { BatchIterator, seededPermutation, type BatchPosition } from "./batches.js";
import {
  TRAINER_STATE_FILE, cleanStaleCheckpoints, latestCheckpoint, writeCheckpoint, type CheckpointInfo, type CheckpointWrite,
} from "./checkpoint.js";
import { MetricsLog, defaultPeakFlops, mfu, trainFlopsPerToken, type StepRecord } from "./metrics.js";
import { TrainModel, isNoDecay, readConfigJson } from "./model.js";
import { AdamW, clipGradNorm, gradNorm, lrAt, type AdamWOptions, type AdamWState } from "../optim/index.js";
import { TrainConfigError, type TrainOptions } from "./options.js";
import { findPreset } from "./presets.js";
import { ProgressDisplay, type ProgressSink } from "./progress.js";
import { SpikeGuard } from "./spike-guard.js";
import { openTokenStream, resolveTokenPaths, type TokenStream } from "./token-file.js";

export class TrainingError extends Error {
  override name = "TrainingError";
}

/** What trainer_state.json holds. */
export interface TrainerState {
  format: "zhiyu-trainer-state";
  version: 1;
  /** Completed optimizer steps: the next step to run. */
  step: number;
  options: TrainOptions;
  dataPosition: BatchPosition;
  optimizerStep: number;
  rng: RngState;
  lrFactor: number;
  rollbacks: number;
  spikeWindow: number[];
  tokensSeen: number;
  metricsTail: StepRecord[];
}

const TOKENIZER_FILES = [
  "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.json", "merges.txt", "tokenizer.model",
  "chat_template.jinja", "generation_config.json",
];

export function readTrainerState(checkpointDir: string): TrainerState {
  const file = path.join(checkpointDir, TRAINER_STATE_FILE);
  let state: TrainerState;
  try {
    state = JSON.parse(readFileSync(file, "utf8")) as TrainerState;
  } catch (err) {
    throw new TrainingError(`${file}: cannot read the trainer state (${(err as Error).message})`);
  }
  if (state.format !== "zhiyu-trainer-state" || state.version !== 1) {
    throw new TrainingError(`${file}: not a Zhiyu trainer state (format ${String(state.format)}, version ${String(state.version)})`);
  }
  return state;
}

/** Options with file paths made absolute, so `--resume` works from any working directory. */
function absolutePaths(o: TrainOptions): TrainOptions {
  const abs = (p: string | null) => (p === null ? null : path.resolve(p));
  return {
    ...o, data: path.resolve(o.data), valData: abs(o.valData), tokenizer: abs(o.tokenizer), init: abs(o.init),
    modelConfig: abs(o.modelConfig), out: abs(o.out),
  };
}

/** AdamW moments as safetensors tensors named "<param>.m" / "<param>.v", shaped like the parameters. */
function writeOptimizerState(filePath: string, state: AdamWState, model: TrainModel): void {
  const tensors = model.specs.flatMap((s) => (["m", "v"] as const).map((k) => ({
    name: `${s.name}.${k}`, dtype: "F32" as const, shape: s.shape, data: state.moments[`${s.name}.${k}`]!,
  })));
  writeSafetensors(filePath, tensors, { format: "pt", step: String(state.step) });
}

export function readOptimizerState(checkpointDir: string, step: number): AdamWState {
  const file = openSafetensors(path.join(checkpointDir, "optimizer.safetensors"));
  const moments: Record<string, Float32Array> = {};
  for (const name of file.tensors.keys()) moments[name] = file.readTensor(name) as Float32Array;
  return { step, moments };
}

/** AdamW over every parameter of the model; norms, biases and embeddings (isNoDecay) are not decayed unless decayAll. */
export function modelOptimizer(model: TrainModel, opts: Omit<AdamWOptions, "decay">, decayAll = false): AdamW {
  const noDecay = new Set(model.specs.filter((s) => isNoDecay(s)).map((s) => s.name));
  return new AdamW(model.specs.map((s) => [s.name, model.params.get(s.name)!] as const), {
    ...opts, decay: (name) => decayAll || !noDecay.has(name),
  });
}

/** The files of a checkpoint folder: the HF config and weights, the AdamW moments and the loop's own state file. */
export function checkpointFiles(model: TrainModel, optimizer: AdamW, stateFile: string, state: object): CheckpointWrite["files"] {
  return new Map<string, string | Uint8Array | ((p: string) => void)>([
    ["config.json", JSON.stringify({ ...model.configJson(), torch_dtype: "float32" }, null, 2) + "\n"],
    ["model.safetensors", (p: string) => model.saveSafetensors(p)],
    ["optimizer.safetensors", (p: string) => writeOptimizerState(p, optimizer.exportState(), model)],
    [stateFile, JSON.stringify(state, null, 1) + "\n"],
  ]);
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
}

export interface RunTrainingResult {
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
  try {
    return JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new TrainConfigError(`--model-config ${file}: ${(err as Error).message}`);
  }
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

/** Mean loss over the first `batches` sequential batches of the validation data (no gradients). */
function evaluate(model: TrainModel, it: BatchIterator, batches: number): number {
  it.position = { epoch: 0, index: 0 };
  const n = Math.min(batches, it.batchesPerEpoch());
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const b = it.next();
    sum += noGrad(() => tidy(() => model.loss(b.inputs, b.targets, it.batch, it.seq).item()));
  }
  return sum / n;
}

export async function runTraining(input: RunTrainingInput): Promise<RunTrainingResult> {
  const o = input.options;
  setDefaultBackend(input.backend);
  const resume = input.resume ?? null;
  const runDir = resume ? resume.runDir : o.out;
  const jsonOut = o.jsonLog ? input.stdout : null;
  const display = new ProgressDisplay(o.jsonLog ? input.stderr : input.stdout, o.logEvery);

  // ---- everything that can be wrong is checked before the first step ----
  const data = openData(o);
  const trainIt = makeIterator(data.train, o, undefined, "--data");
  if (o.evalEvery > 0 && !data.val) {
    fail(`--eval-every ${o.evalEvery} but there is no validation data; pass --val-data FILE|DIR, or prepare --data with ` +
      "`zhiyu data prepare --val-fraction F`");
  }
  const valIt = data.val && o.evalEvery > 0 ? makeIterator(data.val, { ...o, shuffle: false }, undefined, "validation data") : null;
  const state = resume ? readTrainerState(resume.checkpoint.dir) : null;
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
  const params = model.specs.map((s) => model.params.get(s.name)!);
  const optimizer = modelOptimizer(model, { lr: o.lr, betas: [o.beta1, o.beta2], eps: o.eps, weightDecay: o.weightDecay }, o.decayAll);
  const schedule = { lr: o.lr, minLr: o.minLr, warmupSteps: o.warmup, totalSteps: o.steps, kind: o.schedule };
  const guard = new SpikeGuard({ window: o.spikeWindow, zThreshold: o.spikeZscore });
  let step = 0;
  let lrFactor = 1;
  let rollbacks = 0;
  let tokensSeen = 0;
  let tail: StepRecord[] = [];

  if (state && resume) {
    // The weights came from the checkpoint folder above; the rest of the state from trainer_state.json.
    optimizer.importState(readOptimizerState(resume.checkpoint.dir, state.optimizerStep));
    rng.setState(state.rng);
    guard.restore(state.spikeWindow);
    step = state.step;
    tokensSeen = state.tokensSeen;
    tail = state.metricsTail ?? [];
    lrFactor = state.lrFactor;
    rollbacks = state.rollbacks;
    try {
      trainIt.position = state.dataPosition;
    } catch (err) {
      fail(`--resume: ${(err as Error).message}`);
    }
  }
  if (step >= o.steps) {
    display.log(`nothing to do: the checkpoint is at step ${step} and --steps is ${o.steps}; raise --steps to continue`);
    return { losses: [], finalStep: step, rollbacks, lastCheckpoint: resume?.checkpoint ?? null };
  }

  const metrics = new MetricsLog(runDir ? path.join(runDir, "metrics.jsonl") : null);
  if (runDir) {
    mkdirSync(runDir, { recursive: true });
    cleanStaleCheckpoints(runDir);
  }
  const flopsPerToken = trainFlopsPerToken({ ...model.flopsShape(), seq: o.seq });
  const peak = o.peakFlops ?? defaultPeakFlops(input.backend.info().threads);
  const tokensPerStep = o.batch * o.seq * o.gradAccum;

  let lastCheckpoint: CheckpointInfo | null = resume?.checkpoint ?? null;
  const saveCheckpoint = (): CheckpointInfo | null => {
    if (!runDir) return null;
    const s: TrainerState = {
      format: "zhiyu-trainer-state", version: 1, step, options: absolutePaths(o), dataPosition: trainIt.position,
      optimizerStep: optimizer.stepCount, rng: rng.getState(), lrFactor, rollbacks, spikeWindow: guard.snapshot(),
      tokensSeen, metricsTail: tail.slice(-20),
    };
    const files = checkpointFiles(model, optimizer, TRAINER_STATE_FILE, s);
    const info = writeCheckpoint({ runDir, step, files, copies, keepLast: o.keepLast });
    metrics.write({ step, event: "checkpoint", dir: info.dir });
    lastCheckpoint = info;
    return info;
  };

  metrics.write({ step, event: resume ? "resume" : "start", params: model.parameterCount, family: model.family });
  display.log(`${resume ? "resuming" : "training"} ${model.family} (${(model.parameterCount / 1e6).toFixed(2)}M parameters) ` +
    `from step ${step} to ${o.steps}: batch ${o.batch}×${o.seq}${o.gradAccum > 1 ? ` ×${o.gradAccum} accumulated` : ""}, ` +
    `${o.dtype}, ${data.train.length} training tokens${runDir ? `, run folder ${runDir}` : ""}`);
  // A rollback target must exist before the first step can spike.
  if (runDir && o.spikeGuard && !latestCheckpoint(runDir)) saveCheckpoint();

  const losses: number[] = [];
  let avgDt = 0;
  while (step < o.steps) {
    const t0 = performance.now();
    const lr = lrAt(step, schedule) * lrFactor;
    optimizer.zeroGrad();
    let lossSum = 0;
    const firstPosition = trainIt.position;
    for (let micro = 0; micro < o.gradAccum; micro++) {
      const b = trainIt.next();
      lossSum += tidy(() => {
        const loss = model.loss(b.inputs, b.targets, o.batch, o.seq);
        const value = loss.item();
        (o.gradAccum > 1 ? mul(loss, 1 / o.gradAccum) : loss).backward();
        return value;
      });
    }
    const loss = lossSum / o.gradAccum;
    // Clipping before the spike check is harmless: a spiking step's gradients are thrown away.
    // The norm costs a pass over every gradient: only computed when clipping or the guard needs it.
    const norm = o.gradClip > 0 ? clipGradNorm(params, o.gradClip) : o.spikeGuard ? gradNorm(params) : null;
    const verdict = o.spikeGuard ? guard.check(loss, norm) : { spike: false as const };
    if (verdict.spike) {
      rollbacks++;
      // The bad step's micro-batches are already consumed; --spike-skip N skips N more steps' worth.
      const skipped = 1 + o.spikeSkip;
      trainIt.skip(o.spikeSkip * o.gradAccum);
      const ck = runDir ? latestCheckpoint(runDir) : null;
      const event = {
        step, event: "rollback" as const, reason: verdict.reason, loss, z_score: verdict.zScore, window_mean: verdict.mean,
        bad_position: firstPosition, to_step: ck?.step ?? null, skipped_batches: skipped * o.gradAccum,
        lr_factor: lrFactor * o.spikeLrFactor, rollbacks,
      };
      metrics.write(event);
      display.log(`loss spike at step ${step}: loss ${loss.toFixed(4)} (${verdict.reason}` +
        `${verdict.zScore !== null ? `, z = ${verdict.zScore.toFixed(1)} over mean ${verdict.mean.toFixed(4)}` : ""}); ` +
        (ck ? `rolling back to step ${ck.step}, skipping ${skipped * o.gradAccum} batch(es)` : "no checkpoint to roll back to"));
      if (!ck) {
        throw new TrainingError(`loss spike at step ${step} (${verdict.reason}, loss ${loss}) and no checkpoint to roll ` +
          "back to; pass --out DIR so the trainer can keep checkpoints, or --no-spike-guard to train through it");
      }
      if (rollbacks > o.maxRollbacks) {
        throw new TrainingError(`stopped after ${rollbacks} loss spikes (--max-rollbacks ${o.maxRollbacks}); the last ` +
          `at step ${step} (loss ${loss}, ${verdict.reason}). Lower --lr, check the data around position ` +
          `${JSON.stringify(firstPosition)}, or raise --spike-zscore / --max-rollbacks`);
      }
      const position = trainIt.position;
      const saved = readTrainerState(ck.dir);
      model.loadWeightsFrom(ck.dir);
      optimizer.importState(readOptimizerState(ck.dir, saved.optimizerStep));
      rng.setState(saved.rng);
      guard.restore(saved.spikeWindow);
      step = saved.step;
      tokensSeen = saved.tokensSeen;
      tail = saved.metricsTail ?? [];
      trainIt.position = position;
      lrFactor *= o.spikeLrFactor;
      continue;
    }
    optimizer.step(lr);
    guard.accept(loss);
    losses.push(loss);
    tokensSeen += tokensPerStep;
    const dt = (performance.now() - t0) / 1000;
    avgDt = avgDt === 0 ? dt : 0.9 * avgDt + 0.1 * dt;
    const tps = tokensPerStep / dt;
    const rec: StepRecord = {
      step, loss, lr, grad_norm: norm, tokens_per_s: tps, mfu: mfu(tps, flopsPerToken, peak), dt,
    };
    tail.push(rec);
    if (tail.length > 20) tail.shift();
    metrics.write(rec);
    if (jsonOut) jsonOut.write(JSON.stringify(rec) + "\n");
    display.update({
      step, totalSteps: o.steps, loss, lr, tokensPerSecond: tps, mfu: rec.mfu, etaSeconds: avgDt * (o.steps - step - 1),
    });
    step++;
    if (valIt && step % o.evalEvery === 0) {
      const valLoss = evaluate(model, valIt, o.evalBatches);
      metrics.write({ step, val_loss: valLoss, val_ppl: Math.exp(valLoss) });
      if (jsonOut) jsonOut.write(JSON.stringify({ step, val_loss: valLoss, val_ppl: Math.exp(valLoss) }) + "\n");
      display.log(`step ${step}: val loss ${valLoss.toFixed(4)}, perplexity ${Math.exp(valLoss).toFixed(2)}`);
    }
    const stopping = input.shouldStop?.() ?? false;
    if (runDir && o.checkpointEvery > 0 && step % o.checkpointEvery === 0 && step < o.steps && !stopping) saveCheckpoint();
    if (stopping) {
      display.log(`stopping at step ${step} as asked`);
      break;
    }
  }
  display.finish();
  if (runDir && (!lastCheckpoint || lastCheckpoint.step !== step)) saveCheckpoint();
  metrics.write({ step, event: "stop", rollbacks });
  return { losses, finalStep: step, rollbacks, lastCheckpoint };
}

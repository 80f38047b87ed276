// Supervised fine-tuning (SFT) of a trained decoder on chat data: the conversations of sft-data.ts rendered with
// the model's chat template, loss only on assistant tokens, short examples packed into rows. The loop is the
// pretraining trainer's, composed from its exported pieces (TrainModel, AdamW, schedules, clipping, SpikeGuard,
// atomic checkpoints, MetricsLog, ProgressDisplay): each step takes `batch` packed rows in a seeded per-epoch
// order; checkpoints (HF folder + optimizer.safetensors + sft_state.json) make `resume` continue bit for bit, and
// a loss spike rolls back to the newest checkpoint and skips the batch, as in pretraining.
// Leaves out: LoRA/partial fine-tuning, per-example attention masks (see sft-data.ts), gradient accumulation.
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../backend/backend.js";
import { clipGradNorm, gradNorm, lrAt } from "../optim/index.js";
import { noGrad, setDefaultBackend, tidy } from "../tensor/index.js";
import { chatTemplateFromFolder, CHATML_TEMPLATE } from "../infer/chat-template.js";
import { loadTokenizer } from "../tokenizers/load.js";
import { seededPermutation } from "./batches.js";
import { cleanStaleCheckpoints, latestCheckpoint, writeCheckpoint, type CheckpointInfo } from "./checkpoint.js";
import { MetricsLog } from "./metrics.js";
import type { TrainOptions } from "./options.js";
import { TrainModel } from "./model.js";
import { ProgressDisplay, type ProgressSink } from "./progress.js";
import { SpikeGuard } from "./spike-guard.js";
import { packExamples, readChatFile, textExamples, tokenizeConversation, type PackedRows, type TokenizedExample } from "./sft-data.js";
import { readEvalDocuments } from "./eval.js";
import { checkpointFiles, modelOptimizer, readOptimizerState } from "./trainer.js";

export const SFT_STATE_FILE = "sft_state.json";
const COPIED_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json"];

/** The optimizer, schedule, checkpoint and spike-guard settings SFT shares with pretraining (same names, same
 *  meaning as TrainOptions). */
type SharedTrainOptions = Pick<TrainOptions, "seq" | "batch" | "lr" | "minLr" | "warmup" | "weightDecay" | "gradClip" |
  "seed" | "checkpointEvery" | "keepLast" | "spikeGuard" | "spikeWindow" | "spikeZscore" | "maxRollbacks" | "logEvery">;

export interface SftOptions extends SharedTrainOptions {
  /** The model to fine-tune: a Hugging Face folder (config.json, model.safetensors, tokenizer files). */
  model: string;
  data: string[];
  /** Plain-text files (documents separated by blank lines) mixed in as fully trained rows (replay); may be empty. */
  text: string[];
  out: string;
  /** Optimizer steps; null = `epochs` passes over the packed rows. */
  steps: number | null;
  epochs: number;
  dtype: "f32" | "bf16";
  /** Every valEvery-th packed row is held out for validation (0 = none). */
  valEvery: number;
}

export const DEFAULT_SFT_OPTIONS: Omit<SftOptions, "model" | "data" | "out"> = {
  text: [], seq: 256, batch: 8, steps: null, epochs: 2, lr: 5e-4, minLr: 5e-5, warmup: 20, weightDecay: 0.0, gradClip: 1.0,
  seed: 1337, dtype: "f32", checkpointEvery: 100, keepLast: 2, spikeGuard: true, spikeWindow: 50, spikeZscore: 6,
  maxRollbacks: 5, valEvery: 50, logEvery: 10,
};

interface SftState {
  format: "zhiyu-sft-state";
  version: 1;
  step: number;
  totalSteps: number;
  options: SftOptions;
  epoch: number;
  index: number;
  optimizerStep: number;
  spikeWindow: number[];
  rollbacks: number;
}

export interface PreparedSftData {
  train: PackedRows;
  val: PackedRows | null;
  /** Per file: the format detected and how many conversations were used/skipped. */
  files: { file: string; format: string; conversations: number; skipped: number }[];
  /** Rows of plain-text replay in `train` (the validation rows are chat rows only). */
  textRows: number;
  endOfTurnId: number | null;
}

/** Reads, renders, tokenizes and packs the data files for a model folder. */
export function prepareSftData(modelDir: string, files: readonly string[], seq: number, valEvery: number,
  textFiles: readonly string[] = []): PreparedSftData {
  const tokenizer = loadTokenizer(modelDir);
  const chatTemplate = chatTemplateFromFolder(modelDir) ?? CHATML_TEMPLATE;
  const endOfTurnId = tokenizer.tokenToId("<|im_end|>") ?? tokenizer.eosTokenId;
  const padId = tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
  const examples: TokenizedExample[] = [];
  const report: PreparedSftData["files"] = [];
  for (const file of files) {
    const parsed = readChatFile(file);
    report.push({ file, format: parsed.format, conversations: parsed.conversations.length, skipped: parsed.skipped });
    for (const c of parsed.conversations) examples.push(tokenizeConversation({ chatTemplate, tokenizer }, c.messages, endOfTurnId));
  }
  const packed = packExamples(examples, seq, padId);
  const docs = textFiles.flatMap((f) => readEvalDocuments(f));
  const text = docs.length > 0 ? packExamples(textExamples(tokenizer, docs, seq), seq, padId) : null;
  const withText = (p: PackedRows): PackedRows => {
    if (!text) return p;
    const inputs = new Int32Array((p.rows + text.rows) * seq);
    inputs.set(p.inputs);
    inputs.set(text.inputs, p.inputs.length);
    const targets = new Int32Array((p.rows + text.rows) * seq);
    targets.set(p.targets);
    targets.set(text.targets, p.targets.length);
    return {
      ...p, inputs, targets, rows: p.rows + text.rows, examples: p.examples + text.examples,
      truncated: p.truncated + text.truncated, trainedTokens: p.trainedTokens + text.trainedTokens,
    };
  };
  const textRows = text?.rows ?? 0;
  if (valEvery <= 0 || packed.rows < 2 * valEvery) return { train: withText(packed), val: null, files: report, endOfTurnId, textRows };
  const pick = (keep: (r: number) => boolean): PackedRows => {
    const rows = [...Array(packed.rows).keys()].filter(keep);
    const { inputs, targets } = gatherRows(packed, rows);
    let trained = 0;
    for (const v of targets) if (v >= 0) trained++;
    return { ...packed, inputs, targets, rows: rows.length, trainedTokens: trained };
  };
  return {
    train: withText(pick((r) => r % valEvery !== valEvery - 1)), val: pick((r) => r % valEvery === valEvery - 1),
    files: report, endOfTurnId, textRows,
  };
}

function gatherRows(p: PackedRows, rows: ArrayLike<number>): { inputs: Int32Array; targets: Int32Array } {
  const s = p.seq;
  const inputs = new Int32Array(rows.length * s);
  const targets = new Int32Array(rows.length * s);
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i]!;
    inputs.set(p.inputs.subarray(r * s, (r + 1) * s), i * s);
    targets.set(p.targets.subarray(r * s, (r + 1) * s), i * s);
  }
  return { inputs, targets };
}

/** Mean loss over the assistant tokens of the validation rows. */
export function sftValidationLoss(model: TrainModel, val: PackedRows, batch: number): number {
  let nats = 0;
  let count = 0;
  for (let r0 = 0; r0 < val.rows; r0 += batch) {
    const rows = [...Array(Math.min(batch, val.rows - r0)).keys()].map((i) => r0 + i);
    const b = gatherRows(val, rows);
    let n = 0;
    for (const t of b.targets) if (t >= 0) n++;
    if (n === 0) continue;
    nats += n * noGrad(() => tidy(() => model.loss(b.inputs, b.targets, rows.length, val.seq).item()));
    count += n;
  }
  return nats / Math.max(1, count);
}

export interface RunSftInput {
  options: SftOptions;
  backend: Backend;
  stdout: ProgressSink;
  /** Continue from the newest checkpoint in options.out when there is one (default true). */
  resume?: boolean;
  shouldStop?: () => boolean;
}

export interface RunSftResult {
  finalStep: number;
  totalSteps: number;
  losses: number[];
  valLoss: number | null;
  lastCheckpoint: CheckpointInfo | null;
  data: PreparedSftData;
}

export class SftError extends Error {
  override name = "SftError";
}

export async function runSft(input: RunSftInput): Promise<RunSftResult> {
  const o = input.options;
  setDefaultBackend(input.backend);
  const display = new ProgressDisplay(input.stdout, o.logEvery);
  const ck0 = input.resume === false ? null : latestCheckpoint(o.out);
  const data = prepareSftData(o.model, o.data, o.seq, o.valEvery, o.text);
  for (const f of data.files) {
    display.log(`${f.file}: ${f.format} format, ${f.conversations} conversations` + (f.skipped ? ` (${f.skipped} skipped: tool calls or no assistant turn)` : ""));
  }
  const train = data.train;
  if (train.rows < o.batch) {
    throw new SftError(`the SFT data packs into ${train.rows} rows of ${o.seq} tokens, fewer than --batch ${o.batch}; lower --batch or add data`);
  }
  display.log(`packed ${train.examples} examples into ${train.rows} training rows of ${o.seq} tokens ` +
    `(${train.trainedTokens} target tokens, ${train.truncated} examples truncated` +
    (data.textRows > 0 ? `; ${data.textRows} of the rows are plain-text replay` : "") + ")" +
    (data.val ? `, ${data.val.rows} validation rows` : ""));
  const model = TrainModel.fromHfFolder(ck0 ? ck0.dir : o.model, o.dtype);
  if (o.seq > model.contextLength) throw new SftError(`--seq ${o.seq} exceeds the model's context of ${model.contextLength}`);
  const maxId = train.inputs.reduce((a, b) => Math.max(a, b), 0);
  if (maxId >= model.vocabSize) throw new SftError(`token id ${maxId} is outside the model's vocabulary of ${model.vocabSize}; use the model's own tokenizer files`);
  const batchesPerEpoch = Math.floor(train.rows / o.batch);
  const totalSteps = o.steps ?? Math.max(1, Math.round(o.epochs * batchesPerEpoch));
  const params = model.specs.map((s) => model.params.get(s.name)!);
  const optimizer = modelOptimizer(model, { lr: o.lr, betas: [0.9, 0.95], eps: 1e-8, weightDecay: o.weightDecay });
  const schedule = { lr: o.lr, minLr: o.minLr, warmupSteps: o.warmup, totalSteps, kind: "cosine" as const };
  const guard = new SpikeGuard({ window: o.spikeWindow, zThreshold: o.spikeZscore });
  const permute = seededPermutation(o.seed);
  let step = 0;
  let epoch = 0;
  let index = 0;
  let rollbacks = 0;
  if (ck0) {
    const s = JSON.parse(readFileSync(path.join(ck0.dir, SFT_STATE_FILE), "utf8")) as SftState;
    optimizer.importState(readOptimizerState(ck0.dir, s.optimizerStep));
    guard.restore(s.spikeWindow);
    ({ step, epoch, index, rollbacks } = s);
    display.log(`resuming SFT from ${ck0.dir} at step ${step}`);
  }
  cleanStaleCheckpoints(o.out);
  const metrics = new MetricsLog(path.join(o.out, "metrics.jsonl"));
  const copies = new Map<string, string>();
  for (const name of COPIED_FILES) if (existsSync(path.join(o.model, name))) copies.set(name, path.join(o.model, name));
  let lastCheckpoint: CheckpointInfo | null = ck0;
  const save = (): void => {
    const state: SftState = {
      format: "zhiyu-sft-state", version: 1, step, totalSteps, options: o, epoch, index,
      optimizerStep: optimizer.stepCount, spikeWindow: guard.snapshot(), rollbacks,
    };
    const files = checkpointFiles(model, optimizer, SFT_STATE_FILE, state);
    lastCheckpoint = writeCheckpoint({ runDir: o.out, step, files, copies, keepLast: o.keepLast });
    metrics.write({ step, event: "checkpoint", dir: lastCheckpoint.dir });
  };
  if (!ck0) {
    metrics.write({ step: 0, event: "start", params: model.parameterCount, family: model.family });
    if (o.spikeGuard) save();
  }
  display.log(`SFT of ${model.family} (${(model.parameterCount / 1e6).toFixed(2)}M parameters), steps ${step}…${totalSteps}, ` +
    `batch ${o.batch}×${o.seq}`);
  const losses: number[] = [];
  let perm = permute(train.rows, epoch);
  let permEpoch = epoch;
  while (step < totalSteps) {
    if (index >= batchesPerEpoch) { epoch++; index = 0; }
    if (permEpoch !== epoch) { perm = permute(train.rows, epoch); permEpoch = epoch; }
    const t0 = performance.now();
    const b = gatherRows(train, perm.subarray(index * o.batch, (index + 1) * o.batch));
    index++;
    optimizer.zeroGrad();
    const loss = tidy(() => {
      const l = model.loss(b.inputs, b.targets, o.batch, o.seq);
      const v = l.item();
      l.backward();
      return v;
    });
    const norm = o.gradClip > 0 ? clipGradNorm(params, o.gradClip) : o.spikeGuard ? gradNorm(params) : null;
    const verdict = o.spikeGuard ? guard.check(loss, norm) : { spike: false as const };
    if (verdict.spike) {
      rollbacks++;
      const ck = latestCheckpoint(o.out);
      metrics.write({ step, event: "rollback", reason: verdict.reason, loss, to_step: ck?.step ?? null, rollbacks });
      display.log(`loss spike at step ${step} (loss ${loss.toFixed(4)}, ${verdict.reason}); rolling back to step ${ck?.step}`);
      if (!ck || rollbacks > o.maxRollbacks) {
        throw new SftError(`stopped after ${rollbacks} loss spikes at step ${step}; lower --lr or check the data`);
      }
      const s = JSON.parse(readFileSync(path.join(ck.dir, SFT_STATE_FILE), "utf8")) as SftState;
      model.loadWeightsFrom(ck.dir);
      optimizer.importState(readOptimizerState(ck.dir, s.optimizerStep));
      guard.restore(s.spikeWindow);
      step = s.step; // the data position stays past the bad batch
      continue;
    }
    const lr = lrAt(step, schedule);
    optimizer.step(lr);
    guard.accept(loss);
    losses.push(loss);
    const dt = (performance.now() - t0) / 1000;
    metrics.write({ step, loss, lr, grad_norm: norm, tokens_per_s: (o.batch * o.seq) / dt, mfu: null, dt });
    display.update({ step, totalSteps, loss, lr, tokensPerSecond: (o.batch * o.seq) / dt, mfu: null, etaSeconds: dt * (totalSteps - step - 1) });
    step++;
    const stopping = input.shouldStop?.() ?? false;
    if (o.checkpointEvery > 0 && step % o.checkpointEvery === 0 && step < totalSteps && !stopping) save();
    if (stopping) {
      display.log(`stopping at step ${step} as asked`);
      break;
    }
  }
  display.finish();
  let valLoss: number | null = null;
  if (data.val) {
    valLoss = sftValidationLoss(model, data.val, o.batch);
    metrics.write({ step, val_loss: valLoss, val_ppl: Math.exp(valLoss) });
    display.log(`SFT validation loss (assistant tokens) ${valLoss.toFixed(4)}`);
  }
  if (!lastCheckpoint || (lastCheckpoint as CheckpointInfo).step !== step) save();
  metrics.write({ step, event: "stop", rollbacks });
  return { finalStep: step, totalSteps, losses, valLoss, lastCheckpoint, data };
}

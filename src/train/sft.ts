// Supervised fine-tuning (SFT) of a trained decoder on chat data: the conversations of sft-data.ts rendered with
// the model's chat template, loss only on assistant tokens, short examples packed into rows. This file prepares
// the rows, loads the model (or the newest checkpoint of --out, so rerunning the command resumes) and runs the
// SftObjective (objectives/sft.ts) in the shared training loop (loop.ts): seeded per-epoch row order, gradient
// accumulation, clipping, the spike guard with rollback/skip/LR factor, atomic checkpoints (HF folder +
// optimizer.safetensors + trainer_state.json) that resume bit for bit, and the held-out loss at the end.
// Leaves out: LoRA/partial fine-tuning, per-example attention masks (see sft-data.ts).
import { existsSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../backend/backend.js";
import { Rng } from "../core/rng.js";
import { setDefaultBackend } from "../tensor/index.js";
import { chatTemplateFromFolder, CHATML_TEMPLATE } from "../infer/chat-template.js";
import { loadTokenizer } from "../tokenizers/load.js";
import { latestCheckpoint, type CheckpointInfo } from "./checkpoint.js";
import { runLoop, resumedScheduleSteps } from "./loop.js";
import { DataParallel, type DataParallelSettings } from "./data-parallel.js";
import { type FrozenBaseReader, saveAdapter, trainModelFor } from "./adapters/setup.js";
import type { LoraSettings } from "../models/adapters/lora.js";
import { modelOptimizer, readTrainerState, TrainingError } from "./loop-state.js";
import type { TrainOptions } from "./options.js";
import { gatherRows, SftObjective } from "./objectives/sft.js";
import { ProgressDisplay, type ProgressSink } from "./progress.js";
import { packExamples, readChatFile, textExamples, tokenizeConversation, type PackedRows, type TokenizedExample } from "./sft-data.js";
import { readEvalDocuments } from "./eval.js";

const COPIED_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json"];

/** The optimizer, schedule, checkpoint and spike-guard settings SFT shares with pretraining (same names, same
 *  meaning as TrainOptions). */
type SharedTrainOptions = Pick<TrainOptions, "seq" | "batch" | "gradAccum" | "lr" | "minLr" | "warmup" | "weightDecay" |
  "gradClip" | "seed" | "checkpointEvery" | "keepLast" | "spikeGuard" | "spikeWindow" | "spikeZscore" | "maxRollbacks" |
  "spikeLrFactor" | "spikeSkip" | "logEvery">;

export interface SftOptions extends SharedTrainOptions {
  /** The model to fine-tune: a Hugging Face folder (config.json, model.safetensors, tokenizer files). */
  model: string;
  data: string[];
  /** Plain-text files (documents separated by blank lines) mixed in as fully trained rows (replay); may be empty. */
  text: string[];
  out: string;
  /** Optimizer steps; null = `epochs` passes over the packed rows. */
  steps: number | null;
  /** LR schedule length; null = the run's steps, and on resume the length stored in the checkpoint. */
  scheduleSteps: number | null;
  epochs: number;
  dtype: "f32" | "bf16";
  /** Every valEvery-th packed row is held out for validation (0 = none). */
  valEvery: number;
  /** Train LoRA adapters over the frozen model instead of every weight (--lora r=…,alpha=…,targets=…). */
  lora?: LoraSettings | null;
}

export const DEFAULT_SFT_OPTIONS: Omit<SftOptions, "model" | "data" | "out"> = {
  text: [], seq: 256, batch: 8, gradAccum: 1, steps: null, scheduleSteps: null, epochs: 2, lr: 5e-4, minLr: 5e-5, warmup: 20, weightDecay: 0.0,
  gradClip: 1.0, seed: 1337, dtype: "f32", checkpointEvery: 100, keepLast: 2, spikeGuard: true, spikeWindow: 50,
  spikeZscore: 6, maxRollbacks: 5, spikeLrFactor: 1, spikeSkip: 0, valEvery: 50, logEvery: 10,
};

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

export interface RunSftInput {
  /** Reads a .gguf --model as a frozen LoRA base (the CLI passes src/infer/frozen-base.ts's reader). */
  frozenBase?: FrozenBaseReader;
  /** Data-parallel training (the CLI sets it under mpirun); null = one process. */
  distributed?: DataParallelSettings | null;
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
  const model = trainModelFor(o.model, o.dtype, o.lora ?? null, ck0, o.seed, input.frozenBase);
  if (o.seq > model.contextLength) throw new SftError(`--seq ${o.seq} exceeds the model's context of ${model.contextLength}`);
  const maxId = train.inputs.reduce((a, b) => Math.max(a, b), 0);
  if (maxId >= model.vocabSize) throw new SftError(`token id ${maxId} is outside the model's vocabulary of ${model.vocabSize}; use the model's own tokenizer files`);
  const objective = new SftObjective(train, data.val, o.batch, o.seed);
  const totalSteps = o.steps ?? Math.max(1, Math.round((o.epochs * objective.batchesPerEpoch) / o.gradAccum));
  const optimizer = modelOptimizer(model, { lr: o.lr, betas: [0.9, 0.95], eps: 1e-8, weightDecay: o.weightDecay });
  let scheduleSteps = o.scheduleSteps ?? totalSteps;
  if (ck0) {
    let state;
    try {
      state = readTrainerState(ck0.dir);
    } catch (err) {
      throw new TrainingError(`${(err as Error).message}; SFT checkpoints from before the shared training loop ` +
        "(sft_state.json) cannot be resumed: start again with --no-resume or a new --out");
    }
    scheduleSteps = resumedScheduleSteps(state, o.scheduleSteps, totalSteps);
    display.log(`resuming SFT from ${ck0.dir} at step ${state.step}`);
  }
  const copies = new Map<string, string>();
  for (const name of COPIED_FILES) if (existsSync(path.join(o.model, name))) copies.set(name, path.join(o.model, name));
  const r = await runLoop({
    model, optimizer, objective, rng: new Rng(o.seed), runDir: o.out, resumeFrom: ck0, options: o, copies,
    settings: {
      steps: totalSteps, schedule: { lr: o.lr, minLr: o.minLr, warmupSteps: o.warmup, totalSteps: scheduleSteps, kind: "cosine" },
      gradAccum: o.gradAccum, gradClip: o.gradClip, spikeGuard: o.spikeGuard, spikeWindow: o.spikeWindow,
      spikeZscore: o.spikeZscore, maxRollbacks: o.maxRollbacks, spikeLrFactor: o.spikeLrFactor, spikeSkip: o.spikeSkip,
      checkpointEvery: o.checkpointEvery, keepLast: o.keepLast, evalEvery: 0, evalAtEnd: true, logEvery: o.logEvery, mfu: null,
    },
    banner: `SFT of ${model.family} (${(model.parameterCount / 1e6).toFixed(2)}M parameters), steps ${ck0?.step ?? 0}…${totalSteps}, ` +
      `batch ${o.batch}×${o.seq}${o.gradAccum > 1 ? ` ×${o.gradAccum} accumulated` : ""}`,
    display, jsonOut: null, shouldStop: input.shouldStop,
    distributed: input.distributed ? DataParallel.forModel(input.distributed, input.backend, model, optimizer) : null,
  });
  // Rank 0 writes for a data-parallel job.
  const adapterDir = !input.distributed || input.distributed.comm.rank === 0 ? saveAdapter(model, o.out, o.model) : null;
  if (adapterDir) display.log(`LoRA adapter written to ${adapterDir} (PEFT) and ${path.join(o.out, "adapter.gguf")} (llama.cpp)`);
  return { finalStep: r.finalStep, totalSteps, losses: r.losses, valLoss: r.valLoss, lastCheckpoint: r.lastCheckpoint, data };
}

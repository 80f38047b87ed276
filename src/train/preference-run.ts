// The set-up of the preference commands (`zhiyu rm train`, `zhiyu dpo`): reads the pairs with the model's tokenizer
// and chat template, holds out every K-th pair, builds the model (a reward model from a causal LM or a
// sequence-classification folder; the DPO policy, optionally as LoRA adapters, and its frozen reference), and runs
// the shared training loop (checkpoints, exact resume, metrics.jsonl, progress) with the objective. Every check on
// the data and the model runs before the first step.
// Leaves out: LoRA for reward models (the score head would need peft's modules_to_save).
import { existsSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../backend/backend.js";
import { Rng } from "../core/rng.js";
import { setDefaultBackend } from "../tensor/index.js";
import { chatTemplateFromFolder, CHATML_TEMPLATE } from "../infer/chat-template.js";
import { loadTokenizer } from "../tokenizers/load.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import type { LoraSettings } from "../models/adapters/lora.js";
import { latestCheckpoint, type CheckpointInfo } from "./checkpoint.js";
import { runLoop, resumedScheduleSteps } from "./loop.js";
import { DataParallel, type DataParallelSettings } from "./data-parallel.js";
import { modelOptimizer, readTrainerState } from "./loop-state.js";
import { TrainModel } from "./model.js";
import type { TrainingObjective } from "./objective.js";
import { ProgressDisplay, type ProgressSink } from "./progress.js";
import { type PreferenceEncoder, type PreferencePair, readPreferencePairs } from "./preference-data.js";
import { type FrozenBaseReader, referenceModelFor, saveAdapter, trainModelFor } from "./adapters/setup.js";
import { RewardObjective, evaluateRewardModel, padIdOf } from "./objectives/reward.js";
import { type DpoSettings, DpoObjective, checkDpoSettings } from "./objectives/dpo.js";
import { OrpoObjective } from "./objectives/orpo.js";

const COPIED_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json"];

export interface PreferenceRunOptions {
  model: string;
  data: string[];
  out: string;
  /** Pairs per micro-batch. */
  batch: number;
  gradAccum: number;
  /** Longest row (prompt + completion) in tokens; longer pairs lose prompt tokens from the start. */
  maxLen: number;
  steps: number | null;
  epochs: number;
  lr: number;
  minLr: number;
  warmup: number;
  weightDecay: number;
  gradClip: number;
  seed: number;
  dtype: "f32" | "bf16";
  /** Every valEvery-th pair is held out (0 = none). */
  valEvery: number;
  checkpointEvery: number;
  keepLast: number;
  logEvery: number;
  lora: LoraSettings | null;
}

export const DEFAULT_PREFERENCE_OPTIONS: Omit<PreferenceRunOptions, "model" | "data" | "out"> = {
  batch: 4, gradAccum: 1, maxLen: 512, steps: null, epochs: 1, lr: 5e-6, minLr: 5e-7, warmup: 10, weightDecay: 0, gradClip: 1,
  seed: 1337, dtype: "f32", valEvery: 20, checkpointEvery: 100, keepLast: 2, logEvery: 10, lora: null,
};

/** The model folder's tokenizer, template and stop ids, loaded on first use (token-id data needs none). */
export function preferenceEncoder(modelDir: string): PreferenceEncoder {
  let tok: Tokenizer | null = null;
  const tokenizer = () => (tok ??= loadTokenizer(modelDir));
  return {
    get tokenizer() { return tokenizer(); },
    get chatTemplate() { return chatTemplateFromFolder(modelDir) ?? CHATML_TEMPLATE; },
    get eosId() { return tokenizer().eosTokenId ?? null; },
    get endOfTurnId() { return tokenizer().tokenToId("<|im_end|>") ?? tokenizer().eosTokenId ?? null; },
  };
}

/** Reads the pairs and splits off every valEvery-th as held out. */
export function readSplitPairs(modelDir: string, files: readonly string[], valEvery: number, display: ProgressDisplay | null):
  { train: PreferencePair[]; val: PreferencePair[] } {
  const { pairs, forms } = readPreferencePairs(files, preferenceEncoder(modelDir));
  for (const [file, form] of forms) display?.log(`${file}: ${form} preference pairs`);
  const train = pairs.filter((_, i) => valEvery <= 0 || i % valEvery !== valEvery - 1);
  const val = valEvery > 0 ? pairs.filter((_, i) => i % valEvery === valEvery - 1) : [];
  display?.log(`${pairs.length} pairs: ${train.length} for training, ${val.length} held out`);
  return { train, val };
}

export interface PreferenceRunInput {
  /** Reads a .gguf --model as a frozen LoRA base (the CLI passes src/infer/frozen-base.ts's reader). */
  frozenBase?: FrozenBaseReader;
  options: PreferenceRunOptions;
  backend: Backend;
  stdout: ProgressSink;
  resume?: boolean;
  shouldStop?: () => boolean;
  /** Data-parallel training (the CLI sets it under mpirun); null = one process. */
  distributed?: DataParallelSettings | null;
}

export interface PreferenceRunResult {
  finalStep: number;
  losses: number[];
  valLoss: number | null;
  lastCheckpoint: CheckpointInfo | null;
  adapterDir: string | null;
}

async function run(kind: "reward" | "dpo" | "orpo", input: PreferenceRunInput, model: TrainModel, objective: TrainingObjective & { batchesPerEpoch: number },
  ck0: CheckpointInfo | null, display: ProgressDisplay): Promise<PreferenceRunResult> {
  const o = input.options;
  const totalSteps = o.steps ?? Math.max(1, Math.round((o.epochs * objective.batchesPerEpoch) / o.gradAccum));
  const optimizer = modelOptimizer(model, { lr: o.lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: o.weightDecay });
  const scheduleSteps = ck0 ? resumedScheduleSteps(readTrainerState(ck0.dir), null, totalSteps) : totalSteps;
  const copies = new Map<string, string>();
  for (const name of COPIED_FILES) if (existsSync(path.join(o.model, name))) copies.set(name, path.join(o.model, name));
  const r = await runLoop({
    model, optimizer, objective, rng: new Rng(o.seed), runDir: o.out, resumeFrom: ck0, options: o, copies,
    settings: {
      steps: totalSteps, schedule: { lr: o.lr, minLr: o.minLr, warmupSteps: o.warmup, totalSteps: scheduleSteps, kind: "cosine" },
      gradAccum: o.gradAccum, gradClip: o.gradClip, spikeGuard: false, spikeWindow: 50, spikeZscore: 6, maxRollbacks: 0,
      spikeLrFactor: 1, spikeSkip: 0, checkpointEvery: o.checkpointEvery, keepLast: o.keepLast, evalEvery: 0, evalAtEnd: true,
      logEvery: o.logEvery, mfu: null,
    },
    banner: `${kind === "reward" ? "reward model" : kind === "orpo" ? "ORPO" : "DPO"} of ${model.family} (${(model.parameterCount / 1e6).toFixed(2)}M trained parameters), ` +
      `steps ${ck0?.step ?? 0}…${totalSteps}, ${o.batch} pairs per micro-batch`,
    display, jsonOut: null, shouldStop: input.shouldStop,
    distributed: input.distributed ? DataParallel.forModel(input.distributed, input.backend, model, optimizer) : null,
  });
  // Rank 0 writes for a data-parallel job.
  const adapterDir = !input.distributed || input.distributed.comm.rank === 0 ? saveAdapter(model, o.out, o.model) : null;
  if (adapterDir) display.log(`LoRA adapter written to ${adapterDir} (PEFT) and ${path.join(o.out, "adapter.gguf")} (llama.cpp)`);
  return { finalStep: r.finalStep, losses: r.losses, valLoss: r.valLoss, lastCheckpoint: r.lastCheckpoint, adapterDir };
}

/** `zhiyu rm train`: a reward model (score head added to a causal LM, or a sequence classifier trained further). */
export async function runRewardTraining(input: PreferenceRunInput & { centerRewards?: number }): Promise<PreferenceRunResult> {
  const o = input.options;
  setDefaultBackend(input.backend);
  if (o.lora) throw new RangeError("rm train --lora: LoRA reward models are not supported yet (the score head must train too); train the full model");
  const display = new ProgressDisplay(input.stdout, o.logEvery);
  const ck0 = input.resume === false ? null : latestCheckpoint(o.out);
  const { train, val } = readSplitPairs(o.model, o.data, o.valEvery, display);
  const model = TrainModel.fromHfFolder(ck0 ? ck0.dir : o.model, o.dtype, { rng: new Rng(o.seed ^ 0x5c0) });
  const objective = new RewardObjective(train, val, o.batch, padIdOf(model), Math.min(o.maxLen, model.contextLength), o.seed, input.centerRewards ?? 0);
  return run("reward", input, model, objective, ck0, display);
}

/** `zhiyu dpo`: DPO of a causal LM (all weights or LoRA adapters) against its frozen starting point; with --loss orpo,
 *  ORPO (no reference). */
export async function runDpoTraining(input: PreferenceRunInput & { dpo: DpoSettings }): Promise<PreferenceRunResult> {
  const o = input.options;
  checkDpoSettings(input.dpo);
  setDefaultBackend(input.backend);
  const display = new ProgressDisplay(input.stdout, o.logEvery);
  const ck0 = input.resume === false ? null : latestCheckpoint(o.out);
  const { train, val } = readSplitPairs(o.model, o.data, o.valEvery, display);
  const model = trainModelFor(o.model, o.dtype, o.lora, ck0, o.seed, input.frozenBase);
  if (model.scoreLabels !== null) throw new RangeError(`${o.model} is a sequence classifier; DPO trains a causal LM`);
  const pad0 = typeof model.hfConfig.pad_token_id === "number" ? model.hfConfig.pad_token_id : 0;
  if (input.dpo.lossType === "orpo") {
    // ORPO has no reference model: the odds ratio and the chosen rows' NLL come from the policy alone.
    const orpo = new OrpoObjective(train, val, o.batch, pad0, Math.min(o.maxLen, model.contextLength), o.seed, { beta: input.dpo.beta });
    return run("orpo", input, model, orpo, ck0, display);
  }
  // The reference: the starting model, frozen (its log-probs are computed once, before the first step).
  const reference = referenceModelFor(model, o.model, o.dtype);
  const pad = pad0;
  display.log(`computing the reference log-probs of ${train.length + val.length} pairs once`);
  const objective = new DpoObjective(train, val, o.batch, pad, Math.min(o.maxLen, model.contextLength), o.seed, input.dpo, reference);
  return run("dpo", input, model, objective, ck0, display);
}

export { evaluateRewardModel };

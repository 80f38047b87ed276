// The set-up of the RL commands (`zhiyu grpo`, `zhiyu ppo`): reads the prompts with the model's tokenizer and chat template,
// holds out every K-th, builds the policy (all weights or LoRA adapters) and its frozen reference, measures the
// held-out reward before training, runs the shared training loop (checkpoints, exact resume, metrics.jsonl,
// progress) with the objective and the injected generator, and measures the held-out reward again. Every check on
// the data, the settings and the model runs before the first rollout.
// Leaves out: generation itself (the CLI injects src/infer/rollout.ts), reward functions (the CLI passes them).
import { existsSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../backend/backend.js";
import { Rng } from "../core/rng.js";
import { setDefaultBackend } from "../tensor/index.js";
import { latestCheckpoint, type CheckpointInfo } from "./checkpoint.js";
import { runLoop, resumedScheduleSteps } from "./loop.js";
import { modelOptimizer, readTrainerState } from "./loop-state.js";
import { TrainModel } from "./model.js";
import type { SequenceGenerator } from "./objective.js";
import { ProgressDisplay, type ProgressSink } from "./progress.js";
import { type FrozenBaseReader, referenceModelFor, saveAdapter, trainModelFor } from "./adapters/setup.js";
import { type GrpoSettings, type RewardFunction, GrpoObjective, checkGrpoSettings, evaluateRewards } from "./objectives/grpo.js";
import { preferenceEncoder, type PreferenceRunOptions } from "./preference-run.js";
import { type PpoSettings, PpoObjective, checkPpoSettings } from "./objectives/ppo.js";
import type { TrainingObjective } from "./objective.js";
import { readRlExamples } from "./rl-data.js";
import { documentTokenStream } from "./data-prepare.js";

const COPIED_FILES = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json"];

export interface HeldOutReward {
  meanReward: number;
  /** Share of held-out prompts whose (greedy) reply got a positive reward. */
  solved: number;
  n: number;
  samples: string[];
}

export interface GrpoRunResult {
  finalStep: number;
  losses: number[];
  lastCheckpoint: CheckpointInfo | null;
  adapterDir: string | null;
  before: HeldOutReward | null;
  after: HeldOutReward | null;
}

export interface GrpoRunInput {
  /** Reads a .gguf --model as a frozen LoRA base (the CLI passes src/infer/frozen-base.ts's reader). */
  frozenBase?: FrozenBaseReader;
  /** batch = prompts per step is taken from grpo.promptsPerStep; maxLen is unused (prompt + maxNewTokens). */
  options: PreferenceRunOptions;
  grpo: GrpoSettings;
  rewards: readonly RewardFunction[];
  generator: SequenceGenerator;
  backend: Backend;
  stdout: ProgressSink;
  resume?: boolean;
  shouldStop?: () => boolean;
}

/** `zhiyu grpo`: GRPO of a causal LM with verifiable rewards. */
export async function runGrpoTraining(input: GrpoRunInput): Promise<GrpoRunResult> {
  const o = input.options;
  const s = input.grpo;
  checkGrpoSettings(s);
  setDefaultBackend(input.backend);
  const display = new ProgressDisplay(input.stdout, o.logEvery);
  const ck0 = input.resume === false ? null : latestCheckpoint(o.out);
  const enc = preferenceEncoder(o.model);
  const model = trainModelFor(o.model, o.dtype, o.lora, ck0, o.seed, input.frozenBase);
  if (model.scoreLabels !== null) throw new RangeError(`${o.model} is a sequence classifier; GRPO trains a causal LM`);
  const { train, val } = readRlExamples(o.data, enc, model.vocabSize, o.valEvery);
  display.log(`${train.length + val.length} prompts: ${train.length} for training, ${val.length} held out`);
  const longest = Math.max(...train.map((e) => e.promptIds.length), ...val.map((e) => e.promptIds.length));
  if (longest + s.maxNewTokens > model.contextLength) {
    throw new RangeError(`GRPO: the longest prompt (${longest} tokens) + --max-new-tokens ${s.maxNewTokens} exceeds the context ${model.contextLength}`);
  }
  const tok = enc.tokenizer;
  const decode = (ids: readonly number[]) => tok.decode(ids, { skipSpecialTokens: true });
  const stopIds = [...new Set([enc.eosId, enc.endOfTurnId].filter((x): x is number => x !== null))];
  const pad = typeof model.hfConfig.pad_token_id === "number" ? model.hfConfig.pad_token_id : (enc.eosId ?? 0);
  const reference = s.beta > 0 ? referenceModelFor(model, o.model, o.dtype) : null;
  const objective = new GrpoObjective(train, s, model, reference, input.rewards, decode, stopIds, pad, o.seed);
  const heldOut = async (label: string): Promise<HeldOutReward | null> => {
    if (val.length === 0) return null;
    const r = await evaluateRewards(input.generator, model, val, input.rewards, decode, stopIds, { maxNewTokens: s.maxNewTokens });
    display.log(`held-out reward ${label}: mean ${r.meanReward.toFixed(4)}, solved ${(100 * r.solved).toFixed(1)}% of ${r.n} (greedy)`);
    return r;
  };
  const banner = `GRPO of ${model.family} (${(model.parameterCount / 1e6).toFixed(2)}M trained parameters), ` +
    `${s.promptsPerStep} prompts × ${s.groupSize} completions per step, rewards ${input.rewards.map((f) => f.name).join(" + ")}`;
  return trainWithHeldOut(input, model, objective, ck0, display, banner, heldOut, { grpo: s });
}

/** Held-out measure, the loop, the held-out measure again, the adapter. */
async function trainWithHeldOut(input: { options: PreferenceRunOptions; generator: SequenceGenerator; shouldStop?: () => boolean },
  model: TrainModel, objective: TrainingObjective & { batchesPerEpoch: number }, ck0: CheckpointInfo | null, display: ProgressDisplay,
  banner: string, heldOut: (label: string) => Promise<HeldOutReward | null>, extraOptions: Record<string, unknown>): Promise<GrpoRunResult> {
  const o = input.options;
  const before = ck0 ? null : await heldOut("before training");
  const totalSteps = o.steps ?? Math.max(1, Math.round((o.epochs * objective.batchesPerEpoch) / o.gradAccum));
  const optimizer = modelOptimizer(model, { lr: o.lr, betas: [0.9, 0.999], eps: 1e-8, weightDecay: o.weightDecay });
  const scheduleSteps = ck0 ? resumedScheduleSteps(readTrainerState(ck0.dir), null, totalSteps) : totalSteps;
  const copies = new Map<string, string>();
  for (const name of COPIED_FILES) if (existsSync(path.join(o.model, name))) copies.set(name, path.join(o.model, name));
  const r = await runLoop({
    model, optimizer, objective, rng: new Rng(o.seed), runDir: o.out, resumeFrom: ck0, options: { ...o, ...extraOptions }, copies,
    generator: input.generator,
    settings: {
      steps: totalSteps, schedule: { lr: o.lr, minLr: o.minLr, warmupSteps: o.warmup, totalSteps: scheduleSteps, kind: "cosine" },
      gradAccum: o.gradAccum, gradClip: o.gradClip, spikeGuard: false, spikeWindow: 50, spikeZscore: 6, maxRollbacks: 0,
      spikeLrFactor: 1, spikeSkip: 0, checkpointEvery: o.checkpointEvery, keepLast: o.keepLast, evalEvery: 0, evalAtEnd: false,
      logEvery: o.logEvery, mfu: null,
    },
    banner: `${banner}, steps ${ck0?.step ?? 0}…${totalSteps}`,
    display, jsonOut: null, shouldStop: input.shouldStop,
  });
  const after = await heldOut("after training");
  const adapterDir = saveAdapter(model, o.out, o.model);
  if (adapterDir) display.log(`LoRA adapter written to ${adapterDir} (PEFT) and ${path.join(o.out, "adapter.gguf")} (llama.cpp)`);
  return { finalStep: r.finalStep, losses: r.losses, lastCheckpoint: r.lastCheckpoint, adapterDir, before, after };
}

export interface PpoRunInput {
  /** Reads a .gguf --model as a frozen LoRA base (the CLI passes src/infer/frozen-base.ts's reader). */
  frozenBase?: FrozenBaseReader;
  /** maxLen is unused (prompt + maxNewTokens); batch is unused (promptsPerRollout / numMiniBatches rows per step). */
  options: PreferenceRunOptions;
  ppo: PpoSettings;
  /** A one-label sequence classifier folder (zhiyu rm train). */
  rewardModel: string;
  /** PPO-ptx's pretraining data: text / JSON / JSONL, or token shards (required when ppo.ptxCoef > 0). */
  ptxData?: string;
  generator: SequenceGenerator;
  backend: Backend;
  stdout: ProgressSink;
  resume?: boolean;
  shouldStop?: () => boolean;
}

/** `zhiyu ppo`: RLHF of a causal LM against a reward model (InstructGPT's PPO). */
export async function runPpoTraining(input: PpoRunInput): Promise<GrpoRunResult> {
  const o = input.options;
  const s = input.ppo;
  checkPpoSettings(s);
  setDefaultBackend(input.backend);
  const display = new ProgressDisplay(input.stdout, o.logEvery);
  const ck0 = input.resume === false ? null : latestCheckpoint(o.out);
  const enc = preferenceEncoder(o.model);
  // The value head is created before a checkpoint's weights are read, so resuming restores it too.
  let model = trainModelFor(o.model, o.dtype, o.lora, null, o.seed, input.frozenBase).withValueHead(new Rng(o.seed ^ 0x7a1));
  if (ck0) model.loadWeightsFrom(ck0.dir);
  if (model.scoreLabels !== null) throw new RangeError(`${o.model} is a sequence classifier; PPO trains a causal LM`);
  const rm = TrainModel.fromHfFolder(input.rewardModel, o.dtype);
  if (rm.scoreLabels !== 1) {
    throw new RangeError(`--reward-model ${input.rewardModel}: not a reward model (a one-label …ForSequenceClassification folder); ` +
      "train one with zhiyu rm train");
  }
  const { train, val } = readRlExamples(o.data, enc, model.vocabSize, o.valEvery);
  display.log(`${train.length + val.length} prompts: ${train.length} for training, ${val.length} held out`);
  if (s.ptxCoef > 0 && !input.ptxData) throw new RangeError(`PPO-ptx: --ptx-coef ${s.ptxCoef} needs pretraining text (--ptx-data FILE)`);
  const ptxData = input.ptxData ? documentTokenStream(input.ptxData, enc.tokenizer, "PPO-ptx: --ptx-data") : null;
  if (ptxData) display.log(`PPO-ptx: ${ptxData.length} pretraining tokens from ${input.ptxData}, γ ${s.ptxCoef}`);
  const longest = Math.max(...train.map((e) => e.promptIds.length), ...val.map((e) => e.promptIds.length));
  if (longest + s.maxNewTokens > model.contextLength) {
    throw new RangeError(`PPO: the longest prompt (${longest} tokens) + --max-new-tokens ${s.maxNewTokens} exceeds the context ${model.contextLength}`);
  }
  const stopIds = [...new Set([enc.eosId, enc.endOfTurnId].filter((x): x is number => x !== null))];
  const pad = typeof model.hfConfig.pad_token_id === "number" ? model.hfConfig.pad_token_id : (enc.eosId ?? 0);
  const reference = referenceModelFor(model, o.model, o.dtype);
  const objective = new PpoObjective(train, s, model, reference, rm, stopIds, pad, o.seed, ptxData);
  // Held out: the reward model's mean score of greedy replies (scored like the rollouts).
  const heldOut = async (label: string): Promise<HeldOutReward | null> => {
    if (val.length === 0) return null;
    const outs = await input.generator.generate(model, val.map((e) => e.promptIds), { maxNewTokens: s.maxNewTokens, temperature: 0, stopIds });
    const scores = objective.scoreResponses(val, outs.map((x) => x.ids));
    const mean = scores.reduce((a, b) => a + b, 0) / scores.length;
    const sd = Math.sqrt(scores.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, scores.length - 1));
    display.log(`held-out reward-model score ${label}: mean ${mean.toFixed(4)} (sd ${sd.toFixed(4)}) over ${scores.length} prompts (greedy)`);
    return { meanReward: mean, solved: scores.filter((x) => x > 0).length / scores.length, n: scores.length,
      samples: outs.slice(0, 5).map((x) => enc.tokenizer.decode([...x.ids], { skipSpecialTokens: true })) };
  };
  const banner = `PPO of ${model.family} (${(model.parameterCount / 1e6).toFixed(2)}M trained parameters incl. the value head), ` +
    `${s.promptsPerRollout} prompts per rollout, ${s.numPpoEpochs} epochs × ${s.numMiniBatches} minibatches, β ${s.klCoef}` +
    (s.klTarget !== null ? ` (adaptive: target ${s.klTarget} nats/token, horizon ${s.klHorizon})` : "") +
    (ptxData ? `, PPO-ptx γ ${s.ptxCoef}` : "");
  return trainWithHeldOut(input, model, objective, ck0, display, banner, heldOut,
    { ppo: s, rewardModel: input.rewardModel, ...(input.ptxData ? { ptxData: input.ptxData } : {}) });
}

// GRPO (Shao et al. 2024, DeepSeekMath; R1's RL from verifiable rewards) as an objective of the one training loop,
// with TRL GRPOTrainer's semantics (the math is grpo-loss.ts): each step takes the next `promptsPerStep` prompts,
// samples `groupSize` completions of each with the injected SequenceGenerator (the inference engine, over the
// policy's live weights), scores them with the reward functions (a weighted sum; null = abstain), turns the
// rewards into group-normalised advantages, and computes the clipped objective with a per-token KL to the frozen
// reference. With numIterations μ > 1 one generation batch serves μ steps and the log-probs at generation time
// are the old policy's (the ratio then moves away from 1 and the clip acts).
// The data position (seeded permutation per epoch) is checkpointed; rollout seeds derive from the run seed and the
// step, so a resumed run samples the same completions it would have. A rollout batch being reused (μ > 1) when a
// checkpoint is written is regenerated on resume (the same seed: the same completions under the saved weights).
// Leaves out: value models (PPO, ppo.ts), multi-turn tool rollouts, reward models as reward functions.
import { noGrad, tidy } from "../../tensor/index.js";
import { seededPermutation, type BatchPosition } from "../batches.js";
import { EpochBatches } from "../epoch-batches.js";
import type { TrainModel } from "../model.js";
import type { ObjectiveContext, ObjectiveLoss, SequenceGenerator, TrainingObjective } from "../objective.js";
import { type GrpoLossType, type GrpoRows, type RewardScaling, grpoLoss, grpoRows, groupAdvantages, perTokenLogProbs } from "./grpo-loss.js";

/** One prompt: its ids and the record's fields (what reward functions check: answer, schema, sources, …). */
export interface RlExample {
  promptIds: Int32Array;
  fields: Readonly<Record<string, unknown>>;
}

/** A reward function over a completion's text (the CLI passes src/tools/verifiable-rewards.ts ones). */
export interface RewardFunction {
  readonly name: string;
  score(completion: string, example: Readonly<Record<string, unknown>>): number | null;
}

export interface GrpoSettings {
  groupSize: number;
  promptsPerStep: number;
  maxNewTokens: number;
  temperature: number;
  topP: number;
  beta: number;
  epsilonLow: number;
  epsilonHigh: number;
  lossType: GrpoLossType;
  scaleRewards: RewardScaling;
  numIterations: number;
}

export const DEFAULT_GRPO: GrpoSettings = {
  groupSize: 8, promptsPerStep: 4, maxNewTokens: 64, temperature: 1, topP: 1, beta: 0.04, epsilonLow: 0.2, epsilonHigh: 0.2,
  lossType: "dapo", scaleRewards: "group", numIterations: 1,
};

export function checkGrpoSettings(s: GrpoSettings): void {
  const int = (v: number, min: number, flag: string) => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`GRPO: ${flag} ${v}; expected an integer ≥ ${min}`);
  };
  int(s.groupSize, 2, "--group-size"); // one completion per prompt has no group to compare with
  int(s.promptsPerStep, 1, "--prompts-per-step");
  int(s.maxNewTokens, 1, "--max-new-tokens");
  int(s.numIterations, 1, "--num-iterations");
  if (!(s.temperature > 0)) throw new RangeError(`GRPO: --temperature ${s.temperature}; sampling needs a temperature > 0`);
  if (!(s.beta >= 0)) throw new RangeError(`GRPO: --beta ${s.beta} must be ≥ 0`);
  if (!(s.epsilonLow > 0 && s.epsilonLow < 1 && s.epsilonHigh > 0)) throw new RangeError(`GRPO: --epsilon must be in (0, 1)`);
  if (!["grpo", "bnpo", "dapo", "dr_grpo"].includes(s.lossType)) throw new RangeError(`GRPO: --loss ${s.lossType}; use grpo, bnpo, dapo or dr_grpo`);
  if (!["group", "batch", "none"].includes(s.scaleRewards)) throw new RangeError(`GRPO: --scale-rewards ${s.scaleRewards}; use group, batch or none`);
}

/** Sum of the reward functions' scores (NaN when every function abstained). */
export function rewardOf(fns: readonly RewardFunction[], text: string, fields: Readonly<Record<string, unknown>>, perFn?: number[][]): number {
  let total = 0;
  let any = false;
  fns.forEach((f, k) => {
    const v = f.score(text, fields);
    if (v === null || Number.isNaN(v)) return;
    any = true;
    total += v;
    perFn?.[k]!.push(v);
  });
  return any ? total : Number.NaN;
}

interface GrpoBatch {
  rows: GrpoRows;
  advantages: Float32Array;
  ref: Float32Array | null;
  old: Float32Array | null;
  metrics: Record<string, number>;
}

export class GrpoObjective implements TrainingObjective<GrpoBatch> {
  readonly name = "grpo";
  readonly seq: number;
  readonly tokensPerMicroBatch: number;
  readonly batchesPerEpoch: number;
  readonly frozenModels: ReadonlyMap<string, TrainModel>;
  private readonly batches: EpochBatches;
  private cached: { batch: GrpoBatch; usesLeft: number } | null = null;

  constructor(private readonly examples: readonly RlExample[], private readonly settings: GrpoSettings,
    private readonly policy: TrainModel, private readonly reference: TrainModel | null, private readonly rewards: readonly RewardFunction[],
    private readonly decode: (ids: readonly number[]) => string, private readonly stopIds: readonly number[], private readonly padId: number,
    private readonly seed: number) {
    checkGrpoSettings(settings);
    if (rewards.length === 0) throw new RangeError("GRPO: no reward functions");
    if (settings.beta > 0 && !reference) throw new RangeError("GRPO: β > 0 needs a reference model");
    if (examples.length < settings.promptsPerStep) {
      throw new RangeError(`GRPO: ${examples.length} training prompts, fewer than --prompts-per-step ${settings.promptsPerStep}`);
    }
    this.batches = new EpochBatches(examples.length, settings.promptsPerStep, seededPermutation(seed));
    this.batchesPerEpoch = this.batches.batchesPerEpoch;
    const longest = Math.max(...examples.map((e) => e.promptIds.length));
    this.seq = longest + settings.maxNewTokens;
    this.tokensPerMicroBatch = this.seq * settings.groupSize * settings.promptsPerStep;
    this.frozenModels = new Map(reference ? [["reference", reference]] : []);
  }

  async nextBatch(ctx: ObjectiveContext): Promise<GrpoBatch> {
    if (this.cached && this.cached.usesLeft > 0) {
      this.cached.usesLeft--;
      return this.cached.batch;
    }
    const generator: SequenceGenerator | null = ctx.generator;
    if (!generator) throw new Error("GRPO needs a sequence generator (the CLI injects the inference engine's); none was given");
    const s = this.settings;
    const picked = [...this.batches.next()].map((i) => this.examples[i]!);
    const prompts = picked.flatMap((e) => Array.from({ length: s.groupSize }, () => e.promptIds));
    const generation = Math.floor(ctx.step / s.numIterations);
    const outs = await generator.generate(this.policy, prompts, { maxNewTokens: s.maxNewTokens, temperature: s.temperature, topP: s.topP,
      stopIds: this.stopIds, seed: (this.seed * 7919 + generation * 104729) >>> 0 });
    const perFn = this.rewards.map(() => [] as number[]);
    const rewards = outs.map((o, i) => {
      const ids = [...o.ids];
      if (o.finishReason === "stop" && ids.length > 0 && this.stopIds.includes(ids[ids.length - 1]!)) ids.pop();
      return rewardOf(this.rewards, this.decode(ids), picked[Math.floor(i / s.groupSize)]!.fields, perFn);
    });
    const completions = outs.map((o) => (o.ids.length > 0 ? o.ids : Int32Array.of(this.stopIds[0] ?? this.padId)));
    const rows = grpoRows(prompts, completions, this.padId);
    const advantages = groupAdvantages(rewards, s.groupSize, s.scaleRewards);
    const logps = (m: TrainModel) => noGrad(() => tidy(() => perTokenLogProbs(m, rows, s.temperature).toFloat32Array()));
    const ref = s.beta > 0 ? logps(this.reference!) : null;
    const old = s.numIterations > 1 ? logps(this.policy) : null;
    const finite = rewards.filter((r) => !Number.isNaN(r));
    const meanReward = finite.reduce((a, b) => a + b, 0) / Math.max(1, finite.length);
    const metrics: Record<string, number> = {
      reward: meanReward,
      reward_std: Math.sqrt(finite.reduce((a, b) => a + (b - meanReward) ** 2, 0) / Math.max(1, finite.length - 1)),
      completion_length: outs.reduce((a, o) => a + o.ids.length, 0) / outs.length,
      stopped: outs.filter((o) => o.finishReason === "stop").length / outs.length,
    };
    this.rewards.forEach((f, k) => {
      if (perFn[k]!.length > 0) metrics[`reward_${f.name}`] = perFn[k]!.reduce((a, b) => a + b, 0) / perFn[k]!.length;
    });
    const batch: GrpoBatch = { rows, advantages, ref, old, metrics };
    this.cached = { batch, usesLeft: s.numIterations - 1 - (ctx.step % s.numIterations) };
    return batch;
  }

  loss(model: TrainModel, b: GrpoBatch): ObjectiveLoss {
    const s = this.settings;
    const logp = perTokenLogProbs(model, b.rows, s.temperature);
    const r = grpoLoss(logp, b.rows, b.advantages, b.ref, b.old, { beta: s.beta, epsilonLow: s.epsilonLow, epsilonHigh: s.epsilonHigh,
      lossType: s.lossType, maxCompletionLength: s.maxNewTokens });
    return { loss: r.loss, metrics: { ...b.metrics, kl: r.metrics.kl, clip_ratio: r.metrics.clip_ratio } };
  }

  position(): BatchPosition {
    return this.batches.position();
  }

  restorePosition(position: unknown): void {
    this.cached = null;
    this.batches.restore(position, "GRPO", "was the checkpoint made with other prompts or --prompts-per-step?");
  }

  skip(k: number): void {
    this.cached = null;
    this.batches.skip(k);
  }
}

/** Mean reward and the share of completions with a positive reward over prompts (one completion each, greedy by
 *  default): the held-out measure before and after training. */
export async function evaluateRewards(generator: SequenceGenerator, policy: TrainModel, examples: readonly RlExample[],
  rewards: readonly RewardFunction[], decode: (ids: readonly number[]) => string, stopIds: readonly number[],
  options: { maxNewTokens: number; temperature?: number; seed?: number }): Promise<{ meanReward: number; solved: number; n: number; samples: string[] }> {
  const outs = await generator.generate(policy, examples.map((e) => e.promptIds), { maxNewTokens: options.maxNewTokens,
    temperature: options.temperature ?? 0, stopIds, seed: options.seed ?? 0 });
  let total = 0, solved = 0, n = 0;
  const samples: string[] = [];
  outs.forEach((o, i) => {
    const ids = [...o.ids];
    if (o.finishReason === "stop" && ids.length > 0 && stopIds.includes(ids[ids.length - 1]!)) ids.pop();
    const text = decode(ids);
    if (samples.length < 5) samples.push(text);
    const r = rewardOf(rewards, text, examples[i]!.fields);
    if (Number.isNaN(r)) return;
    n++;
    total += r;
    if (r > 0) solved++;
  });
  return { meanReward: total / Math.max(1, n), solved: solved / Math.max(1, n), n, samples };
}

// PPO for RLHF as InstructGPT ran it and TRL's PPOTrainer computes it (the arithmetic is ppo-math.ts), as an
// objective of the one training loop with rollout phases: every numPpoEpochs × numMiniBatches steps a rollout phase
// takes the next `promptsPerRollout` prompts, samples one response each through the injected SequenceGenerator
// (the inference engine over the policy's live weights), and records — without gradients — the policy's per-token
// log-probs (logits / temperature) and values, the frozen reference's log-probs and the reward model's score of
// each response (Zhiyu's `rm`, read at the last response token); then the KL-penalised per-token rewards, GAE and
// whitened advantages. Each following step trains one minibatch of that rollout (numPpoEpochs passes over it, a
// seeded shuffle per pass) with the clipped policy loss plus vf_coef × the clipped value loss; the value head sits
// on the policy's trunk (TrainModel.withValueHead). A resumed run starts a fresh rollout phase.
// With klTarget set, β adapts after every rollout phase (adaptiveKlCoef: Ziegler et al.'s controller, trl's
// AdaptiveKLController) toward that KL in nats per sampled response token; β is logged as kl_coef and checkpointed
// with the data position, so a resumed run continues with the β it had.
// PPO-ptx (InstructGPT's eq. 2, objective + γ·E_pretrain[log π(x)]): with ptxCoef γ > 0 every minibatch also draws
// the next batch of a pretraining token stream (seeded shuffled rows, its position checkpointed beside the
// prompts') and adds γ × its mean next-token cross-entropy (at temperature 1) to the loss; logged as ptx_loss.
// Leaves out: reward whitening, a missing-EOS penalty, a separate critic model.
import { Rng } from "../../core/rng.js";
import { add, crossEntropy, fromTypedArray, mul, neg, noGrad, tidy, type Tensor } from "../../tensor/index.js";
import { BatchIterator, seededPermutation, type BatchPosition } from "../batches.js";
import { EpochBatches } from "../epoch-batches.js";
import type { TrainModel } from "../model.js";
import type { ObjectiveContext, ObjectiveLoss, SequenceGenerator, TrainingObjective } from "../objective.js";
import type { TokenStream } from "../token-file.js";
import type { RlExample } from "./grpo.js";
import { type PpoLossInput, type PpoMathSettings, INVALID_LOGPROB, adaptiveKlCoef, gae, klPenalisedRewards, paddingMasks, ppoLoss, sequenceLengths, whitenAdvantages } from "./ppo-math.js";

const IGNORE = -100;

export interface PpoSettings extends PpoMathSettings {
  promptsPerRollout: number;
  numMiniBatches: number;
  numPpoEpochs: number;
  maxNewTokens: number;
  temperature: number;
  /** Adaptive β: the target KL in nats per sampled response token (null: β stays klCoef). */
  klTarget: number | null;
  /** Adaptive β: the controller's horizon in samples (trl's default 10000). */
  klHorizon: number;
  /** PPO-ptx: γ, the weight of the pretraining loss (0: plain PPO). */
  ptxCoef: number;
  /** "shared": the value loss trains the trunk too (trl's AutoModelForCausalLMWithValueHead); "detached": the value
   *  head reads the trunk's features without a gradient path, so only the policy loss moves the policy. */
  valueTrunk: ValueTrunk;
  /** PPO-ptx: rows and tokens per row of each pretraining batch (null: the PPO minibatch's rows / the rollout rows' length). */
  ptxBatch: number | null;
  ptxSeq: number | null;
}

export type ValueTrunk = "shared" | "detached";

export const DEFAULT_PPO: Omit<PpoSettings, keyof PpoMathSettings> = { promptsPerRollout: 8, numMiniBatches: 1, numPpoEpochs: 4, maxNewTokens: 53,
  temperature: 0.7, klTarget: null, klHorizon: 10000, ptxCoef: 0, ptxBatch: null, ptxSeq: null, valueTrunk: "shared" };

export function checkPpoSettings(s: PpoSettings): void {
  const int = (v: number, min: number, flag: string) => {
    if (!Number.isInteger(v) || v < min) throw new RangeError(`PPO: ${flag} ${v}; expected an integer ≥ ${min}`);
  };
  int(s.promptsPerRollout, 1, "--prompts-per-rollout");
  int(s.numMiniBatches, 1, "--num-mini-batches");
  int(s.numPpoEpochs, 1, "--ppo-epochs");
  int(s.maxNewTokens, 1, "--max-new-tokens");
  if (s.promptsPerRollout % s.numMiniBatches !== 0) {
    throw new RangeError(`PPO: --prompts-per-rollout ${s.promptsPerRollout} does not split into --num-mini-batches ${s.numMiniBatches}`);
  }
  if (!(s.temperature > 0)) throw new RangeError(`PPO: --temperature ${s.temperature}; sampling needs a temperature > 0`);
  if (!(s.klCoef >= 0) || !(s.cliprange > 0) || !(s.cliprangeValue > 0) || !(s.vfCoef >= 0)) {
    throw new RangeError("PPO: --kl-coef and --vf-coef must be ≥ 0, --cliprange and --cliprange-value > 0");
  }
  if (s.klTarget !== null && !(s.klTarget > 0)) throw new RangeError(`PPO: --kl-target ${s.klTarget}; expected nats per token > 0`);
  if (!(s.klHorizon > 0)) throw new RangeError(`PPO: --kl-horizon ${s.klHorizon}; expected a sample count > 0`);
  if (s.klTarget !== null && !(s.klCoef > 0)) throw new RangeError("PPO: --kl-target adapts β multiplicatively; start it from --kl-coef > 0");
  if (!(s.gamma >= 0 && s.gamma <= 1) || !(s.lam >= 0 && s.lam <= 1)) throw new RangeError("PPO: --gamma and --lam must be in [0, 1]");
  if (!(s.ptxCoef >= 0) || !Number.isFinite(s.ptxCoef)) {
    throw new RangeError(`PPO-ptx: --ptx-coef ${s.ptxCoef}; expected γ ≥ 0 (the weight of the pretraining log-likelihood; 0 = plain PPO)`);
  }
  if (s.valueTrunk !== "shared" && s.valueTrunk !== "detached") throw new RangeError(`PPO: --value-trunk ${String(s.valueTrunk)}; use shared or detached`);
  if (s.ptxBatch !== null) int(s.ptxBatch, 1, "--ptx-batch");
  if (s.ptxSeq !== null) int(s.ptxSeq, 1, "--ptx-seq");
}

/** B rows of `seq` ids and their next-token targets (a pretraining batch for PPO-ptx). */
export interface PtxBatch {
  inputs: Int32Array;
  targets: Int32Array;
  rows: number;
  seq: number;
}

/** One PPO minibatch in the rollout's row layout (prompt ++ response, targets IGNORE outside the response): a
 *  pretraining-shaped batch plus ppoLoss's per-token rollout arrays. */
export interface PpoMinibatch extends PtxBatch, Omit<PpoLossInput, "T"> {}

/** Per-token log-probs of the targets under logits / temperature ([rows, seq]; 0 where the target is IGNORE). */
export function tokenLogprobs(m: TrainModel, inputs: Int32Array, targets: Int32Array, rows: number, seq: number, temperature: number): Tensor {
  const logits = m.logits(inputs, rows, seq);
  return neg(crossEntropy(mul(logits, 1 / (temperature + 1e-7)), fromTypedArray(targets, [rows, seq]), { ignoreIndex: IGNORE, reduction: "none" }));
}

/**
 * The loss of one PPO minibatch: the clipped policy loss + vf_coef × the clipped value loss (ppoLoss), plus, for
 * PPO-ptx, γ × the mean next-token cross-entropy of a pretraining batch — minimising it maximises InstructGPT's
 * objective + γ·E_pretrain[log π(x)] (per token).
 */
export function ppoMinibatchLoss(model: TrainModel, r: PpoMinibatch,
  s: PpoMathSettings & { temperature: number; ptxCoef: number; valueTrunk?: ValueTrunk }, ptx: PtxBatch | null): ObjectiveLoss {
  const newLogprobs = tokenLogprobs(model, r.inputs, r.targets, r.rows, r.seq, s.temperature);
  const vpred = model.values(r.inputs, r.rows, r.seq, { detachTrunk: s.valueTrunk === "detached" });
  const out = ppoLoss(newLogprobs, vpred, { ...r, T: r.seq }, s);
  if (!ptx || s.ptxCoef === 0) return { loss: out.loss, metrics: out.metrics };
  const lm = model.loss(ptx.inputs, ptx.targets, ptx.rows, ptx.seq);
  return { loss: add(out.loss, mul(lm, s.ptxCoef)), metrics: { ...out.metrics, ptx_loss: lm.item() } };
}

/** One rollout phase's rows: prompt ++ response slots (right-padded), and per-token values in that layout. */
interface Rollout extends PpoMinibatch {
  metrics: Record<string, number>;
}

interface PpoBatch {
  rollout: Rollout;
  rowIndex: Int32Array;
  ptx: PtxBatch | null;
}

/** Rows of a rollout subset (a minibatch). */
function pick(r: Rollout, idx: ArrayLike<number>): PpoMinibatch {
  const n = idx.length, S = r.seq;
  const rows = <T extends Int32Array | Float32Array | Uint8Array>(a: T): T => {
    const out = new (a.constructor as new (n: number) => T)(n * S);
    for (let k = 0; k < n; k++) out.set(a.subarray(idx[k]! * S, (idx[k]! + 1) * S), k * S);
    return out;
  };
  return { inputs: rows(r.inputs), targets: rows(r.targets), rows: n, seq: S, oldLogprobs: rows(r.oldLogprobs), oldValues: rows(r.oldValues),
    advantages: rows(r.advantages), returns: rows(r.returns), padding: rows(r.padding), paddingP1: rows(r.paddingP1) };
}

export class PpoObjective implements TrainingObjective<PpoBatch> {
  readonly name = "ppo";
  readonly seq: number;
  readonly tokensPerMicroBatch: number;
  readonly batchesPerEpoch: number;
  readonly frozenModels: ReadonlyMap<string, TrainModel>;
  private readonly prompts: EpochBatches;
  private phase: { rollout: Rollout; order: Int32Array[] } | null = null;
  /** β for the next rollout phase (adapted when klTarget is set). */
  private klCoef: number;
  /** PPO-ptx's pretraining batches (null without ptxCoef > 0). */
  private readonly ptx: BatchIterator | null;

  constructor(private readonly examples: readonly RlExample[], private readonly s: PpoSettings, private readonly policy: TrainModel,
    private readonly reference: TrainModel, private readonly rewardModel: TrainModel, private readonly stopIds: readonly number[],
    private readonly pad: number, private readonly seed: number, ptxData: TokenStream | null = null) {
    checkPpoSettings(s);
    if (s.ptxCoef > 0 && !ptxData) throw new RangeError(`PPO-ptx: --ptx-coef ${s.ptxCoef} needs pretraining text (--ptx-data FILE)`);
    if (s.ptxCoef === 0 && ptxData) throw new RangeError("PPO-ptx: --ptx-data was given with --ptx-coef 0, so it would not count; set --ptx-coef γ > 0");
    this.klCoef = s.klCoef;
    if (!policy.params.has("v_head.weight")) throw new RangeError("PPO: the policy needs a value head (TrainModel.withValueHead)");
    if (rewardModel.scoreLabels !== 1) throw new RangeError("PPO: the reward model must be a one-label sequence classifier (zhiyu rm train makes one)");
    if (rewardModel.vocabSize !== policy.vocabSize) {
      throw new RangeError(`PPO: the reward model's vocabulary (${rewardModel.vocabSize}) differs from the policy's (${policy.vocabSize}); they must share a tokenizer`);
    }
    if (examples.length < s.promptsPerRollout) throw new RangeError(`PPO: ${examples.length} prompts, fewer than --prompts-per-rollout ${s.promptsPerRollout}`);
    this.prompts = new EpochBatches(examples.length, s.promptsPerRollout, seededPermutation(seed));
    this.batchesPerEpoch = this.prompts.batchesPerEpoch * s.numPpoEpochs * s.numMiniBatches;
    this.seq = Math.max(...examples.map((e) => e.promptIds.length)) + s.maxNewTokens - 1;
    this.tokensPerMicroBatch = this.seq * (s.promptsPerRollout / s.numMiniBatches);
    this.frozenModels = new Map([["reference", reference], ["reward", rewardModel]]);
    this.ptx = null;
    if (ptxData) {
      const rows = s.ptxBatch ?? s.promptsPerRollout / s.numMiniBatches;
      const seq = s.ptxSeq ?? Math.min(this.seq, policy.contextLength);
      if (seq > policy.contextLength) throw new RangeError(`PPO-ptx: --ptx-seq ${seq} exceeds the model's context ${policy.contextLength}`);
      const top = ptxData.maxId();
      if (top >= policy.vocabSize) {
        throw new RangeError(`PPO-ptx: the pretraining data holds token id ${top}, outside the policy's vocabulary of ${policy.vocabSize}; ` +
          "tokenize it with the policy's tokenizer (or give text)");
      }
      this.ptx = new BatchIterator(ptxData, { batch: rows, seq, shuffle: seededPermutation((seed ^ 0x5f3759df) >>> 0) });
      this.tokensPerMicroBatch += rows * seq;
    }
  }

  private logprobs(m: TrainModel, inputs: Int32Array, targets: Int32Array, rows: number, seq: number) {
    return tokenLogprobs(m, inputs, targets, rows, seq, this.s.temperature);
  }

  private async rolloutPhase(generator: SequenceGenerator, step: number): Promise<Rollout> {
    const s = this.s, T = s.maxNewTokens, pad = this.pad;
    const picked = [...this.prompts.next()].map((i) => this.examples[i]!);
    const outs = await generator.generate(this.policy, picked.map((e) => e.promptIds), { maxNewTokens: T, temperature: s.temperature,
      stopIds: this.stopIds, seed: (this.seed * 7919 + step * 104729) >>> 0 });
    const B = picked.length;
    const responses = new Int32Array(B * T).fill(pad);
    outs.forEach((o, b) => responses.set(o.ids.subarray(0, T), b * T));
    const lengths = sequenceLengths(responses, B, T, pad);
    const { padding: padT, paddingP1: padP1T } = paddingMasks(lengths, T);
    // Rows prompt ++ the first T − 1 response slots; response slot t is scored at input position P − 1 + t.
    const S = Math.max(...picked.map((e) => e.promptIds.length)) + T - 1;
    const at = (b: number, t: number) => b * S + picked[b]!.promptIds.length - 1 + t;
    const inputs = new Int32Array(B * S).fill(pad);
    const targets = new Int32Array(B * S).fill(IGNORE);
    picked.forEach((e, b) => {
      inputs.set(e.promptIds, b * S);
      inputs.set(responses.subarray(b * T, b * T + T - 1), b * S + e.promptIds.length);
      for (let t = 0; t <= lengths[b]!; t++) targets[at(b, t)] = responses[b * T + t]!;
    });
    const gather = (full: Float32Array, fill: (b: number, t: number) => number) =>
      Float32Array.from({ length: B * T }, (_, i) => fill(Math.floor(i / T), i % T) ? INVALID_LOGPROB : full[at(Math.floor(i / T), i % T)]!);
    const { lp, ref, val } = noGrad(() => tidy(() => ({
      lp: this.logprobs(this.policy, inputs, targets, B, S).toFloat32Array(),
      ref: this.logprobs(this.reference, inputs, targets, B, S).toFloat32Array(),
      val: this.policy.values(inputs, B, S).toFloat32Array(),
    })));
    const logprobs = gather(lp, (b, t) => padT[b * T + t]!);
    const refLogprobs = gather(ref, (b, t) => padT[b * T + t]!);
    const values = Float32Array.from({ length: B * T }, (_, i) => (padP1T[i] ? 0 : val[at(Math.floor(i / T), i % T)]!));
    const scores = this.score(picked, responses, lengths);
    const klCoef = this.klCoef;
    const { kl, rewards } = klPenalisedRewards(logprobs, refLogprobs, scores, lengths, T, klCoef, s.klEstimator);
    const g = gae(rewards, values, B, T, s.gamma, s.lam);
    const advantages = whitenAdvantages(g.advantages, padT);
    // Back into the row layout (positions outside the response count as padding).
    const spread = (x: Float32Array, fill: number) => {
      const out = new Float32Array(B * S).fill(fill);
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[at(b, t)] = x[b * T + t]!;
      return out;
    };
    const mask = (m: Uint8Array) => {
      const out = new Uint8Array(B * S).fill(1);
      for (let b = 0; b < B; b++) for (let t = 0; t < T; t++) out[at(b, t)] = m[b * T + t]!;
      return out;
    };
    const padding = mask(padT);
    const oldLogprobs = Float32Array.from(spread(logprobs, 0), (v, i) => (padding[i] ? 0 : v)); // what the loss's IGNORE rows give
    const klSum = Array.from({ length: B }, (_, b) => kl.subarray(b * T, b * T + T).reduce((x, y) => x + y, 0));
    const responseTokens = [...lengths].reduce((a, l) => a + l + 1, 0);
    const klPerToken = klSum.reduce((a, b) => a + b, 0) / Math.max(1, responseTokens);
    if (s.klTarget !== null) this.klCoef = adaptiveKlCoef(klCoef, klPerToken, s.klTarget, B, s.klHorizon);
    const metrics = {
      score: scores.reduce((a, b) => a + b, 0) / B,
      kl: klSum.reduce((a, b) => a + b, 0) / B,
      kl_per_token: klPerToken,
      kl_coef: klCoef,
      response_length: responseTokens / B,
    };
    return { inputs, targets, rows: B, seq: S, oldLogprobs, oldValues: spread(values, 0), advantages: spread(advantages, 0),
      returns: spread(g.returns, 0), padding, paddingP1: mask(padP1T), metrics };
  }

  /** Reward-model scores of responses as a rollout scores them (cut at the first pad, at most maxNewTokens). */
  scoreResponses(examples: readonly RlExample[], responses: readonly Int32Array[]): number[] {
    const T = this.s.maxNewTokens;
    const flat = new Int32Array(examples.length * T).fill(this.pad);
    responses.forEach((r, b) => flat.set(r.subarray(0, T), b * T));
    return this.score(examples, flat, sequenceLengths(flat, examples.length, T, this.pad));
  }

  /** Reward-model scores of prompt ++ response (through the last response token). */
  private score(picked: readonly RlExample[], responses: Int32Array, lengths: Int32Array): number[] {
    const T = this.s.maxNewTokens;
    const rows = picked.map((e, b) => [...e.promptIds, ...responses.subarray(b * T, b * T + lengths[b]! + 1)]);
    const L = Math.max(...rows.map((r) => r.length));
    const ids = new Int32Array(rows.length * L).fill(this.pad);
    rows.forEach((r, b) => ids.set(r, b * L));
    const out = noGrad(() => tidy(() => this.rewardModel.scores(ids, rows.length, L).toFloat32Array()));
    return rows.map((r, b) => out[b * L + r.length - 1]!);
  }

  async nextBatch(ctx: ObjectiveContext): Promise<PpoBatch> {
    const s = this.s;
    if (!this.phase || this.phase.order.length === 0) {
      if (!ctx.generator) throw new Error("PPO needs a sequence generator (the CLI injects the inference engine's); none was given");
      const rollout = await this.rolloutPhase(ctx.generator, ctx.step);
      const rng = new Rng((this.seed ^ 0x9e3779b9) + ctx.step);
      const per = rollout.rows / s.numMiniBatches;
      const order: Int32Array[] = [];
      for (let e = 0; e < s.numPpoEpochs; e++) {
        const perm = Int32Array.from({ length: rollout.rows }, (_, i) => i);
        for (let i = perm.length - 1; i > 0; i--) {
          const j = rng.int(i + 1);
          [perm[i], perm[j]] = [perm[j]!, perm[i]!];
        }
        for (let m = 0; m < s.numMiniBatches; m++) order.push(perm.subarray(m * per, (m + 1) * per));
      }
      this.phase = { rollout, order };
    }
    const ptx = this.ptx ? this.ptx.next() : null;
    return { rollout: this.phase.rollout, rowIndex: this.phase.order.shift()!,
      ptx: ptx && this.ptx ? { inputs: ptx.inputs, targets: ptx.targets, rows: this.ptx.batch, seq: this.ptx.seq } : null };
  }

  loss(model: TrainModel, b: PpoBatch): ObjectiveLoss {
    const out = ppoMinibatchLoss(model, pick(b.rollout, b.rowIndex), this.s, b.ptx);
    return { loss: out.loss, metrics: { ...b.rollout.metrics, ...out.metrics } };
  }

  position(): BatchPosition {
    const p: BatchPosition & { klCoef?: number; ptx?: BatchPosition } = this.prompts.position();
    if (this.s.klTarget !== null) p.klCoef = this.klCoef;
    if (this.ptx) p.ptx = this.ptx.position;
    return p;
  }

  restorePosition(position: unknown): void {
    this.phase = null;
    const saved = position as { klCoef?: unknown; ptx?: unknown } | null;
    if (this.s.klTarget !== null && typeof saved?.klCoef === "number" && saved.klCoef > 0) this.klCoef = saved.klCoef;
    this.prompts.restore(position, "PPO", "was the checkpoint made with other prompts or --prompts-per-rollout?");
    if (this.ptx) {
      if (!saved?.ptx) throw new RangeError("PPO-ptx: the checkpoint has no pretraining-data position (it was made without --ptx-coef); start a new --out");
      this.ptx.position = saved.ptx as BatchPosition;
    }
  }

  skip(k: number): void {
    for (let i = 0; i < k; i++) this.phase?.order.shift();
    this.ptx?.skip(k);
  }
}

// What a training objective is to the training loop (loop.ts). The loop owns the step: learning-rate schedule,
// gradient accumulation, clipping, the spike guard and its rollbacks, checkpoints, metrics and progress. An
// objective owns everything that says *what* is learned: it supplies micro-batches from its own data (and keeps
// a resumable position that checkpoints store), turns a micro-batch into a scalar loss tensor (plus extra
// numbers for the metrics log), may hold frozen models (a DPO/PPO reference policy, a reward model) and may be
// handed a SequenceGenerator (PPO/GRPO rollouts) that the CLI wires to the inference engine — train never
// imports infer's internals.
// Implemented here: causal-LM pretraining (objectives/causal-lm.ts) and SFT (objectives/sft.ts). MLM (BERT), span
// corruption (T5), reward modelling, DPO and PPO/GRPO plug in the same way; sequence-logprobs.ts gives them the
// per-row log-probability sums they need.
// Leaves out: objectives that train more than one model at once (a PPO value head is part of the policy model).
import type { Rng } from "../core/rng.js";
import type { Tensor } from "../tensor/index.js";
import type { TrainModel } from "./model.js";

/** The loss of one micro-batch. */
export interface ObjectiveLoss {
  /** A scalar with a graph back to the trained parameters: the mean over what the micro-batch trains on. The
   *  loop scales it by the micro-batch's share of the step (see weight()) before backward(). */
  loss: Tensor;
  /** Extra figures for the step's metrics line (e.g. DPO's reward margin, PPO's KL); averaged over micro-batches
   *  with the same shares as the loss. */
  metrics?: Record<string, number>;
}

/** What the loop tells an objective about the step it is computing. */
export interface ObjectiveContext {
  /** The optimizer step being computed (0-based; the number of completed steps). */
  step: number;
  /** Which micro-batch of the step (0 … gradAccum − 1). */
  microStep: number;
  /** The run's seeded generator; its state is checkpointed, so draws (e.g. MLM masks) resume exactly. */
  rng: Rng;
  /** The injected generator, or null when the run was started without one. */
  generator: SequenceGenerator | null;
}

export interface TrainingObjective<Batch = unknown> {
  /** Recorded in checkpoints: "causal-lm", "sft", later "mlm", "span-corruption", "reward", "dpo", "ppo" … */
  readonly name: string;
  /** Token positions the model processes per micro-batch (throughput and MFU). */
  readonly tokensPerMicroBatch: number;
  /** Sequence length the micro-batches use (MFU's attention term). */
  readonly seq: number;
  /** Models the objective evaluates but does not train (reference policy, reward model); never checkpointed. */
  readonly frozenModels?: ReadonlyMap<string, TrainModel>;
  /** The next micro-batch; advances the data position. May generate (PPO rollouts) and so may be async. */
  nextBatch(ctx: ObjectiveContext): Batch | Promise<Batch>;
  /** The loss of a micro-batch under `model` (the model being trained), with gradients enabled. */
  loss(model: TrainModel, batch: Batch, ctx: ObjectiveContext): ObjectiveLoss;
  /** How many items (trained tokens, pairs …) the micro-batch's mean loss is over. With gradient accumulation the
   *  loop weighs micro-batches by it, so a step's loss is the mean over all its items as one big batch would give;
   *  without it micro-batches weigh the same. */
  weight?(batch: Batch): number;
  /** The data position as plain JSON (stored in checkpoints, logged with a rollback). */
  position(): unknown;
  /** Restores a position read from a checkpoint; throws a message naming what does not fit (other data …). */
  restorePosition(position: unknown): void;
  /** Moves past k micro-batches without reading them (the spike guard's --spike-skip). */
  skip(k: number): void;
  /** Mean validation loss under `model` without gradients; null when there is no validation data. */
  validate?(model: TrainModel): number | null;
  /** Objective state beyond the data position (e.g. an adaptive KL coefficient), checkpointed and restored on
   *  resume and on rollback. */
  state?(): unknown;
  restoreState?(state: unknown): void;
}

export interface GenerationOptions {
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP?: number;
  /** Generation stops at any of these ids (included in the output). */
  stopIds?: readonly number[];
  seed?: number;
}

export interface GeneratedSequence {
  /** The new tokens only (the prompt is not repeated). */
  ids: Int32Array;
  /** log p of each new token under the sampling distribution, when the engine reports it. */
  logProbs?: Float32Array;
  finishReason: "stop" | "length";
}

/** Text generation injected into training (the CLI wires it to the inference engine). It must generate with the
 *  current weights of `model`, the model being trained (the wiring shares its parameter tensors or reloads them). */
export interface SequenceGenerator {
  generate(model: TrainModel, prompts: readonly Int32Array[], options: GenerationOptions): Promise<GeneratedSequence[]>;
}

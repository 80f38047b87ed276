// Rollout generation for RL training (PPO, GRPO): the trainer's SequenceGenerator (src/train/objective.ts) run on
// the inference engine — the family's inference network built over the trained model's *current* parameter tensors
// (shared, not copied; LoRA adapters attached without dropout), a KV cache per sequence, and the continuous-batching
// scheduler stepping every prompt of the call together with the server's sampler. Train never imports this file: the
// CLI constructs it and hands it to the training loop, and the shapes here match train's interface structurally.
// Leaves out: tokenizers and text (ids in, ids out), grammar constraints, keeping caches between calls.
import type { Backend } from "../backend/backend.js";
import type { Weight } from "../models/embed.js";
import type { FamilyConfig, LoadContext } from "../models/descriptor.js";
import type { ParamSpec } from "../models/weights.js";
import { MODEL_REGISTRY } from "../models/registry.js";
import { getDefaultBackend, untracked } from "../tensor/index.js";
import { LoadedModel } from "./load.js";
import { Sampler } from "./sampler.js";
import { Scheduler } from "./scheduler.js";
import { idsOnlyTokenizer } from "./tokenizer-source.js";

/** What rollouts need of the model being trained (TrainModel has both). */
export interface RolloutPolicy {
  readonly config: FamilyConfig;
  /** The parameters as the inference network reads them (f32 tensors shared with training; adapted weights for LoRA). */
  inferenceWeights(): ReadonlyMap<string, Weight>;
}

export interface RolloutOptions {
  maxNewTokens: number;
  /** 0 = greedy. */
  temperature: number;
  topP?: number;
  /** Generation stops at any of these ids (included in the output). */
  stopIds?: readonly number[];
  /** Prompt i samples with seed + i. */
  seed?: number;
}

export interface Rollout {
  /** The new tokens only. */
  ids: Int32Array;
  /** log p of each new token under the temperature-1 distribution of the policy at generation time. */
  logProbs: Float32Array;
  finishReason: "stop" | "length";
}

/** A TextModel over a policy's current weights (no copy): the family's inference network as the loader builds it. */
export function policyTextModel(policy: RolloutPolicy, backend: Backend, contextLength?: number): LoadedModel {
  const family = MODEL_REGISTRY.ofConfig(policy.config);
  const weights = policy.inferenceWeights();
  const ctx: LoadContext = {
    backend, format: "hf", gguf: null, contextLength,
    loadParams(specs: readonly ParamSpec[]) {
      const out = new Map<string, Weight>();
      for (const s of specs) {
        const w = weights.get(s.name);
        if (w === undefined) throw new Error(`[rollout] the trained model has no parameter '${s.name}' that the ${family.id} network needs`);
        out.set(s.name, w);
      }
      return out;
    },
  };
  let network: ReturnType<typeof family.load> | undefined;
  untracked(() => { network = family.load(policy.config, ctx); });
  if (network!.kind !== "causal-lm") throw new Error(`[rollout] ${family.id} is not a causal LM; rollouts need one`);
  const n = policy.config.contextLength;
  return new LoadedModel("policy", family.id, policy.config, network!.network, Math.min(contextLength ?? n, n),
    idsOnlyTokenizer("policy", policy.config.vocabSize, "rollouts run on token ids"), null, [], {}, backend, 0,
    { name: "policy", toolCalls: false, toolCallsSource: "rollouts" });
}

/** SequenceGenerator over the batching scheduler: all prompts of one call decode together, `parallel` at a time. */
export class EngineRolloutGenerator {
  constructor(private readonly options: { parallel?: number; backend?: Backend; contextLength?: number } = {}) {}

  async generate(policy: RolloutPolicy, prompts: readonly Int32Array[], options: RolloutOptions): Promise<Rollout[]> {
    if (!Number.isInteger(options.maxNewTokens) || options.maxNewTokens < 1) {
      throw new RangeError(`[rollout] maxNewTokens = ${options.maxNewTokens}; expected an integer ≥ 1`);
    }
    const model = policyTextModel(policy, this.options.backend ?? getDefaultBackend(), this.options.contextLength);
    const parallel = Math.max(1, Math.min(this.options.parallel ?? prompts.length, prompts.length));
    const scheduler = new Scheduler(model, { parallel, maxQueue: prompts.length, prefixReuse: false });
    const stop = new Set(options.stopIds ?? []);
    const runs = prompts.map((prompt, i) => {
      if (prompt.length + 1 > scheduler.contextLength) {
        throw new RangeError(`[rollout] prompt ${i} has ${prompt.length} tokens; the context length is ${scheduler.contextLength}`);
      }
      const ids: number[] = [];
      const logProbs: number[] = [];
      const done = scheduler.submit({
        promptIds: [...prompt],
        maxTokens: Math.min(options.maxNewTokens, scheduler.contextLength - prompt.length),
        sampler: new Sampler({ temperature: options.temperature, topP: options.topP ?? 1, topK: 0, minP: 0, seed: (options.seed ?? 0) + i }),
        stopTokenIds: stop,
        topLogprobs: 0,
        onToken: (e) => {
          ids.push(e.id);
          logProbs.push(e.logprob ?? Number.NaN);
        },
      });
      return done.then((r): Rollout => {
        if (r.finishReason === "error") throw new Error(`[rollout] generation for prompt ${i} failed: ${r.error?.message ?? "unknown error"}`);
        return { ids: Int32Array.from(ids), logProbs: Float32Array.from(logProbs), finishReason: r.finishReason === "stop" ? "stop" : "length" };
      });
    });
    return Promise.all(runs);
  }
}

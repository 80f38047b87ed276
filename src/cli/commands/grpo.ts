// `zhiyu grpo --model DIR --data PROMPTS --out DIR --reward arithmetic …`: GRPO (RL from verifiable rewards) of a
// causal LM, all weights or LoRA adapters, on the shared training loop. The rollouts come from the inference engine
// (src/infer/rollout.ts: batched decoding with KV caches over the policy's live weights), injected here because
// train never imports infer; the reward functions are src/tools/verifiable-rewards.ts. See docs/alignment.md.
// Leaves out: PPO (a value model), reward models as rewards.
import { readFrozenBase } from "../../infer/frozen-base.js";
import { createBackend } from "../../backend/index.js";
import { EngineRolloutGenerator } from "../../infer/rollout.js";
import { DEFAULT_GRPO, type GrpoSettings } from "../../train/objectives/grpo.js";
import { runGrpoTraining } from "../../train/rl-run.js";
import { parseRewards } from "../../tools/verifiable-rewards.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";
import { withStopSignals } from "../stop-signal.js";
import { PREFERENCE_FLAGS, preferenceOptions } from "./rm.js";

const D = DEFAULT_GRPO;
const HELP = `usage: zhiyu grpo --model DIR --data PROMPTS --out DIR --reward KIND [options]

  --model DIR           Hugging Face folder of a causal LM (the policy's start and the frozen reference)
  --data FILE           prompts (repeatable): JSONL {"prompt": text | messages, …fields} or {"prompt_ids": […]}; the
                        fields (answer, expression, schema, pattern, sources) are what the rewards check
  --reward KIND         repeatable, summed: arithmetic (last number = answer/expression, exact), json-schema[:FILE]
                        (the reply validates against the record's schema or FILE's), regex:PATTERN, cite ([id] of sources)
  --out DIR             run folder (checkpoints/, metrics.jsonl); an existing run resumes (--no-resume: start again)
  --lora SPEC           train LoRA adapters (r=16,alpha=32,targets=q,k,v,o,gate,up,down); the reference is the base
  --group-size G (${D.groupSize})  --prompts-per-step N (${D.promptsPerStep})  --max-new-tokens N (${D.maxNewTokens})
  --temperature T (${D.temperature})  --top-p P (${D.topP})  --beta β (${D.beta}; 0 = no reference)  --epsilon ε (${D.epsilonLow})  --epsilon-high ε
  --loss grpo|bnpo|dapo|dr_grpo (${D.lossType})  --scale-rewards group|batch|none (${D.scaleRewards})  --num-iterations μ (${D.numIterations})
  --steps N  --epochs E  --lr LR  --min-lr  --warmup N  --weight-decay  --grad-clip  --seed S  --dtype f32|bf16  --threads N
  --val-every K (held-out prompts, evaluated greedily before and after)  --checkpoint-every K  --keep-last N  --log-every N`;

export async function run(argv: string[]): Promise<number> {
  const s = { type: "string" } as const;
  const { values } = parseFlags({ args: argv, options: { ...PREFERENCE_FLAGS, reward: { type: "string", multiple: true },
    "group-size": s, "prompts-per-step": s, "max-new-tokens": s, temperature: s, "top-p": s, beta: s, epsilon: s, "epsilon-high": s,
    loss: s, "scale-rewards": s, "num-iterations": s, "rollout-parallel": s } }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const options = preferenceOptions(values, HELP);
  const num = (flag: string, fallback: number): number => {
    const raw = (values as Record<string, unknown>)[flag];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new UsageError(`--${flag} expects a number, got ${String(raw)}`);
    return n;
  };
  const epsilon = num("epsilon", D.epsilonLow);
  const grpo: GrpoSettings = {
    groupSize: num("group-size", D.groupSize), promptsPerStep: num("prompts-per-step", D.promptsPerStep),
    maxNewTokens: num("max-new-tokens", D.maxNewTokens), temperature: num("temperature", D.temperature), topP: num("top-p", D.topP),
    beta: num("beta", D.beta), epsilonLow: epsilon, epsilonHigh: num("epsilon-high", epsilon),
    lossType: (values.loss ?? D.lossType) as GrpoSettings["lossType"], scaleRewards: (values["scale-rewards"] ?? D.scaleRewards) as GrpoSettings["scaleRewards"],
    numIterations: num("num-iterations", D.numIterations),
  };
  let rewards;
  try {
    rewards = parseRewards(values.reward ?? []);
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP}`);
  }
  const threads = values.threads !== undefined ? Number(values.threads) : undefined;
  const backend = createBackend(threads !== undefined ? { threads } : {});
  const generator = new EngineRolloutGenerator({ backend, parallel: values["rollout-parallel"] !== undefined ? num("rollout-parallel", 0) : undefined });
  const r = await withStopSignals("grpo", (shouldStop) => runGrpoTraining({ frozenBase: (file) => readFrozenBase(file, backend),
    options, grpo, rewards, generator, backend, stdout: process.stdout, resume: !values["no-resume"], shouldStop,
  }));
  const fmt = (h: typeof r.before) => (h ? `${h.meanReward.toFixed(4)} (solved ${(100 * h.solved).toFixed(1)}%)` : "n/a");
  console.log(`GRPO finished at step ${r.finalStep}; held-out reward before ${fmt(r.before)}, after ${fmt(r.after)}` +
    (r.adapterDir ? `; adapter in ${r.adapterDir}` : r.lastCheckpoint ? `; model in ${r.lastCheckpoint.dir}` : ""));
  return 0;
}

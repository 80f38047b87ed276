// `zhiyu ppo --model SFT --reward-model RM --data PROMPTS --out DIR`: RLHF with PPO as in InstructGPT (TRL's
// PPOTrainer arithmetic): rollouts from the inference engine (src/infer/rollout.ts, injected here because train
// never imports infer), a per-token KL penalty to the frozen starting model, the reward model's score (zhiyu rm),
// GAE, clipped policy and value losses, a value head on the policy. See docs/alignment.md.
// --kl-target turns on the adaptive KL coefficient; --ptx-coef γ --ptx-data FILE mixes in the pretraining loss
// (PPO-ptx); --value-trunk detached keeps the value loss out of the policy's weights. Leaves out: a separate critic model.
import { readFrozenBase } from "../../infer/frozen-base.js";
import { createBackend } from "../../backend/index.js";
import { EngineRolloutGenerator } from "../../infer/rollout.js";
import { DEFAULT_PPO, type PpoSettings } from "../../train/objectives/ppo.js";
import { DEFAULT_PPO_MATH, type KlEstimator } from "../../train/objectives/ppo-math.js";
import { runPpoTraining } from "../../train/rl-run.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";
import { withStopSignals } from "../stop-signal.js";
import { PREFERENCE_FLAGS, preferenceOptions } from "./rm.js";

const D = { ...DEFAULT_PPO, ...DEFAULT_PPO_MATH };
const HELP = `usage: zhiyu ppo --model DIR --reward-model RM --data PROMPTS --out DIR [options]

  --model DIR           Hugging Face folder of the SFT model (the policy's start and the frozen reference)
  --reward-model RM     a reward model folder (zhiyu rm train: …ForSequenceClassification, one label), same tokenizer
  --data FILE           prompts (repeatable): JSONL {"prompt": text | messages} or {"prompt_ids": […]}
  --out DIR             run folder (checkpoints/, metrics.jsonl); an existing run resumes (--no-resume: start again)
  --lora SPEC           train LoRA adapters (+ the value head) instead of every weight
  --prompts-per-rollout N (${D.promptsPerRollout})  --num-mini-batches N (${D.numMiniBatches})  --ppo-epochs N (${D.numPpoEpochs})
  --max-new-tokens N (${D.maxNewTokens})  --temperature T (${D.temperature})  --kl-coef β (${D.klCoef})  --kl-estimator k1|k3 (${D.klEstimator})
  --kl-target K         adapt β after every rollout toward K nats of KL per sampled response token (Ziegler et al.'s
                        controller, trl's AdaptiveKLController; off by default: β fixed)  --kl-horizon N (${D.klHorizon} samples)
  --ptx-coef γ          PPO-ptx (InstructGPT eq. 2): add γ × the next-token loss of a pretraining batch to every
                        minibatch's loss (0 = plain PPO); needs --ptx-data
  --ptx-data FILE       pretraining text for PPO-ptx: .txt / .json / .jsonl (as zhiyu data prepare reads them) or a
                        token file / shard folder  --ptx-batch N (rows; the minibatch's)  --ptx-seq T (the rollout rows')
  --value-trunk shared|detached (${D.valueTrunk})  shared: the value loss trains the policy's trunk as well (trl's
                        value-head model); detached: the value head reads the trunk without a gradient path
  --gamma γ (${D.gamma})  --lam λ (${D.lam})  --cliprange ε (${D.cliprange})  --cliprange-value ε (${D.cliprangeValue})  --vf-coef c (${D.vfCoef})
  --steps N (optimizer steps = minibatches)  --epochs E  --lr LR  --min-lr  --warmup N  --weight-decay  --grad-clip  --seed S
  --dtype f32|bf16  --threads N  --val-every K (held-out prompts scored greedily before and after)
  --checkpoint-every K  --keep-last N  --log-every N`;

export async function run(argv: string[]): Promise<number> {
  const s = { type: "string" } as const;
  const { values } = parseFlags({ args: argv, options: { ...PREFERENCE_FLAGS, "reward-model": s, "prompts-per-rollout": s,
    "num-mini-batches": s, "ppo-epochs": s, "max-new-tokens": s, temperature: s, "kl-coef": s, "kl-estimator": s, "kl-target": s, "kl-horizon": s, gamma: s, lam: s,
    cliprange: s, "cliprange-value": s, "vf-coef": s, "ptx-coef": s, "ptx-data": s, "ptx-batch": s, "ptx-seq": s, "value-trunk": s } }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const options = preferenceOptions(values, HELP);
  if (!values["reward-model"]) throw new UsageError(`--reward-model RM is required (train one with zhiyu rm train)\n\n${HELP}`);
  const num = (flag: string, fallback: number): number => {
    const raw = (values as Record<string, unknown>)[flag];
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n)) throw new UsageError(`--${flag} expects a number, got ${String(raw)}`);
    return n;
  };
  const valueTrunk = values["value-trunk"] ?? D.valueTrunk;
  if (valueTrunk !== "shared" && valueTrunk !== "detached") throw new UsageError(`--value-trunk ${valueTrunk}; use shared or detached`);
  const estimator = values["kl-estimator"] ?? D.klEstimator;
  if (estimator !== "k1" && estimator !== "k3") throw new UsageError(`--kl-estimator ${estimator}; use k1 or k3`);
  const ppo: PpoSettings = {
    promptsPerRollout: num("prompts-per-rollout", D.promptsPerRollout), numMiniBatches: num("num-mini-batches", D.numMiniBatches),
    numPpoEpochs: num("ppo-epochs", D.numPpoEpochs), maxNewTokens: num("max-new-tokens", D.maxNewTokens), temperature: num("temperature", D.temperature),
    klCoef: num("kl-coef", D.klCoef), klEstimator: estimator as KlEstimator, gamma: num("gamma", D.gamma), lam: num("lam", D.lam),
    klTarget: values["kl-target"] === undefined ? null : num("kl-target", 0), klHorizon: num("kl-horizon", D.klHorizon),
    cliprange: num("cliprange", D.cliprange), cliprangeValue: num("cliprange-value", D.cliprangeValue), vfCoef: num("vf-coef", D.vfCoef),
    ptxCoef: num("ptx-coef", D.ptxCoef), ptxBatch: values["ptx-batch"] === undefined ? null : num("ptx-batch", 0),
    ptxSeq: values["ptx-seq"] === undefined ? null : num("ptx-seq", 0), valueTrunk,
  };
  const threads = values.threads !== undefined ? Number(values.threads) : undefined;
  const backend = createBackend(threads !== undefined ? { threads } : {});
  const generator = new EngineRolloutGenerator({ backend });
  const r = await withStopSignals("ppo", (shouldStop) => runPpoTraining({ frozenBase: (file) => readFrozenBase(file, backend),
    options, ppo, rewardModel: values["reward-model"]!, ...(values["ptx-data"] ? { ptxData: values["ptx-data"] } : {}), generator, backend, stdout: process.stdout, resume: !values["no-resume"], shouldStop,
  }));
  const fmt = (h: typeof r.before) => (h ? h.meanReward.toFixed(4) : "n/a");
  console.log(`PPO finished at step ${r.finalStep}; held-out reward-model score before ${fmt(r.before)}, after ${fmt(r.after)}` +
    (r.adapterDir ? `; adapter in ${r.adapterDir}` : r.lastCheckpoint ? `; model in ${r.lastCheckpoint.dir}` : ""));
  return 0;
}

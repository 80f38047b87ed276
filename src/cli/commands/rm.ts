// `zhiyu rm train|eval|score`: reward models. train: a Bradley–Terry reward model from preference pairs (a causal
// LM gets a fresh one-label score head; a …ForSequenceClassification folder trains further); eval: pairwise
// accuracy, mean margin and loss on pairs; score: one reward per line of a JSONL file ({"ids": […]} or
// {"prompt", "completion"}), as {"reward": x} lines with --json. Pair formats: docs/alignment.md. Also the flags
// the preference commands share (dpo.ts uses them).
// Leaves out: LoRA reward models.
import { readFileSync } from "node:fs";
import { createBackend } from "../../backend/index.js";
import { noGrad, setDefaultBackend, tidy } from "../../tensor/index.js";
import { parseLoraSpec } from "../../models/adapters/lora.js";
import { TrainModel } from "../../train/model.js";
import { sequenceRewards, padIdOf, evaluateRewardModel } from "../../train/objectives/reward.js";
import { DEFAULT_PREFERENCE_OPTIONS as D, type PreferenceRunOptions, preferenceEncoder, readSplitPairs, runRewardTraining } from "../../train/preference-run.js";
import { readRecords } from "../../train/preference-data.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";
import { withStopSignals } from "../stop-signal.js";
import { DATA_PARALLEL_HELP, launchDataParallel, runRank } from "../data-parallel-launch.js";

export const PREFERENCE_FLAGS_HELP = `  --model DIR           Hugging Face folder (config.json, model.safetensors, tokenizer files)
  --data FILE           preference pairs (repeatable): {"prompt","chosen","rejected"} JSONL, HH-RLHF {"chosen","rejected"}
                        full texts (.jsonl.gz too), llamafactory's {"conversations","chosen","rejected"} JSON, or token ids
  --out DIR             run folder (checkpoints/, metrics.jsonl); an existing run resumes (--no-resume: start again)
  --batch N (${D.batch} pairs)  --grad-accum N (${D.gradAccum})  --max-len T (${D.maxLen})  --steps N  --epochs E (${D.epochs})
  --lr LR (${D.lr})  --min-lr (${D.minLr})  --warmup N (${D.warmup})  --weight-decay (${D.weightDecay})  --grad-clip (${D.gradClip})
  --seed S (${D.seed})  --dtype f32|bf16  --threads N  --val-every K (${D.valEvery}; 0 = no held-out pairs)
  --checkpoint-every K (${D.checkpointEvery})  --keep-last N (${D.keepLast})  --log-every N (${D.logEvery})`;

const s = { type: "string" } as const;
export const PREFERENCE_FLAGS = {
  model: s, data: { type: "string", multiple: true }, out: s, batch: s, "grad-accum": s, "max-len": s, steps: s, epochs: s, lr: s,
  "min-lr": s, warmup: s, "weight-decay": s, "grad-clip": s, seed: s, dtype: s, threads: s, "val-every": s, "checkpoint-every": s,
  "keep-last": s, "log-every": s, lora: s, "no-resume": { type: "boolean" }, help: { type: "boolean", short: "h" },
} as const;

function num(flag: string, raw: string | undefined, fallback: number, integer: boolean, min = 0): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    throw new UsageError(`--${flag} expects ${integer ? "an integer" : "a number"} ≥ ${min}, got ${raw}`);
  }
  return n;
}

export function preferenceOptions(values: Record<string, string | string[] | boolean | undefined>, help: string): PreferenceRunOptions {
  const v = values as Record<string, string | undefined> & { data?: string[] };
  if (!v.model || !v.data?.length || !v.out) throw new UsageError(`--model, --data and --out are required\n\n${help}`);
  const dtype = v.dtype ?? "f32";
  if (dtype !== "f32" && dtype !== "bf16") throw new UsageError(`--dtype ${dtype} must be f32 or bf16`);
  return {
    model: v.model, data: v.data, out: v.out, dtype, lora: v.lora !== undefined ? parseLoraSpec(v.lora) : null,
    batch: num("batch", v.batch, D.batch, true, 1), gradAccum: num("grad-accum", v["grad-accum"], D.gradAccum, true, 1),
    maxLen: num("max-len", v["max-len"], D.maxLen, true, 2), steps: v.steps !== undefined ? num("steps", v.steps, 1, true, 1) : null,
    epochs: num("epochs", v.epochs, D.epochs, false), lr: num("lr", v.lr, D.lr, false), minLr: num("min-lr", v["min-lr"], D.minLr, false),
    warmup: num("warmup", v.warmup, D.warmup, true), weightDecay: num("weight-decay", v["weight-decay"], D.weightDecay, false),
    gradClip: num("grad-clip", v["grad-clip"], D.gradClip, false), seed: num("seed", v.seed, D.seed, true),
    valEvery: num("val-every", v["val-every"], D.valEvery, true), checkpointEvery: num("checkpoint-every", v["checkpoint-every"], D.checkpointEvery, true),
    keepLast: num("keep-last", v["keep-last"], D.keepLast, true, 1), logEvery: num("log-every", v["log-every"], D.logEvery, true, 1),
  };
}

const HELP = `usage: zhiyu rm train --model DIR --data PAIRS --out DIR [options]
       zhiyu rm eval  --model RM --data PAIRS [--json]
       zhiyu rm score --model RM --input-jsonl FILE [--json]

train:
${PREFERENCE_FLAGS_HELP}
  --center-rewards c (0) add c × mean((r_chosen + r_rejected)²) to the loss (trl's center_rewards_coefficient, 0.01
                        there): each pair's mean reward is pulled to 0, so different prompts' scores share one scale
${DATA_PARALLEL_HELP}
eval:   pairwise accuracy (reward(chosen) > reward(rejected)), mean margin and Bradley–Terry loss over all pairs
score:  FILE lines {"ids": [...]} or {"prompt": "...", "completion": "..."}; prints one reward per line ({"reward": x} with --json)`;

function loadRewardModel(dir: string): TrainModel {
  const model = TrainModel.fromHfFolder(dir, "f32");
  if (model.scoreLabels === null) {
    throw new UsageError(`${dir} has no score head ('score.weight', a …ForSequenceClassification config.json); it is a causal LM, not ` +
      "a reward model. Train one with `zhiyu rm train --model " + dir + " --data PAIRS --out RM`");
  }
  return model;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (sub === undefined || sub === "--help" || sub === "-h") {
    console.log(HELP);
    return sub === undefined ? 2 : 0;
  }
  if (sub === "train") {
    const launch = launchDataParallel("rm train", rest);
    if (launch.standDown) return 0;
    const { values } = parseFlags({ args: launch.argv, options: { ...PREFERENCE_FLAGS, "center-rewards": s } }, HELP);
    if (values.help) { console.log(HELP); return 0; }
    const options = preferenceOptions(values, HELP);
    const centerRewards = num("center-rewards", values["center-rewards"], 0, false);
    const threads = values.threads !== undefined ? num("threads", values.threads, 1, true, 1) : undefined;
    const backend = createBackend({ threads: threads ?? launch.threadsPerRank });
    const r = await runRank(launch, "rm train", () => withStopSignals("rm train", (shouldStop) =>
      runRewardTraining({ options, centerRewards, backend, stdout: launch.stdout, resume: !values["no-resume"], shouldStop, distributed: launch.settings })));
    if (launch.rank === 0) console.log(`reward model finished at step ${r.finalStep}` + (r.valLoss !== null ? `, held-out loss ${r.valLoss.toFixed(4)}` : "") +
      (r.lastCheckpoint ? `; model in ${r.lastCheckpoint.dir}` : ""));
    return 0;
  }
  const { values } = parseFlags({ args: rest, options: { model: s, data: { type: "string", multiple: true }, "input-jsonl": s,
    "max-len": s, batch: s, threads: s, json: { type: "boolean" }, help: { type: "boolean", short: "h" } } }, HELP);
  if (values.help) { console.log(HELP); return 0; }
  if (!values.model) throw new UsageError(`--model is required\n\n${HELP}`);
  const threads = values.threads !== undefined ? num("threads", values.threads, 1, true, 1) : undefined;
  setDefaultBackend(createBackend(threads !== undefined ? { threads } : {}));
  const maxLen = num("max-len", values["max-len"], 1 << 30, true, 2);
  if (sub === "eval") {
    if (!values.data?.length) throw new UsageError(`--data is required\n\n${HELP}`);
    const model = loadRewardModel(values.model);
    const { train } = readSplitPairs(values.model, values.data, 0, null);
    const r = evaluateRewardModel(model, train, num("batch", values.batch, 8, true, 1), Math.min(maxLen, model.contextLength));
    if (values.json) console.log(JSON.stringify(r));
    else console.log(`${r.pairs} pairs: accuracy ${(100 * r.accuracy).toFixed(2)}%, mean margin ${r.meanMargin.toFixed(4)}, loss ${r.loss.toFixed(4)}`);
    return 0;
  }
  if (sub === "score") {
    const file = values["input-jsonl"];
    if (!file) throw new UsageError(`--input-jsonl is required\n\n${HELP}`);
    readFileSync(file); // a missing file fails here, naming it, before the model loads
    const model = loadRewardModel(values.model);
    const enc = preferenceEncoder(values.model);
    const pad = padIdOf(model);
    for (const { record, where } of readRecords(file)) {
      let ids: number[];
      if (Array.isArray(record.ids)) {
        if (!record.ids.every((x) => Number.isInteger(x) && x >= 0 && x < model.vocabSize)) throw new UsageError(`${where}: "ids" must be token ids below ${model.vocabSize}`);
        ids = record.ids as number[];
      } else if (typeof record.prompt === "string" && typeof record.completion === "string") {
        ids = [...enc.tokenizer.encode(record.prompt, { addSpecialTokens: true, parseSpecial: false }),
          ...enc.tokenizer.encode(record.completion, { addSpecialTokens: false, parseSpecial: false }), ...(enc.eosId !== null ? [enc.eosId] : [])];
      } else throw new UsageError(`${where}: expected {"ids": [...]} or {"prompt": "...", "completion": "..."}`);
      if (ids.length === 0) throw new UsageError(`${where}: no tokens to score`);
      ids = ids.slice(-Math.min(maxLen, model.contextLength));
      // One row, no padding: the reward is read at the last token that is not the pad id (transformers' rule).
      const reward = noGrad(() => tidy(() => sequenceRewards(model, Int32Array.from(ids), 1, ids.length, pad).item()));
      console.log(values.json ? JSON.stringify({ reward }) : String(reward));
    }
    return 0;
  }
  throw new UsageError(`zhiyu rm: unknown sub-command '${sub}' (have: train, eval, score)\n\n${HELP}`);
}

// `zhiyu sft --model DIR --data FILE... --out DIR`: supervised fine-tuning on chat data (OpenAI messages JSONL,
// Alpaca JSON, ShareGPT JSON; the format of each file is detected and printed), rendered with the model's chat
// template, loss on assistant tokens only, short examples packed. Running the same command again resumes from
// the newest checkpoint in --out. See src/train/sft.ts.
// Leaves out: a config file (the recipe drives SFT in code).
import { readFrozenBase } from "../../infer/frozen-base.js";
import { createBackend } from "../../backend/index.js";
import { DEFAULT_SFT_OPTIONS, runSft, type SftOptions } from "../../train/sft.js";
import { UsageError } from "../errors.js";
import { withStopSignals } from "../stop-signal.js";
import { DATA_PARALLEL_HELP, launchDataParallel, runRank } from "../data-parallel-launch.js";
import { parseFlags } from "../flags.js";
import { parseLoraSpec } from "../../models/adapters/lora.js";

const D = DEFAULT_SFT_OPTIONS;
const HELP = `usage: zhiyu sft --model DIR --data FILE... --out DIR [options]

  --model DIR           Hugging Face folder to fine-tune (config.json, model.safetensors, tokenizer files), or a
                        .gguf file as a frozen base for --lora (QLoRA-style: its quantized matrices stay encoded)
  --data FILE           chat data: OpenAI {"messages": [...]} JSONL, Alpaca JSON, ShareGPT JSON (repeatable)
  --text FILE           plain text (documents separated by blank lines) mixed in as fully trained replay rows (repeatable)
  --out DIR             run folder (checkpoints/, metrics.jsonl); an existing run resumes
  --seq T (${D.seq})  --batch B (${D.batch})  --grad-accum N (${D.gradAccum})  --steps N (default: --epochs passes)  --epochs E (${D.epochs})
  --schedule-steps N    the LR schedule's length (default: the run's steps; a resumed run keeps its checkpoint's)
  --lr LR (${D.lr})  --min-lr (${D.minLr})  --warmup N (${D.warmup})  --weight-decay (${D.weightDecay})  --grad-clip (${D.gradClip})
  --lora SPEC           train LoRA adapters instead of every weight: r=16,alpha=32,dropout=0.05,rslora=true,targets=q,k,v,o,gate,up,down
                        (writes OUT/adapter/ as a PEFT folder and OUT/adapter.gguf for llama.cpp)
  --seed S (${D.seed})  --dtype f32|bf16  --threads N  --checkpoint-every K (${D.checkpointEvery})  --keep-last N (${D.keepLast})
  --val-every K         hold out every K-th packed row for validation (${D.valEvery}; 0 = none)
  --no-spike-guard      --spike-zscore Z (${D.spikeZscore})  --max-rollbacks N (${D.maxRollbacks})  --spike-lr-factor F (${D.spikeLrFactor})
  --spike-skip N (${D.spikeSkip})  --no-resume
${DATA_PARALLEL_HELP}`;

function num(flag: string, raw: string | undefined, fallback: number, integer: boolean): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n))) throw new UsageError(`--${flag} expects ${integer ? "an integer" : "a number"}, got ${raw}`);
  return n;
}

export async function run(allArgs: string[]): Promise<number> {
  const launch = launchDataParallel("sft", allArgs);
  if (launch.standDown) return 0;
  const s = { type: "string" } as const;
  const { values } = parseFlags({
    args: launch.argv,
    options: {
      model: s, lora: s, data: { type: "string", multiple: true }, text: { type: "string", multiple: true }, out: s, seq: s, batch: s, "grad-accum": s, steps: s, "schedule-steps": s, epochs: s, lr: s, "min-lr": s,
      warmup: s, "weight-decay": s, "grad-clip": s, seed: s, dtype: s, threads: s, "checkpoint-every": s, "keep-last": s,
      "val-every": s, "no-spike-guard": { type: "boolean" }, "spike-zscore": s, "max-rollbacks": s, "spike-lr-factor": s, "spike-skip": s, "no-resume": { type: "boolean" },
      help: { type: "boolean", short: "h" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.model || !values.data?.length || !values.out) throw new UsageError(`--model, --data and --out are required\n\n${HELP}`);
  const dtype = values.dtype ?? "f32";
  if (dtype !== "f32" && dtype !== "bf16") throw new UsageError(`--dtype ${dtype} must be f32 or bf16`);
  const options: SftOptions = {
    ...D, model: values.model, data: values.data, text: values.text ?? [], out: values.out,
    seq: num("seq", values.seq, D.seq, true), batch: num("batch", values.batch, D.batch, true),
    gradAccum: num("grad-accum", values["grad-accum"], D.gradAccum, true),
    steps: values.steps !== undefined ? num("steps", values.steps, 0, true) : null,
    scheduleSteps: values["schedule-steps"] !== undefined ? num("schedule-steps", values["schedule-steps"], 0, true) : null, epochs: num("epochs", values.epochs, D.epochs, false),
    lr: num("lr", values.lr, D.lr, false), minLr: num("min-lr", values["min-lr"], D.minLr, false),
    warmup: num("warmup", values.warmup, D.warmup, true), weightDecay: num("weight-decay", values["weight-decay"], D.weightDecay, false),
    gradClip: num("grad-clip", values["grad-clip"], D.gradClip, false), seed: num("seed", values.seed, D.seed, true), dtype,
    checkpointEvery: num("checkpoint-every", values["checkpoint-every"], D.checkpointEvery, true),
    keepLast: num("keep-last", values["keep-last"], D.keepLast, true), valEvery: num("val-every", values["val-every"], D.valEvery, true),
    spikeGuard: !values["no-spike-guard"], spikeZscore: num("spike-zscore", values["spike-zscore"], D.spikeZscore, false),
    maxRollbacks: num("max-rollbacks", values["max-rollbacks"], D.maxRollbacks, true),
    spikeLrFactor: num("spike-lr-factor", values["spike-lr-factor"], D.spikeLrFactor, false),
    spikeSkip: num("spike-skip", values["spike-skip"], D.spikeSkip, true),
    lora: values.lora !== undefined ? parseLoraSpec(values.lora) : null,
  };
  if (options.seq < 1 || options.batch < 1 || options.gradAccum < 1 || (options.steps !== null && options.steps < 1) ||
    (options.scheduleSteps !== null && options.scheduleSteps < 1) || !(options.lr > 0)) {
    throw new UsageError("--seq, --batch, --grad-accum, --steps and --schedule-steps must be positive and --lr > 0");
  }
  if (!(options.spikeLrFactor > 0 && options.spikeLrFactor <= 1)) throw new UsageError(`--spike-lr-factor ${options.spikeLrFactor} must be in (0, 1]`);
  if (options.spikeSkip < 0) throw new UsageError(`--spike-skip ${options.spikeSkip} must be ≥ 0`);
  const threads = values.threads !== undefined ? num("threads", values.threads, 0, true) : undefined;
  const backend = createBackend({ threads: threads ?? launch.threadsPerRank });
  // SIGINT/SIGTERM: finish the current step, write a checkpoint, exit (rerun the command to resume).
  const r = await runRank(launch, "sft", () => withStopSignals("sft", (shouldStop) =>
    runSft({ frozenBase: (file) => readFrozenBase(file, backend), options, backend, stdout: launch.stdout, resume: !values["no-resume"], shouldStop, distributed: launch.settings })));
  if (launch.rank === 0) console.log(`SFT finished at step ${r.finalStep}/${r.totalSteps}` + (r.valLoss !== null ? `, validation loss ${r.valLoss.toFixed(4)}` : "") +
    (r.lastCheckpoint ? `; model in ${r.lastCheckpoint.dir}` : ""));
  return 0;
}

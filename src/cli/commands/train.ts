// `zhiyu train`: pretraining of GPT-2-style and LLaMA-style decoders. This file turns flags (and an optional
// JSON config file whose keys are the flag names) into TrainOptions, sets up the backend, and hands over to
// src/train/trainer.ts. `--resume DIR` restores the saved options; flags given with it override them.
import { parseArgs } from "node:util";
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { DEFAULT_OPTIONS, TrainConfigError, validateOptions, type TrainOptions } from "../../train/options.js";
import { PRESETS } from "../../train/presets.js";
import { runTraining } from "../../train/trainer.js";
import { readTrainerState } from "../../train/loop-state.js";
import { resolveResume } from "../../train/checkpoint.js";
import { createBackend } from "../../backend/index.js";
import { withStopSignals } from "../stop-signal.js";
import { DATA_PARALLEL_HELP, launchDataParallel, runRank } from "../data-parallel-launch.js";
import { loadTokenizer } from "../../tokenizers/load.js";
import { createSegmenter } from "../../tools/segmenter.js";
import { type MaskingOptions, wordStartsFromVocabulary } from "../../train/objectives/mlm.js";

type Kind = "int" | "float" | "string" | "bool" | "nullable-int" | "nullable-float";

/** flag → [option key, kind]. Boolean flags also have a --no-<flag> spelling where that is the useful one. */
const FLAGS: Record<string, [keyof TrainOptions, Kind]> = {
  preset: ["preset", "string"], "model-config": ["modelConfig", "string"], init: ["init", "string"],
  "vocab-size": ["vocabSize", "nullable-int"], data: ["data", "string"], "val-data": ["valData", "string"],
  tokenizer: ["tokenizer", "string"], out: ["out", "string"],
  batch: ["batch", "int"], seq: ["seq", "int"], steps: ["steps", "int"], "schedule-steps": ["scheduleSteps", "nullable-int"],
  "grad-accum": ["gradAccum", "int"],
  lr: ["lr", "float"], "min-lr": ["minLr", "float"], warmup: ["warmup", "int"], schedule: ["schedule", "string"],
  beta1: ["beta1", "float"], beta2: ["beta2", "float"], eps: ["eps", "float"], "weight-decay": ["weightDecay", "float"],
  "decay-all": ["decayAll", "bool"], "grad-clip": ["gradClip", "float"], shuffle: ["shuffle", "bool"],
  seed: ["seed", "int"], dtype: ["dtype", "string"], threads: ["threads", "nullable-int"],
  "eval-every": ["evalEvery", "int"], "eval-batches": ["evalBatches", "int"],
  "checkpoint-every": ["checkpointEvery", "int"], "keep-last": ["keepLast", "int"],
  "spike-guard": ["spikeGuard", "bool"], "spike-window": ["spikeWindow", "int"], "spike-zscore": ["spikeZscore", "float"],
  "max-rollbacks": ["maxRollbacks", "int"], "spike-lr-factor": ["spikeLrFactor", "float"], "spike-skip": ["spikeSkip", "int"],
  "json-log": ["jsonLog", "bool"], "log-every": ["logEvery", "int"], "peak-flops": ["peakFlops", "nullable-float"],
  objective: ["objective", "string"], "whole-word": ["wholeWord", "bool"],
};

const HELP = `usage: zhiyu train (--preset NAME | --model-config FILE | --init DIR) --data FILE|DIR [options]
       zhiyu train --resume RUN_DIR|CHECKPOINT_DIR [options to override]

model     --preset NAME (${PRESETS.map((p) => p.name).join(", ")}), --model-config FILE (a config.json),
          --init DIR (a Hugging Face folder: config.json + model.safetensors), --vocab-size N
data      --data FILE|DIR (Zhiyu shards, llm.c .bin, raw uint16), --val-data FILE|DIR, --tokenizer PATH (copied
          into checkpoints), --batch B (8), --seq T (128), --grad-accum N (1), --target-batch ROWS (sets --grad-accum),
          --no-shuffle (llm.c's sequential order), --seed S (1337)
optimizer --steps N (1000), --lr LR (6e-4), --min-lr (0), --warmup N (0), --schedule cosine|linear|constant,
          --schedule-steps N (the schedule's length; default --steps, and on --resume the checkpoint's),
          --beta1 (0.9), --beta2 (0.95), --eps (1e-8), --weight-decay (0.1; not on norms/biases/embeddings unless
          --decay-all), --grad-clip (1.0; 0 = off), --dtype f32|bf16, --threads N
run       --out DIR (metrics.jsonl, checkpoints/), --checkpoint-every K (0 = at exit only), --keep-last N (3),
          --eval-every K (0), --eval-batches N (8), --resume DIR, --config FILE (JSON, keys = flag names)
guard     --no-spike-guard, --spike-window N (50), --spike-zscore Z (6), --max-rollbacks N (5),
          --spike-lr-factor F (1), --spike-skip N (0)
output    --json-log (one JSON line per step on stdout), --log-every N (10), --peak-flops F (for MFU)
objective --objective causal-lm|mlm (mlm: BERT presets bert-tiny/bert-small/bert-base or a BERT --init; 15% masked,
          80/10/10; needs --tokenizer), --whole-word (mask whole words: WordPiece pieces, Chinese words by jieba)
${DATA_PARALLEL_HELP}`;

function parseValue(flag: string, kind: Kind, raw: unknown): unknown {
  if (kind === "bool") {
    if (typeof raw === "boolean") return raw;
    if (raw === "true" || raw === "false") return raw === "true";
    throw new UsageError(`--${flag} takes no value (or true/false in a config file), got ${JSON.stringify(raw)}`);
  }
  if (kind === "string") {
    if (typeof raw !== "string") throw new UsageError(`--${flag} expects a string, got ${JSON.stringify(raw)}`);
    return raw;
  }
  if ((kind === "nullable-int" || kind === "nullable-float") && raw === null) return null;
  const n = typeof raw === "number" ? raw : Number(raw);
  if (typeof raw === "string" && raw.trim() === "" || !Number.isFinite(n)) {
    throw new UsageError(`--${flag} expects a number, got ${JSON.stringify(raw)}`);
  }
  if ((kind === "int" || kind === "nullable-int") && !Number.isInteger(n)) {
    throw new UsageError(`--${flag} expects an integer, got ${JSON.stringify(raw)}`);
  }
  return n;
}

export interface ParsedTrainArgs {
  /** Only the settings given explicitly (config file, then flags). */
  given: Partial<TrainOptions>;
  resume: string | null;
  targetBatch: number | null;
  backend: "cpu" | "ref" | null;
}

export function parseTrainArgs(argv: string[]): ParsedTrainArgs | "help" {
  const options: Record<string, { type: "string" | "boolean" }> = {
    resume: { type: "string" }, config: { type: "string" }, "target-batch": { type: "string" },
    backend: { type: "string" }, help: { type: "boolean" },
  };
  for (const [flag, [, kind]] of Object.entries(FLAGS)) {
    options[flag] = { type: kind === "bool" ? "boolean" : "string" };
    if (kind === "bool") options[`no-${flag}`] = { type: "boolean" };
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({ args: argv, options, strict: true, allowPositionals: false }) as {
      values: Record<string, string | boolean | undefined>;
    });
  } catch (err) {
    throw new UsageError(`${(err as Error).message}\n\n${HELP}`);
  }
  if (values.help) return "help";
  const given: Record<string, unknown> = {};
  if (typeof values.config === "string") {
    let json: unknown;
    try {
      json = JSON.parse(readFileSync(values.config, "utf8"));
    } catch (err) {
      throw new UsageError(`--config ${values.config}: ${(err as Error).message}`);
    }
    if (!json || typeof json !== "object" || Array.isArray(json)) {
      throw new UsageError(`--config ${values.config}: expected a JSON object whose keys are flag names`);
    }
    for (const [key, raw] of Object.entries(json as Record<string, unknown>)) {
      const spec = FLAGS[key];
      if (!spec) {
        throw new UsageError(`--config ${values.config}: unknown key "${key}"; keys are the flag names: ` +
          Object.keys(FLAGS).join(", "));
      }
      given[spec[0]] = parseValue(key, spec[1], raw);
    }
  }
  for (const [flag, [key, kind]] of Object.entries(FLAGS)) {
    if (values[flag] !== undefined) given[key] = parseValue(flag, kind, values[flag]);
    if (kind === "bool" && values[`no-${flag}`]) given[key] = false;
  }
  let targetBatch: number | null = null;
  if (typeof values["target-batch"] === "string") targetBatch = parseValue("target-batch", "int", values["target-batch"]) as number;
  const backend = values.backend as string | undefined;
  if (backend !== undefined && backend !== "cpu" && backend !== "ref") throw new UsageError(`--backend ${backend} must be cpu or ref`);
  return {
    given: given as Partial<TrainOptions>, resume: typeof values.resume === "string" ? values.resume : null,
    targetBatch, backend: backend ?? null,
  };
}

/** Fills defaults, applies --target-batch, validates. */
export function resolveOptions(parsed: ParsedTrainArgs, base: Partial<TrainOptions> = {}): TrainOptions {
  const merged = { ...DEFAULT_OPTIONS, data: "", ...base, ...parsed.given } as TrainOptions;
  if (parsed.targetBatch !== null) {
    if (parsed.targetBatch % merged.batch !== 0) {
      throw new TrainConfigError(`--target-batch ${parsed.targetBatch} must be a multiple of --batch ${merged.batch}`);
    }
    merged.gradAccum = parsed.targetBatch / merged.batch;
  }
  return validateOptions(merged);
}

export async function run(allArgs: string[]): Promise<number> {
  const launch = launchDataParallel("train", allArgs);
  if (launch.standDown) return 0;
  const argv = launch.argv;
  const parsed = parseTrainArgs(argv);
  if (parsed === "help" || (parsed.resume === null && argv.length === 0)) {
    console.log(HELP);
    return parsed === "help" ? 0 : 2;
  }
  let options: TrainOptions;
  let resume: ReturnType<typeof resolveResume> | null = null;
  if (parsed.resume !== null) {
    resume = resolveResume(parsed.resume);
    const saved = readTrainerState<TrainOptions>(resume.checkpoint.dir).options;
    options = resolveOptions(parsed, { ...saved, out: resume.runDir });
  } else {
    options = resolveOptions(parsed);
  }
  const backend = createBackend({ kind: parsed.backend ?? undefined, threads: options.threads ?? launch.threadsPerRank });
  // SIGINT/SIGTERM: finish the current step, write a checkpoint, exit. A second signal exits at once.
  await runRank(launch, "train", () => withStopSignals("train", (shouldStop) => runTraining({
    options, resume, backend, shouldStop, masking: options.objective === "mlm" ? mlmMasking(options) : null,
    distributed: launch.settings, stdout: launch.stdout,
    stderr: { write: (t) => void process.stderr.write(t), isTTY: Boolean(process.stderr.isTTY), columns: process.stderr.columns },
  })));
  return 0;
}

/** --objective mlm: [MASK], the special ids and (with --whole-word) word starts from the --tokenizer. */
function mlmMasking(o: TrainOptions): MaskingOptions {
  const tok = loadTokenizer(o.tokenizer!);
  const maskId = tok.tokenToId("[MASK]") ?? tok.tokenToId("<mask>");
  if (maskId === undefined) throw new UsageError(`--tokenizer ${o.tokenizer}: no [MASK] (or <mask>) token; --objective mlm needs one`);
  const specialIds = new Set<number>();
  for (let id = 0; id < tok.vocabSize; id++) if (tok.isSpecial(id)) specialIds.add(id);
  const segmenter = o.wholeWord ? createSegmenter() : null;
  return {
    maskId, vocabSize: tok.vocabSize, specialIds,
    wordStart: o.wholeWord ? wordStartsFromVocabulary((id) => tok.idToToken(id), (text) => segmenter!.cut(text)) : undefined,
  };
}

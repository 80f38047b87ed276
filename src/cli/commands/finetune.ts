// `zhiyu finetune --task classify|tag|embed --model DIR --train FILE [--val FILE] --out DIR`: fine-tunes a BERT-family
// encoder on the shared training loop (src/train/finetune.ts): intent/emotion classification with a calibrated
// confidence and out-of-scope threshold, BIO slot tagging, or contrastive sentence embeddings. Running the same
// command again resumes from the newest checkpoint in --out. The finished model is OUT/model. Under mpirun -np N
// it trains data-parallel (src/train/finetune.ts), --batch staying the global batch.
// Leaves out: LoRA and cross-encoder (pair) classification.
import { createBackend } from "../../backend/index.js";
import { DEFAULT_FINETUNE_OPTIONS as D, runFinetune, type FinetuneOptions } from "../../train/finetune.js";
import { DATA_PARALLEL_HELP, launchDataParallel, runRank } from "../data-parallel-launch.js";
import { UsageError } from "../errors.js";
import { parseNgramSpec } from "../../tokenizers/sparse-ngrams.js";
import { parseFlags } from "../flags.js";
import { withStopSignals } from "../stop-signal.js";
import { FUSED_FLAGS, FUSED_HELP, runFusedFinetune } from "./finetune-fused.js";

const HELP = `usage: zhiyu finetune --task classify|tag|embed --model DIR --train FILE [--val FILE] --out DIR [options]

  --task classify       sequence classification; FILE: .jsonl {"text","label"} or .csv/.tsv with text,label columns
  --task tag            BIO token tagging; FILE: .jsonl {"tokens":[...],"tags":[...]} or CoNLL ("token TAG" lines)
  --task embed          sentence embeddings (in-batch negatives); FILE: .jsonl {"query","positive"} or 2-column .tsv/.csv
  --model DIR           a BERT-family Hugging Face folder with vocab.txt or tokenizer.json (an MLM checkpoint is fine)
  --val FILE            validation data (default: a seeded --val-fraction ${D.valFraction} of --train)
  --out DIR             run folder (checkpoints/, metrics.jsonl); the model lands in OUT/model; an existing run resumes
  --epochs E (${D.epochs})  --steps N  --batch B (${D.batch})  --max-len T (${D.maxLen})  --lr LR (${D.lr})  --min-lr (${D.minLr})
  --warmup F (share of steps, ${D.warmupFraction})  --weight-decay (${D.weightDecay})  --grad-clip (${D.gradClip})  --seed S (${D.seed})
  --dtype f32|bf16  --threads N  --checkpoint-every K (${D.checkpointEvery})  --keep-last N (${D.keepLast})  --log-every N (${D.logEvery})
  classify: --class-weights (balanced), --oos-label NAME (out-of-scope: a class if trained, plus a threshold on the
            temperature-calibrated confidence), --oos-budget F (validation accuracy the threshold may cost, ${D.oosBudget}),
            --sparse-ngrams SPEC (TF-IDF n-grams beside the encoder, e.g. word:1-2,char_wb:1-5; --sparse-min-df ${D.sparseMinDf},
            --sparse-max-features ${D.sparseMaxFeatures} per analyzer, --sparse-scale ${D.sparseScale})
${FUSED_HELP}
  classify, tag: --freeze-encoder (train the head only: pooler, classifier, sparse head; the encoder stays as loaded),
            --train-top-layers K (with --freeze-encoder: the last K encoder layers train too)
  embed:    --pooling mean|cls (${D.pooling})
  --no-resume           start over even if --out has checkpoints
  ${DATA_PARALLEL_HELP}
          (--batch is the global batch: each rank takes an equal row slice; embed gathers every rank's embeddings)`;

function num(flag: string, raw: string | undefined, fallback: number, integer: boolean, min = 0): number {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < min) {
    throw new UsageError(`--${flag} expects ${integer ? "an integer" : "a number"} ≥ ${min}, got ${raw}`);
  }
  return n;
}

export async function run(allArgs: string[]): Promise<number> {
  const launch = launchDataParallel("finetune", allArgs);
  if (launch.standDown) return 0;
  const argv = launch.argv;
  const s = { type: "string" } as const;
  const { values } = parseFlags({
    args: argv,
    options: {
      task: s, model: s, train: s, val: s, out: s, epochs: s, steps: s, batch: s, "max-len": s, lr: s, "min-lr": s, warmup: s,
      "weight-decay": s, "grad-clip": s, seed: s, dtype: s, threads: s, "checkpoint-every": s, "keep-last": s, "log-every": s,
      "class-weights": { type: "boolean" }, "oos-label": s, "oos-budget": s, pooling: s, "val-fraction": s,
      "sparse-ngrams": s, "sparse-min-df": s, "sparse-max-features": s, "sparse-scale": s, "freeze-encoder": { type: "boolean" }, "train-top-layers": s,
      "no-resume": { type: "boolean" }, help: { type: "boolean", short: "h" }, features: s,
      refit: { type: "boolean" }, "select-by": s, name: s, "encoder-cache": s, "sparse-epochs": s, "sparse-lr": s, "sparse-l2": s,
      "sparse-optimizer": s, "sparse-stem": { type: "boolean" }, "sparse-word-weight": s, neighbours: { type: "boolean" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const task = values.task;
  if (task !== "classify" && task !== "tag" && task !== "embed") throw new UsageError(`--task must be classify, tag or embed, got ${task ?? "(none)"}\n\n${HELP}`);
  if (!values.model || !values.train || !values.out) throw new UsageError(`--model, --train and --out are required\n\n${HELP}`);
  const features = values.features ?? "encoder";
  if (features !== "encoder" && features !== "sparse+encoder") throw new UsageError(`--features ${features} must be encoder or sparse+encoder`);
  const fusedOnly = FUSED_FLAGS.filter((k) => (values as Record<string, unknown>)[k] !== undefined);
  if (features === "sparse+encoder") {
    if (task !== "classify") throw new UsageError(`--features sparse+encoder is for --task classify, not ${task}`);
    if (launch.settings) throw new UsageError("--features sparse+encoder trains on one process; run it without mpirun");
    const jointOnly = ["epochs", "steps", "batch", "max-len", "lr", "min-lr", "warmup", "weight-decay", "grad-clip", "dtype", "checkpoint-every",
      "keep-last", "log-every", "sparse-ngrams", "sparse-min-df", "sparse-max-features", "sparse-scale", "freeze-encoder", "train-top-layers", "pooling", "no-resume"]
      .filter((k) => (values as Record<string, unknown>)[k] !== undefined);
    if (jointOnly.length > 0) throw new UsageError(`--${jointOnly[0]} trains the encoder's joint model; --features sparse+encoder does not use it (see --sparse-* and --help)`);
    return runFusedFinetune(values, values.threads !== undefined ? num("threads", values.threads, 0, true, 1) : undefined);
  }
  if (fusedOnly.length > 0) throw new UsageError(`--${fusedOnly[0]} goes with --features sparse+encoder`);
  const dtype = values.dtype ?? D.dtype;
  if (dtype !== "f32" && dtype !== "bf16") throw new UsageError(`--dtype ${dtype} must be f32 or bf16`);
  const pooling = values.pooling ?? D.pooling;
  if (pooling !== "mean" && pooling !== "cls") throw new UsageError(`--pooling ${pooling} must be mean or cls`);
  const options: FinetuneOptions = {
    task, model: values.model, train: values.train, val: values.val ?? null, out: values.out,
    valFraction: num("val-fraction", values["val-fraction"], D.valFraction, false), epochs: num("epochs", values.epochs, D.epochs, false),
    steps: values.steps !== undefined ? num("steps", values.steps, 1, true, 1) : null, batch: num("batch", values.batch, D.batch, true, 1),
    maxLen: num("max-len", values["max-len"], D.maxLen, true, 3), lr: num("lr", values.lr, D.lr, false), minLr: num("min-lr", values["min-lr"], D.minLr, false),
    warmupFraction: num("warmup", values.warmup, D.warmupFraction, false), weightDecay: num("weight-decay", values["weight-decay"], D.weightDecay, false),
    gradClip: num("grad-clip", values["grad-clip"], D.gradClip, false), seed: num("seed", values.seed, D.seed, true), dtype,
    classWeights: values["class-weights"] ?? false, oosLabel: values["oos-label"] ?? null, oosBudget: num("oos-budget", values["oos-budget"], D.oosBudget, false),
    sparseNgrams: values["sparse-ngrams"] ?? null, sparseMinDf: num("sparse-min-df", values["sparse-min-df"], D.sparseMinDf, true, 1),
    sparseMaxFeatures: num("sparse-max-features", values["sparse-max-features"], D.sparseMaxFeatures, true, 1),
    sparseScale: num("sparse-scale", values["sparse-scale"], D.sparseScale, false), freezeEncoder: values["freeze-encoder"] ?? false,
    trainTopLayers: num("train-top-layers", values["train-top-layers"], D.trainTopLayers, true),
    pooling, checkpointEvery: num("checkpoint-every", values["checkpoint-every"], D.checkpointEvery, true),
    keepLast: num("keep-last", values["keep-last"], D.keepLast, true), logEvery: num("log-every", values["log-every"], D.logEvery, true, 1),
  };
  if (task !== "classify" && options.sparseNgrams !== null) throw new UsageError(`--sparse-ngrams is for --task classify, not ${task}`);
  if (options.trainTopLayers > 0 && !options.freezeEncoder) throw new UsageError("--train-top-layers K goes with --freeze-encoder (without it every layer trains)");
  if (task === "embed" && options.freezeEncoder) throw new UsageError("--freeze-encoder is for --task classify or tag (an embedding model has no head to train)");
  if (options.sparseNgrams !== null) parseNgramSpec(options.sparseNgrams); // a bad SPEC fails before any data is read
  if (!(options.sparseScale > 0)) throw new UsageError(`--sparse-scale ${options.sparseScale} must be > 0`);
  if (!(options.lr > 0)) throw new UsageError(`--lr ${options.lr} must be > 0`);
  if (!(options.valFraction < 1)) throw new UsageError(`--val-fraction ${options.valFraction} must be below 1`);
  if (!(options.warmupFraction < 1)) throw new UsageError(`--warmup ${options.warmupFraction} is a share of the steps, below 1`);
  const threads = values.threads !== undefined ? num("threads", values.threads, 0, true, 1) : launch.threadsPerRank;
  const backend = createBackend(threads !== undefined ? { threads } : {});
  const r = await runRank(launch, "finetune", () => withStopSignals("finetune", (shouldStop) =>
    runFinetune({ options, backend, stdout: launch.stdout, resume: !values["no-resume"], shouldStop, distributed: launch.settings })));
  if (launch.rank !== 0) return 0;
  console.log(`finetune --task ${task} finished at step ${r.finalStep}/${r.totalSteps}; model in ${r.modelDir}`);
  console.log(JSON.stringify(r.report));
  return 0;
}

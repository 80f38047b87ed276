// `zhiyu export --to deepspeed`: hands a `zhiyu train` run over to PyTorch, past what Zhiyu's CPU engine is for.
// From a checkpoint it writes
//   model/              the Hugging Face folder as the checkpoint holds it (config, safetensors, tokenizer files)
//   optimizer.safetensors  AdamW moments (Zhiyu's names and layouts; train.py maps them onto torch's parameters)
//   ds_config.json      DeepSpeed: ZeRO stage 2 (or 3), AdamW with the run's β/ε/weight decay, the clip, batch sizes
//   zhiyu_run.json      what DeepSpeed's config cannot say: the LR schedule (Zhiyu's warmup + cosine/linear to
//                       min-lr, by step), the decay mask (names), the step the run is at, the data file
//   batches.bin         the next --steps steps' token windows, in Zhiyu's own order (int32, steps × grad-accum ×
//                       batch × (seq + 1)), so PyTorch sees the same data order with no port of Zhiyu's shuffle
//   train.py, launch.sh continue training: DeepSpeed where it and a GPU are there, else plain PyTorch (same AdamW,
//                       same schedule), printing one JSON line per step with the loss
// Leaves out: SFT/preference runs (their batches are padded conversations; export the model folder with
// `zhiyu convert` and use TRL), Megatron, tensor parallelism.
import { copyFileSync, existsSync, mkdirSync, readdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { BatchIterator, seededPermutation } from "./batches.js";
import { resolveResume, TRAINER_STATE_FILE } from "./checkpoint.js";
import { DEEPSPEED_LAUNCH_SH, DEEPSPEED_TRAIN_PY } from "./deepspeed-script.js";
import { modelOptimizer, readTrainerState, TrainingError } from "./loop-state.js";
import { TrainModel } from "./model.js";
import type { TrainOptions } from "./options.js";
import { openTokenStream, resolveTokenPaths } from "./token-file.js";

export interface DeepSpeedExport {
  /** A run folder (its newest checkpoint) or a checkpoint folder. */
  from: string;
  out: string;
  /** Steps of data order written (default: the rest of the run, at most 1000). */
  steps: number | null;
  zeroStage: 2 | 3;
}

export function exportDeepSpeed(e: DeepSpeedExport): { steps: number; startStep: number; files: string[] } {
  const { checkpoint } = resolveResume(e.from);
  const state = readTrainerState<TrainOptions>(checkpoint.dir);
  if (state.objective !== undefined && state.objective !== "causal-lm") {
    throw new TrainingError(`${checkpoint.dir}: a ${state.objective} run; export --to deepspeed continues causal-LM pretraining ` +
      "runs (zhiyu train). For other runs convert the model folder and use TRL");
  }
  const o = state.options;
  const remaining = Math.max(1, o.steps - state.step);
  const steps = e.steps ?? Math.min(remaining, 1000);
  if (!Number.isInteger(steps) || steps < 1) throw new TrainingError(`--steps ${e.steps} must be a positive integer`);
  if (!existsSync(o.data)) throw new TrainingError(`${checkpoint.dir}: the run's data ${o.data} is gone; the export writes its batches`);
  mkdirSync(path.join(e.out, "model"), { recursive: true });
  const files: string[] = [];
  for (const name of readdirSync(checkpoint.dir)) {
    if (name === TRAINER_STATE_FILE || name === "optimizer.safetensors") continue;
    copyFileSync(path.join(checkpoint.dir, name), path.join(e.out, "model", name));
  }
  copyFileSync(path.join(checkpoint.dir, "optimizer.safetensors"), path.join(e.out, "optimizer.safetensors"));

  // The data order: Zhiyu's own iterator from the checkpoint's position.
  const stream = openTokenStream(resolveTokenPaths(o.data, "train"));
  const it = new BatchIterator(stream, { batch: o.batch, seq: o.seq, shuffle: o.shuffle ? seededPermutation(o.seed) : null });
  it.position = state.dataPosition as typeof it.position;
  const window = o.seq + 1;
  const out = new Int32Array(steps * o.gradAccum * o.batch * window);
  let at = 0;
  for (let s = 0; s < steps * o.gradAccum; s++) {
    const b = it.next();
    for (let r = 0; r < o.batch; r++) {
      out.set(b.inputs.subarray(r * o.seq, (r + 1) * o.seq), at);
      out[at + o.seq] = b.targets[(r + 1) * o.seq - 1]!;
      at += window;
    }
  }
  writeFileSync(path.join(e.out, "batches.bin"), out);

  const model = TrainModel.fromHfFolder(checkpoint.dir, "f32");
  const decayed = modelOptimizer(model, { lr: o.lr }, o.decayAll).decayedNames();
  const run = {
    format: "zhiyu-deepspeed-export", version: 1, family: model.family, start_step: state.step,
    optimizer_step: state.optimizerStep, steps, batch: o.batch, seq: o.seq, grad_accum: o.gradAccum, batches_file: "batches.bin",
    schedule: { kind: o.schedule, lr: o.lr * state.lrFactor, min_lr: o.minLr * state.lrFactor, warmup_steps: o.warmup,
      total_steps: state.scheduleSteps ?? o.steps },
    adamw: { betas: [o.beta1, o.beta2], eps: o.eps, weight_decay: o.weightDecay, decayed_parameters: decayed },
    // optimizer.safetensors keeps Zhiyu's layout: these parameters' moments are the transpose of the HF tensor.
    moments_transposed: model.specs.filter((s) => model.hfTransposed(s.name)).map((s) => s.name),
    grad_clip: o.gradClip, dtype: o.dtype, seed: o.seed,
  };
  const ds = {
    train_micro_batch_size_per_gpu: o.batch, gradient_accumulation_steps: o.gradAccum,
    gradient_clipping: o.gradClip > 0 ? o.gradClip : 0,
    optimizer: { type: "AdamW", params: { lr: o.lr * state.lrFactor, betas: [o.beta1, o.beta2], eps: o.eps, weight_decay: o.weightDecay } },
    zero_optimization: { stage: e.zeroStage, overlap_comm: true, contiguous_gradients: true },
    bf16: { enabled: o.dtype === "bf16" }, fp16: { enabled: false },
    steps_per_print: 1, wall_clock_breakdown: false,
  };
  writeFileSync(path.join(e.out, "zhiyu_run.json"), JSON.stringify(run, null, 1) + "\n");
  writeFileSync(path.join(e.out, "ds_config.json"), JSON.stringify(ds, null, 2) + "\n");
  writeFileSync(path.join(e.out, "train.py"), DEEPSPEED_TRAIN_PY);
  writeFileSync(path.join(e.out, "launch.sh"), DEEPSPEED_LAUNCH_SH, { mode: 0o755 });
  files.push("model/", "optimizer.safetensors", "batches.bin", "zhiyu_run.json", "ds_config.json", "train.py", "launch.sh");
  return { steps, startStep: state.step, files };
}

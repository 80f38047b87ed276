// What a checkpoint of the training loop holds besides the model: the loop's own state file (trainer_state.json:
// step, schedule length, the objective's data position, RNG state, spike-guard window, LR factor, rollbacks,
// the command's options for `--resume`) and the AdamW moments (optimizer.safetensors), plus the AdamW set-up over
// a model's parameters. checkpoint.ts writes the folders atomically and knows nothing of their contents.
// Leaves out: sharded optimizer state (ZeRO-1 gathers the full moments before a checkpoint: zero.ts).
import { readFileSync } from "node:fs";
import path from "node:path";
import type { RngState } from "../core/rng.js";
import { openSafetensors, writeSafetensors } from "../io/safetensors.js";
import { peftConfigJson } from "../models/adapters/lora-files.js";
import { AdamW, type AdamWOptions, type AdamWState } from "../optim/index.js";
import { TRAINER_STATE_FILE, type CheckpointWrite } from "./checkpoint.js";
import type { StepRecord } from "./metrics.js";
import { isNoDecay, type TrainModel } from "./model.js";

export class TrainingError extends Error {
  override name = "TrainingError";
}

/** What trainer_state.json holds. Checkpoints written before the loop was shared lack `objective` (they are
 *  causal-LM pretraining) and `scheduleSteps` (their schedule length was options.steps). */
export interface TrainerState<Options = unknown> {
  format: "zhiyu-trainer-state";
  version: 1;
  /** The objective that wrote it ("causal-lm", "sft", …). */
  objective?: string;
  /** Completed optimizer steps: the next step to run. */
  step: number;
  /** Length of the learning-rate schedule the run follows (see README, "Extending a run"). */
  scheduleSteps?: number;
  /** The command's options, so `--resume` needs no flags. */
  options: Options;
  /** The objective's data position (plain JSON). */
  dataPosition: unknown;
  /** The objective's other state, when it has any. */
  objectiveState?: unknown;
  optimizerStep: number;
  rng: RngState;
  lrFactor: number;
  rollbacks: number;
  spikeWindow: number[];
  tokensSeen: number;
  metricsTail: StepRecord[];
}

export function readTrainerState<Options = unknown>(checkpointDir: string): TrainerState<Options> {
  const file = path.join(checkpointDir, TRAINER_STATE_FILE);
  let state: TrainerState<Options>;
  try {
    state = JSON.parse(readFileSync(file, "utf8")) as TrainerState<Options>;
  } catch (err) {
    throw new TrainingError(`${file}: cannot read the trainer state (${(err as Error).message})`);
  }
  if (state.format !== "zhiyu-trainer-state" || state.version !== 1) {
    throw new TrainingError(`${file}: not a Zhiyu trainer state (format ${String(state.format)}, version ${String(state.version)})`);
  }
  return state;
}

/** AdamW moments as safetensors tensors named "<param>.m" / "<param>.v", shaped like the parameters (a frozen
 *  parameter — finetune --freeze-encoder — has none). */
function writeOptimizerState(filePath: string, state: AdamWState, model: TrainModel): void {
  const tensors = model.specs.filter((s) => state.moments[`${s.name}.m`]).flatMap((s) => (["m", "v"] as const).map((k) => ({
    name: `${s.name}.${k}`, dtype: "F32" as const, shape: s.shape, data: state.moments[`${s.name}.${k}`]!,
  })));
  writeSafetensors(filePath, tensors, { format: "pt", step: String(state.step) });
}

export function readOptimizerState(checkpointDir: string, step: number): AdamWState {
  const file = openSafetensors(path.join(checkpointDir, "optimizer.safetensors"));
  const moments: Record<string, Float32Array> = {};
  for (const name of file.tensors.keys()) moments[name] = file.readTensor(name) as Float32Array;
  return { step, moments };
}

/** AdamW over every parameter of the model; norms, biases and embeddings (isNoDecay) are not decayed unless decayAll. */
export function modelOptimizer(model: TrainModel, opts: Omit<AdamWOptions, "decay">, decayAll = false): AdamW {
  const noDecay = new Set(model.specs.filter((s) => isNoDecay(s)).map((s) => s.name));
  return new AdamW(model.specs.map((s) => [s.name, model.params.get(s.name)!] as const), {
    ...opts, decay: (name) => decayAll || !noDecay.has(name),
  });
}

/** The files of a checkpoint folder: the HF config and weights, the AdamW moments and the loop's state file. */
export function checkpointFiles(model: TrainModel, optimizer: AdamW | AdamWState, state: TrainerState): CheckpointWrite["files"] {
  const optimizerState = optimizer instanceof AdamW ? optimizer.exportState() : optimizer;
  return new Map<string, string | Uint8Array | ((p: string) => void)>([
    ["config.json", JSON.stringify({ ...model.configJson(), torch_dtype: "float32" }, null, 2) + "\n"],
    ["model.safetensors", (p: string) => model.saveSafetensors(p)],
    // A LoRA run's checkpoint is also a PEFT adapter folder (model.safetensors then holds the same A/B tensors).
    ...(model.lora ? [["adapter_config.json", peftConfigJson(model.lora, String(model.hfConfig._name_or_path ?? "base"))] as const,
      ["adapter_model.safetensors", (p: string) => model.saveSafetensors(p)] as const] : []),
    ["optimizer.safetensors", (p: string) => writeOptimizerState(p, optimizerState, model)],
    [TRAINER_STATE_FILE, JSON.stringify(state, null, 1) + "\n"],
  ]);
}

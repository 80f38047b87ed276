// The model a fine-tuning command trains: the full model, or (with --lora) LoRA adapters over its frozen weights.
// A resumed LoRA run reads the adapters back from the checkpoint (its model.safetensors holds the A/B tensors);
// at the end the command writes the adapter as a PEFT folder (and, on request, as a llama.cpp GGUF adapter).
// A .gguf base (QLoRA-style) comes in through `frozenBase`, a reader the command injects (train does not read GGUF
// weights itself): its encoded matrices stay encoded and frozen; only LoRA trains over it.
// Leaves out: full fine-tuning of a GGUF base (convert it to a Hugging Face folder first).
import path from "node:path";
import { Rng } from "../../core/rng.js";
import { LoraAdapter, type LoraSettings, loraDropout } from "../../models/adapters/lora.js";
import { writeGgufLora, writePeftAdapter } from "../../models/adapters/lora-files.js";
import type { CheckpointInfo } from "../checkpoint.js";
import { TrainModel } from "../model.js";
import type { TrainDType } from "../options.js";
import type { Weight } from "../../models/embed.js";

/** A base model read from a file the trainer cannot read itself (a GGUF: src/infer/frozen-base.ts). */
export type FrozenBaseReader = (file: string) => { hfConfig: Record<string, unknown>; params: ReadonlyMap<string, Weight> };

export class FrozenBaseError extends Error {
  override name = "FrozenBaseError";
}

/** Loads the model to train: a checkpoint's full weights, or the base with fresh (or checkpointed) adapters. A
 *  .gguf `modelDir` is read by `frozenBase` and trains LoRA adapters only. */
export function trainModelFor(modelDir: string, dtype: TrainDType, lora: LoraSettings | null, checkpoint: CheckpointInfo | null,
  seed: number, frozenBase?: FrozenBaseReader): TrainModel {
  const gguf = modelDir.endsWith(".gguf");
  if (gguf && !lora) {
    throw new FrozenBaseError(`--model ${modelDir}: a GGUF base trains LoRA adapters only (add --lora r=16,alpha=32,…); for full ` +
      `fine-tuning convert it first: zhiyu convert --from ${modelDir} --to DIR`);
  }
  if (gguf && !frozenBase) throw new FrozenBaseError(`--model ${modelDir}: this command cannot read a GGUF base`);
  if (!lora) return TrainModel.fromHfFolder(checkpoint ? checkpoint.dir : modelDir, dtype);
  // A seeded stream of its own, so adding LoRA dropout does not shift the run's data order.
  const rng = new Rng(seed ^ 0x10a);
  let model: TrainModel;
  if (gguf) {
    const base = frozenBase!(modelDir);
    const adapter = LoraAdapter.create(TrainModel.specsOf(base.hfConfig, modelDir), lora, rng, `--lora (${modelDir})`);
    model = TrainModel.withFrozenBase(base.hfConfig, base.params, dtype, adapter, loraDropout(lora.dropout, rng));
  } else {
    const base = TrainModel.fromHfFolder(modelDir, dtype);
    const adapter = LoraAdapter.create(base.specs, lora, rng, `--lora (${path.join(modelDir, "config.json")})`);
    model = base.withLora(adapter, loraDropout(lora.dropout, rng));
  }
  if (checkpoint) model.loadWeightsFrom(checkpoint.dir);
  return model;
}

/** The frozen reference DPO and GRPO compare against: the starting model. A GGUF base shares the policy's frozen
 *  base with an adapter that stays at its initial B = 0 (so it adds exactly nothing); a folder is read again. */
export function referenceModelFor(policy: TrainModel, modelDir: string, dtype: TrainDType): TrainModel {
  if (!modelDir.endsWith(".gguf")) return TrainModel.fromHfFolder(modelDir, dtype);
  if (!policy.lora || !policy.baseParams) throw new FrozenBaseError(`--model ${modelDir}: a GGUF base trains LoRA adapters only`);
  const still = LoraAdapter.create(policy.baseSpecs, policy.lora.settings, new Rng(1), `reference of ${modelDir}`);
  return TrainModel.withFrozenBase(policy.hfConfig, policy.baseParams, dtype, still);
}

/** Writes a LoRA run's adapter to <out>/adapter (PEFT) and <out>/adapter.gguf (llama.cpp); returns the folder. */
export function saveAdapter(model: TrainModel, out: string, baseModel: string): string | null {
  if (!model.lora) return null;
  const dir = path.join(out, "adapter");
  writePeftAdapter(dir, model.lora, baseModel);
  writeGgufLora(path.join(out, "adapter.gguf"), model.lora, { config: model.config, specs: model.baseSpecs });
  return dir;
}

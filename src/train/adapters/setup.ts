// The model a fine-tuning command trains: the full model, or (with --lora) LoRA adapters over its frozen weights.
// A resumed LoRA run reads the adapters back from the checkpoint (its model.safetensors holds the A/B tensors);
// at the end the command writes the adapter as a PEFT folder (and, on request, as a llama.cpp GGUF adapter).
// Leaves out: a frozen GGUF-encoded base for training (QLoRA over a .gguf file: the adapters attach to encoded
// matrices at inference today; the trainer loads Hugging Face folders).
import path from "node:path";
import { Rng } from "../../core/rng.js";
import { LoraAdapter, type LoraSettings, loraDropout } from "../../models/adapters/lora.js";
import { writeGgufLora, writePeftAdapter } from "../../models/adapters/lora-files.js";
import type { CheckpointInfo } from "../checkpoint.js";
import { TrainModel } from "../model.js";
import type { TrainDType } from "../options.js";

/** Loads the model to train: a checkpoint's full weights, or the base with fresh (or checkpointed) adapters. */
export function trainModelFor(modelDir: string, dtype: TrainDType, lora: LoraSettings | null, checkpoint: CheckpointInfo | null,
  seed: number): TrainModel {
  if (!lora) return TrainModel.fromHfFolder(checkpoint ? checkpoint.dir : modelDir, dtype);
  const base = TrainModel.fromHfFolder(modelDir, dtype);
  // A seeded stream of its own, so adding LoRA dropout does not shift the run's data order.
  const rng = new Rng(seed ^ 0x10a);
  const adapter = LoraAdapter.create(base.specs, lora, rng, `--lora (${path.join(modelDir, "config.json")})`);
  const model = base.withLora(adapter, loraDropout(lora.dropout, rng));
  if (checkpoint) model.loadWeightsFrom(checkpoint.dir);
  return model;
}

/** Writes a LoRA run's adapter to <out>/adapter (PEFT) and <out>/adapter.gguf (llama.cpp); returns the folder. */
export function saveAdapter(model: TrainModel, out: string, baseModel: string): string | null {
  if (!model.lora) return null;
  const dir = path.join(out, "adapter");
  writePeftAdapter(dir, model.lora, baseModel);
  writeGgufLora(path.join(out, "adapter.gguf"), model.lora, { config: model.config, specs: model.baseSpecs });
  return dir;
}

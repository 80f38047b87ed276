// Merging LoRA adapters into a base model's weights (W' = W + Σ scale · B A, as peft's merge_and_unload): the
// f32 values of every base parameter with the adapters folded in, and `zhiyu lora merge`'s output — a Hugging Face
// folder (config.json + model.safetensors, the base folder's tokenizer and generation files copied) or, through the
// caller's exporter, a GGUF file.
// Leaves out: re-quantizing a merged GGUF base (the merged weights are f32; `zhiyu convert` quantizes).
import { copyFileSync, existsSync, mkdirSync } from "node:fs";
import path from "node:path";
import { dequantizeWeight, getDefaultBackend, isAdaptedWeight, isQuantWeight, type Tensor } from "../../tensor/index.js";
import { writeSafetensors } from "../../io/safetensors.js";
import type { Weight } from "../../models/embed.js";
import type { ParamSpec } from "../../models/weights.js";
import type { LoraAdapter } from "../../models/adapters/lora.js";
import { writeFileAtomic } from "../atomic.js";

/** Every base parameter as f32 (encoded matrices decoded) with the adapters merged into their layers. */
export function mergeLoraWeights(specs: readonly ParamSpec[], base: ReadonlyMap<string, Weight>,
  adapters: ReadonlyArray<{ adapter: LoraAdapter; scale: number }>): Map<string, Float32Array> {
  const out = new Map<string, Float32Array>();
  for (const s of specs) {
    let w = base.get(s.name);
    if (w === undefined) throw new Error(`[lora merge] the base model has no parameter '${s.name}'`);
    if (isAdaptedWeight(w)) w = w.base;
    out.set(s.name, isQuantWeight(w) ? dequantizeWeight(w, getDefaultBackend()).toFloat32Array() : (w as Tensor).toFloat32Array());
  }
  for (const { adapter, scale } of adapters) {
    for (const m of adapter.modules) out.set(m.weight, adapter.mergedWeight(m, out.get(m.weight)!, scale));
  }
  return out;
}

/** Writes a merged Hugging Face folder: `config` as config.json, the weights (with `toHf` giving each tensor's
 *  file layout, e.g. GPT-2's Conv1D transpose) and the base folder's tokenizer/generation files when it has them. */
export function writeMergedHfFolder(out: string, config: Record<string, unknown>, specs: readonly ParamSpec[],
  weights: ReadonlyMap<string, Float32Array>, toHf: (spec: ParamSpec, data: Float32Array) => { shape: number[]; data: Float32Array },
  baseDir: string | null): void {
  mkdirSync(out, { recursive: true });
  writeSafetensors(path.join(out, "model.safetensors"), specs.map((s) => {
    const t = toHf(s, weights.get(s.name)!);
    return { name: s.name, dtype: "F32" as const, shape: t.shape, data: t.data };
  }), { format: "pt" });
  writeFileAtomic(path.join(out, "config.json"), JSON.stringify(config, null, 2) + "\n");
  if (baseDir) {
    for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json", "special_tokens_map.json", "chat_template.jinja", "tokenizer.model"]) {
      if (existsSync(path.join(baseDir, f))) copyFileSync(path.join(baseDir, f), path.join(out, f));
    }
  }
}

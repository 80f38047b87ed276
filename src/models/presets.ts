// `zhiyu init` presets for any registered family (each family's own table lives in its folder) and the random
// initialisation used by `zhiyu init` and the trainer: normal(0, std) matrices, ones for norm weights, zeros for
// biases, from one seeded Rng in parameter order (so a seed names a model exactly). Also paramSpecs(config).
// Leaves out: scaled init schemes (GPT-2's 1/sqrt(2·layers) residual scaling is the trainer's choice).
import type { Rng } from "../core/rng.js";
import type { FamilyConfig } from "./descriptor.js";
import { MODEL_REGISTRY } from "./registry.js";
import type { ParamSpec } from "./weights.js";

export type ModelConfig = FamilyConfig;

export function paramSpecs(config: ModelConfig): ParamSpec[] {
  return MODEL_REGISTRY.ofConfig(config).paramSpecs(config);
}

/** The config of a preset; `arch` is a variant (`--arch`) name; vocabSize overrides the preset's (e.g. to match a
 *  copied vocabulary). */
export function presetConfig(arch: string, preset: string, vocabSize?: number): ModelConfig {
  return MODEL_REGISTRY.ofVariant(arch).presetConfig(arch, preset, vocabSize);
}

/** Random parameters in spec order from one seeded RNG. */
export function randomParam(rng: Rng, std: number): (spec: ParamSpec) => Float32Array {
  return (spec) => {
    const n = spec.shape.reduce((a, b) => a * b, 1);
    const x = new Float32Array(n);
    if (spec.init === "ones") x.fill(1);
    else if (spec.init === "normal") for (let i = 0; i < n; i++) x[i] = rng.normal(0, std);
    return x;
  };
}

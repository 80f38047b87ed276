// The sampling settings used when a request or command line gives none — one definition for `zhiyu generate`,
// `zhiyu chat` and the server: the model's generation_config.json values where it has them, else these.
// (temperature 0.7, top-p 0.95, top-k 40, min-p 0.05, no repetition penalty: llama.cpp's filters with a slightly
// cooler temperature, which keeps small models on topic.)
// Leaves out: penalties other than repetition (presence/frequency default to 0 in the sampler).
import type { TextModel } from "./model-api.js";

export interface SamplingDefaults {
  temperature: number;
  topP: number;
  topK: number;
  minP: number;
  repetitionPenalty: number;
}

export const DEFAULT_SAMPLING: Readonly<SamplingDefaults> = Object.freeze({
  temperature: 0.7, topP: 0.95, topK: 40, minP: 0.05, repetitionPenalty: 1,
});

/** DEFAULT_SAMPLING overridden by the model's own defaults (generation_config.json, mapped to camelCase). */
export function samplingDefaults(model: Pick<TextModel, "generationDefaults">): SamplingDefaults {
  const d = model.generationDefaults;
  const pick = (key: keyof SamplingDefaults) => (typeof d[key] === "number" && Number.isFinite(d[key]) ? d[key]! : DEFAULT_SAMPLING[key]);
  return { temperature: pick("temperature"), topP: pick("topP"), topK: pick("topK"), minP: pick("minP"),
    repetitionPenalty: pick("repetitionPenalty") };
}

// A GGUF model read as the frozen base of LoRA training (QLoRA-style): every matrix that only feeds matmuls stays
// in the file's encoding (q8_0, q4_0, k-quants, f16 …) as a QuantWeight with its rows in Hugging Face order (the
// llama.cpp converter's Q/K row permutation undone block row by block row, which is exact: a quantization block
// never spans rows); norms, biases and embedding tables (lookups need f32 rows) are decoded to f32 tensors. With the
// family's HF config.json, this is what TrainModel.withFrozenBase takes. The base is never written back.
// Leaves out: repacked layouts (training decodes the file's own blocks), MoE expert stacks (refused by the trainer's
// families today), writing the base.
import type { Backend } from "../backend/backend.js";
import { readGguf, getOptionalString } from "../io/gguf.js";
import type { Weight } from "../models/embed.js";
import { MODEL_REGISTRY } from "../models/registry.js";
import { readChecked, type ParamSpec } from "../models/weights.js";
import { fromTypedArray, untracked, type QuantWeight } from "../tensor/index.js";
import { hfConfigJson, permuteRowBytes, readParamF32 } from "./export.js";
import { GgufSource } from "./sources.js";

export interface FrozenBase {
  /** The model's config as Hugging Face's config.json would hold it. */
  hfConfig: Record<string, unknown>;
  /** Parameters by Zhiyu's (HF) names: encoded matrices and f32 tensors. */
  params: Map<string, Weight>;
}

/** Reads `file` as a frozen LoRA base (see the file header). */
export function readFrozenBase(file: string, backend: Backend): FrozenBase {
  const gguf = readGguf(file);
  const family = MODEL_REGISTRY.ofGgufArchitecture(getOptionalString(gguf, "general.architecture") ?? "(none)", file);
  const config = family.configFromGguf(gguf);
  const source = new GgufSource(gguf, (name) => family.ggufName(name));
  const params = new Map<string, Weight>();
  untracked(() => {
    for (const spec of family.paramSpecs(config) as ParamSpec[]) {
      // The type from the file's tensor table, so an f32 matrix is read once (by readParamF32), not twice.
      const encoded = spec.kind === "matrix" && !spec.lookupOnly && spec.role !== "embedding" && source.has(spec.name) &&
        source.info(spec.name).type !== "f32";
      if (encoded) {
        const raw = readChecked(source, spec);
        const order = family.ggufRowOrder(config, spec, false);
        const q: QuantWeight = { type: raw.type, rows: spec.shape[0], cols: spec.shape[1], data: order ? permuteRowBytes(raw.data, spec.shape[0], order) : raw.data };
        params.set(spec.name, q);
        continue;
      }
      params.set(spec.name, fromTypedArray(readParamF32(source, config, spec, backend, true), spec.shape));
    }
  });
  return { hfConfig: hfConfigJson(config), params };
}

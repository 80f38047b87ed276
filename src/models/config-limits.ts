// Bounds on the counts a model config declares (config.json or GGUF metadata), checked before anything is expanded
// from them: a file claiming 2^31 layers or a 2^40-entry vocabulary must fail with an error naming the field, not
// in the per-layer parameter loop or an allocation. The limits sit far above any released model and far below what
// would exhaust memory; a GGUF file's layer count is also held against the tensors the file actually holds.
// Leaves out: checking tensor shapes (the loaders do that tensor by tensor against the parameter specs).
import { ModelLoadError } from "./weights.js";

export const CONFIG_LIMITS = {
  vocabSize: 2 ** 22,
  hiddenSize: 2 ** 17,
  intermediateSize: 2 ** 19,
  numLayers: 2 ** 12,
  numHeads: 2 ** 12,
  numKvHeads: 2 ** 12,
  headDim: 2 ** 12,
  contextLength: 2 ** 24,
} as const;

export type CountField = keyof typeof CONFIG_LIMITS;

/** Throws ModelLoadError naming the file's own field (e.g. 'llama.block_count') for a count that is not a positive
 *  integer within CONFIG_LIMITS, or (given the file's tensor count) for more layers than the file has tensors. */
export function checkConfigCounts(values: Partial<Record<CountField, number>>, fieldNames: Partial<Record<CountField, string>>,
  where: string, tensorCount?: number): void {
  for (const key of Object.keys(values) as CountField[]) {
    const v = values[key]!;
    const name = fieldNames[key] ?? key;
    if (!Number.isInteger(v) || v <= 0) throw new ModelLoadError(`${where}: '${name}' = ${v} must be a positive integer`);
    if (v > CONFIG_LIMITS[key]) {
      throw new ModelLoadError(`${where}: '${name}' = ${v} is over the limit of ${CONFIG_LIMITS[key]} (a corrupt or hostile file?)`);
    }
  }
  if (tensorCount !== undefined && values.numLayers !== undefined && values.numLayers > tensorCount) {
    throw new ModelLoadError(`${where}: '${fieldNames.numLayers ?? "numLayers"}' = ${values.numLayers} layers, but the file holds only ` +
      `${tensorCount} tensors (every layer needs several)`);
  }
}

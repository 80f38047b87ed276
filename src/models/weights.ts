// What every model family shares about its weights: the list of parameters a config implies (HF names, torch
// shapes), a source of raw tensors (GGUF file or safetensors folder) addressed by those names, and the checks
// that turn a missing tensor or a wrong shape into an error naming both spellings of the tensor.
// Also: decoding weight bytes (any WeightType) to f32, for the loader and for embedding rows.
// Also: mapName, the lookup every family uses for its HF → GGUF name table.
// Leaves out: file parsing (src/io/) and family-specific name maps (each family's file holds its own as data).
import type { Backend, WeightType } from "../backend/backend.js";
import { decodeWeightInto } from "../tensor/index.js";

/** One parameter a model expects: its Hugging Face name and torch shape (outermost first). */
export interface ParamSpec {
  name: string;
  shape: number[];
  /** "matrix" = a linear/embedding weight (may stay quantized); "vector" = norms and biases (always f32). */
  kind: "matrix" | "vector";
  /** How a random init fills it: normal(0, std), ones or zeros. */
  init: "normal" | "ones" | "zeros";
  /** Only read by row id (an embedding table not tied to the output layer): an encoded one keeps the file's layout
   *  (a matmul-only repacked layout would gain nothing and make each row a gather). */
  lookupOnly?: boolean;
  /** What the trainer treats specially: "embedding" = a lookup table (no weight decay, no matmul FLOPs);
   *  "residual" = a projection that writes into the residual stream (GPT-2 init scales its std by 1/√(2·layers)). */
  role?: "embedding" | "residual";
}

/** Raw tensor bytes from a file, already in the model's layout (torch order, rows contiguous). */
export interface RawTensor {
  /** The name in the file, for messages. */
  fileName: string;
  shape: number[];
  type: WeightType;
  data: Uint8Array;
}

/** A file or folder of weights, addressed by Hugging Face parameter names. */
export interface WeightSource {
  /** e.g. "dev-llama.gguf" or "my-model/ (safetensors)". */
  readonly description: string;
  /** The name this source uses for a HF name (for error messages), e.g. "blk.0.attn_q.weight". */
  fileName(hfName: string): string;
  has(hfName: string): boolean;
  /** Reads the tensor (call once per name). Throws naming both names when it is missing. */
  read(hfName: string): RawTensor;
}

export class ModelLoadError extends Error {
  override name = "ModelLoadError";
}

/** Reads a parameter and checks its shape against the spec; the error names both spellings and both shapes. */
export function readChecked(source: WeightSource, spec: ParamSpec): RawTensor {
  if (!source.has(spec.name)) {
    throw new ModelLoadError(`${source.description}: missing tensor '${source.fileName(spec.name)}' ` +
      `(${spec.name}, expected shape [${spec.shape.join(", ")}]); the file does not match the model's config`);
  }
  const raw = source.read(spec.name);
  const same = raw.shape.length === spec.shape.length && raw.shape.every((d, i) => d === spec.shape[i]);
  if (!same) {
    throw new ModelLoadError(`${source.description}: tensor '${raw.fileName}' (${spec.name}) has shape ` +
      `[${raw.shape.join(", ")}], expected [${spec.shape.join(", ")}] from the model's config`);
  }
  return raw;
}

/** Decodes n elements of weight bytes (f32, f16, bf16 or a ggml block type) into out. The bytes may sit at any
 *  offset: the float cases copy them out first when they are not aligned for a typed view. */
/** A raw tensor's elements as f32. */
export function decodeToF32(raw: RawTensor, backend: Pick<Backend, "dequantize" | "cast">): Float32Array {
  const n = raw.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  decodeWeightInto(raw.data, raw.type, out, n, backend);
  return out;
}

/** The GGUF name of a HF name, from a table of [HF, GGUF] patterns where N stands for a layer index. */
export function mapName(table: ReadonlyArray<readonly [string, string]>, hfName: string): string | null {
  const layer = /\.(\d+)\./.exec(hfName);
  const generic = layer ? hfName.replace(`.${layer[1]}.`, ".N.") : hfName;
  for (const [hf, gguf] of table) {
    if (hf === generic) return layer ? gguf.replace(".N.", `.${layer[1]}.`) : gguf;
  }
  return null;
}

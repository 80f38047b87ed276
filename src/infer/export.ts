// Writing models: a family's f32 parameters (HF names, HF row order, [out, in] matrices) → a GGUF file that
// llama.cpp loads (arch metadata, llama Q/K rows permuted to llama.cpp's order, matrices encoded as f32, f16,
// q8_0 or q4_0) or a Hugging Face folder (config.json + model.safetensors, GPT-2's Conv1D matrices transposed back).
// Parameters are produced one at a time by a callback, so a 1B model never needs all its f32 weights at once.
// Also: reading any loadable model back as f32 parameters in that same HF order (for GGUF → HF conversion).
// MoE experts are written stacked per layer and matrix, as llama.cpp stores them (`blk.N.ffn_gate_exps.weight`).
// Leaves out: k-quant encoding (use llama-quantize on the f16 file), tokenizer.json export.
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import type { Backend } from "../backend/backend.js";
import { refQuantize } from "../backend/ref/quant.js";
import { writeGguf, type GgufWriteTensor } from "../io/gguf-writer.js";
import { writeSafetensors } from "../io/safetensors.js";
import type { GgmlType } from "../io/ggml-types.js";
import type { ParamSpec, RawTensor, WeightSource } from "../models/weights.js";
import type { GgufExportType, GgufMetadata } from "../models/descriptor.js";
import { type ModelConfig, paramSpecs } from "../models/presets.js";
import { MODEL_REGISTRY } from "../models/registry.js";
import { decodeToF32, readChecked } from "../models/weights.js";
import { transposeBytes } from "./sources.js";

export type { ModelConfig };
export type ExportType = GgufExportType;

function ggufName(config: ModelConfig, hfName: string): string {
  const n = MODEL_REGISTRY.ofConfig(config).ggufName(hfName);
  if (!n) throw new Error(`[export] no GGUF name for parameter '${hfName}'`);
  return n;
}

/** GGUF `general.*` keys and the family's `<arch>.*` keys llama.cpp needs for this config. */
export function ggufMetadata(config: ModelConfig, name: string, fileType: number): GgufMetadata {
  return [
    ["general.architecture", config.architecture],
    ["general.name", name],
    ["general.file_type", fileType, "u32"],
    ["general.quantization_version", 2, "u32"],
    ...MODEL_REGISTRY.ofConfig(config).ggufMetadata(config),
  ];
}

// llama.cpp's LLAMA_FTYPE values for the whole-file type.
const FILE_TYPE: Record<ExportType, number> = { f32: 0, f16: 1, q4_0: 2, q8_0: 7 };

function encode(x: Float32Array, type: ExportType): { type: GgmlType; data: Uint8Array } {
  if (type === "f32") return { type: "f32", data: new Uint8Array(x.buffer, x.byteOffset, x.byteLength) };
  const bytes = type === "f16" ? x.length * 2 : type === "q8_0" ? (x.length / 32) * 34 : (x.length / 32) * 18;
  const out = new Uint8Array(bytes);
  refQuantize(x, type, out, x.length);
  return { type, data: out };
}

/** Writes a GGUF file. getParam returns each f32 parameter in HF order (HF rows, [out, in] matrices). */
export function writeModelGguf(file: string, config: ModelConfig, getParam: (spec: ParamSpec) => Float32Array,
  options: { type: ExportType; name?: string; extraMetadata?: GgufMetadata }): void {
  const family = MODEL_REGISTRY.ofConfig(config);
  const tensors: GgufWriteTensor[] = [];
  const specs = paramSpecs(config);
  // Stacked tensors (MoE experts): slices collected in order of index, written once all are there.
  const stacks = new Map<string, { slices: ({ type: GgmlType; data: Uint8Array } | null)[]; shape: readonly number[] }>();
  for (const spec of specs) {
    const st = family.ggufStack?.(spec.name);
    if (!st) continue;
    const stack = stacks.get(st.name) ?? { slices: [], shape: spec.shape };
    stack.slices[st.index] = null;
    stacks.set(st.name, stack);
  }
  for (const spec of specs) {
    let x = getParam(spec);
    const offset = family.ggufValueOffset?.(config, spec) ?? 0; // e.g. Gemma's norms: llama.cpp stores 1 + w
    if (offset !== 0) x = x.map((v) => v + offset);
    const order = family.ggufRowOrder(config, spec, true); // e.g. LLaMA Q/K rows in llama.cpp's RoPE pairing
    if (order) x = permuteF32Rows(x, spec.shape[0], order);
    const cols = spec.shape[spec.shape.length - 1];
    // Vectors stay f32 (as llama.cpp keeps norms and biases); rows that are not whole blocks fall back to f16.
    let type: ExportType = spec.kind === "vector" ? "f32" : options.type;
    if ((type === "q8_0" || type === "q4_0") && cols % 32 !== 0) type = "f16";
    type = family.ggufTensorType(config, spec, type);
    const enc = encode(x, type);
    const st = family.ggufStack?.(spec.name);
    if (st) {
      const stack = stacks.get(st.name)!;
      stack.slices[st.index] = enc;
      if (stack.slices.every((e) => e !== null)) tensors.push(stackedTensor(st.name, stack.shape, stack.slices as { type: GgmlType; data: Uint8Array }[]));
      continue;
    }
    tensors.push({ name: ggufName(config, spec.name), dims: [...spec.shape].reverse(), type: enc.type, data: enc.data });
  }
  for (const [name, from] of family.ggufCopies(config)) {
    const source = tensors.find((t) => t.name === from);
    if (!source) throw new Error(`[export] ${config.architecture}: tensor '${name}' copies '${from}', which was not written`);
    tensors.push({ ...source, name });
  }
  // The model's own keys win over copied ones (a BERT vocabulary also carries tokenizer.ggml.token_type_count).
  const own = ggufMetadata(config, options.name ?? path.basename(file, ".gguf"), FILE_TYPE[options.type]);
  const ownKeys = new Set(own.map(([key]) => key));
  const metadata = [...own, ...(options.extraMetadata ?? []).filter(([key]) => !ownKeys.has(key))];
  writeGguf(file, { metadata, tensors });
}

/** Slices of one shape and type, one after another: GGUF dims [cols, rows, slices] fastest first. */
function stackedTensor(name: string, shape: readonly number[], slices: { type: GgmlType; data: Uint8Array }[]): GgufWriteTensor {
  const type = slices[0].type;
  if (slices.some((e) => e.type !== type || e.data.byteLength !== slices[0].data.byteLength)) {
    throw new Error(`[export] stacked tensor '${name}': its slices differ in type or size`);
  }
  const data = new Uint8Array(slices.length * slices[0].data.byteLength);
  slices.forEach((e, i) => data.set(e.data, i * e.data.byteLength));
  return { name, dims: [...shape].reverse().concat(slices.length), type, data };
}

function permuteF32Rows(x: Float32Array, rows: number, order: Int32Array): Float32Array {
  return new Float32Array(permuteRowBytes(new Uint8Array(x.buffer, x.byteOffset, x.byteLength), rows, order).buffer);
}

/** Row r of the result is row order[r] of `data` (rows of equal byte length: f32 values or whole quant blocks). */
export function permuteRowBytes(data: Uint8Array, rows: number, order: Int32Array): Uint8Array {
  const bytes = data.length / rows;
  const out = new Uint8Array(data.length);
  for (let r = 0; r < rows; r++) out.set(data.subarray(order[r] * bytes, (order[r] + 1) * bytes), r * bytes);
  return out;
}

/** HF config.json for the config. */
export function hfConfigJson(config: ModelConfig): Record<string, unknown> {
  return MODEL_REGISTRY.ofConfig(config).hfConfigJson(config);
}

/** Writes config.json + model.safetensors (F32). */
export function writeModelHf(dir: string, config: ModelConfig, getParam: (spec: ParamSpec) => Float32Array): void {
  mkdirSync(dir, { recursive: true });
  const transposed = MODEL_REGISTRY.ofConfig(config).hfTransposed;
  const tensors = paramSpecs(config).map((spec) => {
    const x = getParam(spec);
    let bytes = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
    let shape = spec.shape;
    if (transposed?.test(spec.name)) {
      bytes = transposeBytes(bytes, shape[0], shape[1], 4);
      shape = [shape[1], shape[0]];
    }
    return { name: spec.name, dtype: "F32" as const, shape, data: bytes };
  });
  writeSafetensors(path.join(dir, "model.safetensors"), tensors);
  writeFileSync(path.join(dir, "config.json"), JSON.stringify(hfConfigJson(config), null, 2) + "\n");
}

/** f32 parameters in HF order from a weight source (GGUF llama rows un-permuted back to HF order). */
export function readParamF32(source: WeightSource, config: ModelConfig, spec: ParamSpec, backend: Backend,
  ggufLayout: boolean): Float32Array {
  const raw: RawTensor = readChecked(source, spec);
  let x = decodeToF32(raw, backend);
  const family = MODEL_REGISTRY.ofConfig(config);
  const order = ggufLayout ? family.ggufRowOrder(config, spec, false) : null;
  if (order) x = permuteF32Rows(x, spec.shape[0], order);
  const offset = ggufLayout ? family.ggufValueOffset?.(config, spec) ?? 0 : 0;
  if (offset !== 0) x = x.map((v) => v - offset);
  return x;
}

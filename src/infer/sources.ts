// Weight sources for loading: a GGUF file or a Hugging Face safetensors folder, each addressed by HF parameter
// names and returning raw bytes in Zhiyu's layout (torch order, [out, in] matrices). The family's name map turns
// HF names into GGUF names; GGUF dims are reversed into torch order; GPT-2's Conv1D matrices are transposed.
// Leaves out: parsing (src/io/), dtype conversion of the bytes (the loader does that when it builds tensors).
import type { WeightType } from "../backend/backend.js";
import type { GgufFile, GgufTensorInfo } from "../io/gguf.js";
import { readTensorBytes } from "../io/gguf.js";
import type { SafetensorsFolder } from "../io/safetensors.js";
import { ModelLoadError, type RawTensor, type WeightSource } from "../models/weights.js";

const GGUF_WEIGHT_TYPES = new Set<string>(["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"]);

export class GgufSource implements WeightSource {
  readonly description: string;
  /** stack: where a parameter is one slice of a stacked tensor (MoE experts), as the family's ggufStack says. */
  constructor(readonly file: GgufFile, private readonly toGguf: (hfName: string) => string | null,
    private readonly stack: ((hfName: string) => { name: string; index: number } | null) | null = null) {
    this.description = file.path;
  }
  fileName(hfName: string): string {
    return this.toGguf(hfName) ?? this.stack?.(hfName)?.name ?? hfName;
  }
  has(hfName: string): boolean {
    const n = this.toGguf(hfName) ?? this.stack?.(hfName)?.name ?? null;
    return n !== null && this.file.tensorByName.has(n);
  }
  info(hfName: string): GgufTensorInfo {
    const n = this.fileName(hfName);
    const t = this.file.tensorByName.get(n);
    if (!t) throw new ModelLoadError(`${this.description}: missing tensor '${n}' (${hfName})`);
    return t;
  }
  /** The file's tensor for a parameter that is a whole tensor (not one slice of a stacked one), else null. */
  wholeInfo(hfName: string): GgufTensorInfo | null {
    const n = this.toGguf(hfName);
    return n === null ? null : this.file.tensorByName.get(n) ?? null;
  }
  /** info() of a tensor whose type Zhiyu can multiply with (else a clear error). */
  weightInfo(hfName: string): GgufTensorInfo {
    const t = this.info(hfName);
    if (!GGUF_WEIGHT_TYPES.has(t.type)) {
      throw new ModelLoadError(`${this.description}: tensor '${t.name}' has type ${t.type}, which Zhiyu cannot ` +
        `multiply with; supported: ${[...GGUF_WEIGHT_TYPES].join(", ")} (re-quantize, e.g. to q4_k or q8_0)`);
    }
    return t;
  }
  read(hfName: string): RawTensor {
    const t = this.weightInfo(hfName);
    const st = this.toGguf(hfName) === null ? this.stack?.(hfName) ?? null : null;
    if (!st) return rawTensor(t, readTensorBytes(this.file, t));
    // One slice of [cols, rows, slices]: the slices are contiguous, so it is a view of 1/slices of the bytes.
    const slices = t.dims[t.dims.length - 1];
    if (t.dims.length !== 3 || st.index >= slices) {
      throw new ModelLoadError(`${this.description}: tensor '${t.name}' has shape [${t.dims.join(", ")}]; slice ${st.index} (${hfName}) is not in it`);
    }
    const bytes = readTensorBytes(this.file, t);
    const per = bytes.byteLength / slices;
    return { fileName: `${t.name}[${st.index}]`, shape: [t.dims[1], t.dims[0]], type: t.type as WeightType, data: bytes.subarray(st.index * per, (st.index + 1) * per) };
  }
}

/** A GGUF tensor's bytes as a RawTensor (shape in HF order: GGUF lists dims fastest first). */
export function rawTensor(t: GgufTensorInfo, data: Uint8Array): RawTensor {
  return { fileName: t.name, shape: [...t.dims].reverse(), type: t.type as WeightType, data };
}

const SAFETENSORS_TYPES: Record<string, WeightType> = { F32: "f32", F16: "f16", BF16: "bf16" };

export class SafetensorsSource implements WeightSource {
  readonly description: string;
  /** rename: the folder's name for a parameter name, when the family spells them differently (else the same). */
  constructor(private readonly folder: SafetensorsFolder, private readonly transposed: RegExp | null,
    private readonly rename: ((name: string) => string) | null = null) {
    this.description = `${folder.dir} (safetensors)`;
  }
  fileName(hfName: string): string {
    return this.rename ? this.rename(hfName) : hfName;
  }
  has(hfName: string): boolean {
    return this.folder.has(this.fileName(hfName));
  }
  read(name: string): RawTensor {
    const hfName = this.fileName(name);
    if (!this.folder.has(hfName)) throw new ModelLoadError(`${this.description}: missing tensor '${hfName}'`);
    const e = this.folder.info(hfName);
    const type = SAFETENSORS_TYPES[e.dtype];
    if (!type) throw new ModelLoadError(`${this.description}: tensor '${hfName}' has dtype ${e.dtype}; supported: F32, F16, BF16`);
    let data = this.folder.readTensorBytes(hfName);
    let shape = [...e.shape];
    if (this.transposed && this.transposed.test(hfName) && shape.length === 2) {
      data = transposeBytes(data, shape[0], shape[1], type === "f32" ? 4 : 2);
      shape = [shape[1], shape[0]];
    }
    return { fileName: hfName, shape, type, data };
  }
}

/** [rows, cols] → [cols, rows] for elements of `size` bytes. */
export function transposeBytes(data: Uint8Array, rows: number, cols: number, size: number): Uint8Array {
  const out = new Uint8Array(data.length);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const src = (r * cols + c) * size;
      const dst = (c * rows + r) * size;
      for (let b = 0; b < size; b++) out[dst + b] = data[src + b];
    }
  }
  return out;
}

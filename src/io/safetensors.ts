// Hugging Face safetensors: reader (single files and sharded folders with model.safetensors.index.json) and an
// atomic writer. Layout: u64 little-endian header length N, N bytes of UTF-8 JSON (possibly space-padded) mapping
// tensor name → {dtype, shape (outermost first), data_offsets [begin, end) relative to the data buffer}, optional
// "__metadata__" string→string map, then the data buffer. Every offset is checked against the shape, the dtype and
// the file size; the header is capped at 100 MB like the reference reader.
//
// The writer orders tensors the way the reference implementation does (larger dtypes first, then by name), puts
// "__metadata__" first and pads the header with spaces to a multiple of 8, so it reproduces files written by
// Python's safetensors byte for byte.
// Leaves out: memory mapping (tensors are read on demand into fresh buffers), the sub-byte F4/F6 dtypes.
import { closeSync, existsSync, fstatSync, openSync, readFileSync } from "node:fs";
import path from "node:path";
import { writeFileAtomicChunks } from "./atomic-write.js";
import { readFullyAt } from "./read-at.js";

export type SafetensorsDType =
  | "BOOL" | "U8" | "I8" | "F8_E5M2" | "F8_E4M3" | "F8_E8M0" | "I16" | "U16" | "F16" | "BF16"
  | "I32" | "U32" | "F32" | "F64" | "I64" | "U64";

// In the reference implementation's enum order (the writer sorts by it, largest first), with byte sizes.
const DTYPES: ReadonlyArray<readonly [SafetensorsDType, number]> = [
  ["BOOL", 1], ["U8", 1], ["I8", 1], ["F8_E5M2", 1], ["F8_E4M3", 1], ["F8_E8M0", 1], ["I16", 2], ["U16", 2],
  ["F16", 2], ["BF16", 2], ["I32", 4], ["U32", 4], ["F32", 4], ["F64", 8], ["I64", 8], ["U64", 8],
];
const DTYPE_SIZE = new Map<string, number>(DTYPES);
const DTYPE_RANK = new Map<string, number>(DTYPES.map(([d], i) => [d, i]));

export const MAX_HEADER_BYTES = 100 * 1000 * 1000;

export class SafetensorsError extends Error {
  override name = "SafetensorsError";
}

export interface SafetensorsTensorInfo {
  name: string;
  dtype: SafetensorsDType;
  /** Outermost first (PyTorch order): an nn.Linear weight is [out, in]. */
  shape: number[];
  /** [begin, end) relative to the start of the data buffer. */
  dataOffsets: [number, number];
  /** Absolute byte offset in the file. */
  offset: number;
  byteSize: number;
  elementCount: number;
}

/** Typed view of a tensor's bytes: F32 → Float32Array, F16/BF16 → Uint16Array (raw bits), I32 → Int32Array, … */
export type SafetensorsTypedArray =
  | Float32Array | Float64Array | Uint16Array | Int16Array | Int32Array | Uint32Array | BigInt64Array | BigUint64Array
  | Int8Array | Uint8Array;

export function dtypeSize(dtype: string): number {
  const s = DTYPE_SIZE.get(dtype);
  if (s === undefined) throw new SafetensorsError(`unknown safetensors dtype '${dtype}'; known: ${[...DTYPE_SIZE.keys()].join(", ")}`);
  return s;
}

/** Reinterprets little-endian bytes as the dtype's typed array (copies only when the bytes are misaligned). */
export function toTypedArray(bytes: Uint8Array, dtype: SafetensorsDType): SafetensorsTypedArray {
  const size = dtypeSize(dtype);
  const aligned = bytes.byteOffset % size === 0 ? bytes : bytes.slice();
  const { buffer, byteOffset } = aligned;
  const n = bytes.byteLength / size;
  switch (dtype) {
    case "F32": return new Float32Array(buffer, byteOffset, n);
    case "F64": return new Float64Array(buffer, byteOffset, n);
    case "F16": case "BF16": case "U16": return new Uint16Array(buffer, byteOffset, n);
    case "I16": return new Int16Array(buffer, byteOffset, n);
    case "I32": return new Int32Array(buffer, byteOffset, n);
    case "U32": return new Uint32Array(buffer, byteOffset, n);
    case "I64": return new BigInt64Array(buffer, byteOffset, n);
    case "U64": return new BigUint64Array(buffer, byteOffset, n);
    case "I8": return new Int8Array(buffer, byteOffset, n);
    default: return aligned;
  }
}

function readExactly(fd: number, out: Uint8Array, position: number, what: string, file: string): void {
  const got = readFullyAt(fd, out, position);
  if (got < out.byteLength) throw new SafetensorsError(`${file}: ${what}: file ended after ${got} of ${out.byteLength} bytes at byte offset ${position + got}`);
}

/** One .safetensors file: its validated header; tensor data is read on demand. */
export class SafetensorsFile {
  constructor(
    readonly path: string,
    readonly fileSize: number,
    /** Absolute offset of the data buffer (8 + header length). */
    readonly dataStart: number,
    readonly metadata: Record<string, string> | null,
    readonly tensors: Map<string, SafetensorsTensorInfo>,
  ) {}

  info(name: string): SafetensorsTensorInfo {
    const t = this.tensors.get(name);
    if (!t) {
      const some = [...this.tensors.keys()].slice(0, 6).join(", ");
      throw new SafetensorsError(`${this.path}: no tensor '${name}' (has ${this.tensors.size}: ${some}${this.tensors.size > 6 ? ", …" : ""})`);
    }
    return t;
  }

  /** The tensor's raw little-endian bytes, in a fresh buffer. */
  readTensorBytes(name: string): Uint8Array {
    const t = this.info(name);
    const out = new Uint8Array(t.byteSize);
    const fd = openSync(this.path, "r");
    try {
      readExactly(fd, out, t.offset, `tensor '${name}'`, this.path);
    } finally {
      closeSync(fd);
    }
    return out;
  }

  /** The tensor as a typed array of its dtype (F16/BF16 as raw Uint16Array bits). */
  readTensor(name: string): SafetensorsTypedArray {
    return toTypedArray(this.readTensorBytes(name), this.info(name).dtype);
  }
}

function parseHeader(file: string, json: unknown, dataSize: number, dataStart: number): [Record<string, string> | null, Map<string, SafetensorsTensorInfo>] {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new SafetensorsError(`${file}: header is ${Array.isArray(json) ? "an array" : typeof json}, expected a JSON object`);
  }
  let metadata: Record<string, string> | null = null;
  const tensors = new Map<string, SafetensorsTensorInfo>();
  for (const [name, entry] of Object.entries(json as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Array.isArray(entry) ||
          !Object.values(entry).every((v) => typeof v === "string")) {
        throw new SafetensorsError(`${file}: __metadata__ must be an object of string values, got ${JSON.stringify(entry).slice(0, 80)}`);
      }
      metadata = entry as Record<string, string>;
      continue;
    }
    const bad = (what: string): never => {
      throw new SafetensorsError(`${file}: tensor '${name}': ${what}`);
    };
    if (typeof entry !== "object" || entry === null) bad(`entry is ${JSON.stringify(entry)}, expected {dtype, shape, data_offsets}`);
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e.dtype !== "string" || !DTYPE_SIZE.has(e.dtype)) {
      bad(`unknown dtype ${JSON.stringify(e.dtype)}; expected one of ${[...DTYPE_SIZE.keys()].join(", ")}`);
    }
    const dtype = e.dtype as SafetensorsDType;
    if (!Array.isArray(e.shape) || !e.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      bad(`shape ${JSON.stringify(e.shape)} is not an array of non-negative integers`);
    }
    const shape = e.shape as number[];
    const elementCount = shape.reduce((a, b) => a * b, 1);
    if (!Number.isSafeInteger(elementCount)) bad(`shape [${shape.join(", ")}] has too many elements`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      bad(`data_offsets ${JSON.stringify(offs)} is not [begin, end] of non-negative integers`);
    }
    const [begin, end] = offs as [number, number];
    if (end < begin) bad(`data_offsets [${begin}, ${end}] end before they begin`);
    const byteSize = elementCount * DTYPE_SIZE.get(dtype)!;
    if (end - begin !== byteSize) {
      bad(`data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${dtype} [${shape.join(", ")}] needs ${byteSize}`);
    }
    if (end > dataSize) {
      bad(`data_offsets [${begin}, ${end}] go past the end of the ${dataSize}-byte data buffer (file truncated?)`);
    }
    tensors.set(name, { name, dtype, shape, dataOffsets: [begin, end], offset: dataStart + begin, byteSize, elementCount });
  }
  const sorted = [...tensors.values()].filter((t) => t.byteSize > 0).sort((a, b) => a.dataOffsets[0] - b.dataOffsets[0]);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1], cur = sorted[i];
    if (cur.dataOffsets[0] < prev.dataOffsets[1]) {
      throw new SafetensorsError(`${file}: tensor '${cur.name}' data_offsets [${cur.dataOffsets.join(", ")}] overlap tensor ` +
        `'${prev.name}' [${prev.dataOffsets.join(", ")}]`);
    }
  }
  return [metadata, tensors];
}

/** Opens a .safetensors file and validates its header (no tensor data is read). */
export function openSafetensors(file: string): SafetensorsFile {
  let fd: number;
  try {
    fd = openSync(file, "r");
  } catch (err) {
    throw new SafetensorsError(`${file}: cannot open: ${(err as Error).message}`);
  }
  try {
    const fileSize = fstatSync(fd).size;
    if (fileSize < 8) throw new SafetensorsError(`${file}: ${fileSize} bytes is too short for the 8-byte header length`);
    const lenBuf = Buffer.alloc(8);
    readExactly(fd, lenBuf, 0, "header length", file);
    const n64 = lenBuf.readBigUInt64LE(0);
    if (n64 > BigInt(MAX_HEADER_BYTES)) {
      throw new SafetensorsError(`${file}: header length ${n64} is over the ${MAX_HEADER_BYTES}-byte limit (not a safetensors file?)`);
    }
    const n = Number(n64);
    if (n < 2 || 8 + n > fileSize) {
      throw new SafetensorsError(`${file}: header length ${n} does not fit: the file has ${fileSize} bytes (needs 8 + header ≤ file size, header ≥ 2)`);
    }
    const headerBytes = Buffer.alloc(n);
    readExactly(fd, headerBytes, 8, "header", file);
    if (headerBytes[0] !== 0x7b /* { */) {
      throw new SafetensorsError(`${file}: header starts with byte 0x${headerBytes[0].toString(16)}, expected '{'`);
    }
    let json: unknown;
    try {
      json = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
    } catch (err) {
      throw new SafetensorsError(`${file}: header (bytes 8..${8 + n}) is not valid UTF-8 JSON: ${(err as Error).message}`);
    }
    const [metadata, tensors] = parseHeader(file, json, fileSize - 8 - n, 8 + n);
    return new SafetensorsFile(file, fileSize, 8 + n, metadata, tensors);
  } finally {
    closeSync(fd);
  }
}

/** A model folder: model.safetensors, or shards listed by model.safetensors.index.json. */
export class SafetensorsFolder {
  constructor(
    readonly dir: string,
    readonly files: SafetensorsFile[],
    /** Tensor name → the file holding it. */
    readonly fileOf: Map<string, SafetensorsFile>,
  ) {}

  get tensorNames(): string[] {
    return [...this.fileOf.keys()];
  }

  info(name: string): SafetensorsTensorInfo {
    const f = this.fileOf.get(name);
    if (!f) throw new SafetensorsError(`${this.dir}: no tensor '${name}' in ${this.files.length} file(s) (${this.fileOf.size} tensors)`);
    return f.info(name);
  }

  has(name: string): boolean {
    return this.fileOf.has(name);
  }

  readTensorBytes(name: string): Uint8Array {
    this.info(name);
    return this.fileOf.get(name)!.readTensorBytes(name);
  }

  readTensor(name: string): SafetensorsTypedArray {
    this.info(name);
    return this.fileOf.get(name)!.readTensor(name);
  }
}

/** Opens a Hugging Face model folder's weights (single file or sharded). */
export function openSafetensorsFolder(dir: string): SafetensorsFolder {
  const indexPath = path.join(dir, "model.safetensors.index.json");
  if (existsSync(indexPath)) {
    let index: { weight_map?: unknown };
    try {
      index = JSON.parse(readFileSync(indexPath, "utf8")) as { weight_map?: unknown };
    } catch (err) {
      throw new SafetensorsError(`${indexPath}: not valid JSON: ${(err as Error).message}`);
    }
    const wm = index.weight_map;
    if (typeof wm !== "object" || wm === null || Array.isArray(wm)) {
      throw new SafetensorsError(`${indexPath}: weight_map is missing or not an object of tensor → file name`);
    }
    const byFile = new Map<string, SafetensorsFile>();
    const fileOf = new Map<string, SafetensorsFile>();
    for (const [tensor, shard] of Object.entries(wm as Record<string, unknown>)) {
      if (typeof shard !== "string" || shard.includes("/") || shard.includes("\\") || shard.startsWith(".")) {
        throw new SafetensorsError(`${indexPath}: weight_map['${tensor}'] is ${JSON.stringify(shard)}, expected a file name in the folder`);
      }
      let f = byFile.get(shard);
      if (!f) {
        f = openSafetensors(path.join(dir, shard));
        byFile.set(shard, f);
      }
      if (!f.tensors.has(tensor)) throw new SafetensorsError(`${indexPath}: weight_map puts '${tensor}' in ${shard}, which does not hold it`);
      fileOf.set(tensor, f);
    }
    // Tensors present in shards but missing from the map still belong to the model.
    for (const f of byFile.values()) for (const name of f.tensors.keys()) if (!fileOf.has(name)) fileOf.set(name, f);
    return new SafetensorsFolder(dir, [...byFile.values()], fileOf);
  }
  const single = path.join(dir, "model.safetensors");
  if (!existsSync(single)) {
    throw new SafetensorsError(`${dir}: neither model.safetensors nor model.safetensors.index.json is there`);
  }
  const f = openSafetensors(single);
  return new SafetensorsFolder(dir, [f], new Map([...f.tensors.keys()].map((n) => [n, f] as const)));
}

// ---- writer ----

export interface SafetensorsWriteTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: readonly number[];
  /** Little-endian bytes (a typed array of the right element type works too). */
  data: ArrayBufferView;
}

/** Writes a .safetensors file atomically (temp file + fsync + rename). metadata defaults to {"format": "pt"}. */
export function writeSafetensors(file: string, tensors: readonly SafetensorsWriteTensor[],
  metadata: Record<string, string> | null = { format: "pt" }): void {
  const names = new Set<string>();
  for (const t of tensors) {
    if (t.name === "__metadata__" || names.has(t.name)) throw new SafetensorsError(`[writeSafetensors] tensor name '${t.name}' is reserved or repeated`);
    names.add(t.name);
    const size = dtypeSize(t.dtype);
    if (!t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
      throw new SafetensorsError(`[writeSafetensors] tensor '${t.name}' has shape [${t.shape.join(", ")}], expected non-negative integers`);
    }
    const want = t.shape.reduce((a, b) => a * b, 1) * size;
    if (t.data.byteLength !== want) {
      throw new SafetensorsError(`[writeSafetensors] tensor '${t.name}' (${t.dtype} [${t.shape.join(", ")}]) has ${t.data.byteLength} bytes, expected ${want}`);
    }
  }
  const ordered = [...tensors].sort((a, b) =>
    DTYPE_RANK.get(b.dtype)! - DTYPE_RANK.get(a.dtype)! || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of ordered) {
    header[t.name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.data.byteLength] };
    offset += t.data.byteLength;
  }
  const json = Buffer.from(JSON.stringify(header), "utf8");
  const padded = Math.ceil(json.length / 8) * 8;
  const head = Buffer.alloc(8 + padded, 0x20);
  head.writeBigUInt64LE(BigInt(padded), 0);
  json.copy(head, 8);

  writeFileAtomicChunks(file, (put) => {
    put(head);
    for (const t of ordered) put(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
  });
}

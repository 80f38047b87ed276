// GGUF reader (versions 2 and 3): header, metadata and tensor infos, validated, plus lazy per-tensor reads.
// Every length and offset is checked against the file size before it is used, so a malformed or truncated file
// throws GgufError (naming the field, the byte offset and what was expected) instead of crashing, hanging or
// allocating absurd amounts.
//
// Value mapping: u8..i32, f32, f64 → number; bool → boolean; string → string (UTF-8, invalid bytes become
// U+FFFD); array → GgufValue[]; u64 and i64 → number when Number.isSafeInteger, else bigint (e.g. 2^64−1 as a
// "none" marker stays bigint 18446744073709551615n).
//
// Leaves out: GGUF v1 (32-bit counts, long obsolete), big-endian files (their version reads as an absurd number
// and is rejected), memory mapping (Node has none; readTensorBytes reads each tensor once into a fresh buffer),
// and decoding tensor data (src/backend/ref/quant.ts does that).
import { closeSync, fstatSync, openSync } from "node:fs";
import { readFullyAt } from "./read-at.js";
import { type GgmlType, ggmlTypeById } from "./ggml-types.js";

export type GgufValue = number | bigint | boolean | string | GgufValue[];

/** GGUF metadata value type names, in on-disk id order (0 = u8 … 12 = f64). */
export const GGUF_VALUE_TYPES = [
  "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
] as const;
export type GgufScalarType = Exclude<(typeof GGUF_VALUE_TYPES)[number], "array">;
/** A metadata value's on-disk type: a scalar name, or "array:<element type>" (nested: "array:array:u8"). */
export type GgufValueType = GgufScalarType | `array:${string}`;

export interface GgufTensorInfo {
  name: string;
  /** ggml order, fastest-varying first: token_embd.weight is [n_embd, n_vocab]. */
  dims: number[];
  type: GgmlType;
  typeId: number;
  /** Absolute byte offset in the file. */
  offset: number;
  byteSize: number;
  elementCount: number;
}

export interface GgufFile {
  path: string;
  version: number;
  metadata: Map<string, GgufValue>;
  /** On-disk type of each metadata value (lets a writer reproduce the file exactly). */
  metadataTypes: Map<string, GgufValueType>;
  tensors: GgufTensorInfo[];
  tensorByName: Map<string, GgufTensorInfo>;
  alignment: number;
  /** Absolute offset of the tensor data section. */
  dataStart: number;
  fileSize: number;
}

export class GgufError extends Error {
  override name = "GgufError";
}

const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
const MAX_DIMS = 4;
const MAX_ELEMENTS = 2 ** 40;
const MAX_NESTING = 8;
const DEFAULT_ALIGNMENT = 32;
// Minimum on-disk bytes of one value of each type id (arrays and strings: their headers), to bound counts.
const MIN_VALUE_BYTES = [1, 1, 2, 2, 4, 4, 4, 1, 8, 12, 8, 8, 8];

/** Buffered little-endian reader over a file descriptor; every read is bounds-checked against the file size. */
class HeaderReader {
  private buf: Buffer = Buffer.alloc(0);
  private bufStart = 0; // file offset of buf[0]
  pos = 0;
  constructor(private readonly fd: number, readonly fileSize: number, private readonly path: string) {}

  fail(what: string, at = this.pos): never {
    throw new GgufError(`${this.path}: ${what} (at byte offset ${at})`);
  }

  /** Makes bytes [pos, pos+n) resident and returns the buffer index of pos. */
  private need(n: number, what: string): number {
    if (n > this.fileSize - this.pos) {
      this.fail(`truncated file: ${what} needs ${n} bytes but only ${Math.max(0, this.fileSize - this.pos)} remain of ${this.fileSize}`);
    }
    const end = this.pos + n;
    if (this.pos < this.bufStart || end > this.bufStart + this.buf.length) {
      const want = Math.min(this.fileSize - this.pos, Math.max(n, 1 << 20));
      const buf = Buffer.allocUnsafe(want);
      const got = readFullyAt(this.fd, buf, this.pos);
      if (got < want) this.fail(`file shrank while reading ${what}: expected ${want} bytes, read ${got}`);
      this.buf = buf;
      this.bufStart = this.pos;
    }
    return this.pos - this.bufStart;
  }

  u8(what: string): number { const i = this.need(1, what); this.pos += 1; return this.buf.readUInt8(i); }
  i8(what: string): number { const i = this.need(1, what); this.pos += 1; return this.buf.readInt8(i); }
  u16(what: string): number { const i = this.need(2, what); this.pos += 2; return this.buf.readUInt16LE(i); }
  i16(what: string): number { const i = this.need(2, what); this.pos += 2; return this.buf.readInt16LE(i); }
  u32(what: string): number { const i = this.need(4, what); this.pos += 4; return this.buf.readUInt32LE(i); }
  i32(what: string): number { const i = this.need(4, what); this.pos += 4; return this.buf.readInt32LE(i); }
  f32(what: string): number { const i = this.need(4, what); this.pos += 4; return this.buf.readFloatLE(i); }
  f64(what: string): number { const i = this.need(8, what); this.pos += 8; return this.buf.readDoubleLE(i); }
  u64(what: string): bigint { const i = this.need(8, what); this.pos += 8; return this.buf.readBigUInt64LE(i); }
  i64(what: string): bigint { const i = this.need(8, what); this.pos += 8; return this.buf.readBigInt64LE(i); }

  /** A u64 count or size that must fit in `limit` (checked before any allocation). */
  count(what: string, limit: number, unit = "bytes left in the file"): number {
    const at = this.pos;
    const v = this.u64(what);
    if (v > BigInt(limit)) this.fail(`${what} is ${v}, more than the ${limit} ${unit}`, at);
    return Number(v);
  }

  // Hot path for vocabularies: `what` is a template literal only built on failure.
  string(what: string): string {
    const lenAt = this.need(8, what);
    const len64 = this.buf.readBigUInt64LE(lenAt);
    this.pos += 8;
    if (len64 > BigInt(this.fileSize - this.pos)) {
      this.fail(`length of ${what} is ${len64}, more than the ${this.fileSize - this.pos} bytes left in the file`, this.pos - 8);
    }
    const len = Number(len64);
    const i = this.need(len, what);
    this.pos += len;
    return this.buf.toString("utf8", i, i + len);
  }

  /** n numeric values of GGUF type id `typeId` (not bool, string or array) into out. */
  numbers(typeId: number, n: number, out: GgufValue[], key: string): void {
    const size = MIN_VALUE_BYTES[typeId];
    let done = 0;
    while (done < n) {
      // Read in bounded chunks so a huge array never needs one huge buffer.
      const chunk = Math.min(n - done, 1 << 16);
      const b = this.need(chunk * size, `array '${key}'`);
      const buf = this.buf;
      for (let j = 0; j < chunk; j++) {
        const o = b + j * size;
        let v: number | bigint;
        switch (typeId) {
          case 0: v = buf[o]; break;
          case 1: v = buf.readInt8(o); break;
          case 2: v = buf.readUInt16LE(o); break;
          case 3: v = buf.readInt16LE(o); break;
          case 4: v = buf.readUInt32LE(o); break;
          case 5: v = buf.readInt32LE(o); break;
          case 6: v = buf.readFloatLE(o); break;
          case 10: v = bigToValue(buf.readBigUInt64LE(o)); break;
          case 11: v = bigToValue(buf.readBigInt64LE(o)); break;
          default: v = buf.readDoubleLE(o); break;
        }
        out[done + j] = v;
      }
      this.pos += chunk * size;
      done += chunk;
    }
  }

  remaining(): number {
    return this.fileSize - this.pos;
  }
}

function readValue(r: HeaderReader, typeId: number, key: string, depth: number): [GgufValue, GgufValueType] {
  switch (typeId) {
    case 0: return [r.u8(key), "u8"];
    case 1: return [r.i8(key), "i8"];
    case 2: return [r.u16(key), "u16"];
    case 3: return [r.i16(key), "i16"];
    case 4: return [r.u32(key), "u32"];
    case 5: return [r.i32(key), "i32"];
    case 6: return [r.f32(key), "f32"];
    case 7: {
      const at = r.pos;
      const b = r.u8(key);
      if (b > 1) r.fail(`bool value of '${key}' is ${b}, expected 0 or 1`, at);
      return [b === 1, "bool"];
    }
    case 8: return [r.string(`string value of '${key}'`), "string"];
    case 10: return [bigToValue(r.u64(key)), "u64"];
    case 11: return [bigToValue(r.i64(key)), "i64"];
    case 12: return [r.f64(key), "f64"];
    case 9: {
      if (depth >= MAX_NESTING) r.fail(`array '${key}' is nested more than ${MAX_NESTING} deep`);
      const at = r.pos;
      const elemType = r.u32(`element type of array '${key}'`);
      if (elemType >= GGUF_VALUE_TYPES.length) {
        r.fail(`array '${key}' has element type id ${elemType}, expected 0..${GGUF_VALUE_TYPES.length - 1}`, at);
      }
      const n = r.count(`element count of array '${key}'`, Math.floor(r.remaining() / MIN_VALUE_BYTES[elemType]),
        `elements that fit in the rest of the file`);
      const out: GgufValue[] = new Array(n);
      let elemSpec: GgufValueType = GGUF_VALUE_TYPES[elemType] as GgufValueType;
      if (elemType === 8) {
        for (let i = 0; i < n; i++) out[i] = r.string(`element ${i} of array '${key}'`);
      } else if (elemType !== 9 && elemType !== 7) {
        r.numbers(elemType, n, out, key);
      } else {
        for (let i = 0; i < n; i++) {
          const [v, spec] = readValue(r, elemType, key, depth + 1);
          out[i] = v;
          elemSpec = spec;
        }
      }
      if (elemType === 9 && n === 0) elemSpec = "array:u8"; // element type of an empty nested array is unknowable
      return [out, `array:${elemSpec}`];
    }
    default:
      return r.fail(`metadata '${key}' has value type id ${typeId}, expected 0..12`);
  }
}

function bigToValue(v: bigint): number | bigint {
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : v;
}

/** Reads and validates the header, metadata and tensor infos of a GGUF file (no tensor data). */
export function readGguf(path: string): GgufFile {
  let fd: number;
  try {
    fd = openSync(path, "r");
  } catch (err) {
    throw new GgufError(`${path}: cannot open: ${(err as Error).message}`);
  }
  try {
    return parse(fd, path);
  } finally {
    closeSync(fd);
  }
}

function parse(fd: number, path: string): GgufFile {
  const fileSize = fstatSync(fd).size;
  const r: HeaderReader = new HeaderReader(fd, fileSize, path); // explicit type: lets r.fail() (never) narrow
  const magic = r.u32("magic");
  if (magic !== GGUF_MAGIC) {
    r.fail(`bad magic 0x${magic.toString(16).padStart(8, "0")}, expected "GGUF" (0x46554747 little-endian): not a GGUF file`, 0);
  }
  const version = r.u32("version");
  if (version !== 2 && version !== 3) {
    r.fail(`unsupported GGUF version ${version}, expected 2 or 3${version > 0xffff ? " (a big-endian file?)" : ""}`, 4);
  }
  // Each tensor info takes at least 8 (name len) + 4 + 8 + 4 + 8 bytes; each KV at least 8 + 4 + 1.
  const tensorCount = r.count("tensor_count", Math.floor(r.remaining() / 32), "tensor infos that fit in the file");
  const kvCount = r.count("metadata_kv_count", Math.floor(r.remaining() / 13), "entries that fit in the file");

  const metadata = new Map<string, GgufValue>();
  const metadataTypes = new Map<string, GgufValueType>();
  for (let i = 0; i < kvCount; i++) {
    const keyAt = r.pos;
    const key = r.string(`key of metadata entry ${i}`);
    if (metadata.has(key)) r.fail(`duplicate metadata key '${key}'`, keyAt);
    const typeAt = r.pos;
    const typeId = r.u32(`value type of '${key}'`);
    if (typeId >= GGUF_VALUE_TYPES.length) r.fail(`metadata '${key}' has value type id ${typeId}, expected 0..12`, typeAt);
    const [value, spec] = readValue(r, typeId, key, 0);
    metadata.set(key, value);
    metadataTypes.set(key, spec);
  }

  let alignment = DEFAULT_ALIGNMENT;
  if (metadata.has("general.alignment")) {
    const a = metadata.get("general.alignment");
    if (typeof a !== "number" || !Number.isInteger(a) || a <= 0 || (a & (a - 1)) !== 0) {
      throw new GgufError(`${path}: general.alignment is ${String(a)}, expected a positive power of two`);
    }
    alignment = a;
  }

  interface RawInfo { name: string; dims: number[]; typeId: number; type: GgmlType; rel: number; byteSize: number; elementCount: number; at: number }
  const raw: RawInfo[] = [];
  const names = new Set<string>();
  for (let i = 0; i < tensorCount; i++) {
    const at = r.pos;
    const name = r.string(`name of tensor ${i}`);
    if (names.has(name)) r.fail(`duplicate tensor name '${name}'`, at);
    names.add(name);
    const nDimsAt = r.pos;
    const nDims = r.u32(`n_dims of tensor '${name}'`);
    if (nDims < 1 || nDims > MAX_DIMS) r.fail(`tensor '${name}' has n_dims ${nDims}, expected 1..${MAX_DIMS}`, nDimsAt);
    const dims: number[] = [];
    let elementCount = 1;
    for (let d = 0; d < nDims; d++) {
      const dimAt = r.pos;
      const v = r.i64(`dim ${d} of tensor '${name}'`);
      if (v < 0n || v > BigInt(MAX_ELEMENTS)) {
        r.fail(`tensor '${name}' dim ${d} is ${v}, expected 0..2^40`, dimAt);
      }
      dims.push(Number(v));
      elementCount *= Number(v);
      if (elementCount > MAX_ELEMENTS) {
        r.fail(`tensor '${name}' has dims [${dims.join(", ")}…], more than 2^40 elements`, dimAt);
      }
    }
    const typeAt = r.pos;
    const typeId = r.u32(`type of tensor '${name}'`);
    const info = ggmlTypeById(typeId);
    if (!info) r.fail(`tensor '${name}' has unknown ggml type id ${typeId}`, typeAt);
    if (dims[0] % info.blockSize !== 0) {
      r.fail(`tensor '${name}' of type ${info.name} has dims[0] = ${dims[0]}, not a multiple of its block size ${info.blockSize}`, nDimsAt);
    }
    const offAt = r.pos;
    const rel = r.u64(`offset of tensor '${name}'`);
    if (rel > BigInt(fileSize)) r.fail(`tensor '${name}' has data offset ${rel}, past the end of the ${fileSize}-byte file`, offAt);
    const relN = Number(rel);
    if (relN % alignment !== 0) r.fail(`tensor '${name}' has data offset ${relN}, not a multiple of the alignment ${alignment}`, offAt);
    raw.push({ name, dims, typeId, type: info.name, rel: relN, byteSize: (elementCount / info.blockSize) * info.typeSize, elementCount, at });
  }

  const dataStart = Math.ceil(r.pos / alignment) * alignment;
  if (tensorCount > 0 && dataStart > fileSize) {
    r.fail(`truncated file: tensor data should start at ${dataStart} but the file has ${fileSize} bytes`);
  }
  const tensors: GgufTensorInfo[] = raw.map((t) => ({
    name: t.name, dims: t.dims, type: t.type, typeId: t.typeId, offset: dataStart + t.rel, byteSize: t.byteSize,
    elementCount: t.elementCount,
  }));
  for (const t of tensors) {
    if (t.offset + t.byteSize > fileSize) {
      throw new GgufError(`${path}: truncated file: tensor '${t.name}' (${t.type} [${t.dims.join(", ")}]) occupies bytes ` +
        `${t.offset}..${t.offset + t.byteSize} but the file has ${fileSize} bytes`);
    }
  }
  const sorted = [...tensors].sort((a, b) => a.offset - b.offset);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1], cur = sorted[i];
    if (cur.offset < prev.offset + prev.byteSize) {
      throw new GgufError(`${path}: tensor '${cur.name}' at byte offset ${cur.offset} overlaps tensor '${prev.name}' ` +
        `(bytes ${prev.offset}..${prev.offset + prev.byteSize})`);
    }
  }
  const tensorByName = new Map(tensors.map((t) => [t.name, t] as const));
  return { path, version, metadata, metadataTypes, tensors, tensorByName, alignment, dataStart, fileSize };
}

/** Reads one tensor's raw bytes into a fresh buffer (call once per tensor; nothing is cached). */
export function readTensorBytes(file: GgufFile, t: GgufTensorInfo): Uint8Array {
  const out = new Uint8Array(t.byteSize);
  readTensorBytesInto(file, t, out, 0);
  return out;
}

/** Reads tensor t's bytes into out[at, at + t.byteSize) (e.g. several tensors side by side in one buffer). */
export function readTensorBytesInto(file: GgufFile, t: GgufTensorInfo, out: Uint8Array, at: number): void {
  if (at < 0 || at + t.byteSize > out.length) {
    throw new GgufError(`${file.path}: tensor '${t.name}' (${t.byteSize} bytes) does not fit at ${at} in a buffer of ${out.length}`);
  }
  const fd = openSync(file.path, "r");
  try {
    const got = readFullyAt(fd, out.subarray(at, at + t.byteSize), t.offset);
    if (got < t.byteSize) {
      throw new GgufError(`${file.path}: tensor '${t.name}': file ended after ${got} of ${t.byteSize} bytes at ` +
        `byte offset ${t.offset + got} (was it truncated after it was opened?)`);
    }
  } finally {
    closeSync(fd);
  }
}

// ---- typed metadata getters ----

function describe(v: GgufValue | undefined): string {
  if (v === undefined) return "absent";
  if (Array.isArray(v)) return `an array of ${v.length}`;
  return `${typeof v} ${typeof v === "string" ? JSON.stringify(v.length > 40 ? v.slice(0, 40) + "…" : v) : String(v)}`;
}

function wrongType(file: GgufFile, key: string, expected: string): never {
  throw new GgufError(`${file.path}: metadata '${key}' is ${describe(file.metadata.get(key))}, expected ${expected}`);
}

export function getOptionalString(file: GgufFile, key: string): string | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "string") wrongType(file, key, "a string");
  return v;
}

export function getString(file: GgufFile, key: string): string {
  const v = getOptionalString(file, key);
  if (v === undefined) wrongType(file, key, "a string");
  return v;
}

/** A numeric value as a number (a u64/i64 beyond 2^53 is rejected: use file.metadata directly for those). */
export function getOptionalNumber(file: GgufFile, key: string): number | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (typeof v !== "number") wrongType(file, key, "a number");
  return v;
}

export function getNumber(file: GgufFile, key: string): number {
  const v = getOptionalNumber(file, key);
  if (v === undefined) wrongType(file, key, "a number");
  return v;
}

export function getOptionalArray(file: GgufFile, key: string): GgufValue[] | undefined {
  const v = file.metadata.get(key);
  if (v === undefined) return undefined;
  if (!Array.isArray(v)) wrongType(file, key, "an array");
  return v;
}

export function getArray(file: GgufFile, key: string): GgufValue[] {
  const v = getOptionalArray(file, key);
  if (v === undefined) wrongType(file, key, "an array");
  return v;
}

/** An array whose elements are all strings (e.g. tokenizer.ggml.tokens, .merges). */
export function getStringArray(file: GgufFile, key: string): string[] {
  const v = getArray(file, key);
  for (let i = 0; i < v.length; i++) if (typeof v[i] !== "string") wrongType(file, key, `an array of strings (element ${i} is ${describe(v[i])})`);
  return v as string[];
}

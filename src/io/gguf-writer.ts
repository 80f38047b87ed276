// GGUF v3 writer: metadata (typed explicitly or inferred), tensor infos and aligned tensor data, written atomically
// (temp file in the same folder, fsync, rename) so a crash never leaves a half-written model under the real name.
// Tensor data is laid out in the order given, each tensor padded to the alignment (general.alignment if the metadata
// sets it, else 32) — the layout llama.cpp's own writer produces.
//
// Type inference when a metadata entry has no explicit type: boolean → bool, string → string, bigint → u64 (i64
// if negative), integer number → u32 (i32 if negative, u64/i64 beyond 32 bits), other number → f32; arrays take
// the inferred type of their elements (all-integer number arrays → i32, else f32). Pass the type from
// GgufFile.metadataTypes to reproduce a file exactly.
// Leaves out: streaming tensors from another file (each tensor's bytes are passed in memory), big-endian output.
import { writeFileAtomicChunks } from "./atomic-write.js";
import { type GgmlType, ggmlType } from "./ggml-types.js";
import { GGUF_VALUE_TYPES, GgufError, type GgufScalarType, type GgufValue, type GgufValueType } from "./gguf.js";

export interface GgufWriteTensor {
  name: string;
  /** ggml order, fastest-varying first. */
  dims: readonly number[];
  type: GgmlType;
  data: Uint8Array;
}

export interface GgufWriteSpec {
  metadata: ReadonlyArray<readonly [key: string, value: GgufValue, valueType?: GgufValueType]>;
  tensors: readonly GgufWriteTensor[];
}

/** Growable little-endian byte buffer. */
class ByteSink {
  buf = Buffer.allocUnsafe(1 << 16);
  len = 0;
  private room(n: number): number {
    if (this.len + n > this.buf.length) {
      const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(next, 0, 0, this.len);
      this.buf = next;
    }
    const at = this.len;
    this.len += n;
    return at;
  }
  u8(v: number) { const at = this.room(1); this.buf.writeUInt8(v, at); }
  i8(v: number) { const at = this.room(1); this.buf.writeInt8(v, at); }
  u16(v: number) { const at = this.room(2); this.buf.writeUInt16LE(v, at); }
  i16(v: number) { const at = this.room(2); this.buf.writeInt16LE(v, at); }
  u32(v: number) { const at = this.room(4); this.buf.writeUInt32LE(v, at); }
  i32(v: number) { const at = this.room(4); this.buf.writeInt32LE(v, at); }
  f32(v: number) { const at = this.room(4); this.buf.writeFloatLE(v, at); }
  f64(v: number) { const at = this.room(8); this.buf.writeDoubleLE(v, at); }
  u64(v: bigint) { const at = this.room(8); this.buf.writeBigUInt64LE(v, at); }
  i64(v: bigint) { const at = this.room(8); this.buf.writeBigInt64LE(v, at); }
  str(s: string) {
    const n = Buffer.byteLength(s, "utf8");
    this.u64(BigInt(n));
    const at = this.room(n); // room() may replace this.buf: call it first
    this.buf.write(s, at, n, "utf8");
  }
  zeros(n: number) { const at = this.room(n); this.buf.fill(0, at, this.len); }
}

function inferType(v: GgufValue, key: string): GgufValueType {
  if (typeof v === "boolean") return "bool";
  if (typeof v === "string") return "string";
  if (typeof v === "bigint") return v < 0n ? "i64" : "u64";
  if (typeof v === "number") {
    if (!Number.isInteger(v)) return "f32";
    if (v >= 0 && v <= 0xffffffff) return "u32";
    if (v < 0 && v >= -0x80000000) return "i32";
    return v < 0 ? "i64" : "u64";
  }
  if (v.length === 0) return "array:i32";
  if (v.every((x) => typeof x === "number")) {
    return (v as number[]).every((x) => Number.isInteger(x) && x >= -0x80000000 && x <= 0x7fffffff) ? "array:i32" : "array:f32";
  }
  const first = inferType(v[0], key);
  for (let i = 1; i < v.length; i++) {
    const t = inferType(v[i], key);
    if (t !== first && !(t.startsWith("array:") && first.startsWith("array:"))) {
      throw new GgufError(`[writeGguf] metadata '${key}': array mixes ${first} and ${t} elements; pass an explicit type`);
    }
  }
  return `array:${first}`;
}

const INT_RANGES: Partial<Record<GgufScalarType, [number, number]>> = {
  u8: [0, 0xff], i8: [-0x80, 0x7f], u16: [0, 0xffff], i16: [-0x8000, 0x7fff], u32: [0, 0xffffffff], i32: [-0x80000000, 0x7fffffff],
};

function writeValue(out: ByteSink, v: GgufValue, type: GgufValueType, key: string): void {
  const bad: (expected: string) => never = (expected) => { // explicit type: lets bad() narrow v
    throw new GgufError(`[writeGguf] metadata '${key}' has value ${typeof v === "string" ? JSON.stringify(v) : Array.isArray(v) ? `array(${v.length})` : String(v)}, ` +
      `which is not ${expected} (declared type ${type})`);
  };
  if (type.startsWith("array:")) {
    if (!Array.isArray(v)) bad("an array");
    const elem = type.slice(6) as GgufValueType;
    const elemId = GGUF_VALUE_TYPES.indexOf((elem.startsWith("array:") ? "array" : elem) as (typeof GGUF_VALUE_TYPES)[number]);
    if (elemId < 0) throw new GgufError(`[writeGguf] metadata '${key}': unknown element type '${elem}' in '${type}'`);
    out.u32(elemId);
    out.u64(BigInt(v.length));
    for (const x of v) writeValue(out, x, elem, key);
    return;
  }
  const scalar = type as GgufScalarType;
  switch (scalar) {
    case "bool":
      if (typeof v !== "boolean") bad("a boolean");
      out.u8(v ? 1 : 0);
      return;
    case "string":
      if (typeof v !== "string") bad("a string");
      out.str(v);
      return;
    case "f32":
    case "f64":
      if (typeof v !== "number") bad("a number");
      if (scalar === "f32") out.f32(v); else out.f64(v);
      return;
    case "u64":
    case "i64": {
      if (typeof v !== "number" && typeof v !== "bigint") bad("a number or bigint");
      if (typeof v === "number" && !Number.isSafeInteger(v)) bad("a safe integer");
      const b = BigInt(v as number | bigint);
      if (scalar === "u64" ? b < 0n || b >= 2n ** 64n : b < -(2n ** 63n) || b >= 2n ** 63n) bad(`in range for ${scalar}`);
      if (scalar === "u64") out.u64(b); else out.i64(b);
      return;
    }
    default: {
      const range = INT_RANGES[scalar];
      if (!range) throw new GgufError(`[writeGguf] metadata '${key}': unknown value type '${type}'`);
      if (typeof v !== "number" || !Number.isInteger(v) || v < range[0] || v > range[1]) bad(`an integer in [${range[0]}, ${range[1]}]`);
      const n = v as number;
      switch (scalar) {
        case "u8": out.u8(n); break;
        case "i8": out.i8(n); break;
        case "u16": out.u16(n); break;
        case "i16": out.i16(n); break;
        case "u32": out.u32(n); break;
        default: out.i32(n); break;
      }
    }
  }
}

/** Encodes the header (magic through tensor infos, padded to the alignment) and returns it with each tensor's
 *  relative data offset. */
function encodeHeader(spec: GgufWriteSpec): { header: Buffer; offsets: number[]; alignment: number } {
  const out = new ByteSink();
  out.u32(0x46554747);
  out.u32(3);
  out.u64(BigInt(spec.tensors.length));
  out.u64(BigInt(spec.metadata.length));
  let alignment = 32;
  const keys = new Set<string>();
  for (const [key, value, declared] of spec.metadata) {
    if (keys.has(key)) throw new GgufError(`[writeGguf] duplicate metadata key '${key}'`);
    keys.add(key);
    const type = declared ?? inferType(value, key);
    if (key === "general.alignment") {
      if (typeof value !== "number" || value <= 0 || (value & (value - 1)) !== 0) {
        throw new GgufError(`[writeGguf] general.alignment is ${String(value)}, expected a positive power of two`);
      }
      alignment = value;
    }
    out.str(key);
    out.u32(GGUF_VALUE_TYPES.indexOf((type.startsWith("array:") ? "array" : type) as (typeof GGUF_VALUE_TYPES)[number]));
    writeValue(out, value, type, key);
  }
  const offsets: number[] = [];
  const names = new Set<string>();
  let rel = 0;
  for (const t of spec.tensors) {
    if (names.has(t.name)) throw new GgufError(`[writeGguf] duplicate tensor name '${t.name}'`);
    names.add(t.name);
    const info = ggmlType(t.type);
    if (t.dims.length < 1 || t.dims.length > 4 || t.dims.some((d) => !Number.isSafeInteger(d) || d < 0)) {
      throw new GgufError(`[writeGguf] tensor '${t.name}' has dims [${t.dims.join(", ")}], expected 1..4 non-negative integers`);
    }
    const elements = t.dims.reduce((a, b) => a * b, 1);
    if (t.dims[0] % info.blockSize !== 0) {
      throw new GgufError(`[writeGguf] tensor '${t.name}' of type ${t.type} has dims[0] = ${t.dims[0]}, not a multiple of its block size ${info.blockSize}`);
    }
    const bytes = (elements / info.blockSize) * info.typeSize;
    if (t.data.byteLength !== bytes) {
      throw new GgufError(`[writeGguf] tensor '${t.name}' (${t.type} [${t.dims.join(", ")}]) has ${t.data.byteLength} bytes of data, expected ${bytes}`);
    }
    out.str(t.name);
    out.u32(t.dims.length);
    for (const d of t.dims) out.i64(BigInt(d));
    out.u32(info.id);
    out.u64(BigInt(rel));
    offsets.push(rel);
    rel += Math.ceil(bytes / alignment) * alignment;
  }
  out.zeros(Math.ceil(out.len / alignment) * alignment - out.len);
  return { header: out.buf.subarray(0, out.len), offsets, alignment };
}

/** Writes a GGUF v3 file atomically. Throws GgufError on invalid metadata or tensor sizes (before touching disk). */
export function writeGguf(filePath: string, spec: GgufWriteSpec): void {
  const { header, alignment } = encodeHeader(spec);
  writeFileAtomicChunks(filePath, (put) => {
    put(header);
    const pad = new Uint8Array(alignment);
    for (const t of spec.tensors) {
      put(t.data);
      const rem = t.data.byteLength % alignment;
      if (rem !== 0) put(pad.subarray(0, alignment - rem));
    }
  });
}

// GGUF reader tests: every shared fixture loads with the tensor types, sizes and metadata its reference JSON (made
// by the fixture generator and llama.cpp, not by this code) records; hand-built malformed files and fuzzed copies
// (truncations, byte flips) must load or throw GgufError, never crash or hang.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  GgufError, getArray, getNumber, getOptionalString, getString, getStringArray, readGguf, readTensorBytes,
} from "../../src/io/gguf.js";
import { ggmlTypeById } from "../../src/io/ggml-types.js";

const GGUF_DIR = path.resolve("../shared/testdata/gguf");
const VOCAB_DIR = path.resolve("../shared/testdata/llama-vocab");

interface RefJson {
  model_bytes: number;
  n_vocab: number;
  tensor_types: Record<string, { count: number; names: string[] }>;
}

test("every shared GGUF model loads with the tensor types and sizes its reference JSON records", () => {
  const models = readdirSync(GGUF_DIR).filter((f) => f.endsWith(".gguf"));
  assert.ok(models.length >= 9);
  for (const f of models) {
    const g = readGguf(path.join(GGUF_DIR, f));
    const ref = JSON.parse(readFileSync(path.join(GGUF_DIR, f.replace(/\.gguf$/, ".json")), "utf8")) as RefJson;
    assert.equal(g.fileSize, ref.model_bytes, f);
    assert.equal(g.version, 3, f);
    assert.equal(g.alignment, 32, f);
    let total = 0;
    for (const [typeName, { count, names }] of Object.entries(ref.tensor_types)) {
      assert.equal(names.length, count);
      for (const n of names) assert.equal(g.tensorByName.get(n)?.type, typeName.toLowerCase(), `${f} ${n}`);
      total += count;
    }
    assert.equal(g.tensors.length, total, f);
    assert.equal(getStringArray(g, "tokenizer.ggml.tokens").length, ref.n_vocab, f);
    const embd = g.tensorByName.get("token_embd.weight")!;
    const arch = getString(g, "general.architecture");
    assert.deepEqual(embd.dims, [getNumber(g, `${arch}.embedding_length`), ref.n_vocab], f);
    // Tensors lie inside the file, aligned, after the header; the last one ends within one alignment of the end.
    const last = Math.max(...g.tensors.map((t) => t.offset + t.byteSize));
    assert.ok(last <= g.fileSize && g.fileSize - last < 32, `${f}: ${last} vs ${g.fileSize}`);
    for (const t of g.tensors) {
      assert.equal((t.offset - g.dataStart) % 32, 0);
      const info = ggmlTypeById(t.typeId)!;
      assert.equal(t.byteSize, (t.elementCount / info.blockSize) * info.typeSize);
    }
  }
});

test("stories260K metadata: the odd values llama2c's converter writes", () => {
  const g = readGguf(path.join(GGUF_DIR, "stories260K.gguf"));
  assert.equal(getNumber(g, "llama.context_length"), 128);
  assert.equal(getNumber(g, "llama.block_count"), 5);
  assert.equal(getNumber(g, "tokenizer.ggml.seperator_token_id"), 4294967295);
  assert.equal(g.metadataTypes.get("tokenizer.ggml.seperator_token_id"), "u32");
  assert.equal(g.metadataTypes.get("tokenizer.ggml.scores"), "array:f32");
  assert.equal(getString(g, "tokenizer.ggml.model"), "llama");
  const tokens = getStringArray(g, "tokenizer.ggml.tokens");
  assert.deepEqual(tokens.slice(0, 4), ["<unk>", "<s>", "</s>", "<0x00>"]);
  assert.equal(tokens[258], "<0xFF>");
  assert.equal(getOptionalString(g, "no.such.key"), undefined);
  assert.throws(() => getNumber(g, "general.architecture"), /general\.architecture.*string "llama".*expected a number/);
  assert.throws(() => getArray(g, "no.such.key"), GgufError);
  // The F32 norm tensor: RMSNorm weights of a trained model are positive and O(1).
  const norm = g.tensorByName.get("output_norm.weight")!;
  const v = new Float32Array(readTensorBytes(g, norm).buffer);
  assert.equal(v.length, 64);
  assert.ok(v.every((x) => Number.isFinite(x) && x > 0 && x < 10));
});

test("llama.cpp's vocab files load, with real-size vocabularies", () => {
  const expected: Record<string, number> = { "ggml-vocab-llama-spm.gguf": 32000, "ggml-vocab-gpt-2.gguf": 50257 };
  for (const [f, n] of Object.entries(expected)) {
    const g = readGguf(path.join(VOCAB_DIR, f));
    assert.equal(getStringArray(g, "tokenizer.ggml.tokens").length, n, f);
    assert.equal(g.tensors.length, 0);
  }
});

test("a version 2 header reads the same as version 3", () => {
  const bytes = readFileSync(path.join(GGUF_DIR, "stories260K.gguf"));
  const v2 = Buffer.from(bytes);
  v2.writeUInt32LE(2, 4);
  const a = readGguf(path.join(GGUF_DIR, "stories260K.gguf")), b = load(v2);
  assert.equal(b.version, 2);
  assert.deepEqual([...b.metadata], [...a.metadata]);
  assert.deepEqual(b.tensors, a.tensors);
});

// ---- malformed files ----

/** Minimal little-endian GGUF builder for malformed-file tests (independent of src/io/gguf-writer.ts). */
class Bytes {
  parts: Buffer[] = [];
  u32(v: number) { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); this.parts.push(b); return this; }
  u64(v: number | bigint) { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); this.parts.push(b); return this; }
  i64(v: number | bigint) { const b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); this.parts.push(b); return this; }
  str(s: string) { const b = Buffer.from(s, "utf8"); this.u64(b.length); this.parts.push(b); return this; }
  raw(b: Buffer) { this.parts.push(b); return this; }
  pad(to: number) { const n = this.len(); const m = Math.ceil(n / to) * to - n; this.parts.push(Buffer.alloc(m)); return this; }
  len() { return this.parts.reduce((a, b) => a + b.length, 0); }
  buf() { return Buffer.concat(this.parts); }
}

interface FakeTensor { name: string; dims: Array<number | bigint>; typeId: number; offset: number | bigint }
function buildGguf(opts: { version?: number; magic?: number; tensors?: FakeTensor[]; dataBytes?: number; kv?: (b: Bytes) => number }): Buffer {
  const b = new Bytes();
  b.u32(opts.magic ?? 0x46554747).u32(opts.version ?? 3);
  const tensors = opts.tensors ?? [];
  b.u64(tensors.length);
  const kvPart = new Bytes();
  const kvCount = opts.kv ? opts.kv(kvPart) : 0;
  b.u64(kvCount).raw(kvPart.buf());
  for (const t of tensors) {
    b.str(t.name).u32(t.dims.length);
    for (const d of t.dims) b.i64(d);
    b.u32(t.typeId).u64(t.offset);
  }
  b.pad(32).raw(Buffer.alloc(opts.dataBytes ?? 0));
  return b.buf();
}

const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-gguf-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
function load(bytes: Buffer) {
  const p = path.join(tmp, `f${fileNo++}.gguf`);
  writeFileSync(p, bytes);
  return readGguf(p);
}

test("hand-built malformed GGUF files throw GgufError naming what is wrong", () => {
  const f32 = (name: string, n: number, offset: number): FakeTensor => ({ name, dims: [n], typeId: 0, offset });
  // A valid baseline first.
  const ok = load(buildGguf({ tensors: [f32("a", 8, 0), f32("b", 8, 32)], dataBytes: 64 }));
  assert.equal(ok.tensors[1].offset, ok.dataStart + 32);
  const cases: Array<[string, Buffer, RegExp]> = [
    ["bad magic", buildGguf({ magic: 0x12345678 }), /bad magic 0x12345678.*at byte offset 0/],
    ["version 1", buildGguf({ version: 1 }), /unsupported GGUF version 1, expected 2 or 3/],
    ["big-endian", buildGguf({ version: 0x03000000 }), /big-endian/],
    ["empty file", Buffer.alloc(0), /truncated file: magic/],
    ["n_dims 5", buildGguf({ tensors: [{ name: "t", dims: [1, 1, 1, 1, 1], typeId: 0, offset: 0 }], dataBytes: 32 }), /tensor 't' has n_dims 5, expected 1\.\.4/],
    ["negative dim", buildGguf({ tensors: [{ name: "t", dims: [-4], typeId: 0, offset: 0 }], dataBytes: 32 }), /tensor 't' dim 0 is -4/],
    ["2^41 elements", buildGguf({ tensors: [{ name: "t", dims: [2 ** 21, 2 ** 20], typeId: 0, offset: 0 }], dataBytes: 32 }), /more than 2\^40 elements/],
    ["unknown type 4", buildGguf({ tensors: [{ name: "t", dims: [8], typeId: 4, offset: 0 }], dataBytes: 32 }), /tensor 't' has unknown ggml type id 4/],
    ["unknown type 99", buildGguf({ tensors: [{ name: "t", dims: [8], typeId: 99, offset: 0 }], dataBytes: 32 }), /unknown ggml type id 99/],
    ["dims[0] not a block multiple", buildGguf({ tensors: [{ name: "t", dims: [16], typeId: 8, offset: 0 }], dataBytes: 64 }), /q8_0 has dims\[0\] = 16, not a multiple of its block size 32/],
    ["misaligned offset", buildGguf({ tensors: [f32("t", 8, 4)], dataBytes: 64 }), /tensor 't' has data offset 4, not a multiple of the alignment 32/],
    ["overlap", buildGguf({ tensors: [f32("a", 16, 0), f32("b", 8, 32)], dataBytes: 96 }), /tensor 'b' at byte offset \d+ overlaps tensor 'a'/],
    ["data past the end", buildGguf({ tensors: [f32("a", 8, 0), f32("b", 64, 32)], dataBytes: 64 }), /tensor 'b' \(f32 \[64\]\) occupies bytes .* but the file has/],
    ["offset past the end", buildGguf({ tensors: [{ name: "t", dims: [8], typeId: 0, offset: 2n ** 62n }], dataBytes: 32 }), /data offset \d+, past the end/],
    ["duplicate tensor", buildGguf({ tensors: [f32("a", 8, 0), f32("a", 8, 32)], dataBytes: 64 }), /duplicate tensor name 'a'/],
    ["huge tensor count", (() => { const b = buildGguf({}); b.writeBigUInt64LE(2n ** 60n, 8); return b; })(), /tensor_count is \d+, more than/],
    ["key length past the end", buildGguf({ kv: (b) => { b.u64(1000); return 1; } }), /length of key of metadata entry 0 is 1000, more than the \d+ bytes left/],
    ["unknown value type", buildGguf({ kv: (b) => { b.str("k").u32(13); return 1; } }), /metadata 'k' has value type id 13/],
    ["huge array", buildGguf({ kv: (b) => { b.str("k").u32(9).u32(4).u64(2n ** 40n); return 1; } }), /element count of array 'k' is \d+, more than/],
    ["string past the end", buildGguf({ kv: (b) => { b.str("k").u32(8).u64(500).raw(Buffer.from("ab")); return 1; } }), /length of string value of .k. is 500, more than the \d+ bytes left/],
    ["bad bool", buildGguf({ kv: (b) => { b.str("k").u32(7).raw(Buffer.from([2])); return 1; } }), /bool value of 'k' is 2/],
    ["bad alignment", buildGguf({ kv: (b) => { b.str("general.alignment").u32(4).u32(24); return 1; } }), /general\.alignment is 24, expected a positive power of two/],
    ["duplicate key", buildGguf({ kv: (b) => { b.str("k").u32(4).u32(1).str("k").u32(4).u32(2); return 2; } }), /duplicate metadata key 'k'/],
  ];
  for (const [what, bytes, re] of cases) {
    assert.throws(() => load(bytes), (e: unknown) => e instanceof GgufError && re.test(e.message), what);
  }
});

test("u64 metadata beyond 2^53 stays bigint; small u64 becomes number; nested arrays read", () => {
  const g = load(buildGguf({
    kv: (b) => {
      b.str("big").u32(10).u64(2n ** 64n - 1n);
      b.str("small").u32(10).u64(7);
      b.str("neg").u32(11).i64(-5);
      b.str("nested").u32(9).u32(9).u64(2).u32(5).u64(1).u32(0xffffffff).u32(5).u64(0);
      return 4;
    },
  }));
  assert.equal(g.metadata.get("big"), 2n ** 64n - 1n);
  assert.equal(g.metadata.get("small"), 7);
  assert.equal(g.metadata.get("neg"), -5);
  assert.deepEqual(g.metadata.get("nested"), [[-1], []]);
  assert.equal(g.metadataTypes.get("nested"), "array:array:i32");
  assert.throws(() => getNumber(g, "big"), /bigint 18446744073709551615.*expected a number/);
});

// ---- fuzzing ----

function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function loadOrGgufError(bytes: Buffer, what: string): void {
  try {
    const g = load(bytes);
    for (const t of g.tensors) assert.equal(readTensorBytes(g, t).length, t.byteSize);
  } catch (e) {
    if (!(e instanceof GgufError)) throw new Error(`${what}: expected GgufError, got ${String(e)}`);
  }
}

test("fuzz: truncations of valid files load or throw GgufError", () => {
  for (const f of ["dev-llama-tok512-q4_0-pure.gguf", "dev-llama-tok512-e256-q4_k_m-pure.gguf"]) {
    const full = readFileSync(path.join(GGUF_DIR, f));
    const g = readGguf(path.join(GGUF_DIR, f));
    const rnd = mulberry32(7);
    const cuts = new Set<number>([0, 1, 3, 4, 7, 8, 15, 16, 23, 24, g.dataStart - 1, g.dataStart, full.length - 1]);
    for (let i = 0; i < 150; i++) cuts.add(Math.floor(rnd() * g.dataStart));
    for (let i = 0; i < 30; i++) cuts.add(g.dataStart + Math.floor(rnd() * (full.length - g.dataStart)));
    for (const cut of cuts) {
      const bytes = full.subarray(0, cut);
      assert.throws(() => load(bytes), GgufError, `${f} cut at ${cut}`);
    }
  }
});

test("fuzz: random byte flips in the header load or throw GgufError", () => {
  const f = "dev-llama-tok512-q4_0-pure.gguf";
  const full = readFileSync(path.join(GGUF_DIR, f));
  const headerEnd = readGguf(path.join(GGUF_DIR, f)).dataStart;
  const rnd = mulberry32(2025);
  for (let i = 0; i < 400; i++) {
    const bytes = Buffer.from(full);
    const flips = 1 + Math.floor(rnd() * 4);
    for (let j = 0; j < flips; j++) {
      // Bias toward the first 64 bytes (counts, first key) and the tensor infos at the end of the header.
      const r = rnd();
      const at = r < 0.3 ? Math.floor(rnd() * 64) : r < 0.6 ? headerEnd - 1 - Math.floor(rnd() * 1200) : Math.floor(rnd() * headerEnd);
      bytes[at] = rnd() < 0.5 ? bytes[at] ^ (1 << Math.floor(rnd() * 8)) : Math.floor(rnd() * 256);
    }
    loadOrGgufError(bytes, `flip case ${i}`);
  }
});

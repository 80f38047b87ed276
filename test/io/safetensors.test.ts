// safetensors tests: the shared HF folders (written by Python's safetensors) open with the shapes the fixture README
// lists and hold the same values as the GGUF files of the same weights; the writer reproduces those files byte for
// byte; sharded folders; malformed files throw SafetensorsError naming the problem.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  SafetensorsError, openSafetensors, openSafetensorsFolder, writeSafetensors, type SafetensorsDType,
} from "../../src/io/safetensors.js";
import { readGguf, readTensorBytes } from "../../src/io/gguf.js";

const GGUF_DIR = path.resolve("../shared/testdata/gguf");
const HF = ["dev-llama-tok512-f32.hf", "dev-qwen2-e32-f16emb-q8_0.hf", "dev-gpt2-e32-f16.hf"];
const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-safetensors-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

test("shared HF folders open with the README's dtypes and shapes", () => {
  const llama = openSafetensorsFolder(path.join(GGUF_DIR, HF[0]));
  assert.equal(llama.files[0].metadata?.format, "pt");
  assert.equal(llama.tensorNames.length, 21);
  assert.deepEqual(llama.info("model.layers.0.mlp.gate_proj.weight").shape, [192, 64]);
  assert.deepEqual(llama.info("lm_head.weight").shape, [512, 64]);
  const qwen = openSafetensorsFolder(path.join(GGUF_DIR, HF[1]));
  assert.ok(qwen.tensorNames.every((n) => qwen.info(n).dtype === "BF16"));
  assert.equal(qwen.has("lm_head.weight"), false);
  assert.deepEqual(qwen.info("model.layers.1.self_attn.q_proj.bias").shape, [32]);
  const gpt2 = openSafetensorsFolder(path.join(GGUF_DIR, HF[2]));
  assert.deepEqual(gpt2.info("transformer.h.0.attn.c_attn.weight").shape, [32, 96]); // Conv1D [in, out]
  assert.deepEqual(gpt2.info("transformer.wte.weight").shape, [50257, 32]);
  assert.throws(() => gpt2.readTensor("nope"), /no tensor 'nope'/);
});

test("HF values equal the GGUF values of the same weights (f32 llama, f16 gpt2)", () => {
  const g = readGguf(path.join(GGUF_DIR, "dev-llama-tok512-f32.gguf"));
  const hf = openSafetensorsFolder(path.join(GGUF_DIR, HF[0]));
  const pairs: Array<[string, string]> = [
    ["model.embed_tokens.weight", "token_embd.weight"], ["lm_head.weight", "output.weight"],
    ["model.layers.1.mlp.down_proj.weight", "blk.1.ffn_down.weight"], ["model.norm.weight", "output_norm.weight"],
    ["model.layers.0.self_attn.v_proj.weight", "blk.0.attn_v.weight"], // Q and K rows are permuted; V is not
  ];
  for (const [h, q] of pairs) {
    const a = hf.readTensor(h) as Float32Array;
    const b = new Float32Array(readTensorBytes(g, g.tensorByName.get(q)!).buffer);
    assert.ok(a instanceof Float32Array);
    assert.deepEqual(a, b, `${h} vs ${q}`);
  }
  const g2 = readGguf(path.join(GGUF_DIR, "dev-gpt2-e32-f16.gguf"));
  const hf2 = openSafetensorsFolder(path.join(GGUF_DIR, HF[2]));
  const wte = hf2.readTensor("transformer.wte.weight");
  assert.ok(wte instanceof Uint16Array);
  assert.deepEqual(wte, new Uint16Array(readTensorBytes(g2, g2.tensorByName.get("token_embd.weight")!).buffer));
});

test("writer reproduces the shared safetensors files byte for byte", () => {
  for (const d of HF) {
    const src = path.join(GGUF_DIR, d, "model.safetensors");
    const f = openSafetensors(src);
    // Shuffle the input order: the writer must restore the reference order by itself.
    const names = [...f.tensors.keys()].reverse();
    const out = path.join(tmp, `${d}.safetensors`);
    writeSafetensors(out, names.map((n) => {
      const t = f.info(n);
      return { name: n, dtype: t.dtype, shape: t.shape, data: f.readTensorBytes(n) };
    }));
    assert.ok(readFileSync(out).equals(readFileSync(src)), `${d} differs`);
    rmSync(out);
  }
});

test("sharded folder with model.safetensors.index.json", () => {
  const dir = path.join(tmp, "sharded");
  mkdirSync(dir);
  const f32 = (vals: number[]) => new Float32Array(vals);
  writeSafetensors(path.join(dir, "model-00001-of-00002.safetensors"), [
    { name: "a.weight", dtype: "F32", shape: [2, 2], data: f32([1, 2, 3, 4]) },
    { name: "b.bias", dtype: "I32", shape: [3], data: new Int32Array([-1, 0, 7]) },
  ]);
  writeSafetensors(path.join(dir, "model-00002-of-00002.safetensors"), [
    { name: "c.weight", dtype: "BF16", shape: [1, 2], data: new Uint16Array([0x3f80, 0xc000]) },
  ]);
  writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({
    metadata: { total_size: 32 },
    weight_map: { "a.weight": "model-00001-of-00002.safetensors", "b.bias": "model-00001-of-00002.safetensors", "c.weight": "model-00002-of-00002.safetensors" },
  }));
  const folder = openSafetensorsFolder(dir);
  assert.equal(folder.files.length, 2);
  assert.deepEqual(folder.readTensor("a.weight"), f32([1, 2, 3, 4]));
  assert.deepEqual(folder.readTensor("b.bias"), new Int32Array([-1, 0, 7]));
  assert.deepEqual(folder.readTensor("c.weight"), new Uint16Array([0x3f80, 0xc000]));
  // A weight_map naming a file outside the folder is refused.
  writeFileSync(path.join(dir, "model.safetensors.index.json"), JSON.stringify({ weight_map: { "a.weight": "../x.safetensors" } }));
  assert.throws(() => openSafetensorsFolder(dir), /expected a file name in the folder/);
  assert.throws(() => openSafetensorsFolder(path.join(tmp, "nowhere")), /neither model\.safetensors nor/);
});

/** Builds a safetensors file from a raw header string and a data buffer. */
function raw(header: string, data = Buffer.alloc(0), declaredLength?: bigint): Buffer {
  const h = Buffer.from(header, "utf8");
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(declaredLength ?? BigInt(h.length));
  return Buffer.concat([len, h, data]);
}

test("malformed files throw SafetensorsError naming the problem", () => {
  const t = (dtype: string, shape: number[], offs: number[]) => ({ dtype, shape, data_offsets: offs });
  const hdr = (o: Record<string, unknown>) => JSON.stringify(o);
  const cases: Array<[string, Buffer, RegExp]> = [
    ["too short", Buffer.alloc(4), /too short for the 8-byte header length/],
    ["header > 100 MB", raw("{}", Buffer.alloc(0), 200_000_000n), /header length 200000000 is over the 100000000-byte limit/],
    ["header past the end", raw("{}", Buffer.alloc(0), 1000n), /header length 1000 does not fit: the file has 10 bytes/],
    ["not an object", raw("[1,2]"), /header starts with byte 0x5b, expected '\{'/],
    ["bad JSON", raw('{"a": '), /is not valid UTF-8 JSON/],
    ["unknown dtype", raw(hdr({ w: t("F12", [1], [0, 4]) }), Buffer.alloc(4)), /tensor 'w': unknown dtype "F12"/],
    ["size mismatch", raw(hdr({ w: t("F32", [2], [0, 4]) }), Buffer.alloc(8)), /span 4 bytes but F32 \[2\] needs 8/],
    ["past the end", raw(hdr({ w: t("F32", [4], [0, 16]) }), Buffer.alloc(8)), /past the end of the 8-byte data buffer/],
    ["overlap", raw(hdr({ a: t("F32", [2], [0, 8]), b: t("F32", [2], [4, 12]) }), Buffer.alloc(12)), /tensor 'b' data_offsets \[4, 12\] overlap tensor 'a' \[0, 8\]/],
    ["reversed offsets", raw(hdr({ w: t("U8", [0], [4, 0]) }), Buffer.alloc(4)), /end before they begin/],
    ["negative shape", raw(hdr({ w: t("F32", [-1], [0, 4]) }), Buffer.alloc(4)), /shape \[-1\] is not an array of non-negative integers/],
    ["bad metadata", raw(hdr({ __metadata__: { a: 1 } })), /__metadata__ must be an object of string values/],
    ["bad offsets", raw(hdr({ w: { dtype: "F32", shape: [1], data_offsets: [0] } }), Buffer.alloc(4)), /data_offsets \[0\] is not \[begin, end\]/],
  ];
  for (const [what, bytes, re] of cases) {
    const p = path.join(tmp, "bad.safetensors");
    writeFileSync(p, bytes);
    assert.throws(() => openSafetensors(p), (e: unknown) => e instanceof SafetensorsError && re.test(e.message), what);
  }
  assert.throws(() => writeSafetensors(path.join(tmp, "w.safetensors"), [{ name: "x", dtype: "F32" as SafetensorsDType, shape: [3], data: new Float32Array(2) }]),
    /tensor 'x' \(F32 \[3\]\) has 8 bytes, expected 12/);
});

test("fuzz: truncations of a real file open or throw SafetensorsError", () => {
  const full = readFileSync(path.join(GGUF_DIR, HF[0], "model.safetensors"));
  const p = path.join(tmp, "cut.safetensors");
  for (let cut = 0; cut < full.length; cut += cut < 3000 ? 37 : 9973) {
    writeFileSync(p, full.subarray(0, cut));
    assert.throws(() => openSafetensors(p), SafetensorsError, `cut at ${cut}`);
  }
});

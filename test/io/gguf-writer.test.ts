// GGUF writer tests: re-writing every shared fixture (made by llama.cpp's and the fixture generator's writers)
// reproduces it byte for byte; inferred metadata types; invalid input rejected before anything is written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { GgufError, readGguf, readTensorBytes } from "../../src/io/gguf.js";
import { writeGguf } from "../../src/io/gguf-writer.js";

const GGUF_DIR = path.resolve("../shared/testdata/gguf");
const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-gguf-writer-test-"));
process.on("exit", () => rmSync(tmp, { recursive: true, force: true }));

test("read → write → bytes identical to the original, for every shared GGUF model", () => {
  for (const f of readdirSync(GGUF_DIR).filter((x) => x.endsWith(".gguf"))) {
    const g = readGguf(path.join(GGUF_DIR, f));
    const out = path.join(tmp, f);
    writeGguf(out, {
      metadata: [...g.metadata].map(([k, v]) => [k, v, g.metadataTypes.get(k)] as const),
      tensors: g.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: readTensorBytes(g, t) })),
    });
    assert.ok(readFileSync(out).equals(readFileSync(path.join(GGUF_DIR, f))), `${f} differs after the round trip`);
    const back = readGguf(out);
    assert.deepEqual([...back.metadata], [...g.metadata]);
    assert.deepEqual(back.tensors.map((t) => [t.name, t.offset]), g.tensors.map((t) => [t.name, t.offset]));
    rmSync(out);
  }
  assert.deepEqual(readdirSync(tmp), [], "no temp files left behind");
});

test("inferred metadata types, and tensors of every block size", () => {
  const out = path.join(tmp, "inferred.gguf");
  const q8 = new Uint8Array(2 * 34).map((_, i) => i);
  writeGguf(out, {
    metadata: [
      ["general.architecture", "llama"],
      ["llama.block_count", 2],
      ["llama.rope.freq_base", 10000.5],
      ["neg", -3],
      ["big", 2 ** 40],
      ["huge", 2n ** 64n - 1n],
      ["flag", true],
      ["tokens", ["a", "b", "你好"]],
      ["scores", [0, -1.5, 2]],
      ["types", [1, 2, 3]],
      ["small", 7, "u8"],
      ["nested", [[1, 2], [3]], "array:array:u16"],
    ],
    tensors: [
      { name: "w", dims: [64, 1], type: "q8_0", data: q8 },
      { name: "n", dims: [3], type: "f32", data: new Uint8Array(new Float32Array([1, 2, 3]).buffer) },
    ],
  });
  const g = readGguf(out);
  const types = Object.fromEntries(g.metadataTypes);
  assert.deepEqual(types, {
    "general.architecture": "string", "llama.block_count": "u32", "llama.rope.freq_base": "f32", neg: "i32", big: "u64",
    huge: "u64", flag: "bool", tokens: "array:string", scores: "array:f32", types: "array:i32", small: "u8",
    nested: "array:array:u16",
  });
  assert.equal(g.metadata.get("huge"), 2n ** 64n - 1n);
  assert.equal(g.metadata.get("big"), 2 ** 40);
  assert.deepEqual(g.metadata.get("tokens"), ["a", "b", "你好"]);
  assert.deepEqual(g.metadata.get("nested"), [[1, 2], [3]]);
  assert.deepEqual([...readTensorBytes(g, g.tensorByName.get("w")!)], [...q8]);
  assert.equal(g.tensorByName.get("n")!.offset, g.dataStart + 96); // 68 bytes padded to 96
  assert.deepEqual([...new Float32Array(readTensorBytes(g, g.tensorByName.get("n")!).buffer)], [1, 2, 3]);
});

test("invalid input throws GgufError and writes nothing", () => {
  const out = path.join(tmp, "bad.gguf");
  const f32 = (n: number) => new Uint8Array(4 * n);
  const cases: Array<[Parameters<typeof writeGguf>[1], RegExp]> = [
    [{ metadata: [], tensors: [{ name: "t", dims: [4], type: "f32", data: f32(3) }] }, /tensor 't' \(f32 \[4\]\) has 12 bytes of data, expected 16/],
    [{ metadata: [], tensors: [{ name: "t", dims: [16], type: "q4_0", data: new Uint8Array(9) }] }, /dims\[0\] = 16, not a multiple of its block size 32/],
    [{ metadata: [], tensors: [{ name: "t", dims: [1, 1, 1, 1, 1], type: "f32", data: f32(1) }] }, /expected 1\.\.4 non-negative integers/],
    [{ metadata: [], tensors: [{ name: "t", dims: [1], type: "f32", data: f32(1) }, { name: "t", dims: [1], type: "f32", data: f32(1) }] }, /duplicate tensor name 't'/],
    [{ metadata: [["k", 300, "u8"]], tensors: [] }, /metadata 'k' has value 300, which is not an integer in \[0, 255\]/],
    [{ metadata: [["k", "x", "u32"]], tensors: [] }, /metadata 'k' has value "x"/],
    [{ metadata: [["k", 1], ["k", 2]], tensors: [] }, /duplicate metadata key 'k'/],
    [{ metadata: [["general.alignment", 48]], tensors: [] }, /general\.alignment is 48/],
    [{ metadata: [["k", ["a", 1]]], tensors: [] }, /array mixes string and u32/],
  ];
  for (const [spec, re] of cases) {
    assert.throws(() => writeGguf(out, spec), (e: unknown) => e instanceof GgufError && re.test(e.message), re.source);
    assert.equal(existsSync(out), false);
  }
});

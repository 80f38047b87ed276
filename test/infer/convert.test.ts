// zhiyu convert and init: HF → GGUF reproduces the tensors llama.cpp's converter wrote (the Q/K row permutation
// included, byte for byte in F32), GGUF → HF reproduces the HF folder's tensors, and q8_0 output matches
// llama.cpp's own Q8_0 file of the same weights; init writes files that load and run.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { readGguf, readTensorBytes } from "../../src/io/gguf.js";
import { openSafetensorsFolder } from "../../src/io/safetensors.js";
import { run as convert } from "../../src/cli/commands/convert.js";
import { run as init } from "../../src/cli/commands/init.js";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";

const shared = path.resolve("../shared/testdata/gguf");
const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-convert-"));
setDefaultBackend(createBackend({ kind: "ref" }));
const quiet = async (fn: () => Promise<unknown>) => {
  const log = console.log;
  console.log = () => {};
  try { await fn(); } finally { console.log = log; }
};

test("HF folder → GGUF f32 equals llama.cpp's GGUF tensors byte for byte", async () => {
  const out = path.join(tmp, "llama.gguf");
  await quiet(() => convert(["--from", path.join(shared, "dev-llama-tok512-f32.hf"), "--to", out, "--type", "f32"]));
  const ours = readGguf(out);
  const ref = readGguf(path.join(shared, "dev-llama-tok512-f32.gguf"));
  assert.equal(ours.tensors.length, ref.tensors.length);
  for (const t of ref.tensors) {
    const o = ours.tensorByName.get(t.name);
    assert.ok(o, `missing ${t.name}`);
    assert.deepEqual(o.dims, t.dims, t.name);
    assert.ok(Buffer.from(readTensorBytes(ours, o)).equals(Buffer.from(readTensorBytes(ref, t))), `${t.name} bytes differ`);
  }
  for (const key of ["llama.embedding_length", "llama.block_count", "llama.attention.head_count_kv", "llama.rope.freq_base"]) {
    assert.equal(ours.metadata.get(key), ref.metadata.get(key), key);
  }
});

test("GGUF → HF folder equals the HF folder's tensors (Q/K rows back in HF order)", async () => {
  const out = path.join(tmp, "llama-hf");
  await quiet(() => convert(["--from", path.join(shared, "dev-llama-tok512-f32.gguf"), "--to", out]));
  const ours = openSafetensorsFolder(out);
  const ref = openSafetensorsFolder(path.join(shared, "dev-llama-tok512-f32.hf"));
  assert.deepEqual([...ours.tensorNames].sort(), [...ref.tensorNames].sort());
  for (const name of ref.tensorNames) {
    assert.ok(Buffer.from(ours.readTensorBytes(name)).equals(Buffer.from(ref.readTensorBytes(name))), `${name} differs`);
  }
});

test("GGUF f32 → q8_0 matches llama-quantize's Q8_0 blocks", async () => {
  const out = path.join(tmp, "llama-q8.gguf");
  await quiet(() => convert(["--from", path.join(shared, "dev-llama-tok512-f32.gguf"), "--to", out, "--type", "q8_0"]));
  const ours = readGguf(out);
  const ref = readGguf(path.join(shared, "dev-llama-tok512-q8_0.gguf"));
  for (const t of ref.tensors) {
    const o = ours.tensorByName.get(t.name)!;
    assert.equal(o.type, t.type, t.name);
    assert.ok(Buffer.from(readTensorBytes(ours, o)).equals(Buffer.from(readTensorBytes(ref, t))), `${t.name} bytes differ`);
  }
});

test("GPT-2: HF F16 folder (Conv1D) → GGUF f16 equals llama.cpp's GGUF tensors byte for byte", async () => {
  const out = path.join(tmp, "gpt2.gguf");
  await quiet(() => convert(["--from", path.join(shared, "dev-gpt2-e32-f16.hf"), "--to", out, "--type", "f16"]));
  const ours = readGguf(out);
  const ref = readGguf(path.join(shared, "dev-gpt2-e32-f16.gguf"));
  for (const t of ref.tensors) {
    const o = ours.tensorByName.get(t.name);
    assert.ok(o, `missing ${t.name}`);
    assert.deepEqual(o.dims, t.dims, t.name);
    assert.ok(Buffer.from(readTensorBytes(ours, o)).equals(Buffer.from(readTensorBytes(ref, t))), `${t.name} bytes differ`);
  }
});

test("init writes a GGUF and an HF folder of the same random weights that give the same logits", async () => {
  const g = path.join(tmp, "tiny.gguf");
  const h = path.join(tmp, "tiny-hf");
  await quiet(() => init(["--arch", "qwen2", "--preset", "tiny", "--out", g, "--seed", "3"]));
  await quiet(() => init(["--arch", "qwen2", "--preset", "tiny", "--out", h, "--seed", "3"]));
  const a = await loadModel(g);
  const b = await loadModel(h);
  const ids = [1, 5, 9, 200, 17];
  const la = a.forward([{ seq: a.createSequence(), tokens: ids }])[0];
  const lb = b.forward([{ seq: b.createSequence(), tokens: ids }])[0];
  let maxDiff = 0;
  for (let i = 0; i < la.length; i++) maxDiff = Math.max(maxDiff, Math.abs(la[i] - lb[i]));
  assert.ok(maxDiff < 1e-5, `max |Δ| ${maxDiff}`);
});

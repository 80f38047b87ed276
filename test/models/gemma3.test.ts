// Gemma 3 against Hugging Face transformers (test/fixtures/hf/gemma3, made by dev/models/make-decoder-references.py:
// a tiny random Gemma3ForCausalLM with q/k norms, five sliding-window layers of width 4 to one global, local RoPE base
// 10,000 and global 1,000,000 with linear scaling ×2). Every position (prefill and token by token) and every greedy
// step within 1e-4 × max|transformers|, the ids identical; then the same after `zhiyu convert` to GGUF and back.
// Leaves out: llama.cpp's own GGUF of the case (its converter needs a tokenizer the fixture does not have).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { readGguf } from "../../src/io/gguf.js";
import { loadModel } from "../../src/infer/load.js";
import { checkGreedy, checkLogits, readCase, convertQuietly } from "./families-reference.js";

setDefaultBackend(createBackend());
const FIXTURES = path.resolve("test/fixtures/hf");
const tmp = mkdtempSync(path.join(tmpdir(), "zhiyu-gemma3-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));

const quiet = convertQuietly;

test("gemma3 (HF folder): every position and greedy ids match transformers", async () => {
  const c = readCase("gemma3", FIXTURES);
  const model = await loadModel(path.join(c.dir, "model"));
  try {
    checkLogits(model, c, 1e-4);
    checkGreedy(model, c, 1e-4);
  } finally {
    model.dispose();
  }
});

test("gemma3: convert HF → GGUF (llama.cpp's names and keys) → HF, each still matches transformers", async () => {
  const c = readCase("gemma3", FIXTURES);
  const gguf = path.join(tmp, "gemma3.gguf");
  await quiet(["--from", path.join(c.dir, "model"), "--to", gguf, "--type", "f32"]);
  const file = readGguf(gguf);
  assert.equal(file.metadata.get("general.architecture"), "gemma3");
  assert.equal(file.metadata.get("gemma3.rope.freq_base_swa"), 10000);
  assert.equal(file.metadata.get("gemma3.attention.sliding_window"), 4);
  assert.ok(file.tensorByName.has("blk.0.attn_q_norm.weight") && file.tensorByName.has("blk.0.post_ffw_norm.weight"));
  for (const from of [gguf]) {
    const model = await loadModel(from);
    try { checkLogits(model, c, 1e-4); } finally { model.dispose(); }
  }
  const hf = path.join(tmp, "gemma3-hf");
  await quiet(["--from", gguf, "--to", hf]);
  const back = await loadModel(hf);
  try { checkGreedy(back, c, 1e-4); } finally { back.dispose(); }
});

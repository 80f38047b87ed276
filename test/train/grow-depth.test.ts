// dev/alignment/grow-depth.ts: a LLaMA folder grown in depth computes what the original computes (the copies'
// output projections are zero) — checked on the committed zhiyu-mini against its own logits from the trainer's
// forward (which lora.test.ts checks against transformers) — tokenizes the same, and refuses bad input before
// writing anything.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { openSafetensors } from "../../src/io/safetensors.js";
import { growDepth } from "../../dev/alignment/grow-depth.js";

setDefaultBackend(createBackend());
const MINI = path.resolve("models/zhiyu-mini");
const logits = (m: TrainModel, ids: number[]) => noGrad(() => tidy(() => m.logits(Int32Array.from(ids), 1, ids.length).toFloat32Array()));

test("zhiyu-mini grown 2× in depth: 12 layers, the same logits, the same tokenizer files", () => {
  const tmp = mkdtempSync(path.join(tmpdir(), "grow-depth-"));
  try {
    const out = path.join(tmp, "grown");
    assert.deepEqual(growDepth(MINI, out, 2), { layers: 12, tensors: 2 + 12 * 9 });
    const config = JSON.parse(readFileSync(path.join(out, "config.json"), "utf8")) as Record<string, unknown>;
    const original = JSON.parse(readFileSync(path.join(MINI, "config.json"), "utf8")) as Record<string, unknown>;
    assert.deepEqual(config, { ...original, num_hidden_layers: 12 });
    for (const f of ["tokenizer.json", "tokenizer_config.json", "generation_config.json"]) {
      assert.deepEqual(readFileSync(path.join(out, f)), readFileSync(path.join(MINI, f)), f);
    }
    // layer 2k is the original layer k; layer 2k+1 its copy, with zero output projections
    const src = openSafetensors(path.join(MINI, "model.safetensors"));
    const grown = openSafetensors(path.join(out, "model.safetensors"));
    assert.deepEqual(grown.readTensorBytes("model.layers.6.self_attn.q_proj.weight"), src.readTensorBytes("model.layers.3.self_attn.q_proj.weight"));
    assert.deepEqual(grown.readTensorBytes("model.layers.7.self_attn.q_proj.weight"), src.readTensorBytes("model.layers.3.self_attn.q_proj.weight"));
    assert.deepEqual(grown.readTensorBytes("model.layers.6.mlp.down_proj.weight"), src.readTensorBytes("model.layers.3.mlp.down_proj.weight"));
    assert.ok(grown.readTensorBytes("model.layers.7.mlp.down_proj.weight").every((b) => b === 0));
    assert.ok(grown.readTensorBytes("model.layers.7.self_attn.o_proj.weight").every((b) => b === 0));

    const small = TrainModel.fromHfFolder(MINI, "f32");
    const big = TrainModel.fromHfFolder(out, "f32");
    const ids = [509, 268, 300, 312, 265, 97, 98, 99, 273, 510, 509, 380, 386, 375];
    const a = logits(small, ids), b = logits(big, ids);
    assert.equal(b.length, a.length);
    let scale = 0, diff = 0;
    for (let i = 0; i < a.length; i++) { scale = Math.max(scale, Math.abs(a[i]!)); diff = Math.max(diff, Math.abs(a[i]! - b[i]!)); }
    assert.ok(scale > 1, `logits of scale ${scale}`);
    assert.ok(diff <= 1e-5 * scale, `grown logits differ by ${diff} (scale ${scale})`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("grow-depth refuses bad input before writing anything", () => {
  const tmp = mkdtempSync(path.join(tmpdir(), "grow-depth-bad-"));
  try {
    const out = path.join(tmp, "out");
    assert.throws(() => growDepth(MINI, out, 1), /factor 1: expected a whole number ≥ 2/);
    assert.throws(() => growDepth(MINI, out, 1.5), /factor 1\.5: expected a whole number ≥ 2/);
    assert.throws(() => growDepth(path.join(tmp, "nowhere"), out, 2), /nowhere\/config\.json is missing; SRC_DIR must be a Hugging Face folder/);
    const gpt2 = path.join(tmp, "gpt2");
    cpSync(MINI, gpt2, { recursive: true });
    writeFileSync(path.join(gpt2, "config.json"), JSON.stringify({ model_type: "gpt2", num_hidden_layers: 6 }));
    assert.throws(() => growDepth(gpt2, out, 2), /model_type "gpt2"; only "llama" folders can be grown/);
    mkdirSync(out);
    writeFileSync(path.join(out, "keep.txt"), "mine");
    assert.throws(() => growDepth(MINI, out, 2), /out exists and is not empty; give a new folder \(nothing was written\)/);
    assert.deepEqual(readdirSync(out), ["keep.txt"]);
    assert.ok(!existsSync(path.join(tmp, "nowhere")));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

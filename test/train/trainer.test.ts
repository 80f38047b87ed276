// The training loop in-process on the llm.c fixture, against known answers: gradient accumulation of two
// B = 1 micro-batches reproduces the B = 2 reference losses; validation on the training tokens after k updates
// equals llm.c's loss at step k; the step-0 checkpoint holds exactly the initial Hugging Face weights; the
// metrics file plots.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { DEFAULT_OPTIONS, validateOptions, type TrainOptions } from "../../src/train/options.js";
import { runTraining } from "../../src/train/trainer.js";
import { readMetrics } from "../../src/train/metrics.js";
import { listCheckpoints } from "../../src/train/checkpoint.js";
import { openSafetensors } from "../../src/io/safetensors.js";

const LLMC = path.resolve("../shared/testdata/llmc");
const reference = JSON.parse(readFileSync(path.join(LLMC, "reference.json"), "utf8")) as { losses: number[] };
const quiet = { write: () => {}, isTTY: false };

function llmcOptions(over: Partial<TrainOptions>): TrainOptions {
  return validateOptions({
    ...DEFAULT_OPTIONS, init: path.join(LLMC, "init"), data: path.join(LLMC, "tokens.bin"), batch: 2, seq: 16, steps: 10,
    lr: 1e-3, warmup: 0, schedule: "constant", beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradClip: 0,
    shuffle: false, dtype: "f32", ...over,
  });
}

test("gradient accumulation: 2 micro-batches of 1 row reproduce llm.c's B = 2 losses", async () => {
  const r = await runTraining({ options: llmcOptions({ batch: 1, gradAccum: 2 }), backend: createBackend(), stdout: quiet, stderr: quiet });
  assert.equal(r.losses.length, 10);
  r.losses.forEach((l, i) => assert.ok(Math.abs(l - reference.losses[i]!) < 1e-4, `step ${i}: ${l} vs ${reference.losses[i]}`));
});

test("validation loss after k updates equals llm.c's training loss at step k; checkpoints hold the HF weights", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-trainer-"));
  try {
    const out = path.join(dir, "run");
    const r = await runTraining({
      options: llmcOptions({ steps: 4, valData: path.join(LLMC, "tokens.u16"), evalEvery: 2, evalBatches: 4, out, keepLast: 0 }),
      backend: createBackend(), stdout: quiet, stderr: quiet,
    });
    assert.equal(r.finalStep, 4);
    const recs = readMetrics(path.join(out, "metrics.jsonl"));
    const vals = recs.filter((x) => "val_loss" in x) as Array<{ step: number; val_loss: number; val_ppl: number }>;
    assert.deepEqual(vals.map((v) => v.step), [2, 4]);
    for (const v of vals) {
      assert.ok(Math.abs(v.val_loss - reference.losses[v.step]!) < 1e-3, `val at ${v.step}: ${v.val_loss}`);
      assert.ok(Math.abs(v.val_ppl - Math.exp(v.val_loss)) < 1e-9);
    }
    // Step 0 (written before training as the rollback target) must be the initial model, bit for bit.
    const cks = listCheckpoints(out);
    assert.deepEqual(cks.map((c) => c.step), [0, 4]);
    const init = openSafetensors(path.join(LLMC, "init", "model.safetensors"));
    const saved = openSafetensors(path.join(cks[0]!.dir, "model.safetensors"));
    assert.deepEqual([...saved.tensors.keys()].sort(), [...init.tensors.keys()].sort());
    for (const name of init.tensors.keys()) {
      assert.deepEqual(saved.info(name).shape, init.info(name).shape, name);
      assert.deepEqual(saved.readTensorBytes(name), init.readTensorBytes(name), name);
    }
    const config = JSON.parse(readFileSync(path.join(cks[1]!.dir, "config.json"), "utf8")) as Record<string, unknown>;
    assert.equal(config.model_type, "gpt2");
    assert.equal(config.n_embd, 64);

    const svg = path.join(dir, "plot.svg");
    const p = spawnSync(process.execPath, ["bin/zhiyu.mjs", "plot", path.join(out, "metrics.jsonl"), "--out", svg], { encoding: "utf8" });
    assert.equal(p.status, 0, p.stderr);
    const text = readFileSync(svg, "utf8");
    assert.match(text, /^<svg /);
    assert.match(text, /val loss/);
    const html = path.join(dir, "plot.html");
    assert.equal(spawnSync(process.execPath, ["bin/zhiyu.mjs", "plot", out, "--out", html]).status, 0);
    assert.match(readFileSync(html, "utf8"), /<!doctype html>/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--model-config (LLaMA) and --config FILE: a random init starts at ln(vocab) and trains", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-trainer-"));
  try {
    const { writeFileSync } = await import("node:fs");
    const modelConfig = path.join(dir, "config.json");
    writeFileSync(modelConfig, JSON.stringify({
      architectures: ["LlamaForCausalLM"], model_type: "llama", num_hidden_layers: 2, hidden_size: 32, num_attention_heads: 4,
      num_key_value_heads: 2, intermediate_size: 64, max_position_embeddings: 64, vocab_size: 1000, rms_norm_eps: 1e-5,
      rope_theta: 10000, tie_word_embeddings: false, hidden_act: "silu",
    }));
    const { parseTrainArgs, resolveOptions } = await import("../../src/cli/commands/train.js");
    const flags = path.join(dir, "train.json");
    writeFileSync(flags, JSON.stringify({ "model-config": modelConfig, data: path.join(LLMC, "tokens.bin"), batch: 2, seq: 16,
      steps: 8, lr: 3e-3, warmup: 0, shuffle: false, "grad-clip": 1 }));
    const parsed = parseTrainArgs(["--config", flags, "--steps", "6"]);
    assert.notEqual(parsed, "help");
    if (parsed === "help") return;
    const options = resolveOptions(parsed);
    assert.equal(options.steps, 6); // flags override the file
    assert.equal(options.gradClip, 1);
    const r = await runTraining({ options, backend: createBackend(), stdout: quiet, stderr: quiet });
    assert.equal(r.losses.length, 6);
    assert.ok(Math.abs(r.losses[0]! - Math.log(1000)) < 0.05, `initial loss ${r.losses[0]} vs ln(1000)`);
    assert.ok(r.losses[5]! < r.losses[0]! - 0.1, `loss should fall on one repeated batch: ${r.losses.join(", ")}`);
    assert.throws(() => parseTrainArgs(["--config", modelConfig]), /unknown key "architectures"; keys are the flag names/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

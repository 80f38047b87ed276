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

// The SFT loop on a tiny random LLaMA and a bytes-only tokenizer: it trains (the assistant-token loss falls over a
// few steps on repeated data), writes checkpoints, and a run stopped at step 3 and resumed reproduces the
// uninterrupted run's losses exactly; two accumulated micro-batches of one row give the losses of one batch of two
// rows (micro-batches weighted by their assistant tokens, as one batch's mean is).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Rng } from "../../src/core/rng.js";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { BpeTrainer, trainedTokenizerConfig, trainedTokenizerJson } from "../../src/tokenizers/train-bpe.js";
import { TrainModel } from "../../src/train/model.js";
import { llamaHfConfig } from "../../src/train/scaling.js";
import { DEFAULT_SFT_OPTIONS, runSft, type SftOptions } from "../../src/train/sft.js";
import { latestCheckpoint } from "../../src/train/checkpoint.js";

const quiet = { isTTY: false, write: () => {} };

function setup(): { dir: string; model: string; data: string } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-sft-"));
  const model = path.join(dir, "model");
  const trainer = new BpeTrainer({ vocabSize: 260, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"] });
  trainer.addText("x\n");
  const t = trainer.train();
  const config = llamaHfConfig({ layers: 1, hidden: 32, heads: 2, kvHeads: 1, ffn: 64 }, 260, 64);
  setDefaultBackend(createBackend({ threads: 1 }));
  const m = TrainModel.random(config, new Rng(5), "f32");
  mkdirSync(model, { recursive: true });
  m.saveSafetensors(path.join(model, "model.safetensors"));
  writeFileSync(path.join(model, "config.json"), JSON.stringify(config));
  writeFileSync(path.join(model, "tokenizer.json"), JSON.stringify(trainedTokenizerJson(t)));
  writeFileSync(path.join(model, "tokenizer_config.json"), JSON.stringify(trainedTokenizerConfig(t)));
  const data = path.join(dir, "chat.jsonl");
  const lines = [];
  for (let i = 0; i < 24; i++) lines.push(JSON.stringify({ messages: [{ role: "user", content: `q${i % 3}` }, { role: "assistant", content: `ok ${i % 3}` }] }));
  writeFileSync(data, lines.join("\n") + "\n");
  return { dir, model, data };
}

test("SFT trains, checkpoints, and resumes bit for bit", async () => {
  const { dir, model, data } = setup();
  try {
    const backend = createBackend({ threads: 1 });
    const base: SftOptions = {
      ...DEFAULT_SFT_OPTIONS, model, data: [data], out: path.join(dir, "a"), seq: 32, batch: 2, steps: 6, lr: 3e-3,
      warmup: 0, checkpointEvery: 3, valEvery: 0, spikeGuard: false,
    };
    const full = await runSft({ options: base, backend, stdout: quiet });
    assert.equal(full.losses.length, 6);
    assert.ok(full.losses.every(Number.isFinite));
    assert.ok(full.losses[5]! < full.losses[0]!, `loss ${full.losses[0]} → ${full.losses[5]}`);
    assert.ok(existsSync(path.join(latestCheckpoint(base.out)!.dir, "model.safetensors")));

    const b = { ...base, out: path.join(dir, "b") };
    let n = 0;
    const first = await runSft({ options: b, backend, stdout: quiet, shouldStop: () => ++n >= 3 });
    assert.equal(first.finalStep, 3);
    const second = await runSft({ options: b, backend, stdout: quiet });
    assert.deepEqual([...first.losses, ...second.losses], full.losses);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("SFT gradient accumulation: 2 micro-batches of 1 row match 1 batch of 2 rows", async () => {
  const { dir, model, data } = setup();
  try {
    const backend = createBackend({ threads: 1 });
    const base: SftOptions = {
      ...DEFAULT_SFT_OPTIONS, model, data: [data], out: path.join(dir, "one"), seq: 32, batch: 2, steps: 4, lr: 3e-3,
      warmup: 0, checkpointEvery: 0, valEvery: 0, spikeGuard: false,
    };
    // Replies of different lengths, so rows hold different numbers of trained tokens.
    const lines = [];
    for (let i = 0; i < 24; i++) lines.push(JSON.stringify({ messages: [{ role: "user", content: `q${i % 3}` }, { role: "assistant", content: "ok ".repeat(1 + (i % 4) * 3) }] }));
    base.data = [path.join(dir, "uneven.jsonl")];
    writeFileSync(base.data[0]!, lines.join("\n") + "\n");
    const one = await runSft({ options: base, backend, stdout: quiet, resume: false });
    const accum = await runSft({ options: { ...base, out: path.join(dir, "acc"), batch: 1, gradAccum: 2 }, backend, stdout: quiet, resume: false });
    assert.equal(accum.totalSteps, 4);
    assert.equal(accum.losses.length, 4);
    one.losses.forEach((l, i) => assert.ok(Math.abs(accum.losses[i]! - l) < 1e-5 * l, `step ${i}: ${accum.losses[i]} vs ${l}`));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

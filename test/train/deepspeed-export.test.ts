// `zhiyu export --to deepspeed` hands the run over at the right place: the exported model/ folder, fed the first
// exported step's token windows (batches.bin), gives the loss the trainer logged for that step (so the weights,
// the data position and the window layout all line up); the DeepSpeed config carries the run's optimizer
// settings and the schedule/decay mask travel in zhiyu_run.json. The Python side (transformers loading the folder,
// train.py's first steps matching Zhiyu's losses) is dev/scaling/check-deepspeed-export.ts (needs torch).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, statSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend, noGrad, tidy } from "../../src/tensor/index.js";
import { DEFAULT_OPTIONS, type TrainOptions } from "../../src/train/options.js";
import { runTraining } from "../../src/train/trainer.js";
import { exportDeepSpeed } from "../../src/train/deepspeed-export.js";
import { TrainModel } from "../../src/train/model.js";
import { writeTokenFile } from "../../src/train/token-file.js";

const quiet = { write: () => {}, isTTY: false };

test("the exported folder and batches reproduce the trainer's loss at the exported step; configs carry the run's settings", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-ds-"));
  try {
    const backend = createBackend();
    setDefaultBackend(backend);
    const text = readFileSync(path.resolve("../shared/data/tinyshakespeare/input.txt"));
    const data = path.join(dir, "bytes.bin");
    writeTokenFile(data, Array.from(text.subarray(0, 20000)), 256);
    const options: TrainOptions = { ...DEFAULT_OPTIONS, preset: "tiny", data, batch: 2, seq: 32, steps: 8, gradAccum: 2, lr: 3e-3,
      warmup: 2, seed: 3, checkpointEvery: 4, keepLast: 0, out: path.join(dir, "run"), logEvery: 100 };
    const r = await runTraining({ options, backend, stdout: quiet, stderr: quiet });
    assert.equal(r.losses.length, 8);
    const out = path.join(dir, "torch");
    const e = exportDeepSpeed({ from: path.join(dir, "run", "checkpoints", "step-00000004"), out, steps: null, zeroStage: 2 });
    assert.equal(e.startStep, 4);
    assert.equal(e.steps, 4);
    const run = JSON.parse(readFileSync(path.join(out, "zhiyu_run.json"), "utf8"));
    assert.equal(run.start_step, 4);
    const B = run.batch as number, T = run.seq as number, A = run.grad_accum as number;
    const windows = new Int32Array(new Uint8Array(readFileSync(path.join(out, "batches.bin"))).buffer);
    assert.equal(windows.length, run.steps * A * B * (T + 1));
    const model = TrainModel.fromHfFolder(path.join(out, "model"), "f32");
    // The first exported step (4) is a pure check of data and weights (later ones depend on the optimizer: the
    // Python script checks those).
    {
      const k = 0;
      const step = 4;
      let loss = 0;
      for (let a = 0; a < A; a++) {
        const inputs = new Int32Array(B * T);
        const targets = new Int32Array(B * T);
        for (let b = 0; b < B; b++) {
          const w = windows.subarray(((k * A + a) * B + b) * (T + 1), ((k * A + a) * B + b + 1) * (T + 1));
          inputs.set(w.subarray(0, T), b * T);
          targets.set(w.subarray(1), b * T);
        }
        loss += noGrad(() => tidy(() => model.loss(inputs, targets, B, T).item())) / A;
      }
      assert.ok(Math.abs(loss - r.losses[step]!) < 1e-6, `exported step ${step}: loss ${loss}, the trainer logged ${r.losses[step]}`);
    }
    const ds = JSON.parse(readFileSync(path.join(out, "ds_config.json"), "utf8"));
    assert.equal(ds.train_micro_batch_size_per_gpu, 2);
    assert.equal(ds.gradient_accumulation_steps, 2);
    assert.equal(ds.zero_optimization.stage, 2);
    assert.deepEqual(ds.optimizer.params.betas, [options.beta1, options.beta2]);
    assert.equal(ds.gradient_clipping, options.gradClip);
    assert.ok(run.adamw.decayed_parameters.length > 0 && run.adamw.decayed_parameters.every((n: string) => n.endsWith("weight")));
    assert.ok(run.moments_transposed.length > 0, "GPT-2's Conv1D weights are stored transposed in the HF file");
    assert.ok((statSync(path.join(out, "launch.sh")).mode & 0o111) !== 0, "launch.sh is executable");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

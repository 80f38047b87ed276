// The shared training loop: a run resumed with a larger --steps continues its cosine schedule instead of
// restarting it (issue 13: the LR used to jump back up), and --schedule-steps sets a new length on purpose; the
// expected learning rates are the cosine formula written out here. Sequence log-probabilities (what DPO/PPO
// objectives use) match trl's DPO log-prob sums on ../shared/testdata/hf/dpo.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { DEFAULT_OPTIONS, validateOptions, type TrainOptions } from "../../src/train/options.js";
import { runTraining } from "../../src/train/trainer.js";
import { readMetrics, type StepRecord } from "../../src/train/metrics.js";
import { resolveResume } from "../../src/train/checkpoint.js";
import { TrainModel } from "../../src/train/model.js";
import { modelSequenceLogProbs } from "../../src/train/sequence-logprobs.js";

const LLMC = path.resolve("../shared/testdata/llmc");
const DPO = path.resolve("../shared/testdata/hf/dpo");
const quiet = { write: () => {}, isTTY: false };
const LR = 1e-3;
const MIN_LR = 1e-4;

function options(over: Partial<TrainOptions>): TrainOptions {
  return validateOptions({
    ...DEFAULT_OPTIONS, init: path.join(LLMC, "init"), data: path.join(LLMC, "tokens.bin"), batch: 2, seq: 16, steps: 4,
    lr: LR, minLr: MIN_LR, warmup: 0, schedule: "cosine", gradClip: 0, shuffle: false, spikeGuard: false, ...over,
  });
}

/** Cosine from LR to MIN_LR over `total` steps, no warmup, held at MIN_LR after the end. */
function cosine(step: number, total: number): number {
  return MIN_LR + 0.5 * (1 + Math.cos(Math.PI * Math.min(1, step / total))) * (LR - MIN_LR);
}

function lrByStep(out: string): Map<number, number> {
  const m = new Map<number, number>();
  for (const r of readMetrics(path.join(out, "metrics.jsonl"))) if ("lr" in r) m.set(r.step, (r as StepRecord).lr);
  return m;
}

test("--resume with a larger --steps continues the schedule; --schedule-steps sets a new length", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-loop-"));
  try {
    const backend = createBackend();
    for (const [name, scheduleSteps] of [["kept", null], ["explicit", 8]] as const) {
      const out = path.join(dir, name);
      const first = options({ out });
      await runTraining({ options: first, backend, stdout: quiet, stderr: quiet });
      // What `zhiyu train --resume OUT --steps 8 [--schedule-steps 8]` passes: the saved options, overridden.
      const resume = resolveResume(out);
      const r = await runTraining({ options: { ...first, steps: 8, scheduleSteps }, resume, backend, stdout: quiet, stderr: quiet });
      assert.equal(r.finalStep, 8);
      const lr = lrByStep(out);
      assert.deepEqual([...lr.keys()], [0, 1, 2, 3, 4, 5, 6, 7]);
      for (let s = 0; s < 4; s++) assert.ok(Math.abs(lr.get(s)! - cosine(s, 4)) < 1e-12, `${name} step ${s}: ${lr.get(s)}`);
      for (let s = 4; s < 8; s++) {
        const want = scheduleSteps === null ? MIN_LR : cosine(s, scheduleSteps);
        assert.ok(Math.abs(lr.get(s)! - want) < 1e-12, `${name} step ${s}: lr ${lr.get(s)}, expected ${want}`);
      }
      // The kept schedule never rises again after the resume.
      if (scheduleSteps === null) for (let s = 1; s < 8; s++) assert.ok(lr.get(s)! <= lr.get(s - 1)!, `lr rose at step ${s}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("sequence log-probabilities equal trl's DPO completion log-prob sums", () => {
  setDefaultBackend(createBackend());
  const ref = JSON.parse(readFileSync(path.join(DPO, "reference.json"), "utf8")) as {
    inputs: { batch: { input_ids: number[][]; completion_mask: number[][] } };
    outputs: Record<string, { values: number[] }>;
  };
  const ids = ref.inputs.batch.input_ids;
  const mask = ref.inputs.batch.completion_mask;
  const rows = ids.length;
  const seq = ids[0]!.length;
  // Target t is token t+1, counted when token t+1 is a completion token (logits[t] predict token t+1).
  const inputs = Int32Array.from(ids.flat());
  const targets = new Int32Array(rows * seq).fill(-100);
  for (let b = 0; b < rows; b++) for (let t = 0; t + 1 < seq; t++) if (mask[b]![t + 1]) targets[b * seq + t] = ids[b]![t + 1]!;
  const model = TrainModel.fromHfFolder(path.join(DPO, "model"), "f32");
  const { sums, count } = noGrad(() => tidy(() => {
    const r = modelSequenceLogProbs(model, inputs, targets, rows, seq);
    return { sums: r.sum.toFloat32Array(), count: r.count };
  }));
  const pairs = rows / 2;
  const want = [...ref.outputs.policy_chosen_logps!.values, ...ref.outputs.policy_rejected_logps!.values];
  assert.equal(want.length, rows);
  for (let b = 0; b < rows; b++) {
    assert.equal(count[b], mask[b]!.reduce((a, x) => a + x, 0), `row ${b} count`);
    assert.ok(Math.abs(sums[b]! - want[b]!) < 1e-4 * Math.abs(want[b]!), `row ${b} (${b < pairs ? "chosen" : "rejected"}): ${sums[b]} vs trl ${want[b]}`);
  }
});

test("a stop request made from an event-loop callback (what a SIGTERM handler is) stops the run after that step", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-loop-stop-"));
  try {
    let stop = false;
    // A macrotask, like a signal handler: before the fix the loop never yielded to the event loop, so this never ran
    // until all 40 steps were done.
    setImmediate(() => { stop = true; });
    const r = await runTraining({ options: options({ out: dir, steps: 40 }), backend: createBackend(), stdout: quiet, stderr: quiet, shouldStop: () => stop });
    assert.ok(r.finalStep < 40, `stopped at step ${r.finalStep} of 40`);
    assert.equal(resolveResume(dir).checkpoint.step, r.finalStep, "a checkpoint at the stopping step");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

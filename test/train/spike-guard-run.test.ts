// The loss-spike guard for real: a token file with a corrupted region (a run of random ids in byte-level
// Shakespeare) makes the loss spike; the trainer rolls back to the last checkpoint, skips the bad batches and
// finishes with a validation loss within 5% of a clean run's.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeTokenFile } from "../../src/train/token-file.js";
import { readMetrics } from "../../src/train/metrics.js";
import { Rng } from "../../src/core/rng.js";

const B = 4;
const T = 32;
const STEPS = 60;
const BAD_BATCH = 40;

function train(args: string[]) {
  const p = spawnSync(process.execPath, ["bin/zhiyu.mjs", "train", ...args], { encoding: "utf8", timeout: 200_000 });
  return { status: p.status, stdout: p.stdout, stderr: p.stderr };
}

test("a corrupted region triggers rollback + skip, and the run ends within 5% of a clean run", { timeout: 240_000 }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-spike-"));
  try {
    const text = readFileSync(path.resolve("../shared/data/tinyshakespeare/input.txt"));
    const clean = Array.from(text.subarray(0, 12000));
    const corrupted = clean.slice();
    const rng = new Rng(99);
    // Batches BAD_BATCH and BAD_BATCH + 1 (sequential order: batch k reads from k·B·T) become random ids.
    for (let i = BAD_BATCH * B * T; i < (BAD_BATCH + 2) * B * T; i++) corrupted[i] = rng.int(256);
    writeTokenFile(path.join(dir, "clean.bin"), clean, 256);
    writeTokenFile(path.join(dir, "corrupted.bin"), corrupted, 256);
    writeTokenFile(path.join(dir, "val.bin"), Array.from(text.subarray(200000, 204000)), 256);
    const common = ["--preset", "tiny", "--batch", String(B), "--seq", String(T), "--steps", String(STEPS), "--lr", "1e-3",
      "--beta2", "0.99", "--warmup", "5", "--no-shuffle", "--seed", "3", "--val-data", path.join(dir, "val.bin"), "--eval-every", String(STEPS),
      "--eval-batches", "8", "--checkpoint-every", "10", "--spike-window", "20", "--spike-zscore", "6",
      "--spike-lr-factor", "0.8", "--max-rollbacks", "4"];

    const a = train([...common, "--data", path.join(dir, "clean.bin"), "--out", path.join(dir, "clean")]);
    assert.equal(a.status, 0, a.stderr);
    const b = train([...common, "--data", path.join(dir, "corrupted.bin"), "--out", path.join(dir, "guarded")]);
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout + b.stderr, /loss spike at step \d+: .*rolling back to step \d+, skipping 1 batch/);

    const cleanRecs = readMetrics(path.join(dir, "clean", "metrics.jsonl"));
    const guardedRecs = readMetrics(path.join(dir, "guarded", "metrics.jsonl"));
    assert.equal(cleanRecs.filter((r) => "event" in r && r.event === "rollback").length, 0);
    const rollbacks = guardedRecs.filter((r) => "event" in r && r.event === "rollback") as Array<Record<string, unknown>>;
    assert.ok(rollbacks.length >= 1 && rollbacks.length <= 4, `rollbacks: ${rollbacks.length}`);
    // The first spike is the first corrupted batch, caught before its update, and rolled back to step 40's checkpoint.
    assert.deepEqual(rollbacks[0]!.bad_position, { epoch: 0, index: BAD_BATCH * B * T });
    assert.equal(rollbacks[0]!.to_step, 40);
    // No step that trained on a corrupted batch survives: the accepted steps' losses stay bounded.
    const lastLoss = new Map<number, number>();
    for (const r of guardedRecs) if ("loss" in r && typeof r.loss === "number") lastLoss.set(r.step, r.loss);
    assert.equal(lastLoss.size, STEPS);
    assert.ok([...lastLoss.values()].every((l) => l < 6), "a spiking loss was accepted");
    const valOf = (recs: typeof cleanRecs) => (recs.filter((r) => "val_loss" in r).at(-1) as { val_loss: number }).val_loss;
    const cleanVal = valOf(cleanRecs);
    const guardedVal = valOf(guardedRecs);
    assert.ok(Math.abs(guardedVal - cleanVal) / cleanVal < 0.05, `val loss ${guardedVal} vs clean ${cleanVal}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("--max-rollbacks stops the run with a clear error", { timeout: 120_000 }, () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-spike-"));
  try {
    const text = readFileSync(path.resolve("../shared/data/tinyshakespeare/input.txt"));
    const ids = Array.from(text.subarray(0, 6000));
    const rng = new Rng(5);
    for (let i = 20 * B * T; i < ids.length; i++) ids[i] = rng.int(256); // everything after batch 20 is garbage
    writeTokenFile(path.join(dir, "bad.bin"), ids, 256);
    const r = train(["--preset", "tiny", "--data", path.join(dir, "bad.bin"), "--batch", String(B), "--seq", String(T),
      "--steps", "40", "--lr", "3e-3", "--no-shuffle", "--checkpoint-every", "5", "--spike-window", "8", "--spike-zscore", "6",
      "--max-rollbacks", "2", "--out", path.join(dir, "run")]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /stopped after 3 loss spikes \(--max-rollbacks 2\).*Lower --lr, check the data around position/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

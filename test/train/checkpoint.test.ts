// The checkpoint folder protocol: atomic appearance under step-NNNNNNNN, pruning to the newest N, a suffix when a
// step is written twice, stale hidden folders cleaned, and --resume resolution from a run or checkpoint folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import {
  cleanStaleCheckpoints, latestCheckpoint, listCheckpoints, resolveResume, writeCheckpoint,
} from "../../src/train/checkpoint.js";

test("checkpoints appear complete, are pruned to the last N, and resolve for --resume", () => {
  const run = mkdtempSync(path.join(os.tmpdir(), "zhiyu-ckpt-"));
  try {
    const tok = path.join(run, "tokenizer.json");
    writeFileSync(tok, "{}");
    for (const step of [10, 20, 30]) {
      writeCheckpoint({
        runDir: run, step, keepLast: 2,
        files: new Map<string, string | Uint8Array | ((p: string) => void)>([
          ["trainer_state.json", JSON.stringify({ step })],
          ["model.bin", new Uint8Array([step])],
          ["custom.txt", (p: string) => writeFileSync(p, `s${step}`)],
        ]),
        copies: new Map([["tokenizer.json", tok]]),
      });
    }
    const names = readdirSync(path.join(run, "checkpoints")).sort();
    assert.deepEqual(names, ["step-00000020", "step-00000030"]);
    const latest = latestCheckpoint(run)!;
    assert.equal(latest.step, 30);
    assert.deepEqual(readdirSync(latest.dir).sort(), ["custom.txt", "model.bin", "tokenizer.json", "trainer_state.json"]);
    assert.equal(readFileSync(path.join(latest.dir, "custom.txt"), "utf8"), "s30");
    // Writing step 20 again (after a rollback or resume) does not overwrite: it gets a suffix and sorts after.
    const again = writeCheckpoint({ runDir: run, step: 20, files: new Map([["trainer_state.json", "{}"]]) });
    assert.equal(path.basename(again.dir), "step-00000020.1");
    assert.deepEqual(listCheckpoints(run).map((c) => [c.step, c.generation]), [[20, 0], [20, 1], [30, 0]]);
    // Leftovers of a killed writer are hidden and cleaned.
    mkdirSync(path.join(run, "checkpoints", ".tmp-step-00000040-123"));
    mkdirSync(path.join(run, "checkpoints", ".del-step-00000010-123"));
    assert.equal(listCheckpoints(run).length, 3);
    cleanStaleCheckpoints(run);
    assert.ok(!existsSync(path.join(run, "checkpoints", ".tmp-step-00000040-123")));
    // --resume: the run folder → newest; a checkpoint folder → itself and its run.
    assert.equal(resolveResume(run).checkpoint.step, 30);
    const r = resolveResume(path.join(run, "checkpoints", "step-00000020"));
    assert.equal(r.runDir, path.resolve(run));
    assert.equal(r.checkpoint.step, 20);
    const empty = path.join(run, "empty");
    mkdirSync(empty);
    assert.throws(() => resolveResume(empty), /nothing to resume from/);
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
});

test("a writer that dies mid-checkpoint leaves no step folder behind, only a hidden temporary that is cleaned", () => {
  const run = mkdtempSync(path.join(os.tmpdir(), "zhiyu-ckpt-"));
  try {
    writeCheckpoint({ runDir: run, step: 5, files: new Map([["trainer_state.json", "{}"]]) });
    assert.throws(() => writeCheckpoint({
      runDir: run, step: 10,
      files: new Map<string, string | Uint8Array | ((p: string) => void)>([
        ["config.json", "{}"],
        ["model.safetensors", (p: string) => { writeFileSync(p, "partial"); throw new Error("killed while writing"); }],
      ]),
    }), /killed while writing/);
    assert.deepEqual(listCheckpoints(run).map((c) => c.step), [5]);
    assert.equal(latestCheckpoint(run)!.step, 5);
    const hidden = readdirSync(path.join(run, "checkpoints")).filter((n) => n.startsWith("."));
    assert.equal(hidden.length, 1);
    cleanStaleCheckpoints(run);
    assert.deepEqual(readdirSync(path.join(run, "checkpoints")), ["step-00000005"]);
  } finally {
    rmSync(run, { recursive: true, force: true });
  }
});

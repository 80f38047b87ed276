// Crash safety for real: a trainer child process is SIGKILLed at random moments (possibly while it writes a
// checkpoint); every checkpoint left on disk must be complete and loadable, and `--resume` must reproduce the
// uninterrupted run's losses exactly, step for step. A tiny model on byte-level Shakespeare keeps it fast.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, readdirSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeTokenFile } from "../../src/train/token-file.js";
import { listCheckpoints } from "../../src/train/checkpoint.js";
import { openSafetensors } from "../../src/io/safetensors.js";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { readTrainerState } from "../../src/train/loop-state.js";
import { Rng } from "../../src/core/rng.js";

const STEPS = 24;

interface Child {
  losses: Map<number, number>;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>;
  kill(): void;
  /** Resolves once `n` step lines have been printed (or the child ended). */
  waitForSteps(n: number): Promise<void>;
}

function startTrainer(args: string[]): Child {
  const p = spawn(process.execPath, ["bin/zhiyu.mjs", "train", ...args, "--json-log"], { stdio: ["ignore", "pipe", "pipe"] });
  const losses = new Map<number, number>();
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  let seen = 0;
  let buf = "";
  let stderr = "";
  p.stdout.setEncoding("utf8");
  p.stdout.on("data", (chunk: string) => {
    buf += chunk;
    let i;
    while ((i = buf.indexOf("\n")) >= 0) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 1);
      if (!line.startsWith("{")) continue;
      const rec = JSON.parse(line) as { step: number; loss?: number };
      if (typeof rec.loss !== "number") continue;
      losses.set(rec.step, rec.loss);
      seen++;
      for (const w of waiters.filter((x) => x.n <= seen)) w.resolve();
    }
  });
  p.stderr.setEncoding("utf8");
  p.stderr.on("data", (c: string) => { stderr += c; });
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    p.on("close", (code, signal) => {
      for (const w of waiters) w.resolve();
      resolve({ code, signal, stderr });
    });
  });
  return {
    losses, done,
    kill: () => { p.kill("SIGKILL"); },
    waitForSteps: (n) => new Promise<void>((resolve) => {
      if (seen >= n || p.exitCode !== null) resolve();
      else waiters.push({ n, resolve });
    }),
  };
}

/** Every checkpoint folder must be a complete, loadable Hugging Face folder with the optimizer and trainer state. */
function checkCheckpoints(runDir: string, paramNames: readonly string[]): number {
  const cks = listCheckpoints(runDir);
  for (const ck of cks) {
    const files = readdirSync(ck.dir).sort();
    assert.deepEqual(files, ["config.json", "model.safetensors", "optimizer.safetensors", "trainer_state.json"], ck.dir);
    const state = readTrainerState(ck.dir);
    assert.equal(state.step, ck.step);
    JSON.parse(readFileSync(path.join(ck.dir, "config.json"), "utf8"));
    const model = openSafetensors(path.join(ck.dir, "model.safetensors"));
    assert.deepEqual([...model.tensors.keys()].sort(), [...paramNames].sort());
    for (const name of model.tensors.keys()) model.readTensor(name);
    const opt = openSafetensors(path.join(ck.dir, "optimizer.safetensors"));
    assert.equal(opt.tensors.size, 2 * paramNames.length);
    for (const name of opt.tensors.keys()) {
      const v = opt.readTensor(name) as Float32Array;
      assert.ok(v.every(Number.isFinite), `${ck.dir}: ${name} holds non-finite values`);
    }
    TrainModel.fromHfFolder(ck.dir, "f32"); // loads as a model
  }
  return cks.length;
}

test("SIGKILL at random moments never corrupts a checkpoint; --resume reproduces the losses exactly", { timeout: 240_000 }, async () => {
  setDefaultBackend(createBackend({ kind: "ref" }));
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-kill-"));
  try {
    const text = readFileSync(path.resolve("../shared/data/tinyshakespeare/input.txt"));
    const data = path.join(dir, "shakespeare-bytes.bin");
    writeTokenFile(data, Array.from(text.subarray(0, 20000)), 256);
    const common = ["--preset", "tiny", "--data", data, "--batch", "4", "--seq", "32", "--steps", String(STEPS),
      "--lr", "3e-3", "--warmup", "4", "--checkpoint-every", "2", "--keep-last", "3", "--seed", "7"];

    const refRun = startTrainer([...common, "--out", path.join(dir, "ref")]);
    const ref = await refRun.done;
    assert.equal(ref.code, 0, ref.stderr);
    assert.equal(refRun.losses.size, STEPS);
    const paramNames = [...openSafetensors(path.join(listCheckpoints(path.join(dir, "ref")).at(-1)!.dir, "model.safetensors")).tensors.keys()];

    const runDir = path.join(dir, "killed");
    const rng = new Rng(Date.now() >>> 0);
    const seen = new Map<number, number[]>();
    let kills = 0;
    for (let attempt = 0; attempt < 6; attempt++) {
      const child = startTrainer(attempt === 0 ? [...common, "--out", runDir] : ["--resume", runDir]);
      if (attempt < 3) {
        await child.waitForSteps(1 + rng.int(5));
        await new Promise((r) => setTimeout(r, rng.int(120)));
        child.kill();
      }
      const end = await child.done;
      for (const [s, l] of child.losses) seen.set(s, [...(seen.get(s) ?? []), l]);
      if (end.signal === "SIGKILL") {
        kills++;
        assert.ok(checkCheckpoints(runDir, paramNames) >= 1);
        continue;
      }
      assert.equal(end.code, 0, end.stderr);
      break;
    }
    assert.ok(kills >= 1, "at least one kill must have landed");
    assert.ok(seen.has(STEPS - 1), "the resumed run must reach the last step");
    for (const [step, values] of seen) {
      for (const v of values) assert.equal(v, refRun.losses.get(step), `step ${step}: ${v} vs uninterrupted ${refRun.losses.get(step)}`);
    }
    checkCheckpoints(runDir, paramNames);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Bad training configurations fail before the first step, with a message that says what to change.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { writeTokenFile } from "../../src/train/token-file.js";

const LLMC = path.resolve("../shared/testdata/llmc");

function train(args: string[]): { status: number | null; stdout: string; stderr: string } {
  const p = spawnSync(process.execPath, ["bin/zhiyu.mjs", "train", ...args, "--json-log"], { encoding: "utf8", timeout: 60_000 });
  return { status: p.status, stdout: p.stdout, stderr: p.stderr };
}

function expectEarlyFailure(args: string[], message: RegExp): void {
  const r = train(args);
  assert.notEqual(r.status, 0, `expected a failure for ${args.join(" ")}`);
  assert.match(r.stderr, message);
  assert.doesNotMatch(r.stdout, /"loss"/, "no training step may run");
}

const init = ["--init", path.join(LLMC, "init")];
const tokens = ["--data", path.join(LLMC, "tokens.bin")];

test("unknown preset lists the presets", () => {
  expectEarlyFailure(["--preset", "gpt5", ...tokens, "--batch", "1", "--seq", "8"],
    /unknown preset 'gpt5'; available presets: tiny, mini, .*gpt2-124m/);
});

test("vocabulary mismatch between data and model", () => {
  // The fixture's ids go up to 999; a preset with 500 entries cannot hold them.
  expectEarlyFailure(["--preset", "tiny", "--vocab-size", "500", ...tokens, "--batch", "1", "--seq", "8"],
    /vocabulary mismatch: the data holds token id \d+ but the model's vocabulary has 500 entries.*--vocab-size/);
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-badcfg-"));
  try {
    const file = path.join(dir, "big-vocab.bin");
    writeTokenFile(file, Array.from({ length: 200 }, (_, i) => i % 900), 32000);
    expectEarlyFailure([...init, "--data", file, "--batch", "1", "--seq", "8"],
      /tokenized with a vocabulary of 32000 but the model has 1000/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("batch larger than the data", () => {
  expectEarlyFailure([...init, ...tokens, "--batch", "4", "--seq", "16", "--no-shuffle"],
    /batch larger than the data: --batch 4 × --seq 16 \+ 1 = 65 tokens, but the data has 33 tokens; lower --batch or --seq/);
});

test("sequence longer than the model's context", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-badcfg-"));
  try {
    const file = path.join(dir, "t.bin");
    writeTokenFile(file, Array.from({ length: 300 }, (_, i) => i), 1000);
    expectEarlyFailure([...init, "--data", file, "--batch", "1", "--seq", "128"],
      /--seq 128 is longer than the model's context of 64 positions; lower --seq to ≤ 64/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("missing model, conflicting sources and bad values name the flag", () => {
  expectEarlyFailure([...tokens], /no model given: pass --preset NAME, --model-config FILE or --init DIR/);
  expectEarlyFailure(["--preset", "tiny", ...init, ...tokens], /give only one model source, not --preset and --init/);
  expectEarlyFailure([...init, ...tokens, "--lr", "fast"], /--lr expects a number, got "fast"/);
  expectEarlyFailure([...init, ...tokens, "--dtype", "fp8"], /--dtype fp8 must be f32 or bf16/);
  expectEarlyFailure([...init, "--data", "/nonexistent/x.bin"], /data path \/nonexistent\/x.bin does not exist/);
});

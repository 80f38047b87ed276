// `zhiyu grpo` end to end on zhiyu-mini (models/, with its tokenizer): arithmetic prompts, the rollouts from the
// inference engine, LoRA adapters, metrics per step (reward, KL, clip ratio, completion length), checkpoints and
// resume, the held-out reward before and after, and the bad inputs that must fail before any rollout.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { run as grpo } from "../../src/cli/commands/grpo.js";
import { captureCliOutput } from "../cli-output.js";

const MODEL = path.resolve("models/zhiyu-mini");

function prompts(dir: string, n: number): string {
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    const a = 10 + ((i * 37) % 80), b = 10 + ((i * 53) % 80);
    lines.push(JSON.stringify({ prompt: `${a} + ${b} =`, answer: a + b }));
  }
  const file = path.join(dir, "prompts.jsonl");
  writeFileSync(file, lines.join("\n") + "\n");
  return file;
}

const quiet = captureCliOutput;

test("zhiyu grpo --lora: steps log reward/kl/clip, checkpoints, resume, held-out reward before and after", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-grpo-"));
  try {
    const data = prompts(dir, 12);
    const out = path.join(dir, "run");
    const args = ["--model", MODEL, "--data", data, "--out", out, "--reward", "arithmetic", "--lora", "r=4,targets=q,v",
      "--group-size", "3", "--prompts-per-step", "2", "--max-new-tokens", "6", "--val-every", "4", "--lr", "1e-3",
      "--checkpoint-every", "2", "--log-every", "1", "--seed", "3", "--threads", "1"];
    const first = await quiet(() => grpo([...args, "--steps", "2"]));
    assert.equal(first.value, 0);
    const text = first.text;
    assert.match(text, /held-out reward before training: mean [0-9.]+, solved [0-9.]+% of 3/);
    assert.match(text, /GRPO finished at step 2; held-out reward before/);
    const metrics = readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const steps = metrics.filter((m) => typeof m.step === "number" && typeof m.loss === "number");
    assert.equal(steps.length, 2);
    for (const m of steps) {
      const extra = (m.metrics ?? m) as Record<string, number>;
      for (const k of ["reward", "kl", "clip_ratio", "completion_length"]) assert.equal(typeof extra[k], "number", `${k} in ${JSON.stringify(m)}`);
      assert.ok(extra.completion_length! >= 1 && extra.completion_length! <= 6);
    }
    assert.ok(existsSync(path.join(out, "adapter", "adapter_model.safetensors")));
    // Resume to step 3 from the step-2 checkpoint.
    const second = await quiet(() => grpo([...args, "--steps", "3"]));
    assert.match(second.text, /GRPO finished at step 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("zhiyu grpo refuses bad input before any rollout", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-grpo-"));
  try {
    const data = prompts(dir, 6);
    const base = ["--model", MODEL, "--data", data, "--out", path.join(dir, "r"), "--steps", "1"];
    await assert.rejects(quiet(() => grpo(base)), /at least one --reward/);
    await assert.rejects(quiet(() => grpo([...base, "--reward", "bleu"])), /unknown reward/);
    await assert.rejects(quiet(() => grpo([...base, "--reward", "arithmetic", "--group-size", "1"])), /--group-size 1; expected an integer ≥ 2/);
    await assert.rejects(quiet(() => grpo([...base, "--reward", "arithmetic", "--max-new-tokens", "5000"])), /exceeds the context/);
    const bad = path.join(dir, "bad.jsonl");
    writeFileSync(bad, JSON.stringify({ question: "1+1" }) + "\n");
    await assert.rejects(quiet(() => grpo(["--model", MODEL, "--data", bad, "--out", path.join(dir, "r2"), "--reward", "arithmetic"])),
      /bad\.jsonl:1: a prompt record needs "prompt"/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

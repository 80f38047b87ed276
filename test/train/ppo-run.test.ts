// `zhiyu ppo` end to end on zhiyu-mini with a reward model made from it (a fresh score head): rollouts through the
// inference engine, the value head, metrics (score, KL, pg/vf losses, clip fractions, approx-KL), checkpoints and
// resume, held-out reward-model scores before and after; approx-KL is 0 on the first minibatch of each rollout
// (the rollout's log-probs are the policy's own), and a reward "model" without a score head is refused first.
// --kl-target: β follows Ziegler et al.'s controller rollout by rollout and a resumed run keeps the adapted β.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { run as ppo } from "../../src/cli/commands/ppo.js";
import { captureCliOutput } from "../cli-output.js";
import { rewardModelAndPrompts } from "./ppo-fixtures.js";

const MODEL = path.resolve("models/zhiyu-mini");
setDefaultBackend(createBackend());

const quiet = captureCliOutput;

test("zhiyu ppo --lora: rollout phases, value head, metrics, resume, held-out score before/after", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-ppo-"));
  try {
    const { rmDir, data } = rewardModelAndPrompts(dir, ["Once upon a time", "The cat", "Hello, how", "My order", "The dog ran", "Can you"]);
    const out = path.join(dir, "run");
    const args = ["--model", MODEL, "--reward-model", rmDir, "--data", data, "--out", out, "--lora", "r=4,targets=q,v",
      "--prompts-per-rollout", "2", "--ppo-epochs", "2", "--max-new-tokens", "5", "--val-every", "3", "--lr", "1e-3",
      "--checkpoint-every", "2", "--log-every", "1", "--seed", "4", "--threads", "1"];
    const first = await quiet(() => ppo([...args, "--steps", "2"]));
    assert.equal(first.value, 0);
    assert.match(first.text, /held-out reward-model score before training: mean -?[0-9.]+ \(sd [0-9.]+\) over 2 prompts/);
    assert.match(first.text, /PPO finished at step 2; held-out reward-model score before -?[0-9.]+, after -?[0-9.]+/);
    const steps = readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((m) => typeof m.step === "number" && typeof m.loss === "number");
    assert.equal(steps.length, 2);
    const m = steps.map((x) => (x.metrics ?? x) as Record<string, number>);
    for (const k of ["score", "kl", "pg_loss", "vf_loss", "pg_clipfrac", "vf_clipfrac", "approxkl", "response_length"]) {
      assert.equal(typeof m[0]![k], "number", `${k} in ${JSON.stringify(steps[0])}`);
    }
    assert.ok(Math.abs(m[0]!.approxkl!) < 1e-9, `first minibatch of a rollout: approxkl ${m[0]!.approxkl}`);
    assert.ok(m[1]!.approxkl! > 0, "the second pass over the rollout sees the updated policy");
    assert.equal(m[0]!.score, m[1]!.score, "both steps train on the same rollout");
    assert.ok(existsSync(path.join(out, "adapter", "adapter_model.safetensors")));
    const second = await quiet(() => ppo([...args, "--steps", "3"]));
    assert.match(second.text, /PPO finished at step 3/);
    // A causal LM is not a reward model.
    await assert.rejects(quiet(() => ppo([...args, "--reward-model", MODEL, "--out", path.join(dir, "r2"), "--steps", "1"])),
      /--reward-model .*zhiyu-mini: not a reward model/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("zhiyu ppo --kl-target: β adapts after every rollout (trl's AdaptiveKLController) and resumes with its adapted value", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-ppo-kl-"));
  try {
    const { rmDir, data } = rewardModelAndPrompts(dir, ["Once upon a time", "The cat", "Hello, how", "My order"]);
    const out = path.join(dir, "run");
    // one minibatch, one PPO epoch: every step is a new rollout; a target far above the KL of a policy that has
    // barely moved keeps the error clipped at −0.2, so β × (1 − 0.2 · 2 samples / horizon 4) = × 0.9 per rollout
    const args = ["--model", MODEL, "--reward-model", rmDir, "--data", data, "--out", out, "--lora", "r=4,targets=q,v",
      "--prompts-per-rollout", "2", "--ppo-epochs", "1", "--max-new-tokens", "4", "--val-every", "0", "--lr", "1e-4",
      "--kl-coef", "0.05", "--kl-target", "5", "--kl-horizon", "4", "--checkpoint-every", "2", "--log-every", "1", "--seed", "4", "--threads", "1"];
    const first = await quiet(() => ppo([...args, "--steps", "2"]));
    assert.match(first.text, /adaptive: target 5 nats\/token, horizon 4/);
    await quiet(() => ppo([...args, "--steps", "3"]));
    const byStep = new Map(readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>)
      .filter((m) => typeof m.step === "number" && typeof m.loss === "number").map((x) => [x.step as number, (x.metrics ?? x) as Record<string, number>]));
    for (const step of [0, 1, 2]) assert.ok(byStep.get(step)!.kl_per_token! < 1, `step ${step}: KL per token ${byStep.get(step)!.kl_per_token} (error must clip)`);
    assert.ok(Math.abs(byStep.get(0)!.kl_coef! - 0.05) < 1e-12, `first rollout β ${byStep.get(0)!.kl_coef}`);
    assert.ok(Math.abs(byStep.get(1)!.kl_coef! - 0.045) < 1e-12, `second rollout β ${byStep.get(1)!.kl_coef}`);
    assert.ok(Math.abs(byStep.get(2)!.kl_coef! - 0.0405) < 1e-12, `third rollout (resumed) β ${byStep.get(2)!.kl_coef}`);
    await assert.rejects(quiet(() => ppo([...args, "--kl-target", "0", "--out", path.join(dir, "r2"), "--steps", "1"])), /--kl-target 0; expected nats per token > 0/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

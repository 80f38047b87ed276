// ORPO against trl's ORPOTrainer (test/train/fixtures/orpo-reference.json, made by dev/alignment/make-orpo-reference.py
// with the venv's trl: its concatenated_forward and odds_ratio_loss on the tiny LLaMA and the three pairs of
// ../shared/testdata/hf/dpo, then one torch AdamW step): mean completion log-probs, the chosen rows' NLL, the odds
// ratio, the loss and rewards before the step, and the same after one step of the shared loop, within 1e-4; the
// metrics the loop logs; `zhiyu dpo --loss orpo` end to end; bad settings refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { runLoop } from "../../src/train/loop.js";
import { modelOptimizer } from "../../src/train/loop-state.js";
import { TrainModel } from "../../src/train/model.js";
import { ProgressDisplay } from "../../src/train/progress.js";
import { pairBatch, type PreferencePair } from "../../src/train/preference-data.js";
import { OrpoObjective, orpoLoss } from "../../src/train/objectives/orpo.js";
import { checkDpoSettings } from "../../src/train/objectives/dpo.js";
import { constantLrSettings } from "./one-step-settings.js";

const CASE = path.resolve("../shared/testdata/hf/dpo");
setDefaultBackend(createBackend());
const quiet = { write: () => {}, isTTY: false };

interface Side { chosen_logps: number[]; rejected_logps: number[]; nll_loss: number; log_odds_ratio: number; log_odds_chosen: number;
  loss: number; chosen_rewards: number[]; rejected_rewards: number[] }
const fixture = JSON.parse(readFileSync("test/train/fixtures/orpo-reference.json", "utf8")) as { beta: number; before: Side; after: Side };
const ref = JSON.parse(readFileSync(path.join(CASE, "reference.json"), "utf8")) as
  { inputs: { pairs: { prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }[] } };
const pairs: PreferencePair[] = ref.inputs.pairs.map((p) => ({ prompt: p.prompt_ids, chosen: p.chosen_ids, rejected: p.rejected_ids, margin: 0 }));
const beta = fixture.beta;

function near(got: number, want: number, tol: number, what: string): void {
  assert.ok(Math.abs(got - want) <= tol, `${what}: ${got} vs trl ${want}`);
}

function check(model: TrainModel, want: Side, when: string): void {
  const b = pairBatch(pairs, 0, 1 << 20);
  const m = noGrad(() => tidy(() => {
    const o = orpoLoss(model, b, { beta });
    return { loss: o.loss.item(), metrics: o.metrics! };
  }));
  near(m.loss, want.loss, 1e-4, `${when}: loss`);
  near(m.metrics.nll_loss!, want.nll_loss, 1e-4, `${when}: NLL`);
  near(m.metrics.log_odds_ratio!, want.log_odds_ratio, 1e-4, `${when}: mean log σ(log odds)`);
  near(m.metrics.log_odds_chosen!, want.log_odds_chosen, 1e-4, `${when}: mean log odds`);
  const mean = (xs: number[]) => xs.reduce((a, x) => a + x, 0) / xs.length;
  near(m.metrics.rewards_chosen!, mean(want.chosen_rewards), 1e-5, `${when}: chosen rewards`);
  near(m.metrics.rewards_rejected!, mean(want.rejected_rewards), 1e-5, `${when}: rejected rewards`);
  const right = want.chosen_logps.filter((c, i) => c > want.rejected_logps[i]!).length / pairs.length;
  assert.equal(m.metrics.reward_accuracy, right, `${when}: reward accuracy`);
}

test("ORPO matches trl's ORPOTrainer before and after one AdamW step of the shared loop (within 1e-4)", async () => {
  const policy = TrainModel.fromHfFolder(path.join(CASE, "model"), "f32");
  check(policy, fixture.before, "before");
  const objective = new OrpoObjective(pairs, [], pairs.length, 0, 1 << 20, 1, { beta });
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-orpo-"));
  try {
    const r = await runLoop({
      model: policy, objective, rng: new Rng(1), runDir: dir, resumeFrom: null, options: {}, copies: new Map(),
      optimizer: modelOptimizer(policy, { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }),
      settings: constantLrSettings(1),
      banner: "orpo", display: new ProgressDisplay(quiet), jsonOut: null,
    });
    near(r.losses[0]!, fixture.before.loss, 1e-4, "the loop's loss");
    check(policy, fixture.after, "after one step");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("zhiyu dpo --loss orpo: a short run on token-id pairs trains without a reference and lowers the loss", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-orpo-cli-"));
  try {
    const data = path.join(dir, "pairs.jsonl");
    writeFileSync(data, Array.from({ length: 4 }, () => pairs.map((p) => JSON.stringify({ prompt_ids: p.prompt, chosen_ids: p.chosen, rejected_ids: p.rejected })).join("\n")).join("\n") + "\n");
    const out = path.join(dir, "run");
    const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "dpo", "--model", path.join(CASE, "model"), "--data", data, "--out", out,
      "--loss", "orpo", "--beta", "0.1", "--steps", "6", "--batch", "3", "--lr", "3e-3", "--warmup", "0", "--val-every", "0", "--log-every", "1", "--threads", "1"],
    { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr + r.stdout);
    assert.match(r.stdout, /ORPO finished at step 6/);
    const rows = readFileSync(path.join(out, "metrics.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, number>)
      .filter((m) => typeof m.loss === "number");
    assert.ok(rows.length >= 2 && "nll_loss" in rows[0]! && "log_odds_ratio" in rows[0]!, JSON.stringify(rows[0]));
    assert.ok(rows.at(-1)!.loss < rows[0]!.loss, `loss ${rows[0]!.loss} → ${rows.at(-1)!.loss}`);
    assert.ok(existsSync(out));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("ORPO settings: --beta must be positive, --label-smoothing is the sigmoid loss's only", () => {
  assert.throws(() => new OrpoObjective(pairs, [], 3, 0, 64, 1, { beta: 0 }), /ORPO: --beta 0 must be positive/);
  assert.throws(() => checkDpoSettings({ beta: 0.1, lossType: "orpo", labelSmoothing: 0.1 }), /label-smoothing applies to the sigmoid loss only/);
  assert.throws(() => checkDpoSettings({ beta: 0.1, lossType: "kto" as never, labelSmoothing: 0 }), /use sigmoid, ipo or orpo/);
});

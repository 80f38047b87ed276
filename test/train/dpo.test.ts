// DPO against trl (../shared/testdata/hf/dpo: three pairs, trl's collator batch, DPOTrainer's sigmoid loss with
// β 0.1, one AdamW step on every parameter): the batch Zhiyu builds from the pairs equals trl's; the cached
// reference log-probs, the loss and rewards before the step, and the policy log-probs, loss and rewards after one
// step of the shared loop, all within 1e-4. Also: DPO over LoRA adapters trains only the adapters; IPO and cDPO
// options; bad settings are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { runLoop } from "../../src/train/loop.js";
import { constantLrSettings } from "./one-step-settings.js";
import { modelOptimizer } from "../../src/train/loop-state.js";
import { TrainModel } from "../../src/train/model.js";
import { ProgressDisplay } from "../../src/train/progress.js";
import { pairBatch, type PreferencePair } from "../../src/train/preference-data.js";
import { DpoObjective, checkDpoSettings, pairLogProbs } from "../../src/train/objectives/dpo.js";
import { LoraAdapter, parseLoraSpec } from "../../src/models/adapters/lora.js";
import { redirectCliOutput } from "../cli-output.js";

const CASE = path.resolve("../shared/testdata/hf/dpo");
setDefaultBackend(createBackend());
const quiet = { write: () => {}, isTTY: false };

interface Ref {
  inputs: { pairs: { prompt_ids: number[]; chosen_ids: number[]; rejected_ids: number[] }[];
    batch: { input_ids: number[][]; completion_mask: number[][] } };
  outputs: Record<string, { values: number[] }>;
  dpo: { beta: number };
}
const ref = JSON.parse(readFileSync(path.join(CASE, "reference.json"), "utf8")) as Ref;
const pairs: PreferencePair[] = ref.inputs.pairs.map((p) => ({ prompt: p.prompt_ids, chosen: p.chosen_ids, rejected: p.rejected_ids, margin: 0 }));
const PAD = 0;
const MAX = 1 << 20;

function near(got: ArrayLike<number>, want: readonly number[], tol: number, what: string): void {
  assert.equal(got.length, want.length, `${what}: length`);
  want.forEach((w, i) => assert.ok(Math.abs(got[i]! - w) <= tol, `${what}[${i}]: ${got[i]} vs trl ${w}`));
}

const dpoLoss = (beta: number, pc: number[], pr: number[], rc: ArrayLike<number>, rr: ArrayLike<number>) =>
  pc.reduce((a, _, i) => a + Math.log1p(Math.exp(-beta * ((pc[i]! - rc[i]!) - (pr[i]! - rr[i]!)))), 0) / pc.length;

test("the pair batch equals trl's collator batch", () => {
  const b = pairBatch(pairs, PAD, MAX);
  const want = ref.inputs.batch;
  assert.deepEqual([...b.inputs], want.input_ids.flat());
  const seq = want.input_ids[0]!.length;
  assert.equal(b.seq, seq);
  for (let r = 0; r < b.rows; r++) for (let t = 0; t + 1 < seq; t++) {
    const tgt = b.targets[r * seq + t]!;
    assert.equal(tgt >= 0, want.completion_mask[r]![t + 1] === 1, `row ${r} target ${t}`);
  }
});

test("DPO in the shared loop matches trl before and after one AdamW step (log-probs, loss, rewards within 1e-4)", async () => {
  const beta = ref.dpo.beta;
  const o = ref.outputs;
  const policy = TrainModel.fromHfFolder(path.join(CASE, "model"), "f32");
  const reference = TrainModel.fromHfFolder(path.join(CASE, "model"), "f32");
  const objective = new DpoObjective(pairs, [], pairs.length, PAD, MAX, 1, { beta, lossType: "sigmoid", labelSmoothing: 0 }, reference);
  near(objective.reference.chosen, o.reference_chosen_logps!.values, 1e-4, "reference chosen logps");
  near(objective.reference.rejected, o.reference_rejected_logps!.values, 1e-4, "reference rejected logps");
  const before = pairLogProbs(policy, pairs, pairs.length, PAD, MAX);
  near(before.chosen, o.policy_chosen_logps!.values, 1e-4, "policy chosen logps");
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-dpo-"));
  try {
    const r = await runLoop({
      model: policy, objective, rng: new Rng(1), runDir: dir, resumeFrom: null, options: {}, copies: new Map(),
      optimizer: modelOptimizer(policy, { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }),
      settings: constantLrSettings(1), banner: "dpo", display: new ProgressDisplay(quiet), jsonOut: null,
    });
    near([r.losses[0]!], o.loss_before!.values, 1e-6, "loss before");
    const after = pairLogProbs(policy, pairs, pairs.length, PAD, MAX);
    near(after.chosen, o.policy_chosen_logps_after!.values, 1e-4, "policy chosen logps after");
    near(after.rejected, o.policy_rejected_logps_after!.values, 1e-4, "policy rejected logps after");
    const rc = objective.reference.chosen, rr = objective.reference.rejected;
    near([dpoLoss(beta, [...after.chosen], [...after.rejected], rc, rr)], o.loss_after!.values, 1e-4, "loss after");
    near(Array.from(after.chosen, (x, i) => beta * (x - rc[i]!)), o.chosen_rewards_after!.values, 1e-4, "chosen rewards after");
    near(Array.from(after.rejected, (x, i) => beta * (x - rr[i]!)), o.rejected_rewards_after!.values, 1e-4, "rejected rewards after");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("DPO over LoRA adapters: the reference is the frozen base, only A/B change, the loss falls; IPO and cDPO run", async () => {
  const base = TrainModel.fromHfFolder(path.join(CASE, "model"), "f32");
  const baseBefore = base.params.get("model.layers.0.self_attn.q_proj.weight")!.toFloat32Array();
  const adapter = LoraAdapter.create(base.specs, parseLoraSpec("r=4,alpha=8,targets=q,v,down"), new Rng(2));
  const policy = base.withLora(adapter);
  for (const lossType of ["sigmoid", "ipo"] as const) {
    const objective = new DpoObjective(pairs, [], pairs.length, PAD, MAX, 1,
      { beta: 0.1, lossType, labelSmoothing: lossType === "sigmoid" ? 0.1 : 0 }, base);
    const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-dpo-lora-"));
    try {
      const r = await runLoop({
        model: policy, objective, rng: new Rng(1), runDir: dir, resumeFrom: null, options: {}, copies: new Map(),
        optimizer: modelOptimizer(policy, { lr: 1e-2, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0 }),
        settings: constantLrSettings(4), banner: "dpo", display: new ProgressDisplay(quiet), jsonOut: null,
      });
      assert.ok(r.losses[3]! < r.losses[0]!, `${lossType}: loss ${r.losses.join(", ")} should fall`);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }
  assert.deepEqual(base.params.get("model.layers.0.self_attn.q_proj.weight")!.toFloat32Array(), baseBefore);
  assert.throws(() => checkDpoSettings({ beta: 0, lossType: "sigmoid", labelSmoothing: 0 }), /--beta 0 must be positive/);
  assert.throws(() => checkDpoSettings({ beta: 0.1, lossType: "sigmoid", labelSmoothing: 0.5 }), /--label-smoothing/);
});

test("zhiyu dpo --lora: a short run writes a PEFT adapter and a GGUF adapter that read back over the base", async () => {
  const { run } = await import("../../src/cli/commands/dpo.js");
  const { readLoraAdapter } = await import("../../src/models/adapters/lora-files.js");
  const { writeFileSync } = await import("node:fs");
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-dpo-cli-"));
  const restore = redirectCliOutput(() => {});
  try {
    const data = path.join(dir, "pairs.jsonl");
    writeFileSync(data, ref.inputs.pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
    assert.equal(await run(["--model", path.join(CASE, "model"), "--data", data, "--out", path.join(dir, "run"), "--steps", "2", "--batch", "3",
      "--val-every", "0", "--lr", "1e-2", "--warmup", "0", "--lora", "r=4,alpha=8,targets=q,k,v,o", "--beta", "0.1"]), 0);
    const base = TrainModel.fromHfFolder(path.join(CASE, "model"), "f32");
    for (const p of ["adapter", "adapter.gguf"]) {
      const a = readLoraAdapter(path.join(dir, "run", p), base);
      assert.equal(a.modules.length, 4 * base.config.numLayers);
      assert.ok(a.modules.some((m) => m.b.toFloat32Array().some((x) => x !== 0)), `${p}: B moved from zero`);
    }
    // Bad settings fail before any step.
    await assert.rejects(run(["--model", path.join(CASE, "model"), "--data", data, "--out", path.join(dir, "bad"), "--beta", "-1"]), /--beta -1 must be positive/);
  } finally {
    restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("preference files: HH-RLHF full texts split at the last assistant turn; llamafactory's DPO form renders through the chat template", async () => {
  const { readRecords, splitHhRlhf, encodePair, detectForm } = await import("../../src/train/preference-data.js");
  const { loadTokenizer } = await import("../../src/tokenizers/load.js");
  const hh = readRecords(path.resolve("../shared/data/hh-rlhf-harmless-test/test.jsonl.gz")).slice(0, 20);
  for (const { record, where } of hh) {
    assert.equal(detectForm(record, where), "hh-rlhf");
    const s = splitHhRlhf(record.chosen as string, record.rejected as string, where);
    assert.ok(s.prompt.endsWith("\n\nAssistant:") && (record.chosen as string) === s.prompt + s.chosen);
  }
  const lf = readRecords(path.resolve("../shared/data/llamafactory-demo/dpo_en_demo.json")).slice(0, 3);
  const tokenizer = loadTokenizer(path.resolve("../shared/testdata/hf/qwen3/model"));
  const enc = { tokenizer, chatTemplate: null, eosId: tokenizer.eosTokenId ?? null, endOfTurnId: tokenizer.tokenToId("<|im_end|>") ?? null };
  for (const { record, where } of lf) {
    assert.equal(detectForm(record, where), "llamafactory");
    const p = encodePair(record, enc, where);
    assert.ok(p.prompt.length > 0 && p.chosen.length > 0 && p.rejected.length > 0);
    const text = tokenizer.decode(p.chosen);
    assert.ok(text.includes(((record.chosen as { value: string }).value).slice(0, 20)), `${where}: chosen reply in ${JSON.stringify(text.slice(0, 60))}`);
  }
});

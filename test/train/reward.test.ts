// The reward model against transformers/trl (../shared/testdata/hf/reward: LlamaForSequenceClassification with a
// `score` head, trl's preference collator batch): rewards read at the last non-pad token and the Bradley–Terry
// loss within 1e-5; one training step through the shared loop lowers the loss; a model without a score head and
// pairs with an empty completion are refused before any step.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { fromTypedArray, noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { bradleyTerryLoss, scorePositions, sequenceRewards } from "../../src/train/objectives/reward.js";
import { encodePair, readRecords } from "../../src/train/preference-data.js";
import { redirectCliOutput } from "../cli-output.js";

const CASE = path.resolve("../shared/testdata/hf/reward");
setDefaultBackend(createBackend());

interface Ref {
  inputs: { input_ids: number[][]; score_position: number[] };
  outputs: Record<string, { values?: number[]; file: string; shape: number[] }>;
}
const ref = JSON.parse(readFileSync(path.join(CASE, "reference.json"), "utf8")) as Ref;

test("rewards at the last non-pad token and the Bradley–Terry loss match transformers/trl within 1e-5", () => {
  const model = TrainModel.fromHfFolder(path.join(CASE, "model"), "f32");
  assert.equal(model.scoreLabels, 1);
  const ids = ref.inputs.input_ids;
  const rows = ids.length, seq = ids[0]!.length;
  const inputs = Int32Array.from(ids.flat());
  const pad = model.hfConfig.pad_token_id as number;
  assert.deepEqual([...scorePositions(inputs, rows, seq, pad)], ref.inputs.score_position);
  const { rewards, loss } = noGrad(() => tidy(() => {
    const r = sequenceRewards(model, inputs, rows, seq, pad);
    return { rewards: r.toFloat32Array(), loss: bradleyTerryLoss(r).item() };
  }));
  const want = ref.outputs.rewards!.values!;
  assert.equal(rewards.length, want.length);
  want.forEach((w, i) => assert.ok(Math.abs(rewards[i]! - w) < 1e-5, `reward ${i}: ${rewards[i]} vs ${w}`));
  const wantLoss = ref.outputs.loss!.values![0]!;
  assert.ok(Math.abs(loss - wantLoss) < 1e-5, `BT loss ${loss} vs trl ${wantLoss}`);
});

test("--center-rewards c adds trl's c × mean((r_chosen + r_rejected)²), computed from transformers' rewards, within 1e-5; its gradient pulls pair sums to 0", () => {
  const model = TrainModel.fromHfFolder(path.join(CASE, "model"), "f32");
  const ids = ref.inputs.input_ids;
  const [rows, seq] = [ids.length, ids[0]!.length];
  const inputs = Int32Array.from(ids.flat());
  const pad = model.hfConfig.pad_token_id as number;
  const want = ref.outputs.rewards!.values!;
  const n = want.length / 2;
  const centerRef = Array.from({ length: n }, (_, k) => (want[k]! + want[n + k]!) ** 2).reduce((a, b) => a + b, 0) / n;
  for (const c of [0.01, 0.5]) {
    const loss = noGrad(() => tidy(() => bradleyTerryLoss(sequenceRewards(model, inputs, rows, seq, pad), undefined, c).item()));
    const expected = ref.outputs.loss!.values![0]! + c * centerRef;
    assert.ok(Math.abs(loss - expected) < 1e-5, `c ${c}: loss ${loss} vs trl's formula on transformers' rewards ${expected}`);
  }
  // d loss / d r_c = −σ(−(r_c − r_r))/n + 2c(r_c + r_r)/n, d loss / d r_r = σ(−(r_c − r_r))/n + 2c(r_c + r_r)/n
  const c = 0.5;
  const r = fromTypedArray(Float32Array.from(want), [want.length], { requiresGrad: true });
  tidy(() => bradleyTerryLoss(r, undefined, c).backward());
  const g = r.grad!.toFloat32Array();
  for (let k = 0; k < n; k++) {
    const s = 1 / (1 + Math.exp(want[k]! - want[n + k]!)), centre = (2 * c * (want[k]! + want[n + k]!)) / n;
    assert.ok(Math.abs(g[k]! - (-s / n + centre)) < 1e-6, `d/dr_chosen ${k}: ${g[k]} vs ${-s / n + centre}`);
    assert.ok(Math.abs(g[n + k]! - (s / n + centre)) < 1e-6, `d/dr_rejected ${k}: ${g[n + k]} vs ${s / n + centre}`);
  }
});

test("a causal LM is not a reward model (no score head); a causal LM plus a fresh head is; empty completions are refused", async () => {
  const { Rng } = await import("../../src/core/rng.js");
  const lm = TrainModel.fromHfFolder(path.resolve("../shared/testdata/hf/lora/base"), "f32");
  assert.throws(() => sequenceRewards(lm, Int32Array.from([1, 2]), 1, 2, null), /no score head \('score\.weight'\)/);
  const rm = TrainModel.fromHfFolder(path.resolve("../shared/testdata/hf/lora/base"), "f32", { rng: new Rng(3) });
  assert.equal(rm.scoreLabels, 1);
  assert.equal(noGrad(() => tidy(() => sequenceRewards(rm, Int32Array.from([1, 2, 3]), 1, 3, null).toFloat32Array())).length, 1);
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-rm-"));
  try {
    const file = path.join(dir, "pairs.jsonl");
    writeFileSync(file, JSON.stringify({ prompt_ids: [1, 5], chosen_ids: [7, 2], rejected_ids: [] }) + "\n");
    const [rec] = readRecords(file);
    assert.throws(() => encodePair(rec!.record, { tokenizer: null as never, chatTemplate: null, eosId: 2, endOfTurnId: null }, rec!.where),
      /pairs\.jsonl:1: the rejected completion is empty/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("zhiyu rm score/eval/train: rewards of the reference rows, accuracy, a short run; a causal LM is refused for scoring", async () => {
  const { run } = await import("../../src/cli/commands/rm.js");
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-rm-cli-"));
  const lines: string[] = [];
  const restore = redirectCliOutput((c) => { lines.push(...c.split("\n").filter((l) => l !== "")); });
  try {
    const pad = 0;
    const rows = ref.inputs.input_ids.map((r) => r.filter((_, t) => t <= r.lastIndexOf(r.findLast((x) => x !== pad)!)));
    const input = path.join(dir, "score.jsonl");
    writeFileSync(input, rows.map((ids) => JSON.stringify({ ids })).join("\n") + "\n");
    assert.equal(await run(["score", "--model", path.join(CASE, "model"), "--input-jsonl", input, "--json"]), 0);
    const got = lines.splice(0).map((l) => (JSON.parse(l) as { reward: number }).reward);
    got.forEach((g, i) => assert.ok(Math.abs(g - ref.outputs.rewards!.values![i]!) < 1e-5, `rm score row ${i}: ${g}`));
    const n = rows.length / 2;
    const pairs = path.join(dir, "pairs.jsonl");
    writeFileSync(pairs, Array.from({ length: n }, (_, i) => JSON.stringify({ prompt_ids: [], chosen_ids: rows[i], rejected_ids: rows[n + i] })).join("\n") + "\n");
    assert.equal(await run(["eval", "--model", path.join(CASE, "model"), "--data", pairs, "--json"]), 0);
    const ev = JSON.parse(lines.splice(0)[0]!) as { accuracy: number; loss: number };
    const r = ref.outputs.rewards!.values!;
    const wantAcc = Array.from({ length: n }, (_, i) => (r[i]! > r[n + i]! ? 1 : 0)).reduce((a: number, b) => a + b, 0) / n;
    assert.equal(ev.accuracy, wantAcc);
    assert.ok(Math.abs(ev.loss - ref.outputs.loss!.values![0]!) < 1e-5, `rm eval loss ${ev.loss}`);
    await assert.rejects(run(["score", "--model", path.resolve("../shared/testdata/hf/lora/base"), "--input-jsonl", input]), /no score head/);
    assert.equal(await run(["train", "--model", path.join(CASE, "model"), "--data", pairs, "--out", path.join(dir, "run"), "--steps", "2",
      "--batch", String(n), "--val-every", "0", "--lr", "1e-3", "--warmup", "0"]), 0);
    const trained = TrainModel.fromHfFolder(path.join(dir, "run", "checkpoints", "step-00000002"), "f32");
    assert.equal(trained.scoreLabels, 1);
    // centring: the first step's loss is the plain run's plus c × mean((r_c + r_r)²) of the same start, logged with the pair mean
    assert.equal(await run(["train", "--model", path.join(CASE, "model"), "--data", pairs, "--out", path.join(dir, "centred"), "--steps", "1",
      "--batch", String(n), "--val-every", "0", "--lr", "1e-3", "--warmup", "0", "--center-rewards", "0.5", "--log-every", "1"]), 0);
    const firstStep = (out: string) => readFileSync(path.join(dir, out, "metrics.jsonl"), "utf8").trim().split("\n")
      .map((l) => JSON.parse(l) as Record<string, number>).find((m) => typeof m.loss === "number")!;
    const plain = firstStep("run"), centred = firstStep("centred");
    const pairSq = Array.from({ length: n }, (_, k) => (r[k]! + r[n + k]!) ** 2).reduce((a, b) => a + b, 0) / n;
    assert.ok(Math.abs(centred.loss! - plain.loss! - 0.5 * pairSq) < 1e-5, `centred ${centred.loss} vs plain ${plain.loss} + 0.5 × ${pairSq}`);
    assert.ok(Math.abs(centred.reward_pair_mean! - r.reduce((a, b) => a + b, 0) / r.length) < 1e-5);
    await assert.rejects(run(["train", "--model", path.join(CASE, "model"), "--data", pairs, "--out", path.join(dir, "bad"), "--center-rewards", "-1"]),
      /--center-rewards expects a number ≥ 0, got -1/);
  } finally {
    restore();
    rmSync(dir, { recursive: true, force: true });
  }
});

// The desk's late fusion of the sparse model and the encoder branch (understanding/fusion.ts, dense-head.ts,
// fusion-file.ts, training/benchmarks.ts): fused probabilities, the validation choice of weight and temperature, and a
// dense head trained to convergence against NumPy / SciPy / scikit-learn numbers (test/fixtures/sklearn/desk-fusion.json,
// made by dev/contact-centre/make-fusion-reference.py); the benchmark's choice depends on the validation split only
// (the test split's labels shuffled → the same choice); a saved model folder loads back to the same figures; a
// mismatched fusion file is refused naming the file and field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadEncoder } from "../../../src/infer/encoder.js";
import { runBenchmark } from "../../../src/apps/contact-centre/training/benchmarks.js";
import { loadModel } from "../../../src/apps/contact-centre/understanding/model-file.js";
import { DenseHead } from "../../../src/apps/contact-centre/understanding/dense-head.js";
import { chooseFusion, fuseProbabilities } from "../../../src/apps/contact-centre/understanding/fusion.js";
import { loadFusion, saveFusion } from "../../../src/apps/contact-centre/understanding/fusion-file.js";

interface Reference {
  sparse: number[][];
  dense: number[][];
  cases: { weight: number; temperature: number; fused: number[][] }[];
  choice: { sparse: number[][]; dense: number[][]; gold: number[]; grid: number[]; accuracy: number[]; weight: number; temperature: number };
  dense_head: { x: number[][]; y: number[]; l2: number; queries: number[][]; probs: number[][]; mean: number[]; std: number[] };
}
const ref = JSON.parse(readFileSync("test/fixtures/sklearn/desk-fusion.json", "utf8")) as Reference;
const f32 = (rows: number[][]) => rows.map((r) => Float32Array.from(r));

test("fused probabilities = softmax((log p + w·log q) / T), as NumPy computes them", () => {
  for (const c of ref.cases) {
    ref.sparse.forEach((p, i) => {
      const got = fuseProbabilities(p, ref.dense[i], c.weight, c.temperature);
      c.fused[i].forEach((v, k) => assert.ok(Math.abs(got[k] - v) < 1e-6, `w ${c.weight} T ${c.temperature} row ${i} class ${k}: ${got[k]} vs ${v}`));
    });
  }
  // w = 0, T = 1 gives the sparse model's probabilities back.
  const p = Float32Array.from(ref.sparse[0]);
  fuseProbabilities(p, ref.dense[0], 0, 1).forEach((v, k) => assert.ok(Math.abs(v - p[k]) < 1e-7));
  assert.throws(() => fuseProbabilities([0.5, 0.5], [1], 0.5), /\[fusion\] 2 sparse and 1 dense probabilities/);
});

test("the validation choice: the grid's accuracies, ties to the smaller weight, T by NLL (SciPy's minimum)", () => {
  const c = ref.choice;
  const seen: number[] = [];
  const score = (fused: Float32Array[]) => {
    const acc = fused.filter((p, i) => p.indexOf(Math.max(...p)) === c.gold[i]).length / c.gold.length;
    seen.push(acc);
    return acc;
  };
  const got = chooseFusion(f32(c.sparse), f32(c.dense), c.gold, score, c.grid);
  seen.forEach((a, i) => assert.ok(Math.abs(a - c.accuracy[i]) < 1e-12, `w ${c.grid[i]}: accuracy ${a} vs ${c.accuracy[i]}`));
  assert.equal(got.weight, c.weight);
  assert.ok(Math.abs(Math.log(got.temperature / c.temperature)) < 1e-4, `T ${got.temperature} vs ${c.temperature}`);
  // A branch that adds nothing (every weight scores the same) gets weight 0.
  assert.equal(chooseFusion(f32(c.sparse), f32(c.dense), c.gold, () => 0.5).weight, 0);
  assert.throws(() => chooseFusion(f32(c.sparse), f32(c.dense).slice(1), c.gold, score), /validation rows disagree: 60 sparse, 59 dense, 60 labels/);
});

test("the dense head trained to convergence matches scikit-learn's LogisticRegression (C = 1 / (l2·N))", () => {
  // Full batch here, so that Adam's decaying steps reach the optimum (mini-batches stop within ~1e-2 of it).
  const h = ref.dense_head;
  const head = DenseHead.train(["a", "b", "c"], f32(h.x), h.y, { l2: h.l2, epochs: 2000, batch: h.y.length, learningRate: 0.05 });
  head.mean.forEach((m, d) => assert.ok(Math.abs(m - h.mean[d]) < 1e-4 * Math.max(1, Math.abs(h.mean[d]))));
  head.invStd.forEach((s, d) => assert.ok(Math.abs(1 / s - h.std[d]) < 1e-4 * h.std[d]));
  h.queries.forEach((q, i) => {
    const p = head.probabilities(Float32Array.from(q));
    h.probs[i].forEach((v, k) => assert.ok(Math.abs(p[k] - v) < 1e-5, `query ${i} class ${k}: ${p[k]} vs sklearn ${v}`));
  });
  assert.throws(() => head.logits(new Float32Array(4)), /a feature of length 4; the head takes 6/);
});

/** A tiny banking77-shaped data root: train.csv (the seeded tenth becomes val) and test.csv. */
function tinyBanking(dir: string, testLabels: (labels: string[]) => string[]): void {
  const intents: Record<string, string[]> = {
    card_arrival: ["when will my card arrive", "my card has not arrived yet", "where is my new card", "card still not here", "how long until the card comes", "track my card delivery", "is my card on the way", "card delivery status", "has my card been sent", "waiting for my card"],
    exchange_rate: ["what is the exchange rate", "how much is a euro in dollars", "current rate for pounds", "exchange rate today", "convert dollars to yen rate", "what rate do you use", "is the rate fair", "rate for changing money", "euro exchange rate please", "show me the exchange rates"],
    lost_card: ["i lost my card", "my card was stolen", "cannot find my card", "card is missing", "someone took my card", "lost wallet with card", "block my lost card", "stolen card help", "i misplaced my card", "my card is gone"],
  };
  const rows = Object.entries(intents).flatMap(([label, texts]) => texts.map((t) => [t, label]));
  const test = [["my card did not arrive", "card_arrival"], ["what's the rate for euros", "exchange_rate"], ["my card got stolen", "lost_card"],
    ["where's my card", "card_arrival"], ["dollar exchange rate", "exchange_rate"], ["i can't find my card anywhere", "lost_card"]];
  const labels = testLabels(test.map((r) => r[1]));
  mkdirSync(path.join(dir, "banking77"), { recursive: true });
  writeFileSync(path.join(dir, "banking77", "train.csv"), ["text,category", ...rows.map((r) => r.join(","))].join("\n") + "\n");
  writeFileSync(path.join(dir, "banking77", "test.csv"), ["text,category", ...test.map((r, i) => `${r[0]},${labels[i]}`)].join("\n") + "\n");
}

test("desk eval with the encoder: the choice sees only validation data; the folder round-trips; mismatches are named", () => {
  const encoder = loadEncoder("models/zhiyu-encoder", { threads: 1 });
  const root = mkdtempSync(path.join(os.tmpdir(), "desk-fusion-"));
  try {
    const a = path.join(root, "a");
    const b = path.join(root, "b");
    tinyBanking(a, (l) => l);
    tinyBanking(b, (l) => [...l.slice(1), l[0]]); // the test labels rotated: different test figures, same choice
    const ra = runBenchmark("banking77", { dataRoot: a, encoder });
    const rb = runBenchmark("banking77", { dataRoot: b, encoder });
    assert.ok(ra.fusion && rb.fusion);
    assert.deepEqual({ ...rb.fusion, sparse_only: undefined }, { ...ra.fusion, sparse_only: undefined }, "weight, temperature and validation scores");
    assert.notEqual(rb.accuracy, ra.accuracy, "the test labels did change the test figure");
    // Saved → loaded: the same figures.
    const models = path.join(root, "models");
    const saved = runBenchmark("banking77", { dataRoot: a, encoder, modelDir: models, save: true });
    const loaded = runBenchmark("banking77", { dataRoot: a, encoder, modelDir: models });
    assert.equal(loaded.accuracy, saved.accuracy);
    assert.deepEqual(loaded.fusion?.sparse_only, saved.fusion?.sparse_only);
    const labels = loadModel(path.join(models, "banking77.zdcm")).classifier.labels;
    const file = path.join(models, "banking77.fusion.json");
    const part = loadFusion(file, labels, encoder);
    assert.equal(part.weight, saved.fusion?.weight);
    // Mismatches.
    assert.throws(() => loadFusion(file, [...labels, "extra"], encoder), /banking77\.fusion\.json: field labels \(3\) differ from the sparse model's 4 labels/);
    const doc = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    const bad = (patch: Record<string, unknown>, name: string) => {
      const f = path.join(models, name);
      writeFileSync(f, JSON.stringify({ ...doc, ...patch }));
      return f;
    };
    assert.throws(() => loadFusion(bad({ encoder: "other" }, "enc.json"), labels, encoder), /enc\.json: its head was trained on encoder "other", but the encoder given is/);
    assert.throws(() => loadFusion(bad({ dim: 768 }, "dim.json"), labels, encoder), /dim\.json: field dim is 768, the encoder's features have 256/);
    assert.throws(() => loadFusion(bad({ weights: "AAAA" }, "w.json"), labels, encoder), /w\.json: field weights holds 3 bytes, expected 3072 \(768 f32 values\)/);
    assert.throws(() => loadFusion(bad({ version: 2 }, "v.json"), labels, encoder), /v\.json: unsupported format zhiyu-desk-fusion v2/);
    assert.throws(() => loadFusion(path.join(models, "none.json"), labels, encoder), /none\.json: not found/);
    // saveFusion → loadFusion is exact.
    saveFusion(path.join(models, "copy.json"), part);
    const again = loadFusion(path.join(models, "copy.json"), labels, encoder);
    assert.deepEqual(again.head.weights, part.head.weights);
    assert.equal(again.temperature, part.temperature);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

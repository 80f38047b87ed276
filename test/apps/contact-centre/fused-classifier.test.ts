// `zhiyu finetune --task classify --features sparse+encoder` and the folder it writes
// (training/fused-classifier.ts, cli/commands/finetune-fused.ts, classify.ts): through the CLI on a tiny intent set
// with an `oos` class, the folder's predictions are the sparse model's and the dense head's probabilities fused with
// the saved w and T (fusion.ts, itself checked against NumPy in fusion.test.ts) and the saved threshold; `zhiyu
// classify` answers the same; `zhiyu desk eval --model DIR` loads the folder; bad folders and caches are refused
// naming the file and the field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadEncoder } from "../../../src/infer/encoder.js";
import { runBenchmark } from "../../../src/apps/contact-centre/training/benchmarks.js";
import { EncoderFeatureCache, loadFusedClassifier, predictFused } from "../../../src/apps/contact-centre/training/fused-classifier.js";
import { encoderFeatures } from "../../../src/apps/contact-centre/understanding/dense-head.js";
import { fuseProbabilities } from "../../../src/apps/contact-centre/understanding/fusion.js";
import { predictText } from "../../../src/apps/contact-centre/understanding/model-file.js";

const zhiyu = (...args: string[]) => spawnSync(process.execPath, ["bin/zhiyu.mjs", ...args], { encoding: "utf8" });

const INTENTS: Record<string, string[]> = {
  card_arrival: ["when will my card arrive", "my card has not arrived yet", "where is my new card", "card still not here", "how long until the card comes", "track my card delivery", "is my card on the way", "card delivery status"],
  exchange_rate: ["what is the exchange rate", "how much is a euro in dollars", "current rate for pounds", "exchange rate today", "convert dollars to yen rate", "what rate do you use", "is the rate fair", "rate for changing money"],
  lost_card: ["i lost my card", "my card was stolen", "cannot find my card", "card is missing", "someone took my card", "lost wallet with card", "block my lost card", "stolen card help"],
  oos: ["tell me a joke", "what is the weather", "play some music", "who won the game", "recipe for pancakes", "how tall is everest", "sing me a song", "book a flight to paris"],
};

function write(file: string, rows: [string, string][]): void {
  writeFileSync(file, rows.map(([text, label]) => JSON.stringify({ text, label })).join("\n") + "\n");
}

test("finetune --features sparse+encoder → a folder whose answers are the fused branches; classify and desk eval load it", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "fused-classifier-"));
  try {
    const all = Object.entries(INTENTS).flatMap(([label, texts]) => texts.map((t) => [t, label] as [string, string]));
    write(path.join(root, "train.jsonl"), all.filter((_, i) => i % 4 !== 0));
    write(path.join(root, "val.jsonl"), all.filter((_, i) => i % 4 === 0));
    const queries = ["my card did not arrive", "what's the rate for euros", "my card got stolen", "what time is the match"];
    writeFileSync(path.join(root, "in.jsonl"), queries.map((text) => JSON.stringify({ text })).join("\n") + "\n");
    const out = path.join(root, "run");
    const r = zhiyu("finetune", "--task", "classify", "--features", "sparse+encoder", "--model", "models/zhiyu-encoder", "--train", path.join(root, "train.jsonl"),
      "--val", path.join(root, "val.jsonl"), "--out", out, "--oos-label", "oos", "--name", "banking77", "--encoder-cache", path.join(root, "cache", "feats"));
    assert.equal(r.status, 0, r.stderr);
    const report = JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, number>;
    assert.ok(report.fusion_weight >= 0 && report.fusion_temperature > 0 && report.oos_threshold >= 0 && report.oos_threshold <= 1);
    const dir = path.join(out, "model");

    // The folder's answer = the two branches fused with the saved w and T, then the threshold.
    const encoder = loadEncoder("models/zhiyu-encoder", { threads: 1 });
    const { model, encoder: own } = loadFusedClassifier(dir, (folder) => loadEncoder(folder, { threads: 1 }));
    assert.equal(own.id, encoder.id);
    assert.equal(model.fused.weight, report.fusion_weight);
    const feats = encoderFeatures(encoder, queries);
    const got = predictFused(model, queries, (t) => encoderFeatures(own, t));
    const labels = model.sparse.classifier.labels;
    queries.forEach((q, i) => {
      const want = fuseProbabilities(predictText(model.sparse, q).probs, model.fused.head.probabilities(feats[i]), model.fused.weight, model.fused.temperature);
      want.forEach((v, c) => assert.ok(Math.abs(v - got[i].probs[c]) < 1e-6, `${q}: class ${labels[c]} ${got[i].probs[c]} vs ${v}`));
      const best = want.indexOf(Math.max(...want));
      const inScope = labels[best] !== "oos" && want[best] >= model.oosThreshold;
      assert.equal(got[i].inScope, inScope);
      assert.equal(got[i].label, inScope ? labels[best] : "oos");
    });

    // zhiyu desk eval --model DIR (runBenchmark) loads <name>.zdcm + <name>.fusion.json: its accuracy is the folder's.
    const data = path.join(root, "data");
    mkdirSync(path.join(data, "banking77"), { recursive: true });
    const csv = (rows: [string, string][]) => ["text,category", ...rows.map((r) => r.join(","))].join("\n") + "\n";
    const testRows: [string, string][] = [[queries[0], "card_arrival"], [queries[1], "exchange_rate"], [queries[2], "lost_card"], [queries[3], "exchange_rate"]];
    writeFileSync(path.join(data, "banking77", "train.csv"), csv(all));
    writeFileSync(path.join(data, "banking77", "test.csv"), csv(testRows));
    const desk = runBenchmark("banking77", { dataRoot: data, modelDir: dir, encoder: own });
    const right = got.filter((p, i) => labels[p.probs.indexOf(Math.max(...p.probs))] === testRows[i][1]).length;
    assert.equal(desk.accuracy, Math.round((right / testRows.length) * 10000) / 10000);
    assert.equal(desk.fusion?.weight, model.fused.weight);

    // zhiyu classify answers the same lines.
    const c = zhiyu("classify", "--model", dir, "--input-jsonl", path.join(root, "in.jsonl"), "--json");
    assert.equal(c.status, 0, c.stderr);
    const lines = c.stdout.trim().split("\n").map((l) => JSON.parse(l) as { label: string; confidence: number; in_scope: boolean });
    lines.forEach((l, i) => {
      assert.equal(l.label, got[i].label);
      assert.equal(l.in_scope, got[i].inScope);
      assert.ok(Math.abs(l.confidence - got[i].confidence) < 1e-6);
    });
    const bad = path.join(root, "bad.jsonl");
    writeFileSync(bad, '{"ids": [101, 102]}\n');
    assert.match(zhiyu("classify", "--model", dir, "--input-jsonl", bad).stderr, /bad\.jsonl:1: a sparse\+encoder classifier .* reads \{"text": …\}/);

    // The feature cache was written; a cache of another encoder is refused.
    const texts = JSON.parse(readFileSync(path.join(root, "cache", "feats.texts.json"), "utf8")) as string[];
    assert.equal(texts.length, all.length);
    const cached = new EncoderFeatureCache(encoder, path.join(root, "cache", "feats")).of([texts[5]])[0];
    encoderFeatures(encoder, [texts[5]])[0].forEach((v, d) => assert.ok(Math.abs(v - cached[d]) < 1e-4 * Math.max(1, Math.abs(v))));
    const rows = new Float32Array(readFileSync(path.join(root, "cache", "feats.f32")).buffer.slice(0));
    rows.forEach((v, k) => (rows[k] = k % 3 === 0 ? -v : v));
    writeFileSync(path.join(root, "cache", "other.texts.json"), JSON.stringify(texts));
    writeFileSync(path.join(root, "cache", "other.f32"), Buffer.from(rows.buffer));
    assert.throws(() => new EncoderFeatureCache(encoder, path.join(root, "cache", "other")).of(texts.slice(0, 2)), /other: the cached features of .* differ from zhiyu-encoder's \(cosine/);
    writeFileSync(path.join(root, "cache", "short.texts.json"), JSON.stringify(texts));
    writeFileSync(path.join(root, "cache", "short.f32"), Buffer.alloc(12));
    assert.throws(() => new EncoderFeatureCache(encoder, path.join(root, "cache", "short")), /short\.f32 holds 12 bytes, expected \d+ texts × 256 floats/);

    // A broken manifest is named.
    const manifest = path.join(dir, "zhiyu_fused.json");
    const doc = JSON.parse(readFileSync(manifest, "utf8")) as Record<string, unknown>;
    writeFileSync(manifest, JSON.stringify({ ...doc, version: 2 }));
    assert.throws(() => loadFusedClassifier(dir, (f) => loadEncoder(f)), /zhiyu_fused\.json: unsupported format zhiyu-fused-classifier v2/);
    writeFileSync(manifest, JSON.stringify({ ...doc, encoder: "gone" }));
    assert.throws(() => loadFusedClassifier(dir, (f) => loadEncoder(f)), /zhiyu_fused\.json: the encoder folder .*gone is missing/);
    writeFileSync(manifest, JSON.stringify(doc));
    encoder.dispose();
    own.dispose();

    // Flags of the fused route are refused on the joint route and for other tasks.
    assert.match(zhiyu("finetune", "--task", "classify", "--model", "m", "--train", "t", "--out", "o", "--refit").stderr, /--refit goes with --features sparse\+encoder/);
    assert.match(zhiyu("finetune", "--task", "classify", "--features", "sparse+encoder", "--model", "m", "--train", "t", "--out", "o", "--epochs", "3").stderr,
      /--epochs trains the encoder's joint model; --features sparse\+encoder does not use it/);
    assert.match(zhiyu("finetune", "--task", "tag", "--features", "sparse+encoder", "--model", "m", "--train", "t", "--out", "o").stderr, /--features sparse\+encoder is for --task classify, not tag/);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

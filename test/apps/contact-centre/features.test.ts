// The contact-centre featurizer's optional English stems (`stemLatin`, used by the clinc150 recipe): with character
// n-grams out of the way (a range no short word reaches), "booking" and "booked" share no feature without stems and
// exactly one with them (both Porter-stem to "book"); a Han-only text is unchanged; the flag survives a model file
// round trip. `wordWeight` (the clinc150 recipe's) scales the word block: with character n-grams out of the way the
// vector is that block alone, L2-normalised, so its norm is 1 without the weight and the weight with it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { LinearClassifier } from "../../../src/apps/contact-centre/understanding/classifier.js";
import { Featurizer } from "../../../src/apps/contact-centre/understanding/features.js";
import { loadModel, saveModel } from "../../../src/apps/contact-centre/understanding/model-file.js";

const shared = (a: { index: Int32Array }, b: { index: Int32Array }) => [...a.index].filter((k) => b.index.includes(k)).length;

test("stemLatin adds one shared stem feature to inflections of a word, nothing to Han text", () => {
  const plain = new Featurizer({ buckets: 1 << 16, latinChars: [20, 20], hanChars: [1, 2] });
  const stems = new Featurizer({ buckets: 1 << 16, latinChars: [20, 20], hanChars: [1, 2], stemLatin: true });
  assert.equal(shared(plain.transform("booking"), plain.transform("booked")), 0);
  assert.equal(shared(stems.transform("booking"), stems.transform("booked")), 1);
  assert.equal(stems.transform("booking").index.length, plain.transform("booking").index.length + 1);
  assert.deepEqual([...stems.transform("订酒店").index].sort(), [...plain.transform("订酒店").index].sort());
});

test("a model trained with stemLatin loads with it", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-feat-"));
  try {
    const f = new Featurizer({ buckets: 1 << 10, stemLatin: true }).fit(["book a room", "cancel my booking"]);
    const xs = ["book a room", "cancel my booking"].map((t) => f.transform(t));
    const clf = LinearClassifier.train(["a", "b"], f.dimension, xs, [0, 1], { epochs: 2 });
    const seen = new Uint8Array(f.dimension);
    for (const x of xs) for (const k of x.index) seen[k] = 1;
    const file = path.join(dir, "m.zdcm");
    saveModel(file, { task: "t", labels: ["a", "b"], featurizer: f.spec, trainingHash: "x", meta: {} }, f, clf, seen);
    const loaded = loadModel(file);
    assert.equal(loaded.featurizer.spec.stemLatin, true);
    assert.deepEqual([...loaded.featurizer.transform("booked").index], [...f.transform("booked").index]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("wordWeight scales the L2-normalised word block and survives a model file round trip", () => {
  const norm = (x: { value: Float32Array }) => Math.sqrt([...x.value].reduce((s, v) => s + v * v, 0));
  const text = "please cancel my hotel booking";
  const plain = new Featurizer({ buckets: 1 << 16, latinChars: [20, 20] }).fit([text, "book a room"]);
  const heavy = new Featurizer({ buckets: 1 << 16, latinChars: [20, 20], wordWeight: 1.5 }).fit([text, "book a room"]);
  assert.ok(Math.abs(norm(plain.transform(text)) - 1) < 1e-5);
  assert.ok(Math.abs(norm(heavy.transform(text)) - 1.5) < 1e-5);
  // With characters on, the character block is untouched: norm² = 1.5² + 1.
  const both = new Featurizer({ buckets: 1 << 16, wordWeight: 1.5 }).fit([text, "book a room"]);
  assert.ok(Math.abs(norm(both.transform(text)) ** 2 - (1.5 ** 2 + 1)) < 1e-3);
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-feat-"));
  try {
    const xs = [text, "book a room"].map((t) => heavy.transform(t));
    const clf = LinearClassifier.train(["a", "b"], heavy.dimension, xs, [0, 1], { epochs: 2 });
    const seen = new Uint8Array(heavy.dimension);
    for (const x of xs) for (const k of x.index) seen[k] = 1;
    const file = path.join(dir, "m.zdcm");
    saveModel(file, { task: "t", labels: ["a", "b"], featurizer: heavy.spec, trainingHash: "x", meta: {} }, heavy, clf, seen);
    assert.equal(loadModel(file).featurizer.spec.wordWeight, 1.5);
    assert.ok(Math.abs(norm(loadModel(file).featurizer.transform(text)) - 1.5) < 1e-5);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

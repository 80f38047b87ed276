// The contact-centre featurizer's optional English stems (`stemLatin`, used by the clinc150 recipe): with character
// n-grams out of the way (a range no short word reaches), "booking" and "booked" share no feature without stems and
// exactly one with them (both Porter-stem to "book"); a Han-only text is unchanged; the flag survives a model file
// round trip.
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

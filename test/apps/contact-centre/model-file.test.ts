// The desk classifier file: a model trained on the default configuration's examples survives save → load with the
// same predictions (int8 weights: probabilities within 0.02), k-NN vectors included; truncated, foreign and
// inconsistent files are rejected naming the file and the fix.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../../src/apps/contact-centre/config.js";
import { intentExamples, fitClassifier, INTENT_TRAIN } from "../../../src/apps/contact-centre/training/train-models.js";
import { loadModel, predictText, saveModel } from "../../../src/apps/contact-centre/understanding/model-file.js";
import { DEFAULT_NEIGHBOURS } from "../../../src/apps/contact-centre/understanding/neighbours.js";

test("save → load keeps the predictions; bad files are named", () => {
  const config = loadConfig();
  const examples = intentExamples(config, undefined);
  const fit = fitClassifier("intent", examples, { buckets: 1 << 14 }, { ...INTENT_TRAIN, epochs: 5 }, [], DEFAULT_NEIGHBOURS);
  const dir = mkdtempSync(path.join(os.tmpdir(), "desk-model-"));
  try {
    const file = path.join(dir, "intent.zdcm");
    saveModel(file, fit.model.header, fit.model.featurizer, fit.model.classifier, fit.seenBuckets, fit.model.neighbours);
    const loaded = loadModel(file);
    assert.deepEqual(loaded.header.labels, fit.model.header.labels);
    assert.ok(loaded.neighbours, "k-NN vectors are stored");
    for (const text of ["故宫几点开门", "我要投诉", "how much is a ticket", "你好", "帮我写一首诗", "那颐和园呢"]) {
      const a = predictText(fit.model, text);
      const b = predictText(loaded, text);
      assert.equal(b.label, a.label, text);
      for (let c = 0; c < a.probs.length; c++) assert.ok(Math.abs(a.probs[c] - b.probs[c]) < 0.02, `${text}: class ${c} ${a.probs[c]} vs ${b.probs[c]}`);
    }
    const bytes = readFileSync(file);
    writeFileSync(path.join(dir, "cut.zdcm"), bytes.subarray(0, bytes.length - 10));
    assert.throws(() => loadModel(path.join(dir, "cut.zdcm")), /cut\.zdcm: k-NN section .* does not match the file size \(retrain it with `zhiyu desk train/);
    writeFileSync(path.join(dir, "foreign.zdcm"), Buffer.from("GGUF\0\0\0\0\0\0\0\0"));
    assert.throws(() => loadModel(path.join(dir, "foreign.zdcm")), /foreign\.zdcm: not a Zhiyu desk model \(bad magic\)/);
    const huge = Buffer.from(bytes);
    huge.writeUInt32LE(0x7fffffff, 4);
    writeFileSync(path.join(dir, "huge.zdcm"), huge);
    assert.throws(() => loadModel(path.join(dir, "huge.zdcm")), /header length 2147483647 exceeds the file/);
    assert.throws(() => loadModel(path.join(dir, "none.zdcm")), /none\.zdcm: not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

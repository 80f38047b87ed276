// The MFU FLOP count of masked-LM training: mlmLoss runs the MLM head (transform + tied vocabulary projection) on
// the masked rows only, so the head's parameters count on the masking rate of the positions, the encoder's on all.
// Expected values are counted by hand from the bert "tiny" preset's dims (BERT's parameter layout), not from the
// code under test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { trainFlopsPerToken } from "../../src/train/metrics.js";
import { BERT_PRESETS, bertFamily, bertHfConfigJson } from "../../src/models/bert/family.js";

setDefaultBackend(createBackend());

test("MLM FLOPs count the encoder on every position and the MLM head on the masked share", () => {
  const { vocabSize: V, hiddenSize: D, intermediateSize: F, numLayers: L } = BERT_PRESETS.tiny!;
  const model = TrainModel.random(bertHfConfigJson(bertFamily.presetConfig!("bert", "tiny")), new Rng(1), "f32");
  // Per layer: q, k, v, o (weight + bias), two LayerNorms, intermediate and output dense; embeddings' LayerNorm.
  const layer = 4 * (D * D + D) + 2 * 2 * D + (D * F + F) + (F * D + D);
  const body = L * layer + 2 * D;
  // MLM head: transform dense + its LayerNorm + the output bias, and the vocabulary projection (tied: V·D).
  const head = (D * D + D) + 2 * D + V + V * D;
  const shape = model.flopsShape();
  assert.equal(shape.matmulParams, body + head, "matmul parameters: encoder + MLM head");
  assert.equal(shape.headParams, head, "head parameters");
  const seq = 64;
  const attention = 12 * L * D * seq;
  assert.equal(trainFlopsPerToken({ ...shape, seq }), 6 * (body + head) + attention, "head on every position");
  const perToken = trainFlopsPerToken({ ...shape, seq }, 0.15);
  assert.ok(Math.abs(perToken - (6 * body + 6 * 0.15 * head + attention)) < 1e-6 * perToken, `masked share: ${perToken}`);
  // A shape without head parameters (other callers) is unchanged by the share.
  assert.equal(trainFlopsPerToken({ matmulParams: 1000, nLayer: 1, nEmbd: 8, seq: 4 }, 0.15), 6 * 1000 + 12 * 8 * 4);
});

// A BERT sequence classifier through the trainer's model (TrainModel), against transformers: the head comes from
// the family (pooler + `classifier.*` at [CLS]), not the decoders' `score.weight`. The logits of the padded
// reference batch match BertForSequenceClassification's within 1e-4 × max|ref|; the cross-entropy and the gradient
// of the classifier bias match a softmax computed here from the reference logits (dL/db_j = mean_b(p_bj − y_bj));
// an MLM checkpoint gets a fresh classifier with the asked labels, and a decoder refuses a token-classification head.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { crossEntropy, fromTypedArray, noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";

setDefaultBackend(createBackend({ kind: "ref" }));
const CASE = path.resolve("../shared/testdata/hf/bert");
interface Ref {
  inputs: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] };
  outputs: Record<string, { file: string; shape: number[] }>;
}
const ref = JSON.parse(readFileSync(path.join(CASE, "reference.json"), "utf8")) as Ref;
function readBin(name: string): Float32Array {
  const buf = readFileSync(path.join(CASE, ref.outputs[name]!.file));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

function batchOf() {
  const ids = ref.inputs.input_ids, rows = ids.length, seq = ids[0]!.length;
  // The reference pads with [PAD] exactly where attention_mask is 0, so the pad id gives the same mask.
  const padId = ids[ref.inputs.attention_mask.findIndex((m) => m.includes(0))]![ref.inputs.attention_mask.find((m) => m.includes(0))!.indexOf(0)]!;
  return { rows, seq, padId, inputs: Int32Array.from(ids.flat()), types: Int32Array.from(ref.inputs.token_type_ids.flat()) };
}

test("TrainModel loads BertForSequenceClassification with its classifier.* head; logits match transformers", () => {
  const model = TrainModel.fromHfFolder(path.join(CASE, "seqcls"), "f32");
  const [rows, labels] = ref.outputs.seqcls_logits!.shape as [number, number];
  assert.equal(model.scoreLabels, labels);
  assert.ok(model.specs.some((s) => s.name === "classifier.weight") && !model.specs.some((s) => s.name === "score.weight"));
  const b = batchOf();
  assert.equal(b.rows, rows);
  const got = noGrad(() => tidy(() => model.sequenceLogits(b.inputs, b.rows, b.seq, b.padId, b.types).toFloat32Array()));
  const want = readBin("seqcls_logits");
  const maxRef = want.reduce((a, v) => Math.max(a, Math.abs(v)), 0);
  for (let i = 0; i < want.length; i++) assert.ok(Math.abs(got[i]! - want[i]!) <= 1e-4 * maxRef, `logit ${i}: ${got[i]} vs ${want[i]}`);
});

test("classification loss and classifier-bias gradient match a softmax of the transformers logits", () => {
  const model = TrainModel.fromHfFolder(path.join(CASE, "seqcls"), "f32");
  const b = batchOf();
  const [rows, labels] = ref.outputs.seqcls_logits!.shape as [number, number];
  const targets = Int32Array.from({ length: rows }, (_, r) => (2 * r + 1) % labels);
  const want = readBin("seqcls_logits");
  // Independent expected values: softmax of the reference logits.
  let expectedLoss = 0;
  const expectedGrad = new Float64Array(labels);
  for (let r = 0; r < rows; r++) {
    const row = Array.from(want.subarray(r * labels, (r + 1) * labels));
    const m = Math.max(...row);
    const z = row.reduce((a, v) => a + Math.exp(v - m), 0);
    expectedLoss += (-(row[targets[r]!]! - m) + Math.log(z)) / rows;
    row.forEach((v, j) => { expectedGrad[j] += (Math.exp(v - m) / z - (j === targets[r] ? 1 : 0)) / rows; });
  }
  const loss = tidy(() => {
    const l = crossEntropy(model.sequenceLogits(b.inputs, b.rows, b.seq, b.padId, b.types), fromTypedArray(targets, [rows]));
    l.backward();
    return l.item();
  });
  assert.ok(Math.abs(loss - expectedLoss) < 1e-5, `loss ${loss} vs ${expectedLoss}`);
  const grad = model.params.get("classifier.bias")!.grad!.toFloat32Array();
  for (let j = 0; j < labels; j++) assert.ok(Math.abs(grad[j]! - expectedGrad[j]!) < 1e-5, `dL/db[${j}] ${grad[j]} vs ${expectedGrad[j]}`);
  assert.ok(model.params.get("encoder.layer.0.attention.self.query.weight")!.grad!.toFloat32Array().some((g) => g !== 0));
});

test("an MLM checkpoint retargeted to sequence classification keeps the encoder and gets a fresh pooler and classifier", () => {
  const names = ["greeting", "refund", "oos"];
  const model = TrainModel.fromHfFolder(path.join(CASE, "mlm"), "f32", { rng: new Rng(7), head: { head: "sequence-classification", labels: names } });
  assert.deepEqual(model.taskHead, { head: "sequence-classification", labels: names });
  assert.deepEqual(model.configJson().architectures, ["BertForSequenceClassification"]);
  assert.deepEqual(model.configJson().id2label, { 0: "greeting", 1: "refund", 2: "oos" });
  assert.ok(!model.specs.some((s) => s.name.startsWith("cls.")), "the MLM head is dropped");
  const shape = model.params.get("classifier.weight")!.shape;
  assert.deepEqual(shape, [names.length, model.config.hiddenSize]);
  // The encoder weights are the checkpoint's: hidden states equal the base model's (same encoder) at [CLS].
  const base = TrainModel.fromHfFolder(path.join(CASE, "seqcls"), "f32");
  const w = (m: TrainModel) => m.params.get("encoder.layer.1.output.dense.weight")!.toFloat32Array();
  assert.deepEqual(w(model), w(base));
  const b = batchOf();
  const logits = noGrad(() => tidy(() => model.sequenceLogits(b.inputs, b.rows, b.seq, b.padId, b.types).toFloat32Array()));
  assert.equal(logits.length, b.rows * names.length);
  assert.ok(logits.every(Number.isFinite));
});

test("a decoder gets a score head only; a token-classification head on it is refused by name", () => {
  assert.throws(() => TrainModel.fromHfFolder(path.resolve("../shared/testdata/hf/gpt2/model"), "f32",
    { rng: new Rng(1), head: { head: "token-classification", labels: ["O", "B-x"] } }), /sequence-classification \(score\) head only/);
});

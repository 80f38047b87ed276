// The BERT model is written over the Tensor API, so it trains with autograd: the masked-LM and classification
// losses' gradients agree with central finite differences on parameters across the model (embeddings, attention,
// LayerNorm, the tied decoder, the pooler and classifier), and one SGD step lowers the loss. The weights are the
// transformers-made folders in ../shared/testdata/hf/bert.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { type Tensor, crossEntropy, fromArray, noGrad, setDefaultBackend, sub, mul, assign } from "../../src/tensor/index.js";
import { loadEncoder, type BertEncoder } from "../../src/infer/encoder.js";
import { packSequences, type PackedBatch } from "../../src/models/bert/model.js";

setDefaultBackend(createBackend({ kind: "ref" }));
const DIR = path.resolve("../shared/testdata/hf/bert");
const seqs = [
  { ids: [101, 223, 103, 459, 227, 103, 102], typeIds: [0, 0, 0, 0, 0, 0, 0] },
  { ids: [101, 343, 425, 102, 150, 756, 102], typeIds: [0, 0, 0, 0, 1, 1, 1] },
];

function mlmLoss(enc: BertEncoder, batch: PackedBatch): Tensor {
  // Targets at the [MASK] positions only; every other row is ignored (-100, as HF's DataCollatorForLanguageModeling).
  const targets = Array.from(batch.ids, (id, i) => (id === 103 ? [370, 0, 0, 0, 0, 225, 0, 0, 0, 0, 0, 0, 0, 0][i] : -100));
  return crossEntropy(enc.model.mlmLogits(enc.model.encode(batch)), fromArray(targets, [targets.length], { dtype: "i32" }), { ignoreIndex: -100 });
}

function seqclsLoss(enc: BertEncoder, batch: PackedBatch): Tensor {
  return crossEntropy(enc.model.sequenceLogits(enc.model.encode(batch), batch), fromArray([3, 1], [2], { dtype: "i32" }));
}

function checkGradients(folder: string, loss: (e: BertEncoder, b: PackedBatch) => Tensor, names: string[]): void {
  const enc = loadEncoder(path.join(DIR, folder));
  const batch = packSequences(enc.config, seqs);
  const params = names.map((n) => enc.model.params.get(n) as Tensor);
  for (const p of params) p.requiresGrad = true;
  const l = loss(enc, batch);
  l.backward();
  for (const [k, p] of params.entries()) {
    const grad = p.grad!.toFloat32Array();
    const data = p.storage("test") as Float32Array;
    // The element with the largest gradient, and one in the middle.
    let big = 0;
    for (let i = 1; i < grad.length; i++) if (Math.abs(grad[i]) > Math.abs(grad[big])) big = i;
    for (const i of [big, Math.floor(grad.length / 2)]) {
      const h = 1e-2, orig = data[p.offset + i];
      data[p.offset + i] = orig + h;
      const up = noGrad(() => loss(enc, batch).item());
      data[p.offset + i] = orig - h;
      const down = noGrad(() => loss(enc, batch).item());
      data[p.offset + i] = orig;
      const numeric = (up - down) / (2 * h);
      assert.ok(Math.abs(numeric - grad[i]) <= 2e-3 + 2e-2 * Math.abs(numeric),
        `${names[k]}[${i}]: autograd ${grad[i]} vs finite difference ${numeric}`);
    }
  }
  // One SGD step on these parameters lowers the loss.
  const before = noGrad(() => loss(enc, batch).item());
  noGrad(() => { for (const p of params) assign(p, sub(p, mul(p.grad!, 0.5))); });
  const after = noGrad(() => loss(enc, batch).item());
  assert.ok(after < before, `loss ${before} → ${after} after one step`);
  enc.dispose();
}

test("masked-LM loss: autograd gradients match finite differences; a step lowers the loss", () => {
  checkGradients("mlm", mlmLoss, ["embeddings.word_embeddings.weight", "embeddings.position_embeddings.weight",
    "embeddings.token_type_embeddings.weight", "encoder.layer.0.attention.self.query.weight", "encoder.layer.1.output.LayerNorm.weight",
    "cls.predictions.transform.dense.weight", "cls.predictions.bias"]);
});

test("sequence-classification loss: autograd gradients through the pooler and classifier", () => {
  checkGradients("seqcls", seqclsLoss, ["encoder.layer.1.attention.self.key.weight", "encoder.layer.0.intermediate.dense.bias",
    "pooler.dense.weight", "classifier.weight", "classifier.bias"]);
});

// The dense head's training through the engine's matmul (dense-head.ts, DenseTrainOptions.backend): to convergence it
// matches scikit-learn's LogisticRegression (test/fixtures/sklearn/desk-fusion.json, made by
// dev/contact-centre/make-fusion-reference.py), and with mini-batches it follows the TypeScript loops (the
// specification) to within f32 rounding, on the native backend and on the reference backend.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { createBackend } from "../../../src/backend/index.js";
import { Rng } from "../../../src/core/rng.js";
import { DenseHead } from "../../../src/apps/contact-centre/understanding/dense-head.js";

const ref = JSON.parse(readFileSync("test/fixtures/sklearn/desk-fusion.json", "utf8")) as {
  dense_head: { x: number[][]; y: number[]; l2: number; queries: number[][]; probs: number[][] };
};
const f32 = (rows: number[][]) => rows.map((r) => Float32Array.from(r));

for (const kind of ["cpu", "ref"] as const) {
  test(`through the ${kind} backend's matmul, trained to convergence, the head matches scikit-learn`, () => {
    const h = ref.dense_head;
    const backend = createBackend({ kind });
    const head = DenseHead.train(["a", "b", "c"], f32(h.x), h.y, { l2: h.l2, epochs: 2000, batch: h.y.length, learningRate: 0.05, backend });
    h.queries.forEach((q, i) => {
      const p = head.probabilities(Float32Array.from(q));
      h.probs[i].forEach((v, k) => assert.ok(Math.abs(p[k] - v) < 1e-4, `query ${i} class ${k}: ${p[k]} vs sklearn ${v}`));
    });
  });
}

test("mini-batch training through the engine follows the TypeScript loops (class weights, a short last batch)", () => {
  // 3 classes × 24 dims, 203 rows: batches of 32 leave a last batch of 11; classes unbalanced.
  const rng = new Rng(5);
  const C = 3, D = 24, N = 203;
  const centres = Array.from({ length: C }, () => Float32Array.from({ length: D }, () => rng.nextFloat() * 2 - 1));
  const ys = Array.from({ length: N }, (_, n) => (n % 7 === 0 ? 2 : n % 3 === 0 ? 1 : 0));
  const xs = ys.map((y) => Float32Array.from(centres[y], (c) => c + (rng.nextFloat() - 0.5) * 3));
  const o = { epochs: 8, batch: 32, learningRate: 0.01, l2: 1e-3, classWeight: "balanced" as const, seed: 9 };
  const plain = DenseHead.train(["a", "b", "c"], xs, ys, o);
  const engine = DenseHead.train(["a", "b", "c"], xs, ys, { ...o, backend: createBackend() });
  const scale = Math.max(...plain.weights.map(Math.abs));
  plain.weights.forEach((w, k) => assert.ok(Math.abs(w - engine.weights[k]) < 1e-3 * scale, `weight ${k}: ${engine.weights[k]} vs ${w}`));
  plain.bias.forEach((b, c) => assert.ok(Math.abs(b - engine.bias[c]) < 1e-3 * scale, `bias ${c}: ${engine.bias[c]} vs ${b}`));
  for (const x of xs.slice(0, 20)) {
    const p = plain.probabilities(x), q = engine.probabilities(x);
    p.forEach((v, c) => assert.ok(Math.abs(v - q[c]) < 1e-3, `probability ${c}: ${q[c]} vs ${v}`));
  }
});

// AdamW against PyTorch's AdamW formula worked by hand for three steps (decoupled decay on a matrix, none on a
// bias), state export/import resuming exactly, gradient accumulation, LR schedules at known points (llm.c's
// warmup + cosine), and global-norm clipping on a 3-4-12-13 example.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/tensor/index.js";
import { AdamW, clipGradNorm, defaultDecay, lrAt } from "../../src/optim/index.js";
import { assertClose, describeBackends } from "../tensor/helpers.js";

/** A tensor marked as a trainable parameter. */
function trainable(t: T.Tensor): T.Tensor {
  t.requiresGrad = true;
  return t;
}

function setGrad(p: T.Tensor, g: number[]): void {
  p.zeroGrad();
  p.grad = T.fromArray(g, p.shape);
}

describeBackends("optim", () => {
  test("AdamW: three steps match the PyTorch formula worked by hand", () => {
    // p ← p·(1 − lr·wd) (matrices only); m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²;
    // p ← p − lr·m̂/(√v̂ + eps), m̂ = m/(1−β1^t), v̂ = v/(1−β2^t). lr 0.1, betas (0.9, 0.999), eps 1e-8, wd 0.1.
    // Step 1, w[0]: m̂ = g, v̂ = g² → p = 1·0.99 − 0.1·0.5/(0.5 + 1e-8) = 0.890000002.
    // Step 2, w[0]: m = 0.015, m̂ = 0.0789474; v = 0.00033975, v̂ = 0.169960 → p = 0.8811 − 0.1·0.19150 = 0.8619502.
    const w = trainable(T.fromArray([1, -2], [1, 2])), b = trainable(T.fromArray([0.5]));
    const params = new Map([["layer.weight", w], ["layer.bias", b]]);
    const opt = new AdamW(params, { lr: 0.1, betas: [0.9, 0.999], eps: 1e-8, weightDecay: 0.1 });
    assert.deepEqual(opt.decayedNames(), ["layer.weight"]);
    const grads = [[0.5, -1, 0.25], [-0.3, 2, 0.25], [0.1, 0.4, -1]];
    const expected = [
      [0.890000002, -1.880000001, 0.400000004],
      [0.8619501989217752, -1.897810353462075, 0.3000000080000004],
      [0.8279341786071506, -1.9179448512090973, 0.334483366553241],
    ];
    grads.forEach((g, step) => {
      setGrad(w, g.slice(0, 2));
      setGrad(b, g.slice(2));
      opt.step();
      assertClose([...w.toArray(), ...b.toArray()], expected[step], 1e-6, 1e-6, `after step ${step + 1}`);
    });
    assert.equal(opt.stepCount, 3);
    opt.dispose();
  });

  test("AdamW state exports and imports exactly (checkpoint resume)", () => {
    const make = () => {
      return new Map([["w", trainable(T.fromArray([0.3, -0.7, 1.1, 0.2], [2, 2]))]]);
    };
    const a = make();
    const optA = new AdamW(a, { lr: 0.05 });
    for (const g of [[1, 2, 3, 4], [-1, 0.5, 0.1, 2]]) { setGrad(a.get("w")!, g); optA.step(); }
    const state = optA.exportState();
    assert.deepEqual(Object.keys(state.moments), ["w.m", "w.v"]);
    const b = make();
    assert.throws(() => T.assign(b.get("w")!, a.get("w")!), /\[assign\] cannot write in place into a tensor that requires grad/);
    T.noGrad(() => T.assign(b.get("w")!, a.get("w")!));
    const optB = new AdamW(b, { lr: 0.05 });
    optB.importState(state);
    setGrad(a.get("w")!, [0.3, 0.3, -0.2, 1]);
    setGrad(b.get("w")!, [0.3, 0.3, -0.2, 1]);
    optA.step();
    optB.step();
    assert.deepEqual(b.get("w")!.toArray(), a.get("w")!.toArray());
    assert.throws(() => optB.importState({ step: 1, moments: {} }), /\[AdamW.importState\] missing 'w.m'/);
  });

  test("gradient accumulation: two backward calls sum their gradients", () => {
    const w = T.fromArray([1, 2], [2], { requiresGrad: true });
    T.sum(T.mul(w, 3)).backward();
    T.sum(T.mul(w, w)).backward();
    assert.deepEqual(w.grad!.toArray(), [3 + 2, 3 + 4]);
  });

  test("default decay mask: matrices yes; norms, biases and embeddings no", () => {
    const m = T.zeros([2, 2]);
    const v = T.zeros([2]);
    assert.equal(defaultDecay("model.layers.0.mlp.up_proj.weight", m), true);
    assert.equal(defaultDecay("model.layers.0.mlp.up_proj.bias", v), false);
    assert.equal(defaultDecay("model.norm.weight", v), false);
    assert.equal(defaultDecay("model.embed_tokens.weight", m), false);
    assert.equal(defaultDecay("transformer.wte.weight", m), false);
    assert.equal(defaultDecay("transformer.wpe.weight", m), false);
  });

  test("global-norm clipping", () => {
    const a = T.zeros([2], { requiresGrad: true });
    const b = T.zeros([1], { requiresGrad: true });
    setGrad(a, [3, 4]);
    setGrad(b, [12]);
    assert.equal(clipGradNorm([a, b], 100), 13); // below the limit: unchanged
    assert.deepEqual(a.grad!.toArray(), [3, 4]);
    const norm = clipGradNorm([a, b], 6.5);
    assert.equal(norm, 13);
    assertClose([...a.grad!.toArray(), ...b.grad!.toArray()], [1.5, 2, 6], 1e-6, 1e-6, "clipped");
  });
});

test("LR schedules at known points (warmup 10, 100 steps, lr 1, min 0.1)", () => {
  const base = { lr: 1, warmupSteps: 10, totalSteps: 100, minLr: 0.1 };
  const cos = { ...base, kind: "cosine" as const };
  assertClose([lrAt(0, cos), lrAt(4, cos), lrAt(9, cos)], [0.1, 0.5, 1], 1e-12, 0, "warmup: lr·(step+1)/warmup");
  assertClose([lrAt(10, cos), lrAt(28, cos), lrAt(55, cos), lrAt(100, cos), lrAt(500, cos)],
    [1, 0.1 + 0.9 * 0.5 * (1 + Math.cos(0.2 * Math.PI)), 0.55, 0.1, 0.1], 1e-12, 0, "cosine");
  const lin = { ...base, kind: "linear" as const };
  assertClose([lrAt(28, lin), lrAt(55, lin), lrAt(100, lin)], [0.82, 0.55, 0.1], 1e-12, 0, "linear");
  const constant = { ...base, kind: "constant" as const };
  assertClose([lrAt(5, constant), lrAt(50, constant)], [0.6, 1], 1e-12, 0, "constant");
  assert.equal(lrAt(0, { lr: 3e-4, warmupSteps: 0, totalSteps: 10, kind: "cosine" }), 3e-4);
});

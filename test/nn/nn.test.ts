// nn: named parameter store (paths, scopes, counting, errors), deterministic init from a seed, and the layers
// against direct computations (Linear = x·Wᵀ + b, Embedding rows, norms against the tensor ops), with gradients
// reaching the registered parameters.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/tensor/index.js";
import { Rng } from "../../src/core/rng.js";
import { Embedding, LayerNorm, Linear, ParamStore, RMSNorm, countParameters, initNormal } from "../../src/nn/index.js";
import { assertClose, describeBackends } from "../tensor/helpers.js";

describeBackends("nn", () => {
  test("a tiny model's parameter tree: names, counts, init", () => {
    const params = new ParamStore();
    const rng = new Rng(1);
    const model = params.scope("model");
    const embed = Embedding.create(model.scope("embed_tokens"), 11, 4, rng);
    const layer = model.scope("layers.0");
    const q = Linear.create(layer.scope("self_attn.q_proj"), 4, 6, rng, { bias: false });
    const up = Linear.create(layer.scope("mlp.up_proj"), 4, 8, rng);
    const norm = RMSNorm.create(layer.scope("input_layernorm"), 4);
    const ln = LayerNorm.create(model.scope("ln_f"), 4);
    assert.deepEqual(params.names(), [
      "model.embed_tokens.weight", "model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight",
      "model.layers.0.mlp.up_proj.bias", "model.layers.0.input_layernorm.weight", "model.ln_f.weight", "model.ln_f.bias",
    ]);
    assert.equal(countParameters(params), 44 + 24 + 32 + 8 + 4 + 4 + 4);
    assert.equal(params.get("model.layers.0.mlp.up_proj.weight"), up.weight);
    assert.ok([...params.entries()].every(([, t]) => t.requiresGrad));
    assert.deepEqual(norm.weight!.toArray(), [1, 1, 1, 1]);
    assert.deepEqual(ln.bias!.toArray(), [0, 0, 0, 0]);
    assert.deepEqual(up.bias!.toArray(), new Array(8).fill(0));
    // Same seed, same draws, same values.
    assert.deepEqual(embed.weight.toArray(), initNormal([11, 4], new Rng(1), 0.02).toArray());
    const std = Math.sqrt(q.weight instanceof T.Tensor ? T.mean(T.square(q.weight)).item() : 0);
    assert.ok(std > 0.005 && std < 0.05);
    assert.throws(() => params.add("model.ln_f.weight", T.zeros([4])), /\[params\] parameter 'model.ln_f.weight' is already registered/);
    assert.throws(() => params.get("model.layers.0.mlp.down_proj.weight"), /no parameter named 'model.layers.0.mlp.down_proj.weight'/);
    assert.throws(() => params.add("frozen", T.zeros([2], { dtype: "bf16" })), /must be f32/);
    params.add("frozen", T.zeros([2], { dtype: "bf16" }), false);
    assert.equal(countParameters(params, true), 120);
    params.dispose();
    assert.equal(params.size, 0);
  });

  test("layers compute what they say, and gradients reach their parameters", () => {
    const w = T.fromArray([1, 0, 2, -1, 1, 0], [2, 3], { requiresGrad: true });
    const b = T.fromArray([0.5, -0.5], [2], { requiresGrad: true });
    const lin = new Linear(w, b);
    assert.equal(lin.inFeatures, 3);
    assert.equal(lin.outFeatures, 2);
    const x = T.fromArray([1, 2, 3, 0, 1, 0], [2, 3]);
    assert.deepEqual(lin.forward(x).toArray(), [1 + 6 + 0.5, -1 + 2 - 0.5, 0 + 0.5, 1 - 0.5]);
    T.sum(lin.forward(x)).backward();
    assert.deepEqual(w.grad!.toArray(), [1, 3, 3, 1, 3, 3]); // column sums of x per output row
    assert.deepEqual(b.grad!.toArray(), [2, 2]);
    const emb = new Embedding(T.fromArray([0, 1, 10, 11, 20, 21], [3, 2]));
    assert.deepEqual(emb.forward(T.fromArray([2, 0, 2], [3], { dtype: "i32" })).toArray(), [20, 21, 0, 1, 20, 21]);
    const xs = T.fromArray([1, 2, 3, 4], [1, 4]);
    assertClose(new RMSNorm(null, 1e-6).forward(xs).toArray(), T.rmsNorm(xs, null, 1e-6).toArray(), 0, 0, "RMSNorm");
    assertClose(new LayerNorm(null, null).forward(xs).toArray(), T.layerNorm(xs).toArray(), 0, 0, "LayerNorm");
  });
});

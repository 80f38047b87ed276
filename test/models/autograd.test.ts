// The model files are the trainer's models too: a tiny random LLaMA and GPT-2 run forward(ids) with autograd,
// their cross-entropy at init is close to ln(vocab) (known answer for near-uniform logits), and backward reaches
// every parameter.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend, fromTypedArray, fromArray, crossEntropy, reshape, type Tensor } from "../../src/tensor/index.js";
import { MODEL_REGISTRY } from "../../src/models/registry.js";
import { paramSpecs, presetConfig, randomParam } from "../../src/models/presets.js";
import { Rng } from "../../src/core/rng.js";

setDefaultBackend(createBackend({ kind: "ref" }));

for (const arch of ["llama", "qwen2", "gpt2"]) {
  test(`${arch}: forward(ids) trains — loss ≈ ln V at init, every parameter gets a gradient`, () => {
    const config = presetConfig(arch, "tiny");
    const gen = randomParam(new Rng(1), 0.02);
    const params = new Map<string, Tensor>();
    for (const s of paramSpecs(config)) {
      const t = fromTypedArray(gen(s), s.shape);
      t.requiresGrad = true;
      params.set(s.name, t);
    }
    const model = MODEL_REGISTRY.ofConfig(config).trainable(config, params, { matmulDtype: "f32" });
    const ids = fromArray([1, 5, 9, 3, 7, 2, 8, 4], [2, 4], { dtype: "i32" });
    const logits = model.forward(ids);
    assert.deepEqual(logits.shape, [2, 4, config.vocabSize]);
    const loss = crossEntropy(reshape(logits, [8, config.vocabSize]), fromArray([5, 9, 3, 7, 8, 4, 6, 1], [8], { dtype: "i32" }));
    assert.ok(Math.abs(loss.item() - Math.log(config.vocabSize)) < 0.1, `loss ${loss.item()}`);
    loss.backward();
    const missing = [...params].filter(([, t]) => !t.grad).map(([n]) => n);
    assert.deepEqual(missing, []);
  });
}

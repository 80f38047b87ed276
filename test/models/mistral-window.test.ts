// Mistral's sliding_window against Hugging Face transformers (test/fixtures/hf/mistral_window, made by
// dev/models/make-decoder-references.py: a tiny random MistralForCausalLM whose window of 4 is shorter than both
// inputs, so transformers' own logits differ from full attention's from position 4 on). Loaded as the llama family,
// it runs on the shared decoder with a ring-buffer cache per layer: every position (prefill and token by token) and
// every greedy step within 1e-4 × max|transformers|, the ids identical, and each layer's cache holds the window only.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { DecoderModel } from "../../src/models/decoder/model.js";
import { KvCache } from "../../src/models/kv-cache.js";
import { checkGreedy, checkLogits, readCase } from "./families-reference.js";

setDefaultBackend(createBackend());

test("mistral sliding_window (HF folder): every position and greedy ids match transformers, with ring caches", async () => {
  const c = readCase("mistral_window", path.resolve("test/fixtures/hf"));
  const model = await loadModel(path.join(c.dir, "model"));
  try {
    const net = model.model;
    assert.ok(net instanceof DecoderModel, "a windowed Mistral runs on the shared decoder");
    const w = net.config.slidingWindows[0]!;
    assert.ok(w > 0 && c.inputs.every((ids) => ids.length > w), "the window is shorter than the inputs");
    checkLogits(model, c, 1e-4);
    checkGreedy(model, c, 1e-4);
    const cache = new KvCache(net.cacheShape(net.config.contextLength));
    net.config.slidingWindows.forEach((win, l) => assert.equal(cache.ring(l), win));
    cache.dispose();
  } finally {
    model.dispose();
  }
});

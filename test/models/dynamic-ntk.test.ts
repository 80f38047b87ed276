// Dynamic-NTK RoPE against Hugging Face transformers (test/fixtures/hf/llama_dynamic_ntk, made by
// dev/models/make-decoder-references.py: a tiny random LLaMA with max_position_embeddings 16 and factor 2).
// θ grows once the sequence passes 16 positions, and keys already in the cache keep the frequencies they were
// rotated with — transformers' generate semantics. Checked: the last position of one forward over each input (input 1
// is past 16 from the start) and every greedy step's logits and ids with the KV cache (input 0 crosses 16 while it
// generates). A model with plain RoPE gives other numbers, so the test fails if the scaling is ignored.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { checkGreedy, maxAbs, readCase } from "./families-reference.js";

setDefaultBackend(createBackend());
const FIXTURES = path.resolve("test/fixtures/hf");

test("dynamic NTK: prefill past the original context and greedy steps across it match transformers", async () => {
  const c = readCase("llama_dynamic_ntk", FIXTURES);
  const model = await loadModel(path.join(c.dir, "model"));
  try {
    c.inputs.forEach((ids, i) => {
      const ref = c.output(`logits_${i}`);
      const vocab = ref.shape[1];
      const want = ref.data.subarray((ids.length - 1) * vocab, ids.length * vocab);
      const seq = model.createSequence();
      const got = model.forward([{ seq, tokens: ids }])[0]!;
      seq.dispose();
      let gap = 0;
      for (let v = 0; v < vocab; v++) gap = Math.max(gap, Math.abs(got[v] - want[v]));
      assert.ok(gap <= 1e-4 * maxAbs(ref.data), `input ${i} (${ids.length} tokens): last-position max |Δ| ${gap}`);
    });
    checkGreedy(model, c, 1e-4);
  } finally {
    model.dispose();
  }
});

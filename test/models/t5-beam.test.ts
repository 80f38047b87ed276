// T5 beam search against transformers' generate(num_beams, length_penalty, early_stopping) on the HF test cases
// (references from dev/t5/hf-refs.py in test/models/data/t5-hf-refs.json: the best sequence and its
// sequences_scores), with EOS 1 (never reached in 8 steps) and with a frequent token as EOS (beams finish early, so
// the length penalty and early stopping decide); width 1 is greedy; forked decoder states leave no tensors behind.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadAnyModel } from "../../src/infer/load.js";
import { requireKind } from "../../src/infer/model-api.js";
import { beamSearch } from "../../src/infer/beam-search.js";
import { generate } from "../../src/infer/generate.js";

setDefaultBackend(createBackend());
const refs = JSON.parse(readFileSync("test/models/data/t5-hf-refs.json", "utf8")) as {
  cases: Record<string, { beam: Array<{ input: number; num_beams: number; length_penalty: number; early_stopping: boolean | "never";
    eos_token_id: number; max_new_tokens: number; sequence: number[]; sequence_score: number }> }>;
};

for (const [name, c] of Object.entries(refs.cases)) {
  test(`${name}: beam search equals transformers' generate (sequences and sequences_scores)`, async () => {
    const dir = path.resolve("../shared/testdata/hf", name);
    const ref = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8")) as { inputs: { encoder_input_ids: number[][] } };
    const model = requireKind(await loadAnyModel(path.join(dir, "model")), ["seq2seq"], "test");
    assert.ok(c.beam.length >= 12);
    for (const b of c.beam) {
      const out = beamSearch(model, ref.inputs.encoder_input_ids[b.input]!, { numBeams: b.num_beams, maxTokens: b.max_new_tokens,
        lengthPenalty: b.length_penalty, earlyStopping: b.early_stopping, stopTokenIds: [b.eos_token_id] });
      const what = `${name} input ${b.input} beams ${b.num_beams} lp ${b.length_penalty} early ${b.early_stopping} eos ${b.eos_token_id}`;
      assert.deepEqual(out.ids, b.sequence.slice(1), what);
      assert.ok(Math.abs(out.score - b.sequence_score) < 1e-4 * Math.max(1, Math.abs(b.sequence_score)), `${what}: score ${out.score} vs ${b.sequence_score}`);
    }
    const src = ref.inputs.encoder_input_ids[0]!;
    const greedy = generate(model, src, { temperature: 0, maxTokens: 6, stopTokenIds: [] }).ids;
    assert.deepEqual(beamSearch(model, src, { numBeams: 1, maxTokens: 6, stopTokenIds: [] }).ids, greedy, "width 1 = greedy");
    model.dispose();
  });
}

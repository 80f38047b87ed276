// TextModel.forward over several sequences at once (the server's continuous batching): a mixed batch of
// prefills and decodes gives the same logits as running each sequence alone; truncate() reuses a prompt prefix;
// context-length overflows are clear errors; embed() returns one hidden-size vector; logits written into a reused
// buffer (ForwardOptions.into) are the same bits.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";

setDefaultBackend(createBackend());
const shared = path.resolve("../shared/testdata/gguf");

function maxDiff(a: Float32Array, b: Float32Array): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

for (const name of ["dev-llama-tok512-f32.gguf", "dev-gpt2-e32-f16.hf"]) {
  test(`${name}: a batched forward equals separate forwards`, async () => {
    const model = await loadModel(path.join(shared, name));
    const p1 = [1, 15, 27, 300, 42, 7];
    const p2 = [1, 99, 5];
    const p3 = [1, 400, 401, 402];
    // alone
    const alone: Float32Array[][] = [];
    for (const [prompt, next] of [[p1, 11], [p2, 22], [p3, 33]] as const) {
      const s = model.createSequence();
      const a = model.forward([{ seq: s, tokens: prompt }])[0];
      const b = model.forward([{ seq: s, tokens: [next] }])[0];
      alone.push([a, b]);
      s.dispose();
    }
    // together: step 1 prefills 1 and 2; step 2 decodes 1 and 2 while 3 prefills
    const s1 = model.createSequence(), s2 = model.createSequence(), s3 = model.createSequence();
    const [a1, a2] = model.forward([{ seq: s1, tokens: p1 }, { seq: s2, tokens: p2 }]);
    const [b1, b2, a3] = model.forward([{ seq: s1, tokens: [11] }, { seq: s2, tokens: [22] }, { seq: s3, tokens: p3 }]);
    const [b3] = model.forward([{ seq: s3, tokens: [33] }]);
    const got = [[a1, b1], [a2, b2], [a3, b3]];
    for (let i = 0; i < 3; i++) for (let j = 0; j < 2; j++) {
      assert.ok(maxDiff(got[i][j], alone[i][j]) < 1e-5, `seq ${i} step ${j}: ${maxDiff(got[i][j], alone[i][j])}`);
    }
    assert.equal(s1.length, p1.length + 1);
    // prefix reuse: drop the decoded token and the prompt's last token, re-feed them
    s1.truncate(p1.length - 1);
    const again = model.forward([{ seq: s1, tokens: [p1[p1.length - 1]] }])[0];
    assert.ok(maxDiff(again, a1) < 1e-5);
    assert.throws(() => model.forward([{ seq: s2, tokens: new Array(model.contextLength).fill(3) }]), /exceeds the context length/);
    const e = model.embed(p1);
    assert.equal(e.length, model.embeddingDim);
    for (const s of [s1, s2, s3]) s.dispose();
    model.dispose();
  });
}

// ForwardOptions.into: the logits written into the caller's buffer (views of it, no fresh arrays) are the same bits
// as the fresh arrays, for prefills, single decodes and a step that mixes both (two passes on a fused-decode model:
// their rows must not overwrite each other); a buffer too small for the batch is ignored.
for (const name of ["dev-llama-tok512-q8_0.gguf", "dev-gpt2-e32-f16.hf"]) {
  test(`${name}: logits into a reused buffer equal fresh ones`, async () => {
    const model = await loadModel(path.join(shared, name));
    const v = model.vocabSize;
    const run = (into?: Float32Array) => {
      const s1 = model.createSequence(), s2 = model.createSequence(), s3 = model.createSequence();
      const rows: Float32Array[][] = [];
      const step = (batch: { seq: typeof s1; tokens: number[] }[]) => {
        const out = model.forward(batch, { into });
        if (into) for (const r of out) assert.equal(r.buffer, into.buffer, "a row outside the caller's buffer");
        rows.push(out.map((r) => r.slice())); // kept past the next step: copied
      };
      step([{ seq: s1, tokens: [1, 15, 27, 300] }, { seq: s2, tokens: [1, 99, 5] }]);
      step([{ seq: s1, tokens: [11] }, { seq: s2, tokens: [22] }, { seq: s3, tokens: [1, 400, 401] }]);
      step([{ seq: s3, tokens: [33] }]);
      step([{ seq: s1, tokens: [12] }, { seq: s3, tokens: [34] }]);
      for (const s of [s1, s2, s3]) s.dispose();
      return rows;
    };
    const fresh = run(), reused = run(new Float32Array(3 * v));
    assert.deepEqual(reused.map((step) => step.length), fresh.map((step) => step.length));
    fresh.forEach((step, t) => step.forEach((row, i) => {
      const other = reused[t]![i]!;
      assert.equal(other.length, v);
      for (let j = 0; j < v; j++) assert.ok(Object.is(other[j], row[j]), `step ${t} item ${i} logit ${j}: ${other[j]} vs ${row[j]}`);
    }));
    // too small for two rows: ignored, fresh arrays
    const s = model.createSequence(), s2 = model.createSequence();
    const small = new Float32Array(v);
    const out = model.forward([{ seq: s, tokens: [1, 2] }, { seq: s2, tokens: [1, 3] }], { into: small });
    assert.ok(out.every((r) => r.buffer !== small.buffer && r.length === v));
    s.dispose(); s2.dispose();
    model.dispose();
  });
}

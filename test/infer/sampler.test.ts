// Sampler: known answers on hand-made logits (top-k/top-p/min-p masks, penalties, greedy ties) and seed
// reproducibility. Expected values are worked out by hand in the comments, not taken from the code.
import { test } from "node:test";
import assert from "node:assert/strict";
import { Sampler, SamplerRng, applyPenalties, argmax, filterCandidates } from "../../src/infer/sampler.js";

// logits ln([0.5, 0.2, 0.15, 0.1, 0.05]) → probabilities exactly those (they sum to 1).
const probs = [0.5, 0.2, 0.15, 0.1, 0.05];
const logits = Float32Array.from(probs.map(Math.log));

test("greedy takes the argmax, lowest id on ties", () => {
  assert.equal(argmax(Float32Array.from([1, 3, 3, 2])), 1);
  assert.equal(new Sampler({ temperature: 0 }).sample(Float32Array.from([0, 5, 1, 5])), 1);
});

test("top-k keeps the k best, highest first", () => {
  assert.deepEqual(Array.from(filterCandidates(logits, { topK: 3 })), [0, 1, 2]);
  assert.deepEqual(Array.from(filterCandidates(Float32Array.from([1, 9, 9, 4]), { topK: 2 })), [1, 2]);
});

test("top-p keeps the smallest prefix reaching p", () => {
  // cumulative 0.5, 0.7, 0.85, 0.95, 1.0
  assert.deepEqual(Array.from(filterCandidates(logits, { topP: 0.5 })), [0]);
  assert.deepEqual(Array.from(filterCandidates(logits, { topP: 0.6 })), [0, 1]);
  assert.deepEqual(Array.from(filterCandidates(logits, { topP: 0.8 })), [0, 1, 2]);
  assert.deepEqual(Array.from(filterCandidates(logits, { topP: 0.9 })), [0, 1, 2, 3]);
});

test("min-p drops tokens below minP × top probability", () => {
  // threshold 0.3 × 0.5 = 0.15 keeps 0.5, 0.2, 0.15 (0.15 ≥ 0.15 up to float rounding: use 0.29)
  assert.deepEqual(Array.from(filterCandidates(logits, { minP: 0.29 })), [0, 1, 2]);
  assert.deepEqual(Array.from(filterCandidates(logits, { minP: 0.5 })), [0]);
  assert.deepEqual(Array.from(filterCandidates(logits, { minP: 0.05 })), [0, 1, 2, 3, 4]);
});

test("top-p widens past its first window on a large flat vocabulary", () => {
  const flat = new Float32Array(5000); // uniform: top-p 0.5 must keep 2500 tokens
  const kept = filterCandidates(flat, { topP: 0.4999 }); // 2499.5 of 5000 → 2500 tokens
  assert.equal(kept.length, 2500);
  assert.equal(kept[0], 0);
  assert.equal(kept[2499], 2499);
});

test("penalties: repetition divides positive, multiplies negative; presence and frequency subtract", () => {
  const x = Float32Array.from([2, -2, 1, 0.5]);
  applyPenalties(x, [0, 1, 0], { repetitionPenalty: 2 });
  assert.deepEqual(Array.from(x), [1, -4, 1, 0.5]);
  const y = Float32Array.from([2, -2, 1, 0.5]);
  applyPenalties(y, [0, 1, 0], { presencePenalty: 0.5, frequencyPenalty: 0.25 });
  // id 0 seen twice: 2 − 0.5 − 0.5 = 1; id 1 once: −2 − 0.5 − 0.25 = −2.75
  assert.deepEqual(Array.from(y), [1, -2.75, 1, 0.5]);
  const z = Float32Array.from([2, -2, 1, 0.5]);
  applyPenalties(z, [0, 1, 0], { presencePenalty: 1, penaltyWindow: 1 }); // only the last token (0) counts
  assert.deepEqual(Array.from(z), [1, -2, 1, 0.5]);
});

test("greedy with a repetition penalty avoids the repeated token", () => {
  const s = new Sampler({ temperature: 0, repetitionPenalty: 4 });
  assert.equal(s.sample(Float32Array.from([3, 1, 0]), [0]), 1); // 3/4 = 0.75 < 1
});

test("a seed reproduces the draws; frequencies follow the probabilities", () => {
  const a = new Sampler({ temperature: 1, seed: 42 });
  const b = new Sampler({ temperature: 1, seed: 42 });
  const c = new Sampler({ temperature: 1, seed: 43 });
  const da: number[] = [], db: number[] = [], dc: number[] = [];
  for (let i = 0; i < 200; i++) {
    da.push(a.sample(logits));
    db.push(b.sample(logits));
    dc.push(c.sample(logits));
  }
  assert.deepEqual(da, db);
  assert.notDeepEqual(da, dc);
  const s = new Sampler({ temperature: 1, seed: 7 });
  const counts = new Array(5).fill(0);
  const n = 20000;
  for (let i = 0; i < n; i++) counts[s.sample(logits)]++;
  for (let i = 0; i < 5; i++) assert.ok(Math.abs(counts[i] / n - probs[i]) < 0.015, `id ${i}: ${counts[i] / n} vs ${probs[i]}`);
});

test("top-k 1 with temperature is greedy; filtered tokens are never drawn", () => {
  const s = new Sampler({ temperature: 1.5, topK: 1, seed: 3 });
  for (let i = 0; i < 50; i++) assert.equal(s.sample(logits), 0);
  const p = new Sampler({ temperature: 1, topP: 0.6, seed: 3 });
  for (let i = 0; i < 200; i++) assert.ok(p.sample(logits) <= 1);
});

test("the RNG state round-trips and bad parameters are named", () => {
  const r = new SamplerRng(5);
  r.next();
  const state = r.getState();
  const x = [r.next(), r.next()];
  r.setState(state);
  assert.deepEqual([r.next(), r.next()], x);
  assert.throws(() => new Sampler({ topP: 0 }), /topP/);
  assert.throws(() => new Sampler({ temperature: -1 }), /temperature/);
  assert.throws(() => new Sampler({ topK: 1.5 }), /topK/);
});

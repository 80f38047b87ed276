// decodeBio (src/train/objectives/tag.ts), the constrained reading of a token classifier's tags: checked against an
// exhaustive search over every tag sequence (a different algorithm: enumerate, keep those where each I-x follows
// B-x or I-x, sum the log-softmax scores, take the best) on seeded random scores, and on a hand case where per-word
// argmax reads one name as pieces of two types.
import { test } from "node:test";
import assert from "node:assert/strict";
import { decodeBio } from "../../src/train/objectives/tag.js";

const LABELS = ["O", "B-attraction", "B-departure", "I-attraction", "I-departure"];

function exhaustive(logits: Float32Array, labels: readonly string[]): number[] {
  const k = labels.length, n = logits.length / k;
  const lsm = (t: number, j: number) => {
    const row = Array.from(logits.subarray(t * k, (t + 1) * k));
    return row[j]! - Math.log(row.reduce((a, v) => a + Math.exp(v), 0));
  };
  let best: number[] = [], bestScore = -Infinity;
  const seq = new Array<number>(n).fill(0);
  for (let code = 0; code < k ** n; code++) {
    let c = code;
    for (let t = 0; t < n; t++) { seq[t] = c % k; c = Math.floor(c / k); }
    const valid = seq.every((j, t) => !labels[j]!.startsWith("I-") || (t > 0 && labels[seq[t - 1]!]!.slice(2) === labels[j]!.slice(2) && labels[seq[t - 1]!] !== "O"));
    if (!valid) continue;
    const score = seq.reduce((a, j, t) => a + lsm(t, j), 0);
    if (score > bestScore) { bestScore = score; best = [...seq]; }
  }
  return best;
}

function rng(seed: number) {
  let s = seed >>> 0;
  return () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
}

test("decodeBio equals the exhaustive search over valid BIO sequences (seeded random scores, 1–6 words)", () => {
  const r = rng(7);
  for (let trial = 0; trial < 60; trial++) {
    const n = 1 + (trial % 6);
    const logits = Float32Array.from({ length: n * LABELS.length }, () => (r() - 0.5) * 8);
    assert.deepEqual(decodeBio(logits, LABELS), exhaustive(logits, LABELS), `trial ${trial}`);
  }
});

test("decodeBio: a name argmax reads as B-attraction I-departure I-attraction becomes one span; no I- at the start", () => {
  const row = (scores: Record<string, number>) => LABELS.map((l) => scores[l] ?? -4);
  const logits = Float32Array.from([
    ...row({ "B-attraction": 2, "B-departure": 1.5 }),
    ...row({ "I-departure": 2, "I-attraction": 1.8 }),
    ...row({ "I-attraction": 2 }),
    ...row({ O: 3 }),
  ]);
  assert.deepEqual(decodeBio(logits, LABELS).map((j) => LABELS[j]), ["B-attraction", "I-attraction", "I-attraction", "O"]);
  assert.deepEqual(decodeBio(Float32Array.from(row({ "I-attraction": 5, O: 1 })), LABELS).map((j) => LABELS[j]), ["O"]);
  assert.deepEqual(decodeBio(new Float32Array(0), LABELS), []);
  assert.throws(() => decodeBio(new Float32Array(7), LABELS), /7 scores are not whole rows of 5 labels/);
});

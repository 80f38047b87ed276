// dev/alignment/copy-preference.ts's per-row figures on hand-made logits, worked out by hand: the completion's
// log-probability sums log-softmax at the positions before each completion token (logits at t predict token t + 1),
// argmax hits count those tokens, and bad shapes are refused with the sizes.
import { test } from "node:test";
import assert from "node:assert/strict";
import { completionScores } from "../../dev/alignment/copy-preference.js";

test("completionScores: Σ log p and argmax hits of the completion tokens only", () => {
  // vocabulary 2, ids [0, 1, 0]: prompt [0], completion [1, 0]; rows t = 0 predicts id 1, t = 1 predicts id 0
  const logits = Float32Array.from([0, Math.log(3), /* t=1 */ 0, 0, /* t=2, unused */ 5, -5]);
  const s = completionScores(logits, 2, [0, 1, 0], 1);
  // p(1 | row 0) = 3/4 (argmax hit); p(0 | row 1) = 1/2 (a tie: the first index, 0, is the argmax — a hit)
  assert.ok(Math.abs(s.logProb - (Math.log(3 / 4) + Math.log(1 / 2))) < 1e-6, `${s.logProb}`);
  assert.equal(s.hits, 2);
  assert.equal(s.count, 2);
  // a longer prompt scores only the last token, predicted by row 1
  const t = completionScores(logits, 2, [0, 1, 0], 2);
  assert.ok(Math.abs(t.logProb - Math.log(1 / 2)) < 1e-6);
  assert.equal(t.count, 1);
});

test("completionScores refuses mismatched shapes and an empty prompt or completion", () => {
  assert.throws(() => completionScores(new Float32Array(5), 2, [0, 1, 0], 1), /5 logits for 3 ids × vocabulary 2/);
  assert.throws(() => completionScores(new Float32Array(6), 2, [0, 1, 0], 0), /prompt length 0 for 3 ids; need a prompt and a completion/);
  assert.throws(() => completionScores(new Float32Array(6), 2, [0, 1, 0], 3), /prompt length 3 for 3 ids/);
});

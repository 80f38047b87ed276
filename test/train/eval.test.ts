// Evaluation arithmetic: bits per byte = nats / ln 2 / UTF-8 bytes on a known case; the scored stream counts the
// bytes of the text and scores document tokens only; the add-k bigram baseline on a tiny corpus against a
// probability product worked out by hand.
import { test } from "node:test";
import assert from "node:assert/strict";
import { bestBigram, bigramProbability, evaluateBigram, figures, fitBigram, scoredStream } from "../../src/train/eval.js";
import type { Tokenizer } from "../../src/tokenizers/tokenizer.js";

test("bits per byte: 8 ln 2 nats over 4 bytes is 2 bits per byte", () => {
  const f = figures(8 * Math.LN2, 2, 4);
  assert.ok(Math.abs(f.bitsPerByte - 2) < 1e-12);
  assert.ok(Math.abs(f.loss - 4 * Math.LN2) < 1e-12);
  assert.ok(Math.abs(f.perplexity - 16) < 1e-9);
});

test("scored stream: delimiter before each document, only document tokens scored, UTF-8 bytes counted", () => {
  // A stand-in tokenizer: one id per character (code point mod 100 + 10), EOS = 1, no BOS.
  const tok = {
    bosTokenId: null, eosTokenId: 1,
    encode: (s: string) => [...s].map((c) => (c.codePointAt(0)! % 100) + 10),
  } as unknown as Tokenizer;
  const s = scoredStream(tok, ["你好", "ab"]);
  assert.equal(s.bytes, 6 + 2);
  assert.deepEqual([...s.scored], [0, 1, 1, 0, 1, 1]);
  assert.equal(s.ids[0], 1);
  assert.equal(s.ids[3], 1);
});

test("add-k bigram on a tiny corpus: hand-computed probabilities and nats", () => {
  // training ids 0 1 0 1 1, V = 3: c(0,1) = 2, c(1,0) = 1, c(1,1) = 1; contexts c(0) = 2, c(1) = 2.
  const c = fitBigram([0, 1, 0, 1, 1], 3);
  assert.equal(bigramProbability(c, 0, 1, 1), 3 / 5);
  assert.equal(bigramProbability(c, 1, 1, 1), 2 / 5);
  assert.equal(bigramProbability(c, 2, 0, 1), 1 / 3);
  // held-out: delimiter 2 then document 0 1 1 → −ln(1/3) − ln(3/5) − ln(2/5)
  const s = { ids: Int32Array.from([2, 0, 1, 1]), scored: Uint8Array.from([0, 1, 1, 1]), bytes: 3, documents: 1 };
  const f = evaluateBigram(c, s, 1);
  const expected = Math.log(3) + Math.log(5 / 3) + Math.log(5 / 2);
  assert.ok(Math.abs(f.nats - expected) < 1e-12);
  assert.equal(f.tokens, 3);
  assert.ok(Math.abs(f.bitsPerByte - expected / Math.LN2 / 3) < 1e-12);
  // the baseline reports the k with the fewest nats among those tried
  const best = bestBigram(c, s, [1, 0.1]);
  assert.ok(best.figures.nats <= evaluateBigram(c, s, 1).nats && best.figures.nats <= evaluateBigram(c, s, 0.1).nats);
});

// The recipe's pure parts: the final size is the candidate with the lowest predicted loss that fits the time and
// size budget (known answers for a law where only N matters and one where only D matters); only licensed sets
// are used; LCCC's space-separated characters are joined back.
import { test } from "node:test";
import assert from "node:assert/strict";
import type { RecipeConfig } from "../../../src/apps/zhiyu-mini/config.js";
import { LICENSED_SETS, joinLccc } from "../../../src/apps/zhiyu-mini/data.js";
import { chooseFinal } from "../../../src/apps/zhiyu-mini/stages.js";

const small = { layers: 2, hidden: 64, heads: 4, kvHeads: 2, ffn: 176 };
const big = { layers: 4, hidden: 192, heads: 6, kvHeads: 3, ffn: 512 };
const huge = { layers: 12, hidden: 768, heads: 12, kvHeads: 12, ffn: 2048 };

function config(): { config: RecipeConfig } {
  return {
    config: {
      name: "t", seed: 1, threads: 2, budgetMinutes: 10, pretrainShare: 0.5, sftShare: 0.1, trainFlopsPerSecond: 1e10,
      valEvery: 40, poetryMaxChars: 0, tokenizer: { vocabSize: 4096, minFrequency: 2 },
      train: { batch: 2, seq: 256, lr: 1e-3, evalBatches: 4, warmupFraction: 0.05, maxWarmup: 10 },
      sweep: { shapes: [], tokens: [] }, candidates: [small, big, huge], maxModelBytes: 40e6,
      sft: { batch: 8, seq: 256, lr: 1e-3, maxEpochs: 1 }, exportDir: "x",
    },
  };
}

test("chooseFinal: N-only law picks the biggest shape that fits the size cap; D-only law the fastest", () => {
  // huge (~96M parameters) is over 40 MB in bf16 and is never chosen
  const nOnly = chooseFinal(config(), 4096, { E: 1, A: 100, alpha: 0.5, B: 0, beta: 0.5 });
  assert.deepEqual(nOnly.shape, big);
  const dOnly = chooseFinal(config(), 4096, { E: 1, A: 0, alpha: 0.5, B: 100, beta: 0.5 });
  assert.deepEqual(dOnly.shape, small);
  // steps are a whole multiple of 10 and the tokens follow from them
  assert.equal((dOnly.D / (2 * 256)) % 10, 0);
});

test("licensed sets only; LCCC text joined", () => {
  const names = LICENSED_SETS.map((s) => s.name).join(" ");
  for (const bad of ["zh-sentiment-reviews", "clue-emotion", "smp2017", "alpaca"]) assert.ok(!names.includes(bad), bad);
  assert.ok(LICENSED_SETS.every((s) => /MIT|Apache|CC BY|CDLA/.test(s.licence)));
  assert.equal(joinLccc("我 也 要 去 健 身"), "我也要去健身");
  assert.equal(joinLccc("看 NBA 吗"), "看NBA吗");
});

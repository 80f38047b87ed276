// zhiyu bench embed: runs on the reference BERT (HF folder and its llama.cpp GGUF), reports the batch it was asked
// for with positive throughput, and refuses a length beyond the model's learned positions by flag name.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { run } from "../../src/cli/commands/bench-embed.js";

const CASE = path.resolve("../shared/testdata/hf/bert");

async function capture(argv: string[]): Promise<string> {
  const log = console.log;
  let out = "";
  console.log = (s: string) => { out += s + "\n"; };
  try {
    assert.equal(await run(argv), 0);
  } finally {
    console.log = log;
  }
  return out;
}

test("bench embed: sentences/s for the HF folder and the GGUF of the same encoder; bad --tokens refused", async () => {
  for (const model of [path.join(CASE, "base"), path.join(CASE, "gguf", "bert-f32.gguf")]) {
    const r = JSON.parse(await capture(["--model", model, "--batch", "3", "--tokens", "20", "--rounds", "2", "--json"]));
    assert.equal(r.batch, 3);
    assert.equal(r.tokens, 20);
    assert.ok(r.sentences_per_s > 0 && Math.abs(r.tokens_per_s - 20 * r.sentences_per_s) < 1e-6 * r.tokens_per_s);
  }
  await assert.rejects(run(["--model", path.join(CASE, "base"), "--tokens", "60000"]), /--tokens 60000 exceeds the model.s/);
});

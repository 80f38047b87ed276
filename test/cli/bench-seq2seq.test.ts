// zhiyu bench seq2seq: runs greedy and beam search on the reference T5 (../shared/testdata/hf/t5_v1_1) for the number
// of tokens asked, with positive throughput and a beam cost that is the ratio of its timings; refuses a missing
// llama-server binary, a non-GGUF model for llama.cpp and a causal LM, each by name. (llama.cpp itself is never
// run in npm test: BENCHMARKS.md has the side-by-side command.)
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { run } from "../../src/cli/commands/bench-seq2seq.js";

const T5 = path.resolve("../shared/testdata/hf/t5_v1_1/model");

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

test("bench seq2seq: greedy and beam tokens/s of a T5 folder; bad flags and models refused by name", async () => {
  const r = JSON.parse(await capture(["--model", T5, "--tokens", "5", "--beams", "3", "--rounds", "2", "--json"]));
  assert.equal(r.new_tokens, 5);
  assert.equal(r.beams, 3);
  assert.equal(r.source_tokens, 33);
  assert.ok(r.zhiyu.greedy_tokens_per_s > 0 && r.zhiyu.beam_tokens_per_s > 0);
  assert.ok(Math.abs(r.zhiyu.beam_cost - r.zhiyu.beam_seconds / r.zhiyu.greedy_seconds) < 1e-9);
  assert.equal(r.llama_cpp, undefined);
  await assert.rejects(run(["--model", T5, "--llama-server", "/nonexistent/llama-server"]), /--llama-server \/nonexistent\/llama-server does not exist/);
  await assert.rejects(run(["--model", T5, "--llama-server", process.execPath]), /--llama-server needs --model FILE\.gguf/);
  await assert.rejects(run(["--model", path.resolve("../shared/testdata/gguf/stories260K.gguf")]), /bench seq2seq: .* is a causal-lm model; bench seq2seq needs a seq2seq model/);
  await assert.rejects(run(["--model", T5, "--tokens", "0"]), /--tokens/);
});

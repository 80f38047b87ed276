// zhiyu bench embed: runs on the reference BERT (HF folder and its llama.cpp GGUF), reports the batch it was asked
// for with positive throughput, and refuses a length beyond the model's learned positions by flag name; reads
// llama.cpp's own per-pass time from a llama-bench JSON output captured from the real tool (test/fixtures/llama-bench)
// and refuses output of another test or flags llama-bench cannot serve.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { llamaBenchPassSeconds, run } from "../../src/cli/commands/bench-embed.js";

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

test("bench embed --llama-bench: llama.cpp's per-pass seconds from llama-bench's own JSON; other tests refused", async () => {
  const text = readFileSync(path.resolve("test/fixtures/llama-bench/bert-base-f16-embd-p128-r3.json"), "utf8");
  const raw = JSON.parse(text) as Array<Record<string, unknown>>;
  const expected = (raw[0]!.samples_ns as number[]).map((ns) => ns / 1e9);
  assert.equal(expected.length, 3);
  assert.deepEqual(llamaBenchPassSeconds(text, 128), expected);
  // llama-bench prints its build banner before the JSON on some builds: the array is found after it
  assert.deepEqual(llamaBenchPassSeconds("build: d32676d77 (9749)\n" + text, 128), expected);
  assert.throws(() => llamaBenchPassSeconds(text, 64), /n_prompt 128, n_gen 0, n_depth 0; expected 64, 0, 0/);
  const variant = (patch: Record<string, unknown>) => JSON.stringify([{ ...raw[0], ...patch }]);
  assert.throws(() => llamaBenchPassSeconds(variant({ embeddings: false }), 128), /without embeddings \(-embd 1\)/);
  assert.throws(() => llamaBenchPassSeconds(variant({ n_gen: 16 }), 128), /n_gen 16/);
  assert.throws(() => llamaBenchPassSeconds(variant({ n_ubatch: 64 }), 128), /n_ubatch 64 splits the 128-token pass/);
  assert.throws(() => llamaBenchPassSeconds(variant({ samples_ns: [] }), 128), /samples_ns/);
  assert.throws(() => llamaBenchPassSeconds(JSON.stringify([raw[0], raw[0]]), 128), /one test in its JSON, got 2/);
  assert.throws(() => llamaBenchPassSeconds("main: error: failed to load model", 128), /not the JSON of -o json/);
  const gguf = path.join(CASE, "gguf", "bert-f32.gguf");
  await assert.rejects(run(["--model", gguf, "--tokens", "20", "--llama-bench", "/nonexistent/llama-bench"]), /--llama-bench \/nonexistent\/llama-bench does not exist/);
  await assert.rejects(run(["--model", gguf, "--tokens", "20", "--batch", "32", "--llama-bench", process.execPath]), /--batch 32 needs --llama-embedding/);
  await assert.rejects(run(["--model", gguf, "--tokens", "20", "--llama-bench", process.execPath, "--llama-embedding", process.execPath]), /not both/);
});

// Serving an encoder-decoder model: the batching scheduler runs T5 sequences through the kind interface — each
// request's prompt is its source, encoded once; every step carries all sequences' decoder steps in one forward() —
// and three concurrent greedy requests on ../shared/testdata/hf/t5_v1_1 give transformers' greedy ids while steps
// carry several sequences. Then the OpenAI server on a small random-weight T5 with the trained Unigram tokenizer
// (test/tokenizers/data/unigram): /v1/completions and /v1/chat/completions (the plain text-to-text template: the
// source is the messages' contents, space-separated) answer, concurrently, with the prompt counted as the tokenizer's ids of that
// text, and a max_tokens the decoder cannot hold is a 400 naming it.
import { test } from "node:test";
import assert from "node:assert/strict";
import { cpSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadAnyModel } from "../../src/infer/load.js";
import { requireKind } from "../../src/infer/model-api.js";
import { Scheduler } from "../../src/infer/scheduler.js";
import { Sampler } from "../../src/infer/sampler.js";
import { Rng } from "../../src/core/rng.js";
import { presetConfig, randomParam } from "../../src/models/presets.js";
import { writeModelHf } from "../../src/infer/export.js";
import { startServer } from "../../src/serve/server.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";

setDefaultBackend(createBackend());

test("the scheduler batches T5 sequences: concurrent greedy requests give transformers' ids, several per step", async () => {
  const dir = path.resolve("../shared/testdata/hf/t5_v1_1");
  const ref = JSON.parse(readFileSync(path.join(dir, "reference.json"), "utf8")) as {
    inputs: { encoder_input_ids: number[][] }; generation: { results: Array<{ input: number; new_tokens: number[] }> };
  };
  const model = requireKind(await loadAnyModel(path.join(dir, "model")), ["seq2seq"], "test");
  const scheduler = new Scheduler(model, { parallel: 4, maxQueue: 4 });
  const runs = ref.generation.results.map((r) => {
    const ids: number[] = [];
    return scheduler.submit({ promptIds: ref.inputs.encoder_input_ids[r.input]!, maxTokens: r.new_tokens.length, sampler: new Sampler({ temperature: 0 }),
      stopTokenIds: new Set(), onToken: (e) => { ids.push(e.id); } }).then((res) => ({ res, ids, want: r.new_tokens }));
  });
  for (const { res, ids, want } of await Promise.all(runs)) {
    assert.equal(res.finishReason, "length");
    assert.deepEqual(ids, want);
  }
  assert.ok(scheduler.stats.batchedItems / scheduler.stats.steps > 2, `sequences per step: ${scheduler.stats.batchedItems / scheduler.stats.steps}`);
  assert.throws(() => scheduler.submit({ promptIds: Array.from({ length: model.sourceLength + 1 }, () => 5), maxTokens: 1,
    sampler: new Sampler({ temperature: 0 }), stopTokenIds: new Set(), onToken: () => {} }), /source limit is 512/);
  model.dispose();
});

test("the OpenAI server serves a T5 model: completions and text-to-text chat, concurrently", async () => {
  const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-t5-serve-"));
  const tokDir = path.resolve("test/tokenizers/data/unigram");
  const tok = loadTokenizer(tokDir);
  const config = presetConfig("t5", "tiny", tok.vocabSize);
  const rng = new Rng(3);
  writeModelHf(tmp, config, randomParam(rng, 0.5));
  for (const f of ["tokenizer.json", "tokenizer_config.json"]) cpSync(path.join(tokDir, f), path.join(tmp, f));
  const model = requireKind(await loadAnyModel(tmp), ["seq2seq"], "test");
  const srv = await startServer({ model, port: 0, parallel: 3 });
  try {
    const post = async (route: string, body: unknown) => {
      const r = await fetch(`${srv.url}${route}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ model: model.id, ...(body as object) }) });
      return { status: r.status, json: await r.json() as Record<string, any> };
    };
    const prompt = "translate English to German: the house is small";
    const [a, b, c] = await Promise.all([
      post("/v1/completions", { prompt, max_tokens: 6, temperature: 0 }),
      post("/v1/completions", { prompt: "summarize: a long story", max_tokens: 5, temperature: 0 }),
      post("/v1/chat/completions", { messages: [{ role: "system", content: "answer:" }, { role: "user", content: "what is 2 + 2" }], max_tokens: 4, temperature: 0 }),
    ]);
    for (const r of [a, b, c]) assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.equal(a.json.usage.prompt_tokens, tok.encode(prompt).length, "the prompt is the source, tokenized with </s>");
    assert.equal(c.json.usage.prompt_tokens, tok.encode("answer: what is 2 + 2").length, "chat: the messages' contents, space-separated");
    assert.ok(a.json.usage.completion_tokens >= 1 && a.json.usage.completion_tokens <= 6);
    assert.equal(typeof c.json.choices[0].message.content, "string");
    // The same request again gives the same greedy text (encoder run per request, no state leaks between them).
    const again = await post("/v1/completions", { prompt, max_tokens: 6, temperature: 0 });
    assert.equal(again.json.choices[0].text, a.json.choices[0].text);
    const tooLong = await post("/v1/completions", { prompt, max_tokens: 100000 });
    assert.equal(tooLong.status, 400);
    assert.match(tooLong.json.error.message, /max_tokens 100000: this encoder-decoder model's decoder holds 512 positions/);
  } finally {
    await srv.close();
    model.dispose();
    rmSync(tmp, { recursive: true, force: true });
  }
});

// The server on a real small model (stories260K.gguf from ../shared/testdata, loaded by src/infer/load.ts), driven by
// the official openai client: a random-ish model writes junk, but every path runs for real — chat template and
// SentencePiece tokenizer, streaming with usage, grammar masks over a real vocabulary (the JSON must validate),
// tool_choice required, embeddings of the model's hidden size, and batched decoding of concurrent requests.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import OpenAI from "openai";
import { Ajv } from "ajv";
import { loadModel } from "../../src/infer/load.js";
import type { TextModel } from "../../src/infer/model-api.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";

const MODEL = path.resolve("../shared/testdata/gguf/stories260K.gguf");
let srv: RunningServer;
let client: OpenAI;
let model: TextModel;

before(async () => {
  model = await loadModel(MODEL, { contextLength: 1024 });
  srv = await startServer({ model, port: 0, parallel: 4 });
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "x", maxRetries: 0 });
});
after(async () => {
  await srv.close();
  model.dispose();
});

describe("server on stories260K", () => {
  test("completions continue a story greedily", async () => {
    const r = await client.completions.create({ model: "stories260K", prompt: "Once upon a time", max_tokens: 12, temperature: 0 });
    assert.equal(r.choices[0].finish_reason, "length");
    assert.equal(r.usage!.completion_tokens, 12);
    assert.ok(r.choices[0].text.length > 10);
  });

  test("streaming chat with include_usage", async () => {
    const stream = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "Tell a story" }],
      max_tokens: 16, stream: true, stream_options: { include_usage: true }, seed: 1 });
    let text = "";
    let usage = null;
    let finish = null;
    for await (const c of stream) {
      if (c.choices.length === 0) usage = c.usage;
      else {
        text += c.choices[0].delta.content ?? "";
        finish = c.choices[0].finish_reason ?? finish;
      }
    }
    assert.ok(usage && usage.completion_tokens > 0 && usage.completion_tokens <= 16);
    assert.ok(finish === "length" || finish === "stop");
    assert.equal(typeof text, "string");
  });

  test("json_schema output validates on a real vocabulary", async () => {
    const schema = { type: "object", properties: { mood: { enum: ["happy", "sad"] }, count: { type: "integer" }, ok: { type: "boolean" } },
      required: ["mood", "count", "ok"], additionalProperties: false };
    const validate = new Ajv().compile(schema);
    for (const seed of [1, 2, 3]) {
      const r = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "Describe Lily" }],
        max_tokens: 120, seed, temperature: 1, response_format: { type: "json_schema", json_schema: { name: "m", schema, strict: true } } });
      assert.equal(r.choices[0].finish_reason, "stop", r.choices[0].message.content ?? "");
      const v = JSON.parse(r.choices[0].message.content!);
      assert.ok(validate(v), JSON.stringify(validate.errors));
    }
  });

  test("tool_choice required yields a parseable call with valid arguments", async () => {
    const parameters = { type: "object", properties: { unit: { enum: ["c", "f"] } }, required: ["unit"], additionalProperties: false };
    const r = await client.chat.completions.create({ model: "stories260K", messages: [{ role: "user", content: "weather?" }], max_tokens: 120,
      seed: 5, tools: [{ type: "function", function: { name: "get_weather", parameters } }], tool_choice: "required" });
    const call = r.choices[0].message.tool_calls?.[0];
    assert.ok(call && call.type === "function", JSON.stringify(r.choices[0]));
    assert.ok(new Ajv().compile(parameters)(JSON.parse(call.function.arguments)));
  });

  test("embeddings have the model's hidden size, float and base64 agree", async () => {
    const f = await client.embeddings.create({ model: "stories260K", input: "a little girl", encoding_format: "float" });
    const b = await client.embeddings.create({ model: "stories260K", input: "a little girl" });
    assert.equal(f.data[0].embedding.length, model.embeddingDim);
    for (let i = 0; i < model.embeddingDim; i++) assert.ok(Math.abs(f.data[0].embedding[i] - b.data[0].embedding[i]) < 1e-6);
  });

  test("concurrent requests share decode steps and all finish", async () => {
    const before = srv.engine.scheduler.stats.batchedItems / Math.max(1, srv.engine.scheduler.stats.steps);
    const rs = await Promise.all([0, 1, 2, 3].map((i) => client.completions.create({ model: "stories260K", prompt: `Tom had ${i}`,
      max_tokens: 20, temperature: 0 })));
    for (const r of rs) assert.equal(r.usage!.completion_tokens, 20);
    const s = srv.engine.scheduler.stats;
    assert.ok(s.batchedItems / s.steps > before, "some steps carried several sequences");
  });
});

test("prefix reuse: a second chat turn reuses the first turn's cache and greedy output is unchanged", async () => {
  const plain = await startServer({ model, port: 0, parallel: 1, prefixReuse: false });
  try {
    const turns = async (url: string) => {
      const c = new OpenAI({ baseURL: `${url}/v1`, apiKey: "x", maxRetries: 0 });
      const messages: { role: "user" | "assistant"; content: string }[] = [{ role: "user", content: "Lily went to the park" }];
      const a = await c.chat.completions.create({ model: "stories260K", messages, max_tokens: 24, temperature: 0 });
      messages.push({ role: "assistant", content: a.choices[0].message.content! }, { role: "user", content: "Then what happened?" });
      const b = await c.chat.completions.create({ model: "stories260K", messages, max_tokens: 24, temperature: 0 });
      return { texts: [a.choices[0].message.content, b.choices[0].message.content], cached: b.usage!.prompt_tokens_details!.cached_tokens! };
    };
    const reused = await turns(srv.url);
    const fresh = await turns(plain.url);
    assert.deepEqual(reused.texts, fresh.texts);
    assert.equal(fresh.cached, 0);
    assert.ok(reused.cached > 10, `cached ${reused.cached} prompt tokens`);
  } finally {
    await plain.close();
  }
});

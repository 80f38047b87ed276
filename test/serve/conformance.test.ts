// OpenAI wire-format conformance, driven by the official `openai` npm client (v6) against the server with the
// scripted fake model: chat (plain and streamed with include_usage), tool calls (auto, required, parallel, streamed
// and not), json_schema output validated by Ajv (an independent validator), embeddings (float and base64),
// /v1/models, completions; and bad requests that must be 4xx of the right shape while the server keeps serving.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import OpenAI from "openai";
import { Ajv } from "ajv";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { FakeModel } from "./fake-model.js";

const weatherTool = {
  type: "function" as const,
  function: {
    name: "get_weather",
    description: "Current weather for a city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"], additionalProperties: false },
  },
};

let srv: RunningServer;
let client: OpenAI;
const model = new FakeModel({ contextLength: 2048 });

before(async () => {
  srv = await startServer({ model, port: 0, parallel: 4 });
  client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "anything", maxRetries: 0 });
});
after(async () => {
  await srv.close();
});

async function post(path: string, body: string, headers: Record<string, string> = {}) {
  const r = await fetch(`${srv.url}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body });
  return { status: r.status, headers: r.headers, json: (await r.json()) as { error?: { message: string; type: string; param: unknown; code: unknown } } };
}

function assertErrorShape(j: { error?: { message: string; type: string; param: unknown; code: unknown } }) {
  assert.ok(j.error, "error body has 'error'");
  assert.equal(typeof j.error.message, "string");
  assert.equal(typeof j.error.type, "string");
  assert.ok("param" in j.error && "code" in j.error);
}

describe("openai client conformance", () => {
  test("GET /v1/models lists the model", async () => {
    const list = await client.models.list();
    assert.deepEqual(list.data.map((m) => m.id), ["fake-chatml"]);
    assert.equal(list.data[0].object, "model");
    const one = await client.models.retrieve("fake-chatml");
    assert.equal(one.id, "fake-chatml");
  });

  test("non-streaming chat", async () => {
    const r = await client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "hi there" }], temperature: 0 });
    assert.equal(r.object, "chat.completion");
    assert.match(r.id, /^chatcmpl-/);
    assert.equal(r.choices[0].message.role, "assistant");
    assert.equal(r.choices[0].message.content, "Hello! You said: hi there");
    assert.equal(r.choices[0].finish_reason, "stop");
    assert.equal(r.usage!.completion_tokens, "Hello! You said: hi there".length + 1); // + <|im_end|>
    assert.equal(r.usage!.total_tokens, r.usage!.prompt_tokens + r.usage!.completion_tokens);
  });

  test("streaming chat with include_usage, UTF-8 safe", async () => {
    const stream = await client.chat.completions.create({
      model: "fake-chatml", messages: [{ role: "user", content: "你好，世界" }], stream: true, stream_options: { include_usage: true }, temperature: 0,
    });
    let text = "";
    let ids = new Set<string>();
    let finish: string | null = null;
    let usage = null;
    let chunks = 0;
    for await (const chunk of stream) {
      chunks++;
      ids.add(chunk.id);
      if (chunk.choices.length === 0) {
        usage = chunk.usage;
        continue;
      }
      assert.equal(chunk.usage, null);
      const c = chunk.choices[0];
      assert.ok(!(c.delta.content ?? "").includes("\uFFFD"), "no replacement characters mid-stream");
      text += c.delta.content ?? "";
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.equal(text, "Hello! You said: 你好，世界");
    assert.equal(finish, "stop");
    assert.equal(ids.size, 1);
    assert.ok(chunks > 3);
    assert.ok(usage && usage.completion_tokens > 0 && usage.total_tokens === usage.prompt_tokens + usage.completion_tokens);
  });

  test("stop strings, max_tokens, n and logprobs", async () => {
    const r = await client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "abc" }], stop: ["said"], n: 2, temperature: 0 });
    assert.equal(r.choices.length, 2);
    for (const c of r.choices) assert.equal(c.message.content, "Hello! You ");
    const r2 = await client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "abc" }], max_completion_tokens: 5,
      logprobs: true, top_logprobs: 2, temperature: 0 });
    assert.equal(r2.choices[0].message.content, "Hello");
    assert.equal(r2.choices[0].finish_reason, "length");
    const lp = r2.choices[0].logprobs!.content!;
    assert.deepEqual(lp.map((e) => e.token).join(""), "Hello");
    assert.equal(lp[0].top_logprobs.length, 2);
    assert.equal(lp[0].top_logprobs[0].token, "H");
    // The fake's logits: 10 for the scripted byte, 3, 2, 1 for '"', '}', ']', 0 for the other 255 tokens — of which
    // the 77 bytes that cannot start a UTF-8 character (80–BF, C0, C1, F5–FF) are masked at sampling, so 178 remain.
    assert.ok(Math.abs(lp[0].logprob - (10 - Math.log(Math.exp(10) + Math.exp(3) + Math.exp(2) + Math.exp(1) + 178))) < 1e-4);
  });

  test("tool call, non-streaming (auto)", async () => {
    const r = await client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "What is the weather in Paris?" }],
      tools: [weatherTool], temperature: 0 });
    const c = r.choices[0];
    assert.equal(c.finish_reason, "tool_calls");
    assert.equal(c.message.content, null);
    assert.equal(c.message.tool_calls!.length, 1);
    const call = c.message.tool_calls![0];
    assert.equal(call.type, "function");
    assert.match(call.id, /^call_/);
    if (call.type !== "function") throw new Error("function call expected");
    assert.equal(call.function.name, "get_weather");
    assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
  });

  test("parallel tool calls, streamed by index, with the tool result round trip", async () => {
    // A forced call is one call unless parallel_tool_calls is asked for (as llama-server).
    const stream = await client.chat.completions.create({ model: "fake-chatml", stream: true, tools: [weatherTool], tool_choice: "required",
      parallel_tool_calls: true, messages: [{ role: "user", content: "weather in parallel please" }], temperature: 0 });
    const calls: { id?: string; name?: string; args: string }[] = [];
    let finish = null;
    for await (const chunk of stream) {
      const c = chunk.choices[0];
      if (!c) continue;
      for (const t of c.delta.tool_calls ?? []) {
        calls[t.index] ??= { args: "" };
        if (t.id) calls[t.index].id = t.id;
        if (t.function?.name) calls[t.index].name = t.function.name;
        calls[t.index].args += t.function?.arguments ?? "";
      }
      if (c.finish_reason) finish = c.finish_reason;
    }
    assert.equal(finish, "tool_calls");
    assert.equal(calls.length, 2);
    assert.deepEqual(calls.map((c) => JSON.parse(c.args).city), ["Paris", "London"]);
    assert.notEqual(calls[0].id, calls[1].id);
    // Send the results back; the fake answers from the tool response.
    const r = await client.chat.completions.create({ model: "fake-chatml", temperature: 0, tools: [weatherTool], messages: [
      { role: "user", content: "weather in parallel please" },
      { role: "assistant", content: null, tool_calls: calls.map((c) => ({ id: c.id!, type: "function" as const, function: { name: c.name!, arguments: c.args } })) },
      { role: "tool", tool_call_id: calls[0].id!, content: "sunny 21C" },
    ] });
    assert.equal(r.choices[0].message.content, "The answer is sunny 21C.");
  });

  test("tool_choice required forces a call even when the model would answer in text", async () => {
    const r = await client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "tell me a joke" }],
      tools: [weatherTool], tool_choice: { type: "function", function: { name: "get_weather" } }, temperature: 0 });
    const call = r.choices[0].message.tool_calls?.[0];
    assert.ok(call && call.type === "function");
    assert.equal(call.function.name, "get_weather");
    const args = JSON.parse(call.function.arguments);
    assert.equal(typeof args.city, "string");
    assert.equal(r.choices[0].finish_reason, "tool_calls");
  });

  test("json_schema output parses and validates", async () => {
    const schema = { type: "object", properties: { name: { type: "string" }, age: { type: "integer" } }, required: ["name", "age"], additionalProperties: false };
    const r = await client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "give me json" }], temperature: 0,
      response_format: { type: "json_schema", json_schema: { name: "person", schema, strict: true } } });
    const value = JSON.parse(r.choices[0].message.content!);
    const validate = new Ajv().compile(schema);
    assert.ok(validate(value), JSON.stringify(validate.errors));
    assert.deepEqual(value, { name: "Zhiyu", age: 3 });
    // A schema the script does not follow: the grammar still forces valid output.
    const schema2 = { type: "object", properties: { ok: { type: "boolean" }, tag: { enum: ["a", "b"] } }, required: ["ok", "tag"], additionalProperties: false };
    const r2 = await client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "hello" }], temperature: 0,
      response_format: { type: "json_schema", json_schema: { name: "x", schema: schema2, strict: true } } });
    const v2 = JSON.parse(r2.choices[0].message.content!);
    assert.ok(new Ajv().compile(schema2)(v2), r2.choices[0].message.content!);
  });

  test("embeddings, float and base64", async () => {
    const f = await client.embeddings.create({ model: "fake-chatml", input: ["hello", "world"], encoding_format: "float" });
    assert.equal(f.data.length, 2);
    assert.equal(f.data[0].embedding.length, 8);
    const norm = Math.hypot(...f.data[0].embedding);
    assert.ok(Math.abs(norm - 1) < 1e-5);
    // The client asks for base64 by default and decodes it to floats.
    const b = await client.embeddings.create({ model: "fake-chatml", input: ["hello", "world"] });
    for (let i = 0; i < 2; i++) {
      for (let j = 0; j < 8; j++) assert.ok(Math.abs(b.data[i].embedding[j] - f.data[i].embedding[j]) < 1e-6);
    }
    assert.equal(f.usage.prompt_tokens, 10);
    const raw = await post("/v1/embeddings", JSON.stringify({ model: "fake-chatml", input: "hello", encoding_format: "base64" }));
    const bytes = Buffer.from((raw.json as unknown as { data: { embedding: string }[] }).data[0].embedding, "base64");
    assert.equal(bytes.length, 32);
    assert.ok(Math.abs(bytes.readFloatLE(0) - f.data[0].embedding[0]) < 1e-6);
  });

  test("legacy completions, streamed and not", async () => {
    const r = await client.completions.create({ model: "fake-chatml", prompt: "<|im_start|>user\nxyz<|im_end|>\n", max_tokens: 40, temperature: 0 });
    assert.equal(r.object, "text_completion");
    assert.equal(typeof r.choices[0].text, "string");
    const s = await client.completions.create({ model: "fake-chatml", prompt: "abc", max_tokens: 7, temperature: 0, stream: true });
    let n = 0;
    let finish = null;
    for await (const c of s) {
      n++;
      if (c.choices[0]?.finish_reason) finish = c.choices[0].finish_reason;
    }
    assert.ok(n >= 2);
    assert.equal(finish, "length");
  });
});

describe("bad requests get 4xx of the right shape and the server keeps serving", () => {
  test("malformed JSON → 400", async () => {
    const r = await post("/v1/chat/completions", "{not json");
    assert.equal(r.status, 400);
    assertErrorShape(r.json);
    assert.equal(r.json.error!.type, "invalid_request_error");
  });

  test("wrong types → 400 naming the field", async () => {
    const r = await post("/v1/chat/completions", JSON.stringify({ model: "fake-chatml", messages: "hi" }));
    assert.equal(r.status, 400);
    assert.equal(r.json.error!.param, "messages");
    const r2 = await post("/v1/chat/completions", JSON.stringify({ model: "fake-chatml", messages: [{ role: "user", content: "x" }], temperature: "hot" }));
    assert.equal(r2.status, 400);
    assert.equal(r2.json.error!.param, "temperature");
    await assert.rejects(client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "x" }], n: 0 }),
      (e: unknown) => e instanceof OpenAI.BadRequestError);
  });

  test("unknown model → 404 NotFound", async () => {
    await assert.rejects(client.chat.completions.create({ model: "gpt-17", messages: [{ role: "user", content: "x" }] }),
      (e: unknown) => e instanceof OpenAI.NotFoundError && e.code === "model_not_found");
  });

  test("prompt longer than the context → 400 context_length_exceeded", async () => {
    await assert.rejects(client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "x".repeat(3000) }] }),
      (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === "context_length_exceeded");
  });

  test("an unenforceable schema → 400, never unconstrained output", async () => {
    await assert.rejects(client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "json" }],
      response_format: { type: "json_schema", json_schema: { name: "p", schema: { type: "string", pattern: "^(?!x)[a-z]+$" } } } }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && e.code === "unsupported_schema" && /pattern/.test(e.message));
  });

  test("unknown route → 404 JSON; the server still answers", async () => {
    const r = await fetch(`${srv.url}/v1/nope`);
    assert.equal(r.status, 404);
    assertErrorShape((await r.json()) as never);
    const ok = await client.chat.completions.create({ model: "fake-chatml", messages: [{ role: "user", content: "still there?" }], temperature: 0 });
    assert.equal(ok.choices[0].message.content, "Hello! You said: still there?");
    const health = await fetch(`${srv.url}/health`);
    assert.equal(health.status, 200);
  });

  test("/metrics is Prometheus text with the counters", async () => {
    const text = await (await fetch(`${srv.url}/metrics`)).text();
    assert.match(text, /# TYPE zhiyu_requests_total counter/);
    assert.match(text, /zhiyu_requests_total\{endpoint="chat\/completions",status="200"\} \d+/);
    assert.match(text, /zhiyu_requests_total\{endpoint="chat\/completions",status="400"\} \d+/);
    assert.match(text, /zhiyu_queue_depth 0/);
    assert.match(text, /zhiyu_time_to_first_token_seconds_count [1-9]/);
    assert.match(text, /zhiyu_completion_tokens_total [1-9]/);
  });
});

describe("api key", () => {
  test("401 without the key, 200 with it", async () => {
    const keyed = await startServer({ model: new FakeModel(), port: 0, apiKey: "sekret" });
    try {
      const bad = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: "wrong", maxRetries: 0 });
      await assert.rejects(bad.models.list(), (e: unknown) => e instanceof OpenAI.AuthenticationError);
      const r = await fetch(`${keyed.url}/v1/models`);
      assert.equal(r.status, 401);
      assertErrorShape((await r.json()) as never);
      const good = new OpenAI({ baseURL: `${keyed.url}/v1`, apiKey: "sekret", maxRetries: 0 });
      assert.equal((await good.models.list()).data.length, 1);
    } finally {
      await keyed.close();
    }
  });
});

// Constrained output that ends (issue 13 items 9 and 10). A model that never wants to close its JSON — here a fake
// whose logits always prefer opening another array — must still end with complete JSON: json_object without
// max_tokens stops within the default cap (DEFAULT_CONSTRAINED_MAX_TOKENS) with finish_reason "stop", and a
// small max_tokens is met by closing in time. A forced tool call ends as soon as its object closes, far below
// max_tokens, even when the model would go on writing calls.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { DEFAULT_CONSTRAINED_MAX_TOKENS } from "../../src/serve/engine.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { FakeModel, IM_END } from "./fake-model.js";

/** Prefers '[' then '{', '"', 'a'; closing bytes and end-of-turn are the least likely. */
function neverCloses(): Float32Array {
  const logits = new Float32Array(259);
  for (const [c, v] of [["[", 10], ["{", 9], ['"', 8], ["a", 7], ["1", 6], [":", 5], [",", 5], [" ", 4]] as const) logits[c.charCodeAt(0)] = v;
  logits["]".charCodeAt(0)] = -5;
  logits["}".charCodeAt(0)] = -5;
  logits[IM_END] = -10;
  return logits;
}

const CALL = '<tool_call>\n{"name": "set_mode", "arguments": {"mode": "fast"}}\n</tool_call>\n';
const CALLS = Array.from(new TextEncoder().encode(CALL.repeat(20)));

/** Writes call after call for as long as it is let. */
function keepsCalling(pos: number): Float32Array {
  const logits = new Float32Array(259);
  logits[CALLS[pos % CALLS.length]] = 10;
  logits[IM_END] = -10;
  return logits;
}

let closing: RunningServer;
let calling: RunningServer;
before(async () => {
  closing = await startServer({ model: new FakeModel({ contextLength: 4096, replyLogits: neverCloses }), port: 0, parallel: 2 });
  calling = await startServer({ model: new FakeModel({ contextLength: 4096, replyLogits: keepsCalling }), port: 0, parallel: 2 });
});
after(async () => {
  await closing.close();
  await calling.close();
});

async function chat(srv: RunningServer, body: Record<string, unknown>) {
  const r = await fetch(`${srv.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "fake-chatml", messages: [{ role: "user", content: "json please" }], temperature: 0, ...body }) });
  assert.equal(r.status, 200);
  return (await r.json()) as { choices: { message: { content: string | null; tool_calls?: { function: { name: string; arguments: string } }[] };
    finish_reason: string }[]; usage: { completion_tokens: number } };
}

test("json_object without max_tokens: complete JSON within the default cap, finish_reason stop", async () => {
  const j = await chat(closing, { response_format: { type: "json_object" } });
  const text = j.choices[0].message.content!;
  const value = JSON.parse(text);
  assert.equal(typeof value, "object");
  assert.equal(j.choices[0].finish_reason, "stop");
  assert.ok(j.usage.completion_tokens <= DEFAULT_CONSTRAINED_MAX_TOKENS, `${j.usage.completion_tokens} tokens`);
  assert.ok(j.usage.completion_tokens > 100, "the model did nest as long as it was allowed");
});

test("a small max_tokens is met by closing the JSON in time (json_object and json_schema)", async () => {
  for (const max of [12, 40, 97]) {
    const j = await chat(closing, { response_format: { type: "json_object" }, max_tokens: max });
    assert.doesNotThrow(() => JSON.parse(j.choices[0].message.content!), `max_tokens ${max}: ${j.choices[0].message.content}`);
    assert.equal(j.choices[0].finish_reason, "stop");
    assert.ok(j.usage.completion_tokens <= max);
  }
  const schema = { type: "object", properties: { items: { type: "array", items: { type: "array", items: { type: "string" } } } },
    required: ["items"], additionalProperties: false };
  const j = await chat(closing, { response_format: { type: "json_schema", json_schema: { name: "s", schema } }, max_tokens: 50 });
  const value = JSON.parse(j.choices[0].message.content!);
  assert.ok(Array.isArray(value.items));
  assert.equal(j.choices[0].finish_reason, "stop");
});

test("max_tokens below the shortest valid JSON ends with finish_reason length (as documented)", async () => {
  const j = await chat(closing, { response_format: { type: "json_schema", json_schema: { name: "s",
    schema: { type: "object", properties: { long_property_name: { type: "integer" } }, required: ["long_property_name"] } } }, max_tokens: 5 });
  assert.equal(j.choices[0].finish_reason, "length");
});

test("tool_choice required / named: the call ends when its object closes, far below max_tokens", async () => {
  const tools = [{ type: "function", function: { name: "set_mode", parameters: { type: "object",
    properties: { mode: { enum: ["fast", "slow"] } }, required: ["mode"] } } }];
  for (const tool_choice of ["required", { type: "function", function: { name: "set_mode" } }]) {
    const j = await chat(calling, { tools, tool_choice, max_tokens: 1000 });
    const c = j.choices[0];
    assert.equal(c.finish_reason, "tool_calls");
    assert.equal(c.message.tool_calls!.length, 1);
    assert.deepEqual(JSON.parse(c.message.tool_calls![0].function.arguments), { mode: "fast" });
    assert.ok(j.usage.completion_tokens < 100, `${j.usage.completion_tokens} completion tokens for one call`);
  }
  // Several calls only when asked for, and then still complete calls within the budget.
  const j = await chat(calling, { tools, tool_choice: "required", parallel_tool_calls: true, max_tokens: 200 });
  assert.ok(j.choices[0].message.tool_calls!.length >= 2);
  assert.equal(j.choices[0].message.content, null, "no half-written call leaks into the content");
});

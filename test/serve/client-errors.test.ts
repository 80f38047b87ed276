// Client-caused 500s (issue 14 item 6): inputs that used to throw RangeError/URIError/TypeError deep inside the
// server now get a 400 with an OpenAI-style error, and the server keeps serving. Recursive and cyclic schemas
// ($ref back to itself through anyOf/allOf/$defs), schemas nested past the limit, malformed percent-escapes in a
// schema $ref and in GET /v1/models/…, a malformed request target, 10,000-deep prompt/input arrays, and an
// 8.4-million-letter word through a real tokenizer's regex.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import net from "node:net";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { FakeModel } from "./fake-model.js";

let srv: RunningServer;
before(async () => {
  srv = await startServer({ model: new FakeModel(), port: 0, parallel: 2 });
});
after(async () => srv.close());

async function post(path: string, body: unknown) {
  const r = await fetch(`${srv.url}${path}`, { method: "POST", headers: { "content-type": "application/json" },
    body: typeof body === "string" ? body : JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as { error?: { message: string; type: string; code: unknown } } };
}

function assert400(r: { status: number; json: { error?: { message: string; type: string } } }, mention: RegExp) {
  assert.equal(r.status, 400, JSON.stringify(r.json));
  assert.equal(r.json.error?.type, "invalid_request_error");
  assert.match(r.json.error!.message, mention);
}

const chat = (schema: unknown) => ({ model: "fake-chatml", messages: [{ role: "user", content: "json" }], max_tokens: 8,
  response_format: { type: "json_schema", json_schema: { name: "x", schema } } });

async function assertServing() {
  const r = await fetch(`${srv.url}/health`);
  assert.equal(r.status, 200);
}

test("recursive $ref and anyOf/allOf/$defs cycles that write nothing are 400s; a real recursive tree schema works", async () => {
  const cyclic = [
    { $ref: "#" },
    { $defs: { a: { anyOf: [{ $ref: "#/$defs/a" }, { type: "null" }] } }, $ref: "#/$defs/a" },
    { $defs: { a: { allOf: [{ $ref: "#/$defs/b" }] }, b: { allOf: [{ $ref: "#/$defs/a" }] } }, $ref: "#/$defs/a" },
    { $defs: { a: { oneOf: [{ $ref: "#/$defs/b" }] }, b: { anyOf: [{ type: "integer" }, { $ref: "#/$defs/a" }] } }, $ref: "#/$defs/b" },
  ];
  for (const schema of cyclic) assert400(await post("/v1/chat/completions", chat(schema)), /refers to itself|left recursion/);
  const tree = { type: "object", properties: { name: { type: "string", maxLength: 3 }, kids: { type: "array", maxItems: 2, items: { $ref: "#" } } },
    required: ["name"], additionalProperties: false };
  const ok = await post("/v1/chat/completions", chat(tree));
  assert.equal(ok.status, 200, JSON.stringify(ok.json));
  await assertServing();
});

test("deeply nested schemas and bodies are 400s, not stack overflows", async () => {
  let schema: unknown = { type: "integer" };
  for (let i = 0; i < 70; i++) schema = { type: "array", items: schema };
  assert400(await post("/v1/chat/completions", chat(schema)), /nest/);
  const deep = '{"anyOf":['.repeat(5000) + '{"type":"integer"}' + "]}".repeat(5000);
  const body = JSON.stringify(chat("SCHEMA")).replace('"SCHEMA"', deep);
  assert400(await post("/v1/chat/completions", body), /nest/);
  const deepArray = "[".repeat(10_000) + "1" + "]".repeat(10_000);
  assert400(await post("/v1/completions", `{"model":"fake-chatml","prompt":${deepArray}}`), /nest/);
  assert400(await post("/v1/embeddings", `{"model":"fake-chatml","input":${deepArray}}`), /nest/);
  assert400(await post("/v1/chat/completions", `{"model":"fake-chatml","messages":[{"role":"user","content":"x"}],"tools":${deepArray}}`), /nest/);
  await assertServing();
});

test("malformed percent-escapes: schema $ref and GET /v1/models/%E0", async () => {
  assert400(await post("/v1/chat/completions", chat({ $defs: { a: { type: "integer" } }, $ref: "#/$defs/%E0" })), /percent-escape/);
  const r = await fetch(`${srv.url}/v1/models/%E0`);
  assert.equal(r.status, 400);
  const j = (await r.json()) as { error: { type: string; message: string } };
  assert.match(j.error.message, /percent-escape/);
  await assertServing();
});

test("a malformed request target is a 400", async () => {
  const url = new URL(srv.url);
  const reply = await new Promise<string>((resolve, reject) => {
    const sock = net.connect(Number(url.port), url.hostname, () => sock.write("GET //a:b HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
    let data = "";
    sock.on("data", (d) => (data += d.toString()));
    sock.on("end", () => resolve(data));
    sock.on("error", reject);
  });
  assert.match(reply, /^HTTP\/1\.1 400/);
  assert.match(reply, /"invalid_request_error"/);
  await assertServing();
});

test("schemas beyond what the compiler takes are 400s naming why: deeply nested pattern groups, bounds past 16 digits", async () => {
  assert400(await post("/v1/chat/completions", chat({ type: "string", pattern: "(".repeat(5000) + "a" + ")".repeat(5000) })), /pattern.*nested/);
  assert400(await post("/v1/chat/completions", chat({ type: "integer", minimum: 1e300 })), /bounds/);
  assert400(await post("/v1/chat/completions", chat({ type: "number", maximum: -1e300 })), /bounds/);
  await assertServing();
});

test("an 8.4-million-letter word tokenises (no RangeError from the regex engine) and short text is unchanged", () => {
  const tokenizer = loadTokenizer("models/zhiyu-mini/tokenizer.json");
  const word = "a".repeat(8_400_000);
  const ids = tokenizer.encode(word, { addSpecialTokens: false });
  assert.equal(tokenizer.decode(ids), word);
  const text = "Hello world, 你好世界！ Numbers 12345 and spaces   end.";
  assert.equal(tokenizer.decode(tokenizer.encode(text, { addSpecialTokens: false })), text);
});

// The server's posture against hostile pages and clients (issue 14 items 3, 8, 9): no CORS by default (an
// `Origin: https://evil.example` preflight gets no permissive answer, a cross-origin POST is refused), Host checked
// against the listening address and --host-name (DNS rebinding), --cors opens it for a named origin only; case-
// insensitive Bearer; max_tokens 0 refused; zhiyu_tools narrowed to a named subset; idle and slow sockets closed;
// a connection cap; an aborted upload is a 499 (not a 500, not logged); error logs redact query secrets.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { connect, type Socket } from "node:net";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { redactTarget } from "../../src/serve/http-guard.js";
import { calculatorAsTool } from "../../src/tools/tool.js";
import { FakeModel } from "./fake-model.js";

interface Reply { status: number; headers: Record<string, string | string[] | undefined>; body: string }

function raw(url: string, method: string, path: string, headers: Record<string, string>, body?: string): Promise<Reply> {
  const u = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, method, path, headers, setHost: headers.host === undefined }, (res) => {
      let text = "";
      res.setEncoding("utf8");
      res.on("data", (d) => (text += d));
      res.on("end", () => resolve({ status: res.statusCode!, headers: res.headers, body: text }));
    });
    req.on("error", reject);
    req.end(body);
  });
}

let srv: RunningServer;
let open: RunningServer;
before(async () => {
  srv = await startServer({ model: new FakeModel(), port: 0, apiKey: "sk-test", tools: [calculatorAsTool()] });
  open = await startServer({ model: new FakeModel(), port: 0, corsOrigins: ["https://app.example"], hostNames: ["zhiyu.internal"] });
});
after(async () => {
  await srv.close();
  await open.close();
});

const auth = { authorization: "Bearer sk-test" };
const chat = JSON.stringify({ model: "fake-chatml", messages: [{ role: "user", content: "hi" }], max_tokens: 4 });

test("an Origin: https://evil.example preflight gets no permissive answer", async () => {
  const r = await raw(srv.url, "OPTIONS", "/v1/chat/completions", { origin: "https://evil.example",
    "access-control-request-method": "POST", "access-control-request-headers": "authorization, content-type" });
  assert.notEqual(r.status, 204);
  assert.equal(r.headers["access-control-allow-origin"], undefined);
  assert.equal(r.headers["access-control-allow-headers"], undefined);
});

test("no CORS headers by default; a cross-origin POST from an unlisted page is refused before it runs", async () => {
  const plain = await raw(srv.url, "GET", "/health", {});
  assert.equal(plain.status, 200);
  assert.equal(plain.headers["access-control-allow-origin"], undefined);
  const evil = await raw(srv.url, "POST", "/v1/chat/completions", { origin: "https://evil.example", "content-type": "text/plain", ...auth }, chat);
  assert.equal(evil.status, 403);
  assert.equal(JSON.parse(evil.body).error.code, "origin_not_allowed");
  // The server's own page (same origin) works.
  const host = new URL(srv.url).host;
  const same = await raw(srv.url, "POST", "/v1/chat/completions", { origin: `http://${host}`, "content-type": "application/json", ...auth }, chat);
  assert.equal(same.status, 200);
});

test("--cors ORIGIN answers that origin's preflight and requests, and no other", async () => {
  const pre = await raw(open.url, "OPTIONS", "/v1/chat/completions", { origin: "https://app.example", "access-control-request-method": "POST" });
  assert.equal(pre.status, 204);
  assert.equal(pre.headers["access-control-allow-origin"], "https://app.example");
  assert.match(String(pre.headers["access-control-allow-headers"]), /authorization/);
  const r = await raw(open.url, "POST", "/v1/chat/completions", { origin: "https://app.example", "content-type": "application/json" }, chat);
  assert.equal(r.status, 200);
  assert.equal(r.headers["access-control-allow-origin"], "https://app.example");
  const other = await raw(open.url, "OPTIONS", "/v1/models", { origin: "https://evil.example", "access-control-request-method": "GET" });
  assert.equal(other.headers["access-control-allow-origin"], undefined);
});

test("Host must name this server: DNS-rebinding names are refused, loopback and --host-name allowed", async () => {
  const port = new URL(srv.url).port;
  const evil = await raw(srv.url, "GET", "/health", { host: `evil.example:${port}` });
  assert.equal(evil.status, 403);
  assert.equal(JSON.parse(evil.body).error.code, "host_not_allowed");
  for (const host of [`localhost:${port}`, `127.0.0.1:${port}`, `LOCALHOST:${port}`]) {
    assert.equal((await raw(srv.url, "GET", "/health", { host })).status, 200, host);
  }
  const openPort = new URL(open.url).port;
  assert.equal((await raw(open.url, "GET", "/health", { host: `zhiyu.internal:${openPort}` })).status, 200);
  assert.equal((await raw(open.url, "GET", "/health", { host: `attacker.example:${openPort}` })).status, 403);
});

test("Bearer is case-insensitive; a wrong key of any length is 401", async () => {
  for (const a of ["Bearer sk-test", "bearer sk-test", "BEARER  sk-test"]) {
    assert.equal((await raw(srv.url, "GET", "/v1/models", { authorization: a })).status, 200, a);
  }
  for (const a of ["Bearer sk-tes", "Bearer sk-test-longer", "Basic sk-test", "sk-test", ""]) {
    assert.equal((await raw(srv.url, "GET", "/v1/models", a ? { authorization: a } : {})).status, 401, a);
  }
});

test("max_tokens: 0 is refused", async () => {
  for (const field of ["max_tokens", "max_completion_tokens"]) {
    const r = await raw(srv.url, "POST", "/v1/chat/completions", { "content-type": "application/json", ...auth },
      JSON.stringify({ model: "fake-chatml", messages: [{ role: "user", content: "hi" }], [field]: 0 }));
    assert.equal(r.status, 400, field);
    assert.equal(JSON.parse(r.body).error.param, field);
  }
});

test("zhiyu_tools narrowed to a named subset of the server's tools", async () => {
  const ask = (tools: unknown) => raw(srv.url, "POST", "/v1/chat/completions", { "content-type": "application/json", ...auth },
    JSON.stringify({ model: "fake-chatml", temperature: 0, messages: [{ role: "user", content: "calc 2+2" }], zhiyu_tools: tools }));
  const unknown = await ask(["calculator", "shell"]);
  assert.equal(unknown.status, 400);
  assert.match(JSON.parse(unknown.body).error.message, /"shell"/);
  const ok = await ask(["calculator"]);
  assert.equal(ok.status, 200);
  assert.equal(JSON.parse(ok.body).zhiyu_tool_trace[0].name, "calculator");
  assert.equal((await ask("calculator")).status, 400);
});

function socketClosedWithin(sock: Socket, ms: number): Promise<boolean> {
  return new Promise((resolve) => {
    const t = setTimeout(() => resolve(false), ms);
    sock.on("close", () => {
      clearTimeout(t);
      resolve(true);
    });
    sock.on("error", () => {});
    sock.resume(); // read, so the server's FIN is seen
  });
}

test("idle and slow sockets are closed: headers deadline, body deadline, keep-alive idle", async () => {
  const s = await startServer({ model: new FakeModel(), port: 0, headersTimeoutMs: 300, requestBodyTimeoutMs: 600, keepAliveMs: 300 });
  try {
    const u = new URL(s.url);
    const silent = connect(Number(u.port), u.hostname);
    const slowHeaders = connect(Number(u.port), u.hostname, () => slowHeaders.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n"));
    const slowBody = connect(Number(u.port), u.hostname, () => slowBody.write(
      "POST /v1/completions HTTP/1.1\r\nHost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"));
    const idle = connect(Number(u.port), u.hostname, () => idle.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
    const closed = await Promise.all([silent, slowHeaders, slowBody, idle].map((sock) => socketClosedWithin(sock, 4000)));
    assert.deepEqual(closed, [true, true, true, true]);
  } finally {
    await s.close();
  }
});

test("a connection cap: sockets beyond it are refused at accept", async () => {
  const s = await startServer({ model: new FakeModel(), port: 0, maxConnections: 3 });
  const socks: Socket[] = [];
  try {
    const u = new URL(s.url);
    for (let i = 0; i < 8; i++) socks.push(connect(Number(u.port), u.hostname));
    const closed = await Promise.all(socks.map((sock) => socketClosedWithin(sock, 1500)));
    assert.equal(closed.filter((c) => c).length, 5);
  } finally {
    for (const sock of socks) sock.destroy();
    await s.close();
  }
});

test("an aborted upload is counted as 499 and not logged as a server error", async (t) => {
  const logged: string[] = [];
  t.mock.method(console, "error", (...args: unknown[]) => logged.push(args.map(String).join(" ")));
  const u = new URL(srv.url);
  const sock = connect(Number(u.port), u.hostname, () => sock.write("POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\n" +
    "authorization: Bearer sk-test\r\ncontent-type: application/json\r\ncontent-length: 5000\r\n\r\n{\"model\":"));
  await new Promise((r) => setTimeout(r, 150));
  sock.destroy();
  await new Promise((r) => setTimeout(r, 150));
  const metrics = await (await fetch(`${srv.url}/metrics`)).text();
  assert.match(metrics, /endpoint="chat\/completions",status="499"} 1/);
  assert.doesNotMatch(metrics, /status="500"/);
  assert.deepEqual(logged, []);
});

test("error logs redact query secrets and mask personal data", async (t) => {
  const logged: string[] = [];
  t.mock.method(console, "error", (...args: unknown[]) => logged.push(args.map(String).join(" ")));
  const s = await startServer({ model: new FakeModel({ embedThrows: true }), port: 0 });
  try {
    const r = await fetch(`${s.url}/v1/embeddings?api_key=sk-leaked-123&user=13812345678&x=1`, { method: "POST",
      headers: { "content-type": "application/json" }, body: JSON.stringify({ model: "fake-chatml", input: "hello" }) });
    assert.equal(r.status, 500);
    assert.equal(logged.length, 1);
    assert.doesNotMatch(logged[0], /sk-leaked-123/);
    assert.doesNotMatch(logged[0], /13812345678/);
    assert.match(logged[0], /api_key=REDACTED/);
  } finally {
    await s.close();
  }
  assert.equal(redactTarget("/v1/x?token=abc&q=ok&Api-Key=zz"), "/v1/x?token=REDACTED&q=ok&Api-Key=REDACTED");
  assert.equal(redactTarget("/%E0?key=%E0"), "/%E0?key=REDACTED");
});

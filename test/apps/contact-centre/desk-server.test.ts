// The desk server over HTTP, on SQLite and on a real PostgreSQL server (the harness starts one): customers read only
// their own conversation; a retried client id is stored once; bad requests (not UTF-8, oversized, wrong content
// type, malformed JSON) get errors naming the request and nothing stored is lost; webhooks arrive signed with
// HMAC-SHA256 and a target that never answers is retried with back-off and then marked failed; the desk API
// enforces roles, audits admin actions, captures leads (after the offer, and volunteered later), exports them as CSV, and issues bearer tokens; two desk processes sharing
// one PostgreSQL see each other's messages; `zhiyu desk export-preferences` writes {prompt, chosen, rejected}.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { verifySignature } from "../../../src/apps/contact-centre/channels/webhooks.js";
import { loadConfig, type LoadedConfig } from "../../../src/apps/contact-centre/config.js";
import { startDesk, type RunningDesk } from "../../../src/apps/contact-centre/server/app.js";
import { detectForm, readRecords } from "../../../src/train/preference-data.js";
import { pgSkipReason, startPostgres, type TestPostgres } from "./postgres-harness.js";

const SECRET = "whsec-test-0123456789";

interface Received { event: string; body: string; ts: number; signature: string }

async function receiver(): Promise<{ url: string; got: Received[]; close: () => Promise<void> }> {
  const got: Received[] = [];
  const srv = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      got.push({ event: String(req.headers["x-zhiyu-event"]), body: Buffer.concat(chunks).toString("utf8"), ts: Number(req.headers["x-zhiyu-timestamp"]), signature: String(req.headers["x-zhiyu-signature"]) });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/hook`, got, close: () => new Promise((r) => srv.close(() => r())) };
}

/** A server that accepts connections and never answers. */
async function blackHole(): Promise<{ url: string; close: () => Promise<void> }> {
  const srv = http.createServer(() => undefined);
  await new Promise<void>((r) => srv.listen(0, "127.0.0.1", () => r()));
  return { url: `http://127.0.0.1:${(srv.address() as AddressInfo).port}/slow`, close: () => new Promise((r) => { srv.closeAllConnections(); srv.close(() => r()); }) };
}

async function call(base: string, method: string, p: string, o: { body?: unknown; raw?: Buffer; token?: string; cookie?: string; type?: string } = {}) {
  const headers: Record<string, string> = {};
  if (o.body !== undefined || o.raw) headers["content-type"] = o.type ?? "application/json";
  if (o.token) headers.authorization = `Bearer ${o.token}`;
  if (o.cookie) headers.cookie = o.cookie;
  const res = await fetch(base + p, { method, headers, body: o.raw ?? (o.body !== undefined ? JSON.stringify(o.body) : undefined) });
  const text = await res.text();
  let json: any = null;
  try { json = JSON.parse(text); } catch { /* CSV */ }
  return { status: res.status, json, text, headers: res.headers };
}

async function until(cond: () => Promise<boolean> | boolean, what: string, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting until ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function suite(name: string, target: () => Promise<{ db: string; cleanup: () => void }>, skip: string | false) {
  describe(`desk server on ${name}`, { skip }, () => {
    let desk: RunningDesk;
    let hook: Awaited<ReturnType<typeof receiver>>;
    let hole: Awaited<ReturnType<typeof blackHole>>;
    let dir: string;
    let db: string;
    let cleanup: () => void;
    let config: LoadedConfig;
    before(async () => {
      ({ db, cleanup } = await target());
      dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-srv-"));
      hook = await receiver();
      hole = await blackHole();
      const base = loadConfig();
      config = { ...base, webhooks: [
        { url: hook.url, events: ["message.created", "handoff.requested", "lead.created", "conversation.closed"], secret_env: "HOOK_SECRET" },
        { url: hole.url, events: ["handoff.requested"], secret_env: "HOLE_SECRET", timeout_ms: 300, max_attempts: 2 },
      ] };
      desk = await startDesk({ config, db, dataDir: dir, port: 0, webhookSecrets: { [hook.url]: SECRET, [hole.url]: "other-secret" }, webhookPollMs: 100,
        bootstrapAdmin: { username: "admin", password: "admin-pass-1" } });
      await desk.accounts.createUser({ username: "agent1", password: "agent-pass-1", role: "agent" });
    });
    after(async () => {
      await desk?.close();
      await hook?.close();
      await hole?.close();
      rmSync(dir, { recursive: true, force: true });
      cleanup?.();
    });

    test("customers read only their own conversation; a retried client id is stored once", async () => {
      const a = (await call(desk.url, "POST", "/api/conversations", { body: { language: "zh" } })).json;
      const b = (await call(desk.url, "POST", "/api/conversations", { body: { language: "zh" } })).json;
      const first = await call(desk.url, "POST", `/api/conversations/${a.id}/messages`, { token: a.token, body: { text: "故宫门票多少钱？", client_id: "k-1" } });
      assert.equal(first.status, 201);
      assert.match(first.json.reply.text, /60元/);
      assert.match(first.json.reply.citations[0].doc, /faq\.csv/);
      const retry = await call(desk.url, "POST", `/api/conversations/${a.id}/messages`, { token: a.token, body: { text: "故宫门票多少钱？", client_id: "k-1" } });
      assert.equal(retry.status, 200);
      assert.equal(retry.json.message.id, first.json.message.id);
      assert.equal(retry.json.reply.id, first.json.reply.id);
      assert.equal((await call(desk.url, "GET", `/api/conversations/${a.id}`, { token: a.token })).json.messages.length, 2);
      assert.equal((await call(desk.url, "GET", `/api/conversations/${a.id}`, { token: b.token })).status, 404, "another customer's token");
      assert.equal((await call(desk.url, "GET", `/api/conversations/${a.id}`)).status, 404, "no token");
      assert.equal((await call(desk.url, "GET", `/api/conversations/${a.id}/stream?token=${b.token}`)).status, 404);
    });

    test("the demo page embeds the widget with one script tag, in English with ?lang=en", async () => {
      const tags = (html: string) => [...html.matchAll(/<script src="\/widget\.js" data-lang="(\w+)"[^>]*><\/script>/g)].map((m) => m[1]);
      assert.deepEqual(tags(await (await fetch(`${desk.url}/demo`)).text()), ["zh"]);
      const en = await (await fetch(`${desk.url}/demo?lang=en`)).text();
      assert.deepEqual(tags(en), ["en"], "the real tag, not only the snippet shown on the page");
      assert.match(en, /<html lang="en">/);
      assert.doesNotMatch(en, /data-lang="zh"/);
    });

    test("English: a follow-up about a carried-over 故宫 is answered from the English passage; Markdown arrives as plain text", async () => {
      const c = (await call(desk.url, "POST", "/api/conversations", { body: { language: "en" } })).json;
      const say = async (text: string) => (await call(desk.url, "POST", `/api/conversations/${c.id}/messages`, { token: c.token, body: { text } })).json.reply;
      assert.match((await say("How much is a ticket to the Forbidden City?")).text, /60 yuan/);
      const followUp = await say("And when does it close?");
      assert.equal(followUp.route, "kb");
      assert.doesNotMatch(followUp.text, /\p{Script=Han}/u, `an English reply, got: ${followUp.text}`);
      assert.match(followUp.text, /8:30-17:00/);
      const d = (await call(desk.url, "POST", "/api/conversations", { body: { language: "en" } })).json;
      const policy = (await call(desk.url, "POST", `/api/conversations/${d.id}/messages`, { token: d.token, body: { text: "What is the hotel cancellation policy?" } })).json.reply;
      assert.equal(policy.route, "kb");
      assert.match(policy.citations[0].doc, /services\.md/);
      assert.match(policy.citations[0].text, /^## Hotel booking/, "the citation keeps the passage as written");
      assert.doesNotMatch(policy.text, /^#|\n#/, `no Markdown heading in the reply: ${policy.text}`);
      assert.match(policy.text, /^We book hotels across Beijing/);
    });

    test("a booking intent is answered from the on-topic passage, with English item names in an English conversation", async () => {
      // The ticket FAQ row shares "Forbidden City" and (stemmed) "book" with the turn; the intent's kb_topic keeps
      // the hotel passage first.
      const c = (await call(desk.url, "POST", "/api/conversations", { body: { language: "en" } })).json;
      const r = await call(desk.url, "POST", `/api/conversations/${c.id}/messages`, { token: c.token, body: { text: "I want to book a hotel near the Forbidden City" } });
      const reply = r.json.reply;
      assert.equal(reply.route, "kb");
      assert.match(reply.citations[0].text, /^## Hotel booking/, `cited: ${reply.citations[0]?.text}`);
      assert.match(reply.text, /^We book hotels across Beijing/);
      assert.ok(reply.suggestions.length >= 1 && reply.suggestions.length <= 3, `1..3 suggestions, got ${reply.suggestions.length}`);
      for (const s of reply.suggestions) {
        assert.doesNotMatch(`${s.name} ${s.reason}`, /\p{Script=Han}/u, `English name and reason, got ${s.name} — ${s.reason}`);
        assert.match(s.item, /\p{Script=Han}/u, "the catalogue's own name is kept for tracking");
      }
      const zh = (await call(desk.url, "POST", "/api/conversations", { body: { language: "zh" } })).json;
      const zr = (await call(desk.url, "POST", `/api/conversations/${zh.id}/messages`, { token: zh.token, body: { text: "我想订故宫附近的酒店" } })).json.reply;
      assert.ok(zr.suggestions.length >= 1);
      for (const s of zr.suggestions) assert.equal(s.name, s.item, "Chinese conversations show the catalogue's names");
      assert.doesNotMatch(zr.text, /门票/, `a hotel request is not answered with a ticket row: ${zr.text}`);
    });

    test("bad requests get clear errors and lose nothing", async () => {
      const c = (await call(desk.url, "POST", "/api/conversations", { body: {} })).json;
      await call(desk.url, "POST", `/api/conversations/${c.id}/messages`, { token: c.token, body: { text: "你好" } });
      const p = `/api/conversations/${c.id}/messages`;
      const latin1 = await call(desk.url, "POST", p, { token: c.token, raw: Buffer.from([0x7b, 0x22, 0x74, 0x65, 0x78, 0x74, 0x22, 0x3a, 0x22, 0xe9, 0xff, 0x22, 0x7d]) });
      assert.equal(latin1.status, 400);
      assert.match(latin1.json.error.message, /POST \/api\/conversations\/c_\w+\/messages: body is not UTF-8/);
      const long = await call(desk.url, "POST", p, { token: c.token, body: { text: "长".repeat(2001) } });
      assert.equal(long.status, 413);
      assert.match(long.json.error.message, /"text" has 2001 characters, more than the 2000 allowed/);
      const huge = await call(desk.url, "POST", p, { token: c.token, raw: Buffer.alloc(70 * 1024, 0x20) });
      assert.equal(huge.status, 413);
      assert.match(huge.json.error.message, /exceeds the 65536-byte limit/);
      assert.equal((await call(desk.url, "POST", p, { token: c.token, raw: Buffer.from("text=hi"), type: "application/x-www-form-urlencoded" })).status, 415);
      const broken = await call(desk.url, "POST", p, { token: c.token, raw: Buffer.from("{\"text\": ") });
      assert.equal(broken.status, 400);
      assert.match(broken.json.error.message, /not valid JSON/);
      const kept = (await call(desk.url, "GET", `/api/conversations/${c.id}`, { token: c.token })).json.messages;
      assert.deepEqual(kept.map((m: { role: string }) => m.role), ["customer", "bot"]);
    });

    test("webhooks arrive signed; a target that never answers is retried, then marked failed", async () => {
      const c = (await call(desk.url, "POST", "/api/conversations", { body: { language: "zh" } })).json;
      await call(desk.url, "POST", `/api/conversations/${c.id}/messages`, { token: c.token, body: { text: "转人工" } });
      await until(() => hook.got.some((g) => g.event === "handoff.requested" && g.body.includes(c.id)), "handoff.requested is delivered");
      for (const g of hook.got) assert.ok(verifySignature(SECRET, g.ts, g.body, g.signature), `signature of ${g.event}`);
      assert.ok(!verifySignature("wrong", hook.got[0].ts, hook.got[0].body, hook.got[0].signature));
      const mine = hook.got.filter((g) => g.body.includes(c.id)).map((g) => g.event);
      assert.ok(mine.includes("message.created"), `events for ${c.id}: ${mine.join(", ")}`);
      assert.ok(mine.indexOf("message.created") < mine.indexOf("handoff.requested"), `a target gets its events in order: ${mine.join(", ")}`);
      await until(async () => (await desk.service.outbox.rows()).some((r) => r.targetUrl === hole.url && r.status === "failed"), "the silent target is given up", 20_000);
      const dead = (await desk.service.outbox.rows()).find((r) => r.targetUrl === hole.url)!;
      assert.equal(dead.attempts, 2);
      assert.match(dead.lastError ?? "", /no answer within 300 ms/);
      assert.equal((await desk.service.conversations.conversation(c.id))?.status, "queued", "the hand-off itself stands");
    });

    test("desk API: login, roles, audit, bearer tokens, leads CSV masked by role, preference export", async () => {
      assert.equal((await call(desk.url, "GET", "/api/desk/queue")).status, 401);
      const bad = await call(desk.url, "POST", "/desk/login", { body: { username: "agent1", password: "nope" } });
      assert.equal(bad.status, 401);
      const login = await call(desk.url, "POST", "/desk/login", { body: { username: "agent1", password: "agent-pass-1" } });
      const setCookie = login.headers.get("set-cookie") ?? "";
      assert.match(setCookie, /HttpOnly/);
      assert.match(setCookie, /SameSite=Strict/);
      const agentCookie = setCookie.split(";")[0];
      assert.equal((await call(desk.url, "GET", "/api/desk/users", { cookie: agentCookie })).status, 403);
      assert.equal((await call(desk.url, "GET", "/api/desk/leads.csv", { cookie: agentCookie })).status, 403);
      // A lead, captured after the offer.
      const c = (await call(desk.url, "POST", "/api/conversations", { body: { language: "zh" } })).json;
      const offer = await call(desk.url, "POST", `/api/conversations/${c.id}/messages`, { token: c.token, body: { text: "我想订故宫附近的酒店" } });
      assert.match(offer.json.reply.text, /手机号/);
      assert.ok(offer.json.reply.suggestions.length >= 1 && offer.json.reply.suggestions.length <= 3);
      const bad1 = await call(desk.url, "POST", `/api/conversations/${c.id}/messages`, { token: c.token, body: { text: "我叫王五，手机1381234" } });
      assert.match(bad1.json.reply.text, /不是有效的大陆手机号/);
      await call(desk.url, "POST", `/api/conversations/${c.id}/messages`, { token: c.token, body: { text: "我叫王五，手机 138-0013-8000，邮箱 wangwu@example.com" } });
      const agentLeads = (await call(desk.url, "GET", "/api/desk/leads", { cookie: agentCookie })).json.leads;
      const lead = agentLeads.find((l: { conversationId: string }) => l.conversationId === c.id);
      assert.equal(lead.phone, "138****8000");
      assert.equal(lead.email, "w***@example.com");
      assert.equal(lead.name, "王五");
      // Details volunteered with no offer pending (the offer was followed by another question) are a lead too.
      const v = (await call(desk.url, "POST", "/api/conversations", { body: { language: "zh" } })).json;
      assert.match((await call(desk.url, "POST", `/api/conversations/${v.id}/messages`, { token: v.token, body: { text: "我想订故宫附近的酒店" } })).json.reply.text, /手机号/);
      await call(desk.url, "POST", `/api/conversations/${v.id}/messages`, { token: v.token, body: { text: "故宫门票多少钱？" } });
      const volunteered = await call(desk.url, "POST", `/api/conversations/${v.id}/messages`, { token: v.token, body: { text: "我叫赵六，手机13900139000" } });
      assert.match(volunteered.json.reply.text, /谢谢赵六/);
      const vLead = (await call(desk.url, "GET", "/api/desk/leads", { cookie: agentCookie })).json.leads.find((l: { conversationId: string }) => l.conversationId === v.id);
      assert.equal(vLead?.phone, "139****9000");
      const adminCookie = (await call(desk.url, "POST", "/desk/login", { body: { username: "admin", password: "admin-pass-1" } })).headers.get("set-cookie")!.split(";")[0];
      const csv = await call(desk.url, "GET", "/api/desk/leads.csv", { cookie: adminCookie });
      assert.equal(csv.status, 200);
      assert.match(csv.text, /王五,13800138000,wangwu@example\.com/);
      const created = await call(desk.url, "POST", "/api/desk/users", { cookie: adminCookie, body: { username: "sup1", password: "sup-pass-12", role: "supervisor" } });
      assert.equal(created.status, 201);
      const audit = (await call(desk.url, "GET", "/api/desk/audit", { cookie: adminCookie })).json.audit.map((a: { action: string }) => a.action);
      assert.ok(audit.includes("user.create") && audit.includes("leads.export"), audit.join(","));
      const token = (await call(desk.url, "POST", "/api/desk/tokens", { cookie: agentCookie })).json.token;
      assert.equal((await call(desk.url, "GET", "/api/desk/me", { token })).json.user.username, "agent1");
      assert.equal((await call(desk.url, "GET", "/api/desk/me", { token: agentCookie.split("=")[1] })).status, 401, "a cookie secret is not a bearer token");
      // The agent takes an angry conversation and edits the draft: a preference pair, exported by the CLI.
      const d = (await call(desk.url, "POST", "/api/conversations", { body: { language: "zh" } })).json;
      await call(desk.url, "POST", `/api/conversations/${d.id}/messages`, { token: d.token, body: { text: "转人工" } });
      assert.equal((await call(desk.url, "POST", `/api/desk/conversations/${d.id}/reply`, { token, body: { text: "hi" } })).status, 409, "take it first");
      assert.equal((await call(desk.url, "POST", `/api/desk/conversations/${d.id}/take`, { token, body: {} })).status, 200);
      const draft = (await call(desk.url, "GET", `/api/desk/conversations/${d.id}/assist`, { token })).json.draft;
      assert.ok(draft.length > 0);
      await call(desk.url, "POST", `/api/desk/conversations/${d.id}/reply`, { token, body: { text: "您好，我是人工客服小王，请问需要什么帮助？", draft } });
      await call(desk.url, "POST", `/api/desk/conversations/${d.id}/close`, { token, body: {} });
      await until(() => hook.got.some((g) => g.event === "conversation.closed" && g.body.includes(d.id)), "conversation.closed is delivered");
      if (desk.db.dialect === "sqlite") {
        const out = path.join(dir, "prefs.jsonl");
        const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "desk", "export-preferences", "--db", db, "--out", out], { encoding: "utf8" });
        assert.equal(r.status, 0, r.stderr);
        const lines = readFileSync(out, "utf8").trim().split("\n").map((l) => JSON.parse(l));
        const pair = lines.find((l) => l.chosen === "您好，我是人工客服小王，请问需要什么帮助？");
        assert.deepEqual(Object.keys(pair).sort(), ["chosen", "prompt", "rejected"]);
        assert.equal(pair.rejected, draft);
        assert.match(pair.prompt, /^customer: 转人工\nassistant: /);
        // The alignment side (src/train/preference-data.ts) reads it as its explicit-prompt form.
        for (const [i, { record, where }] of readRecords(out).entries()) assert.equal(detectForm(record, where), "explicit", `line ${i + 1}`);
      }
    });
  });
}

suite("SQLite", async () => {
  const d = mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-db-"));
  return { db: path.join(d, "desk.sqlite"), cleanup: () => rmSync(d, { recursive: true, force: true }) };
}, false);

let pg: TestPostgres | undefined;
suite("PostgreSQL", async () => {
  pg = await startPostgres();
  return { db: pg.url, cleanup: () => pg?.stop() };
}, pgSkipReason);

describe("two desk processes sharing one PostgreSQL", { skip: pgSkipReason }, () => {
  test("with polling off, LISTEN/NOTIFY carries one process's messages and status to the other's streams", async () => {
    const server = await startPostgres();
    const dirs = [mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-a-")), mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-b-"))];
    // pollMs of ten minutes: anything B's stream shows within seconds came through NOTIFY.
    const [a, b] = await Promise.all(dirs.map((dataDir) => startDesk({ config: loadConfig(), db: server.url, dataDir, port: 0, pollMs: 600_000 })));
    try {
      const c = (await call(a.url, "POST", "/api/conversations", { body: { language: "zh" } })).json;
      const stream = await fetch(`${b.url}/api/conversations/${c.id}/stream?token=${c.token}`);
      const reader = stream.body!.getReader();
      const dec = new TextDecoder();
      let seen = dec.decode((await reader.read()).value);
      assert.match(seen, /event: status/, "the stream is open before the message is posted");
      await call(a.url, "POST", `/api/conversations/${c.id}/messages`, { token: c.token, body: { text: "故宫门票多少钱？" } });
      await call(a.url, "POST", `/api/conversations/${c.id}/messages`, { token: c.token, body: { text: "转人工" } });
      const end = Date.now() + 8_000;
      while (!(/60元/.test(seen) && /"status":"queued"/.test(seen)) && Date.now() < end) {
        const next = await Promise.race([reader.read(), new Promise<null>((r) => setTimeout(() => r(null), end - Date.now()))]);
        if (!next || next.done) break;
        seen += dec.decode(next.value);
      }
      await reader.cancel();
      assert.match(seen, /event: message\ndata: .*故宫门票多少钱/);
      assert.match(seen, /60元/, "A's bot reply reached B's stream without polling");
      assert.match(seen, /"status":"queued"/, "A's hand-off status reached B's stream");
    } finally {
      await a.close();
      await b.close();
      server.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });

  test("a message posted to one is streamed by the other", async () => {
    const server = await startPostgres();
    const dirs = [mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-a-")), mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-b-"))];
    const [a, b] = await Promise.all(dirs.map((dataDir) => startDesk({ config: loadConfig(), db: server.url, dataDir, port: 0, pollMs: 200 })));
    try {
      const c = (await call(a.url, "POST", "/api/conversations", { body: { language: "zh" } })).json;
      const stream = await fetch(`${b.url}/api/conversations/${c.id}/stream?token=${c.token}`);
      const reader = stream.body!.getReader();
      await call(a.url, "POST", `/api/conversations/${c.id}/messages`, { token: c.token, body: { text: "故宫门票多少钱？" } });
      let seen = "";
      const dec = new TextDecoder();
      const end = Date.now() + 10_000;
      while (!/60元/.test(seen) && Date.now() < end) seen += dec.decode((await reader.read()).value);
      await reader.cancel();
      assert.match(seen, /event: message\ndata: .*故宫门票多少钱/);
      assert.match(seen, /60元/);
    } finally {
      await a.close();
      await b.close();
      server.stop();
      for (const d of dirs) rmSync(d, { recursive: true, force: true });
    }
  });
});

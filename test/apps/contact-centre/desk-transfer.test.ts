// Transfers in the desk over HTTP (real desk server, SQLite): the owner hands a conversation to another agent (who
// owns it at once) or to a team (back in the queue); a supervisor may route any open one; the customer is told;
// each transfer is an event and a signed `handoff.transferred` webhook; bad requests name the field and the fix.
// Then the agent analysis counts the transfer rate per agent and per team from the desk's own events, against
// values worked out by hand below (a supervisor routing a queued conversation is not the agent's transfer).
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { verifySignature } from "../../../src/apps/contact-centre/channels/webhooks.js";
import { loadConfig } from "../../../src/apps/contact-centre/config.js";
import { DEFAULT_RUBRIC } from "../../../src/apps/contact-centre/inspection/rubric.js";
import { startDesk, type RunningDesk } from "../../../src/apps/contact-centre/server/app.js";

const SECRET = "whsec-transfer-0123456789";
let desk: RunningDesk;
let dir: string;
let hookServer: http.Server;
const hooks: { event: string; body: string; ts: number; signature: string }[] = [];
const cookies: Record<string, string> = {};

before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-transfer-"));
  hookServer = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      hooks.push({ event: String(req.headers["x-zhiyu-event"]), body: Buffer.concat(chunks).toString("utf8"), ts: Number(req.headers["x-zhiyu-timestamp"]), signature: String(req.headers["x-zhiyu-signature"]) });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => hookServer.listen(0, "127.0.0.1", () => r()));
  const hookUrl = `http://127.0.0.1:${(hookServer.address() as AddressInfo).port}/hook`;
  const base = loadConfig();
  const config = { ...base, inspection: { ...DEFAULT_RUBRIC, teams: { north: ["li", "wang"], south: ["zhao"] } },
    webhooks: [{ url: hookUrl, events: ["handoff.transferred" as const], secret_env: "HOOK_SECRET" }] };
  desk = await startDesk({ config, db: path.join(dir, "desk.sqlite"), dataDir: dir, port: 0, webhookSecrets: { [hookUrl]: SECRET }, webhookPollMs: 100 });
  for (const [username, role] of [["li", "agent"], ["wang", "agent"], ["zhao", "agent"], ["sup", "supervisor"]] as const) {
    await desk.accounts.createUser({ username, password: `${username}-pass-1`, role });
    const r = await fetch(`${desk.url}/desk/login`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ username, password: `${username}-pass-1` }) });
    cookies[username] = r.headers.get("set-cookie")!.split(";")[0];
  }
});

after(async () => {
  await desk?.close();
  await new Promise<void>((r) => (hookServer ? hookServer.close(() => r()) : r()));
  rmSync(dir, { recursive: true, force: true });
});

async function as(user: string, method: string, p: string, body?: unknown): Promise<{ status: number; json: any }> {
  const res = await fetch(desk.url + p, { method, headers: { cookie: cookies[user], ...(body !== undefined ? { "content-type": "application/json" } : {}) },
    body: body !== undefined ? JSON.stringify(body) : undefined });
  return { status: res.status, json: await res.json() };
}

/** A customer conversation handed off to the queue. */
async function queued(): Promise<string> {
  const c = await (await fetch(`${desk.url}/api/conversations`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ language: "zh" }) })).json() as { id: string; token: string };
  await fetch(`${desk.url}/api/conversations/${c.id}/messages`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${c.token}` }, body: JSON.stringify({ text: "转人工" }) });
  assert.equal((await desk.service.conversations.conversation(c.id))?.status, "queued");
  return c.id;
}

const ok = (r: { status: number; json: any }, status = 200) => assert.equal(r.status, status, JSON.stringify(r.json));

test("transfers to an agent and to a team: owner, events, webhook, customer notice, errors; transfer rates per agent and team", { timeout: 60_000 }, async () => {
  // A: li takes, replies, transfers to wang; wang replies and closes.
  const a = await queued();
  ok(await as("li", "POST", `/api/desk/conversations/${a}/take`, {}));
  ok(await as("li", "POST", `/api/desk/conversations/${a}/reply`, { text: "您好，这个问题我帮您转给同事。" }), 201);
  const targets = (await as("li", "GET", "/api/desk/transfer-targets")).json;
  assert.deepEqual(targets.agents.map((x: { username: string }) => x.username), ["wang", "zhao"], "other active agents");
  assert.deepEqual(targets.teams, ["north", "south"]);
  const moved = await as("li", "POST", `/api/desk/conversations/${a}/transfer`, { to: "wang", reason: "退款专员" });
  ok(moved);
  assert.equal(moved.json.conversation.status, "agent");
  assert.equal(moved.json.conversation.assignee, "wang");
  assert.equal((await as("li", "POST", `/api/desk/conversations/${a}/reply`, { text: "还在吗" })).status, 409, "li no longer owns it");
  ok(await as("wang", "POST", `/api/desk/conversations/${a}/reply`, { text: "您好，我来处理退款，感谢您的耐心，再见！" }), 201);
  const detail = (await as("sup", "GET", `/api/desk/conversations/${a}`)).json;
  const ev = detail.events.find((e: { type: string }) => e.type === "handoff.transferred");
  assert.equal(ev.actor, "li");
  assert.deepEqual(ev.detail, { from: "li", to: "wang", team: "north", reason: "退款专员" });
  assert.ok(detail.messages.some((m: { role: string; text: string }) => m.role === "system" && m.text === "正在为您转接其他客服，请稍候。"), "the customer is told");
  ok(await as("wang", "POST", `/api/desk/conversations/${a}/close`, {}));

  // B: li handles alone.  C: zhao transfers to team north (queued again); wang takes it.  E: zhao alone.
  const b = await queued();
  ok(await as("li", "POST", `/api/desk/conversations/${b}/take`, {}));
  ok(await as("li", "POST", `/api/desk/conversations/${b}/reply`, { text: "您好，已为您处理好，再见！" }), 201);
  ok(await as("li", "POST", `/api/desk/conversations/${b}/close`, {}));
  const c = await queued();
  ok(await as("zhao", "POST", `/api/desk/conversations/${c}/take`, {}));
  const toTeam = await as("zhao", "POST", `/api/desk/conversations/${c}/transfer`, { team: "north" });
  ok(toTeam);
  assert.equal(toTeam.json.conversation.status, "queued");
  assert.equal(toTeam.json.conversation.assignee, null);
  assert.match(toTeam.json.conversation.handoffReason, /north/);
  assert.ok((await as("wang", "GET", "/api/desk/queue")).json.queue.some((q: { id: string }) => q.id === c), "back in the queue");
  ok(await as("wang", "POST", `/api/desk/conversations/${c}/take`, {}));
  ok(await as("wang", "POST", `/api/desk/conversations/${c}/close`, {}));
  const e = await queued();
  ok(await as("zhao", "POST", `/api/desk/conversations/${e}/take`, {}));
  ok(await as("zhao", "POST", `/api/desk/conversations/${e}/close`, {}));
  // D: a supervisor routes a queued conversation nobody owned to zhao (routing, not zhao's transfer).
  const d = await queued();
  const routed = await as("sup", "POST", `/api/desk/conversations/${d}/transfer`, { to: "zhao" });
  ok(routed);
  assert.equal(routed.json.conversation.assignee, "zhao");
  ok(await as("zhao", "POST", `/api/desk/conversations/${d}/reply`, { text: "您好，我是小赵，马上处理，再见！" }), 201);
  ok(await as("zhao", "POST", `/api/desk/conversations/${d}/close`, {}));

  // Bad requests name the field and the fix.
  const f = await queued();
  assert.equal((await as("li", "POST", `/api/desk/conversations/${f}/transfer`, { to: "wang" })).status, 409, "an agent transfers only what they own");
  ok(await as("li", "POST", `/api/desk/conversations/${f}/take`, {}));
  const both = await as("li", "POST", `/api/desk/conversations/${f}/transfer`, { to: "wang", team: "north" });
  assert.equal(both.status, 400);
  assert.match(both.json.error.message, /exactly one of "to".*or "team"/);
  const team = await as("li", "POST", `/api/desk/conversations/${f}/transfer`, { team: "east" });
  assert.equal(team.status, 400);
  assert.match(team.json.error.message, /"team": "east" is not a team \(configured: north, south\)/);
  const nobody = await as("li", "POST", `/api/desk/conversations/${f}/transfer`, { to: "sup" });
  assert.equal(nobody.status, 400);
  assert.match(nobody.json.error.message, /"to": "sup" is not an active agent/);
  assert.equal((await as("li", "POST", `/api/desk/conversations/${a}/transfer`, { to: "zhao" })).status, 409, "closed (and not li's)");
  assert.equal((await as("sup", "POST", `/api/desk/conversations/${a}/transfer`, { to: "zhao" })).status, 409, "closed");

  // Webhooks: three transfers (A, C, D), signed, in order.
  const deadline = Date.now() + 15_000;
  while (hooks.length < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  assert.equal(hooks.length, 3, hooks.map((h) => h.body).join("\n"));
  for (const h of hooks) {
    assert.equal(h.event, "handoff.transferred");
    assert.ok(verifySignature(SECRET, h.ts, h.body, h.signature));
  }
  assert.deepEqual(hooks.map((h) => { const x = JSON.parse(h.body).data; return [x.conversation_id, x.by, x.from, x.to, x.team]; }),
    [[a, "li", "li", "wang", "north"], [c, "zhao", "zhao", null, "north"], [d, "sup", null, "zhao", "south"]]);

  // Analysis from the desk's events. A conversation's agent is the first who owned it: li (A, B), zhao (C, D, E).
  // Transfers made by that agent: li 1 of 2 (A), zhao 1 of 3 (C; D was the supervisor's routing). Teams: north =
  // li's 2 conversations (1 transferred), south = zhao's 3 (1 transferred).
  await desk.inspections.idle();
  const analysis = (await as("sup", "GET", "/api/desk/analysis")).json.analysis;
  const rate = (rows: { key: string; handled: number; transferRate: number }[]) => Object.fromEntries(rows.map((r) => [r.key, [r.handled, r.transferRate]]));
  assert.deepEqual(rate(analysis.agents), { li: [2, 1 / 2], zhao: [3, 1 / 3] });
  assert.deepEqual(rate(analysis.teams), { north: [2, 1 / 2], south: [3, 1 / 3] });
  const csv = await (await fetch(`${desk.url}/api/desk/analysis/agents.csv`, { headers: { cookie: cookies.sup } })).text();
  assert.match(csv, /\r\nzhao,3,[^\r]*,0\.333,/, "the CSV carries the transfer rate");
});

// The desk store on SQLite and on a real PostgreSQL server (started by the harness): the same migrations apply to
// both and are idempotent, a newer schema is refused, messages keep their order and a retried client id stores once,
// the queue orders by priority then waiting time, sessions and passwords (Argon2) work and disabled users lose
// them, the outbox leases a row to one claimant at a time, and data survives closing and reopening.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Accounts } from "../../../src/apps/contact-centre/store/accounts.js";
import { migrate, MIGRATIONS } from "../../../src/apps/contact-centre/store/migrations.js";
import { Outbox } from "../../../src/apps/contact-centre/store/outbox.js";
import { openDatabase, toDollarParams, type SqlDb } from "../../../src/apps/contact-centre/store/sql.js";
import { ConversationStore } from "../../../src/apps/contact-centre/store/store.js";
import { pgSkipReason, startPostgres, type TestPostgres } from "./postgres-harness.js";

test("? placeholders become $n outside string literals", () => {
  assert.equal(toDollarParams("SELECT '?', a FROM t WHERE a = ? AND b = ?"), "SELECT '?', a FROM t WHERE a = $1 AND b = $2");
});

function suite(name: string, open: () => Promise<{ target: string; cleanup: () => void }>, skip: string | false) {
  describe(`desk store on ${name}`, { skip }, () => {
    let target: string;
    let cleanup: () => void;
    let db: SqlDb;
    before(async () => {
      ({ target, cleanup } = await open());
      db = await openDatabase(target);
    });
    after(async () => {
      await db?.close();
      cleanup?.();
    });

    test("migrations apply once, in order, and a newer schema is refused", async () => {
      assert.deepEqual(await migrate(db), MIGRATIONS.map((m) => m.version));
      assert.deepEqual(await migrate(db), []);
      const future = [...MIGRATIONS, { version: 99, name: "future", sql: "CREATE TABLE future_t (x INTEGER)" }];
      assert.deepEqual(await migrate(db, future), [99]);
      await assert.rejects(migrate(db), new RegExp(`schema version 99 but this build knows up to ${Math.max(...MIGRATIONS.map((m) => m.version))}`));
    });

    test("conversations, messages with client ids, events, queue order", async () => {
      const s = new ConversationStore(db);
      const { conversation: a, token } = await s.createConversation({ channel: "widget", language: "zh", state: { turns: 0 } });
      assert.ok(token.length >= 40);
      assert.equal((await s.conversationForToken(a.id, token))?.id, a.id);
      assert.equal(await s.conversationForToken(a.id, token + "x"), undefined);
      const m1 = await s.addMessage(a.id, { role: "customer", text: "故宫门票多少钱", clientId: "k1", intent: "ticket_price", emotion: "neutral" });
      const again = await s.addMessage(a.id, { role: "customer", text: "故宫门票多少钱", clientId: "k1" });
      assert.equal(again.duplicate, true);
      assert.equal(again.message.id, m1.message.id);
      await s.addMessage(a.id, { role: "bot", text: "60元", meta: { citations: [{ doc: "faq.csv#1" }] } });
      const msgs = await s.messages(a.id);
      assert.deepEqual(msgs.map((m) => m.role), ["customer", "bot"]);
      assert.deepEqual(msgs[1].meta, { citations: [{ doc: "faq.csv#1" }] });
      assert.deepEqual((await s.messages(a.id, msgs[0].seq)).map((m) => m.text), ["60元"]);
      await s.addEvent(a.id, "handoff.requested", "bot", { reason: "emotion" });
      assert.equal((await s.events(a.id))[0].detail.reason, "emotion");
      const { conversation: b } = await s.createConversation({ channel: "api", language: "en", state: {} });
      const { conversation: c } = await s.createConversation({ channel: "api", language: "en", state: {} });
      await s.updateConversation(a.id, { status: "queued", priority: 1, queuedAt: 1000 });
      await s.updateConversation(b.id, { status: "queued", priority: 2, queuedAt: 3000 });
      await s.updateConversation(c.id, { status: "queued", priority: 1, queuedAt: 500 });
      assert.deepEqual((await s.queue()).map((x) => x.id), [b.id, c.id, a.id]);
      await s.updateConversation(a.id, { state: { turns: 3, slots: { attraction: "故宫" } } });
      assert.deepEqual((await s.conversation(a.id))?.state, { turns: 3, slots: { attraction: "故宫" } });
    });

    test("a failed transaction leaves nothing behind", async () => {
      const s = new ConversationStore(db);
      const { conversation } = await s.createConversation({ channel: "widget", language: "zh", state: {} });
      await assert.rejects(db.transaction(async (tx) => {
        await s.addMessage(conversation.id, { role: "bot", text: "half" }, tx);
        throw new Error("boom");
      }), /boom/);
      assert.deepEqual(await s.messages(conversation.id), []);
    });

    test("users, Argon2 passwords, sessions, audit", async () => {
      const acc = new Accounts(db);
      const u = await acc.createUser({ username: "agent1", password: "correct horse", role: "agent" });
      assert.equal(await acc.checkPassword("agent1", "wrong password"), undefined);
      assert.equal((await acc.checkPassword("agent1", "correct horse"))?.id, u.id);
      const row = await db.get<{ password_hash: string }>("SELECT password_hash FROM users WHERE id = ?", [u.id]);
      assert.match(row!.password_hash, /^\$argon2id\$/);
      const tok = await acc.createSession(u.id, "cookie", 60_000);
      assert.equal((await acc.sessionUser(tok, "cookie"))?.username, "agent1");
      assert.equal(await acc.sessionUser(tok, "api"), undefined, "a cookie secret is not an API token");
      await acc.setDisabled(u.id, true);
      assert.equal(await acc.sessionUser(tok, "cookie"), undefined);
      await acc.audit("admin", "user.disable", u.id);
      assert.equal((await acc.auditLog())[0].action, "user.disable");
      await assert.rejects(acc.createUser({ username: "x y", password: "12345678", role: "agent" }), /username/);
    });

    test("the outbox leases each due row to one claimant", async () => {
      const box = new Outbox(db);
      await box.enqueue("message.created", { id: 1 }, ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]);
      const [first, second] = await Promise.all([box.claimDue(10, 60_000), box.claimDue(10, 60_000)]);
      assert.equal(first.length + second.length, 2);
      await box.attemptFailed(first.concat(second)[0].seq, "timeout", Date.now() + 60_000);
      await box.delivered(first.concat(second)[1].seq);
      assert.deepEqual(await box.claimDue(10, 60_000), []);
      assert.deepEqual((await box.rows()).map((r) => r.status).sort(), ["delivered", "pending"]);
    });

    test("data survives closing and reopening", async () => {
      const s = new ConversationStore(db);
      const { conversation } = await s.createConversation({ channel: "widget", language: "zh", state: {} });
      await s.addMessage(conversation.id, { role: "customer", text: "还在吗" });
      await db.close();
      db = await openDatabase(target);
      assert.deepEqual((await new ConversationStore(db).messages(conversation.id)).map((m) => m.text), ["还在吗"]);
    });
  });
}

suite("SQLite", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-store-"));
  return { target: path.join(dir, "desk.sqlite"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}, false);

let pgServer: TestPostgres | undefined;
suite("PostgreSQL", async () => {
  pgServer = await startPostgres();
  return { target: pgServer.url, cleanup: () => pgServer?.stop() };
}, pgSkipReason);

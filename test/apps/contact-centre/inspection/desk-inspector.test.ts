// Inspection inside the desk store, on SQLite and on a real PostgreSQL: a closed conversation becomes a transcript
// (turns with their times, the agent who took it, hand-off/hand-back events, intent and sentiment tags), its result
// is stored in the `inspections` table (migration 3) with the rubric version, open conversations are not inspected,
// and after a rubric change catch-up re-inspects exactly the stale results under the new version.
import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DeskInspector, storedTranscript } from "../../../../src/apps/contact-centre/inspection/desk-inspector.js";
import { Inspector } from "../../../../src/apps/contact-centre/inspection/engine.js";
import { DEFAULT_RUBRIC, rubricVersion, type RubricConfig } from "../../../../src/apps/contact-centre/inspection/rubric.js";
import { migrate } from "../../../../src/apps/contact-centre/store/migrations.js";
import { openDatabase, type SqlDb } from "../../../../src/apps/contact-centre/store/sql.js";
import { ConversationStore } from "../../../../src/apps/contact-centre/store/store.js";
import { pgSkipReason, startPostgres, type TestPostgres } from "../postgres-harness.js";

const STRICT: RubricConfig = { version: "strict", items: [{ id: "banned", type: "forbidden_phrases", weight: 1, phrases: { zh: ["不归我管"] } }] };

function suite(name: string, open: () => Promise<{ target: string; cleanup: () => void }>, skip: string | false) {
  describe(`inspection in the desk store on ${name}`, { skip }, () => {
    let db: SqlDb;
    let cleanup: () => void;
    before(async () => {
      const o = await open();
      cleanup = o.cleanup;
      db = await openDatabase(o.target);
      await migrate(db);
    });
    after(async () => {
      await db?.close();
      cleanup?.();
    });

    test("closed conversations are stored with their version; a rubric change redoes exactly the stale ones", async () => {
      const s = new ConversationStore(db);
      const make = async (reply: string, close: boolean) => {
        const { conversation } = await s.createConversation({ channel: "widget", language: "zh", state: {} });
        const m = await s.addMessage(conversation.id, { role: "customer", text: "我要退票" });
        await s.tagMessage(m.message.id, { intent: "refund", confidence: 0.9, emotion: "anger", sentiment: -0.6 });
        await s.addMessage(conversation.id, { role: "bot", text: "您好，正在为您转接人工客服。" });
        await s.addEvent(conversation.id, "handoff.requested", "bot");
        await new Promise((r) => setTimeout(r, 5));
        await s.addEvent(conversation.id, "handoff.taken", "li");
        await s.addMessage(conversation.id, { role: "agent", text: reply, author: "小李" });
        if (close) await s.updateConversation(conversation.id, { status: "closed", closedAt: Date.now() });
        return conversation.id;
      };
      const a = await make("您好，退票的事不归我管。", true);
      const b = await make("您好，已为您退票，感谢您，再见！", true);
      const open = await make("您好，稍等。", false);
      const t = await storedTranscript(s, (await s.conversation(a))!);
      assert.deepEqual(t.turns.map((x) => x.role), ["customer", "bot", "agent"]);
      assert.equal(t.agent, "li");
      assert.equal(t.turns[2].author, "li", "an agent turn's author is the username that owned it");
      assert.equal(t.turns[0].intent, "refund");
      assert.equal(t.turns[0].sentiment, -0.6);
      assert.equal(t.intent, "refund");
      assert.deepEqual(t.events?.map((e) => e.type), ["handoff"]);
      assert.ok(t.turns.every((x) => typeof x.ts === "number"));

      const v1 = new DeskInspector(db, new Inspector(DEFAULT_RUBRIC, null));
      assert.equal(await v1.catchUp(), 2, "both closed conversations; not the open one");
      assert.equal(await v1.inspection(open), undefined);
      const ra = (await v1.inspection(a))!;
      assert.equal(ra.rubric_version, `${rubricVersion(DEFAULT_RUBRIC)}+rules`);
      // Sorted by turn and start: the missing closing covers the whole last agent turn, the forbidden phrase its words.
      assert.deepEqual(ra.marks.map((m) => [m.item, m.turn, t.turns[m.turn].text.slice(m.start, m.end)]), [["closing", 2, "您好，退票的事不归我管。"], ["forbidden", 2, "不归我管"]]);
      assert.equal((await v1.inspection(b))!.score, 100);
      assert.equal(await v1.catchUp(), 0, "nothing stale under the same rubric");
      // A new rubric: both closed ones are redone under its version; closing the open one inspects it too.
      const v2 = new DeskInspector(db, new Inspector(STRICT, null));
      assert.equal(await v2.catchUp(), 2);
      assert.equal((await v2.inspection(a))!.rubric_version, `${rubricVersion(STRICT)}+rules`);
      assert.equal((await v2.inspection(a))!.score, 0);
      assert.equal((await v2.inspection(b))!.score, 100);
      await s.updateConversation(open, { status: "closed", closedAt: Date.now() });
      v2.enqueue(open);
      await v2.idle();
      assert.equal((await v2.inspection(open))!.rubric_version, `${rubricVersion(STRICT)}+rules`);
      assert.equal((await v2.inspected()).length, 3);
    });

    test("the dashboard's loader reads 1,000+ closed conversations in 7 queries, the same as one by one", async () => {
      const s = new ConversationStore(db);
      // 1,100 more closed conversations (one customer turn each), inserted 100 rows a statement.
      const t0 = Date.now();
      for (let b = 0; b < 11; b++) {
        const ids = Array.from({ length: 100 }, (_, i) => `bulk_${b}_${i}`);
        await db.run(`INSERT INTO conversations (id, token_hash, channel, language, status, priority, state, created_at, updated_at, closed_at) VALUES ${ids.map(() => "(?, 'x', 'web', 'zh', 'closed', 0, '{}', ?, ?, ?)").join(", ")}`,
          ids.flatMap((id, i) => [id, t0 + i, t0 + i, t0 + b * 100 + i]));
        await db.run(`INSERT INTO messages (id, conversation_id, role, text, meta, created_at) VALUES ${ids.map(() => "(?, ?, 'customer', ?, '{}', ?)").join(", ")}`,
          ids.flatMap((id, i) => [`m_${id}`, id, `第${b * 100 + i}个问题？`, t0 + i]));
      }
      let queries = 0;
      const counted: SqlDb = new Proxy(db, { get: (target, key) => {
        const v = Reflect.get(target, key) as unknown;
        if (typeof v !== "function") return v;
        return (...args: unknown[]) => {
          if (key === "all" || key === "get" || key === "run" || key === "exec") queries++;
          return (v as (...a: unknown[]) => unknown).apply(target, args);
        };
      } });
      const loader = new DeskInspector(counted, new Inspector(STRICT, null));
      const all = await loader.inspected(2000);
      assert.equal(all.length, 1103);
      // 1 (conversations) + 3 tables × 2 batches of at most 1,000 ids; the per-conversation loader took 1 + 4 × 1,103.
      assert.equal(queries, 7);
      assert.deepEqual(all.slice(0, 3).map((x) => x.conversation.id), ["bulk_10_99", "bulk_10_98", "bulk_10_97"], "newest closed first");
      assert.equal(all[0].transcript.turns[0].text, "第1099个问题？");
      // Every row equals what the one-by-one path (storedTranscript + inspection) gives.
      for (const x of all) {
        assert.deepEqual(x.transcript, await storedTranscript(s, x.conversation), x.conversation.id);
        assert.deepEqual(x.report, await loader.inspection(x.conversation.id), x.conversation.id);
      }
      assert.ok(all.filter((x) => x.report !== undefined).length === 3, "the three inspected earlier carry their results");
    });
  });
}

suite("SQLite", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-inspect-"));
  return { target: path.join(dir, "desk.sqlite"), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}, false);

let pgServer: TestPostgres | undefined;
suite("PostgreSQL", async () => {
  pgServer = await startPostgres();
  return { target: pgServer.url, cleanup: () => pgServer?.stop() };
}, pgSkipReason);

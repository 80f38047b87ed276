// The desk's database schema as numbered migrations, the same list for SQLite and PostgreSQL (the few dialect
// differences are spelled as tokens: {{serial}} for an auto-numbered key, {{big}} for a 64-bit integer), and the
// runner that applies the missing ones in order, each in its own transaction, recording them in schema_migrations.
// On PostgreSQL the runner takes an advisory lock first, so several desk processes starting together migrate once.
// A database whose recorded version is newer than this build knows is refused (an older build must not write it).
// Leaves out: down-migrations (schema changes are additive; restore a backup to go back).
import type { SqlDb } from "./sql.js";

export interface Migration {
  version: number;
  name: string;
  sql: string;
}

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: "conversations, messages, events, users, sessions, audit, outbox",
    sql: `
CREATE TABLE users (
  id TEXT PRIMARY KEY, username TEXT NOT NULL UNIQUE, display_name TEXT NOT NULL, role TEXT NOT NULL,
  password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, created_at {{big}} NOT NULL);
CREATE TABLE sessions (
  token_hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id), kind TEXT NOT NULL,
  created_at {{big}} NOT NULL, expires_at {{big}} NOT NULL);
CREATE TABLE conversations (
  id TEXT PRIMARY KEY, token_hash TEXT NOT NULL, channel TEXT NOT NULL, language TEXT NOT NULL,
  status TEXT NOT NULL, assignee TEXT, priority INTEGER NOT NULL DEFAULT 0, handoff_reason TEXT,
  queued_at {{big}}, state TEXT NOT NULL, page_url TEXT, created_at {{big}} NOT NULL,
  updated_at {{big}} NOT NULL, closed_at {{big}});
CREATE INDEX conversations_status ON conversations(status, priority, queued_at);
CREATE TABLE messages (
  seq {{serial}}, id TEXT NOT NULL UNIQUE, conversation_id TEXT NOT NULL REFERENCES conversations(id),
  role TEXT NOT NULL, author TEXT, text TEXT NOT NULL, intent TEXT, confidence REAL, emotion TEXT, sentiment REAL,
  meta TEXT, client_id TEXT, created_at {{big}} NOT NULL);
CREATE UNIQUE INDEX messages_client_id ON messages(conversation_id, client_id);
CREATE INDEX messages_conversation ON messages(conversation_id, seq);
CREATE TABLE events (
  seq {{serial}}, conversation_id TEXT NOT NULL REFERENCES conversations(id), type TEXT NOT NULL, actor TEXT,
  detail TEXT, created_at {{big}} NOT NULL);
CREATE INDEX events_conversation ON events(conversation_id, seq);
CREATE TABLE audit_log (
  seq {{serial}}, actor TEXT NOT NULL, action TEXT NOT NULL, target TEXT, detail TEXT, created_at {{big}} NOT NULL);
CREATE TABLE webhook_outbox (
  seq {{serial}}, event TEXT NOT NULL, target_url TEXT NOT NULL, payload TEXT NOT NULL,
  attempts INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL, next_attempt_at {{big}} NOT NULL,
  locked_until {{big}} NOT NULL DEFAULT 0, last_error TEXT, created_at {{big}} NOT NULL, delivered_at {{big}});
CREATE INDEX webhook_outbox_due ON webhook_outbox(status, next_attempt_at);
`,
  },
  {
    version: 2,
    name: "leads, recommendations, feedback, preference pairs",
    sql: `
CREATE TABLE leads (
  id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL REFERENCES conversations(id), name TEXT, phone TEXT,
  email TEXT, need TEXT, consent INTEGER NOT NULL, language TEXT NOT NULL, created_at {{big}} NOT NULL);
CREATE TABLE recommendations (
  id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL REFERENCES conversations(id), message_id TEXT NOT NULL,
  item_name TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, accepted INTEGER NOT NULL DEFAULT 0,
  created_at {{big}} NOT NULL, accepted_at {{big}});
CREATE TABLE feedback (
  id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL REFERENCES conversations(id), message_id TEXT NOT NULL,
  rating INTEGER NOT NULL, comment TEXT, created_at {{big}} NOT NULL);
CREATE TABLE preference_pairs (
  id TEXT PRIMARY KEY, conversation_id TEXT NOT NULL REFERENCES conversations(id), message_id TEXT NOT NULL,
  prompt TEXT NOT NULL, chosen TEXT NOT NULL, rejected TEXT NOT NULL, agent TEXT, created_at {{big}} NOT NULL);
`,
  },
  {
    version: 3,
    name: "inspection results (quality score, marks, rubric version per closed conversation)",
    sql: `
CREATE TABLE inspections (
  conversation_id TEXT PRIMARY KEY REFERENCES conversations(id), rubric_version TEXT NOT NULL, score REAL NOT NULL,
  marks TEXT NOT NULL, transcript_hash TEXT NOT NULL, inspected_at {{big}} NOT NULL);
CREATE INDEX inspections_version ON inspections(rubric_version);
`,
  },
];

function dialectSql(db: SqlDb, sql: string): string {
  const pg = db.dialect === "postgres";
  return sql
    .replaceAll("{{serial}}", pg ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT")
    .replaceAll("{{big}}", "BIGINT");
}

/** Applies the migrations the database lacks; returns the versions applied now. */
export async function migrate(db: SqlDb, migrations: readonly Migration[] = MIGRATIONS): Promise<number[]> {
  const applied: number[] = [];
  await db.transaction(async (tx) => {
    if (tx.dialect === "postgres") await tx.exec("SELECT pg_advisory_xact_lock(1717017)");
    await tx.exec("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)");
    const rows = await tx.all<{ version: number }>("SELECT version FROM schema_migrations");
    const have = new Set(rows.map((r) => Number(r.version)));
    const newest = Math.max(0, ...migrations.map((m) => m.version));
    const unknown = [...have].filter((v) => v > newest);
    if (unknown.length > 0) {
      throw new Error(`desk store: ${db.where} has schema version ${Math.max(...unknown)} but this build knows up to ${newest} ` +
        "(run the newer zhiyu that created it, or point --db at another database)");
    }
    for (const m of [...migrations].sort((a, b) => a.version - b.version)) {
      if (have.has(m.version)) continue;
      await tx.exec(dialectSql(tx, m.sql));
      await tx.run("INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)", [m.version, m.name, Date.now()]);
      applied.push(m.version);
    }
  });
  return applied;
}

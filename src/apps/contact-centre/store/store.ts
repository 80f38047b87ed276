// The desk's conversation store over SqlDb (SQLite or PostgreSQL): conversations with their dialogue state and
// hand-off status, messages tagged with intent/emotion, events (hand-off requested/taken/handed back/closed,
// notes), the queue, leads, recommendations, feedback and preference pairs. Every write is committed before the
// caller acknowledges anything to a customer or an agent; a customer message carries the client's id for it so a
// retried POST (the acknowledgement was lost) stores it once. Accounts, sessions and the audit log are in
// accounts.ts; the webhook outbox in outbox.ts.
// Leaves out: full-text search over transcripts, retention/deletion policies, attachments.
import { createHash, randomBytes, randomUUID } from "node:crypto";
import type { Param, SqlDb } from "./sql.js";

export type ConversationStatus = "bot" | "queued" | "agent" | "closed";
export type MessageRole = "customer" | "bot" | "agent" | "system";
export const PRIORITIES = ["low", "normal", "high", "urgent"] as const;
export type PriorityName = (typeof PRIORITIES)[number];

export interface Conversation {
  id: string;
  channel: string;
  language: string;
  status: ConversationStatus;
  assignee: string | null;
  priority: number;
  handoffReason: string | null;
  queuedAt: number | null;
  state: Record<string, unknown>;
  pageUrl: string | null;
  createdAt: number;
  updatedAt: number;
  closedAt: number | null;
}

export interface Message {
  seq: number;
  id: string;
  conversationId: string;
  role: MessageRole;
  author: string | null;
  text: string;
  intent: string | null;
  confidence: number | null;
  emotion: string | null;
  sentiment: number | null;
  meta: Record<string, unknown>;
  clientId: string | null;
  createdAt: number;
}

export interface NewMessage {
  role: MessageRole;
  text: string;
  author?: string | null;
  intent?: string | null;
  confidence?: number | null;
  emotion?: string | null;
  sentiment?: number | null;
  meta?: Record<string, unknown>;
  clientId?: string | null;
}

export interface DeskEvent {
  seq: number;
  conversationId: string;
  type: string;
  actor: string | null;
  detail: Record<string, unknown>;
  createdAt: number;
}

export interface Lead {
  id: string;
  conversationId: string;
  name: string | null;
  phone: string | null;
  email: string | null;
  need: string | null;
  consent: boolean;
  language: string;
  createdAt: number;
}

export interface Recommendation {
  id: string;
  conversationId: string;
  messageId: string;
  itemName: string;
  kind: string;
  reason: string;
  accepted: boolean;
}

export interface PreferencePair {
  id: string;
  conversationId: string;
  messageId: string;
  prompt: string;
  chosen: string;
  rejected: string;
  agent: string | null;
  createdAt: number;
}

export function hashToken(token: string): string {
  return createHash("sha256").update(token).digest("hex");
}

/** An unguessable bearer secret (256 bits). */
export function newToken(): string {
  return randomBytes(32).toString("base64url");
}

const json = (v: unknown) => JSON.stringify(v ?? {});
const parse = (v: unknown): Record<string, unknown> => (typeof v === "string" && v ? (JSON.parse(v) as Record<string, unknown>) : {});
const num = (v: unknown): number | null => (v === null || v === undefined ? null : Number(v));

export function toConversation(r: Record<string, unknown>): Conversation {
  return {
    id: String(r.id), channel: String(r.channel), language: String(r.language), status: r.status as ConversationStatus,
    assignee: (r.assignee as string | null) ?? null, priority: Number(r.priority), handoffReason: (r.handoff_reason as string | null) ?? null,
    queuedAt: num(r.queued_at), state: parse(r.state), pageUrl: (r.page_url as string | null) ?? null,
    createdAt: Number(r.created_at), updatedAt: Number(r.updated_at), closedAt: num(r.closed_at),
  };
}

export function toMessage(r: Record<string, unknown>): Message {
  return {
    seq: Number(r.seq), id: String(r.id), conversationId: String(r.conversation_id), role: r.role as MessageRole,
    author: (r.author as string | null) ?? null, text: String(r.text), intent: (r.intent as string | null) ?? null,
    confidence: num(r.confidence), emotion: (r.emotion as string | null) ?? null, sentiment: num(r.sentiment),
    meta: parse(r.meta), clientId: (r.client_id as string | null) ?? null, createdAt: Number(r.created_at),
  };
}

export function toEvent(r: Record<string, unknown>): DeskEvent {
  return { seq: Number(r.seq), conversationId: String(r.conversation_id), type: String(r.type),
    actor: (r.actor as string | null) ?? null, detail: parse(r.detail), createdAt: Number(r.created_at) };
}

export interface ConversationPatch {
  status?: ConversationStatus;
  assignee?: string | null;
  priority?: number;
  handoffReason?: string | null;
  queuedAt?: number | null;
  state?: Record<string, unknown>;
  language?: string;
  closedAt?: number | null;
}

const PATCH_COLUMNS: Record<keyof ConversationPatch, string> = {
  status: "status", assignee: "assignee", priority: "priority", handoffReason: "handoff_reason", queuedAt: "queued_at",
  state: "state", language: "language", closedAt: "closed_at",
};

export class ConversationStore {
  constructor(readonly db: SqlDb) {}

  /** A new conversation and the customer's secret token for it (shown once; only its hash is stored). */
  async createConversation(o: { channel: string; language: string; pageUrl?: string | null; state: Record<string, unknown> }, db: SqlDb = this.db):
    Promise<{ conversation: Conversation; token: string }> {
    const token = newToken();
    const now = Date.now();
    const id = `c_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    await db.run(`INSERT INTO conversations (id, token_hash, channel, language, status, priority, state, page_url, created_at, updated_at)
      VALUES (?, ?, ?, ?, 'bot', 0, ?, ?, ?, ?)`, [id, hashToken(token), o.channel, o.language, json(o.state), o.pageUrl ?? null, now, now]);
    return { conversation: (await this.conversation(id, db))!, token };
  }

  async conversation(id: string, db: SqlDb = this.db): Promise<Conversation | undefined> {
    const r = await db.get("SELECT * FROM conversations WHERE id = ?", [id]);
    return r ? toConversation(r) : undefined;
  }

  /** The conversation a customer token opens, or undefined (a wrong token and a wrong id look the same). */
  async conversationForToken(id: string, token: string): Promise<Conversation | undefined> {
    const r = await this.db.get("SELECT * FROM conversations WHERE id = ? AND token_hash = ?", [id, hashToken(token)]);
    return r ? toConversation(r) : undefined;
  }

  async updateConversation(id: string, patch: ConversationPatch, db: SqlDb = this.db): Promise<void> {
    const sets: string[] = ["updated_at = ?"];
    const params: Param[] = [Date.now()];
    for (const [key, column] of Object.entries(PATCH_COLUMNS) as [keyof ConversationPatch, string][]) {
      if (!(key in patch)) continue;
      sets.push(`${column} = ?`);
      const v = patch[key];
      params.push(key === "state" ? json(v) : (v as Param));
    }
    await db.run(`UPDATE conversations SET ${sets.join(", ")} WHERE id = ?`, [...params, id]);
  }

  /** Conversations by status (all when omitted), newest activity first. */
  async conversations(o: { status?: ConversationStatus; limit?: number } = {}): Promise<Conversation[]> {
    const where = o.status ? "WHERE status = ?" : "";
    const rows = await this.db.all(`SELECT * FROM conversations ${where} ORDER BY updated_at DESC LIMIT ?`,
      [...(o.status ? [o.status] : []), o.limit ?? 200]);
    return rows.map(toConversation);
  }

  /** The human queue: highest priority first, then the longest waiting. */
  async queue(): Promise<Conversation[]> {
    const rows = await this.db.all("SELECT * FROM conversations WHERE status = 'queued' ORDER BY priority DESC, queued_at ASC");
    return rows.map(toConversation);
  }

  /** Stores a message; with a clientId already stored for the conversation, returns that one unchanged. */
  async addMessage(conversationId: string, m: NewMessage, db: SqlDb = this.db): Promise<{ message: Message; duplicate: boolean }> {
    if (m.clientId) {
      const r = await db.get("SELECT * FROM messages WHERE conversation_id = ? AND client_id = ?", [conversationId, m.clientId]);
      if (r) return { message: toMessage(r), duplicate: true };
    }
    const id = `m_${randomUUID().replaceAll("-", "").slice(0, 20)}`;
    await db.run(`INSERT INTO messages (id, conversation_id, role, author, text, intent, confidence, emotion, sentiment, meta, client_id, created_at)
      VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, [id, conversationId, m.role, m.author ?? null, m.text, m.intent ?? null,
      m.confidence ?? null, m.emotion ?? null, m.sentiment ?? null, json(m.meta), m.clientId ?? null, Date.now()]);
    await db.run("UPDATE conversations SET updated_at = ? WHERE id = ?", [Date.now(), conversationId]);
    return { message: toMessage((await db.get("SELECT * FROM messages WHERE id = ?", [id]))!), duplicate: false };
  }

  async message(id: string): Promise<Message | undefined> {
    const r = await this.db.get("SELECT * FROM messages WHERE id = ?", [id]);
    return r ? toMessage(r) : undefined;
  }

  async messages(conversationId: string, afterSeq = 0): Promise<Message[]> {
    const rows = await this.db.all("SELECT * FROM messages WHERE conversation_id = ? AND seq > ? ORDER BY seq", [conversationId, afterSeq]);
    return rows.map(toMessage);
  }

  /** Adds the understanding's tags to a stored customer message. */
  async tagMessage(id: string, t: { intent: string; confidence: number; emotion: string; sentiment: number; meta?: Record<string, unknown> }, db: SqlDb = this.db): Promise<void> {
    await db.run("UPDATE messages SET intent = ?, confidence = ?, emotion = ?, sentiment = ?, meta = ? WHERE id = ?",
      [t.intent, t.confidence, t.emotion, t.sentiment, json(t.meta), id]);
  }

  async setMessageMeta(id: string, meta: Record<string, unknown>): Promise<void> {
    await this.db.run("UPDATE messages SET meta = ? WHERE id = ?", [json(meta), id]);
  }

  async addEvent(conversationId: string, type: string, actor: string | null, detail: Record<string, unknown> = {}, db: SqlDb = this.db): Promise<void> {
    await db.run("INSERT INTO events (conversation_id, type, actor, detail, created_at) VALUES (?, ?, ?, ?, ?)",
      [conversationId, type, actor, json(detail), Date.now()]);
  }

  async events(conversationId: string): Promise<DeskEvent[]> {
    const rows = await this.db.all("SELECT * FROM events WHERE conversation_id = ? ORDER BY seq", [conversationId]);
    return rows.map(toEvent);
  }

  async addLead(l: Omit<Lead, "id" | "createdAt">, db: SqlDb = this.db): Promise<Lead> {
    const lead: Lead = { ...l, id: `l_${randomUUID().replaceAll("-", "").slice(0, 20)}`, createdAt: Date.now() };
    await db.run("INSERT INTO leads (id, conversation_id, name, phone, email, need, consent, language, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
      [lead.id, lead.conversationId, lead.name, lead.phone, lead.email, lead.need, lead.consent ? 1 : 0, lead.language, lead.createdAt]);
    return lead;
  }

  async leads(): Promise<Lead[]> {
    const rows = await this.db.all("SELECT * FROM leads ORDER BY created_at DESC");
    return rows.map((r) => ({ id: String(r.id), conversationId: String(r.conversation_id), name: (r.name as string | null) ?? null,
      phone: (r.phone as string | null) ?? null, email: (r.email as string | null) ?? null, need: (r.need as string | null) ?? null,
      consent: Number(r.consent) === 1, language: String(r.language), createdAt: Number(r.created_at) }));
  }

  async addRecommendations(conversationId: string, messageId: string, items: { itemName: string; kind: string; reason: string }[], db: SqlDb = this.db): Promise<Recommendation[]> {
    const out: Recommendation[] = [];
    for (const it of items) {
      const rec = { id: `r_${randomUUID().replaceAll("-", "").slice(0, 20)}`, conversationId, messageId, ...it, accepted: false };
      await db.run("INSERT INTO recommendations (id, conversation_id, message_id, item_name, kind, reason, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [rec.id, conversationId, messageId, it.itemName, it.kind, it.reason, Date.now()]);
      out.push(rec);
    }
    return out;
  }

  /** Marks a suggestion accepted; false when it is not this conversation's. */
  async acceptRecommendation(conversationId: string, id: string): Promise<boolean> {
    const r = await this.db.run("UPDATE recommendations SET accepted = 1, accepted_at = ? WHERE id = ? AND conversation_id = ?", [Date.now(), id, conversationId]);
    return r.changes > 0;
  }

  async recommendationStats(): Promise<{ shown: number; accepted: number }> {
    const r = await this.db.get<{ shown: number; accepted: number }>("SELECT COUNT(*) AS shown, COALESCE(SUM(accepted), 0) AS accepted FROM recommendations");
    return { shown: Number(r?.shown ?? 0), accepted: Number(r?.accepted ?? 0) };
  }

  async addFeedback(conversationId: string, messageId: string, rating: 1 | -1, comment: string | null): Promise<void> {
    await this.db.run("INSERT INTO feedback (id, conversation_id, message_id, rating, comment, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      [`f_${randomUUID().replaceAll("-", "").slice(0, 20)}`, conversationId, messageId, rating, comment, Date.now()]);
  }

  async feedback(conversationId: string): Promise<{ messageId: string; rating: number; comment: string | null }[]> {
    const rows = await this.db.all("SELECT * FROM feedback WHERE conversation_id = ? ORDER BY created_at", [conversationId]);
    return rows.map((r) => ({ messageId: String(r.message_id), rating: Number(r.rating), comment: (r.comment as string | null) ?? null }));
  }

  async addPreferencePair(p: Omit<PreferencePair, "id" | "createdAt">, db: SqlDb = this.db): Promise<void> {
    await db.run("INSERT INTO preference_pairs (id, conversation_id, message_id, prompt, chosen, rejected, agent, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
      [`p_${randomUUID().replaceAll("-", "").slice(0, 20)}`, p.conversationId, p.messageId, p.prompt, p.chosen, p.rejected, p.agent, Date.now()]);
  }

  async preferencePairs(): Promise<PreferencePair[]> {
    const rows = await this.db.all("SELECT * FROM preference_pairs ORDER BY created_at");
    return rows.map((r) => ({ id: String(r.id), conversationId: String(r.conversation_id), messageId: String(r.message_id),
      prompt: String(r.prompt), chosen: String(r.chosen), rejected: String(r.rejected), agent: (r.agent as string | null) ?? null,
      createdAt: Number(r.created_at) }));
  }
}

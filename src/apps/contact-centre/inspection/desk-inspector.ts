// Inspection inside the desk: a closed conversation of the store (bot, agent and customer turns) becomes a
// transcript and is inspected at once (DeskService.onClosed); results go to the `inspections` table (migration 3)
// with the rubric version and the transcript hash, so after a rubric change `catchUp` re-inspects exactly the
// closed conversations whose stored version differs. Also the loader the supervisor dashboard analyses from.
// Leaves out: inspecting open conversations (only closed ones are final), sharding the catch-up over processes.
import type { SqlDb } from "../store/sql.js";
import { ConversationStore, toConversation, toEvent, toMessage, type Conversation, type DeskEvent, type Message } from "../store/store.js";
import type { InspectionReport, Inspector } from "./engine.js";
import type { Mark } from "./rules.js";
import type { Transcript, TranscriptEvent, TranscriptTurn } from "./transcript.js";

/** Ids per IN (…) list: well under SQLite's 32,766 and PostgreSQL's 65,535 parameters. */
const ID_BATCH = 1000;

export interface StoredInspection extends InspectionReport {
  inspectedAt: number;
}

/** Who owned the conversation from when: the taker of each `handoff.taken`, the target of each transfer to an agent. */
function ownerships(events: readonly DeskEvent[]): { agent: string; at: number }[] {
  const out: { agent: string; at: number }[] = [];
  for (const e of events) {
    if (e.type === "handoff.taken" && e.actor) out.push({ agent: e.actor, at: e.createdAt });
    else if (e.type === "handoff.transferred" && typeof e.detail.to === "string" && e.detail.to) out.push({ agent: e.detail.to, at: e.createdAt });
  }
  return out;
}

/** A stored conversation as a transcript: messages as turns; hand-off, hand-back and transfer events (a transfer
 *  from an agent, not a supervisor routing a queued conversation); the agent = the first who owned it. */
export function toTranscript(c: Conversation, messages: readonly Message[], events: readonly DeskEvent[]): Transcript {
  const owners = ownerships(events);
  const turns: TranscriptTurn[] = messages.map((m) => {
    const turn: TranscriptTurn = { role: m.role, text: m.text, ts: m.createdAt };
    if (m.role === "agent") {
      // The username of the agent who owned it when the reply was sent.
      const owner = [...owners].reverse().find((o) => o.at <= m.createdAt)?.agent;
      if (owner) turn.author = owner;
    }
    if (m.intent) turn.intent = m.intent;
    if (m.sentiment !== null) turn.sentiment = m.sentiment;
    return turn;
  });
  const mapped: TranscriptEvent[] = [];
  for (const e of events) {
    if (e.type === "handoff.requested") mapped.push({ type: "handoff", ts: e.createdAt });
    else if (e.type === "handoff.handed_back") mapped.push({ type: "handback", ts: e.createdAt });
    else if (e.type === "handoff.transferred" && typeof e.detail.from === "string" && e.detail.from) {
      const ev: TranscriptEvent = { type: "transfer", ts: e.createdAt, from: e.detail.from };
      if (typeof e.detail.to === "string" && e.detail.to) ev.to = e.detail.to;
      if (typeof e.detail.team === "string" && e.detail.team) ev.team = e.detail.team;
      mapped.push(ev);
    }
  }
  const intent = messages.find((m) => m.role === "customer" && m.intent && m.intent !== "oos")?.intent ?? undefined;
  return {
    id: c.id, language: c.language === "en" ? "en" : "zh", channel: c.channel, intent,
    agent: owners.length > 0 ? owners[0].agent : undefined, turns, events: mapped,
  };
}

export async function storedTranscript(store: ConversationStore, c: Conversation): Promise<Transcript> {
  const [messages, events] = await Promise.all([store.messages(c.id), store.events(c.id)]);
  return toTranscript(c, messages, events);
}

function toStored(r: Record<string, unknown>): StoredInspection {
  return {
    id: String(r.conversation_id), score: Number(r.score), rubric_version: String(r.rubric_version), marks: JSON.parse(String(r.marks)) as Mark[],
    transcript_hash: String(r.transcript_hash), inspectedAt: Number(r.inspected_at),
  };
}

export class DeskInspector {
  readonly store: ConversationStore;
  private running: Promise<unknown> = Promise.resolve();

  constructor(readonly db: SqlDb, readonly inspector: Inspector, private readonly log: (line: string) => void = () => undefined) {
    this.store = new ConversationStore(db);
  }

  async inspectConversation(id: string): Promise<StoredInspection | null> {
    const c = await this.store.conversation(id);
    if (!c || c.status !== "closed") return null;
    const t = await storedTranscript(this.store, c);
    if (t.turns.length === 0) return null;
    const report = this.inspector.inspect(t);
    const now = Date.now();
    await this.db.run(`INSERT INTO inspections (conversation_id, rubric_version, score, marks, transcript_hash, inspected_at) VALUES (?, ?, ?, ?, ?, ?)
      ON CONFLICT (conversation_id) DO UPDATE SET rubric_version = excluded.rubric_version, score = excluded.score, marks = excluded.marks,
      transcript_hash = excluded.transcript_hash, inspected_at = excluded.inspected_at`,
    [id, report.rubric_version, report.score, JSON.stringify(report.marks), report.transcript_hash, now]);
    return { ...report, inspectedAt: now };
  }

  /** Queues an inspection after the ones already running (close() does not wait for it). */
  enqueue(id: string): void {
    this.running = this.running.then(() => this.inspectConversation(id)).catch((err) => this.log(`inspection of ${id}: ${(err as Error).message}`));
  }

  /** Resolves when every queued inspection is done. */
  async idle(): Promise<void> {
    let seen: Promise<unknown>;
    do {
      seen = this.running;
      await seen;
    } while (seen !== this.running);
  }

  /** Inspects the closed conversations that have no result under the current rubric version (or a changed transcript). */
  async catchUp(limit = 5000): Promise<number> {
    const rows = await this.db.all(`SELECT c.id, i.transcript_hash FROM conversations c LEFT JOIN inspections i ON i.conversation_id = c.id
      WHERE c.status = 'closed' AND (i.rubric_version IS NULL OR i.rubric_version <> ?) ORDER BY c.closed_at LIMIT ?`, [this.inspector.version, limit]);
    let n = 0;
    for (const r of rows) if (await this.inspectConversation(String(r.id))) n++;
    return n;
  }

  async inspection(id: string): Promise<StoredInspection | undefined> {
    const r = await this.db.get("SELECT * FROM inspections WHERE conversation_id = ?", [id]);
    return r ? toStored(r) : undefined;
  }

  /** Closed conversations (newest first, at most `limit`) with their transcripts and stored inspections, in
   *  1 + 3 × ⌈n / 1000⌉ queries (conversations, then messages, events and inspections of 1,000 ids at a time). */
  async inspected(limit = 2000): Promise<{ conversation: Conversation; transcript: Transcript; report?: StoredInspection }[]> {
    const closed = (await this.db.all("SELECT * FROM conversations WHERE status = 'closed' ORDER BY closed_at DESC LIMIT ?", [limit])).map(toConversation);
    const messages = new Map<string, Message[]>(closed.map((c) => [c.id, []]));
    const events = new Map<string, DeskEvent[]>(closed.map((c) => [c.id, []]));
    const reports = new Map<string, StoredInspection>();
    for (let i = 0; i < closed.length; i += ID_BATCH) {
      const ids = closed.slice(i, i + ID_BATCH).map((c) => c.id);
      const marks = ids.map(() => "?").join(", ");
      for (const r of await this.db.all(`SELECT * FROM messages WHERE conversation_id IN (${marks}) ORDER BY seq`, ids)) messages.get(String(r.conversation_id))!.push(toMessage(r));
      for (const r of await this.db.all(`SELECT * FROM events WHERE conversation_id IN (${marks}) ORDER BY seq`, ids)) events.get(String(r.conversation_id))!.push(toEvent(r));
      for (const r of await this.db.all(`SELECT * FROM inspections WHERE conversation_id IN (${marks})`, ids)) reports.set(String(r.conversation_id), toStored(r));
    }
    return closed.map((c) => ({ conversation: c, transcript: toTranscript(c, messages.get(c.id)!, events.get(c.id)!), report: reports.get(c.id) }));
  }
}

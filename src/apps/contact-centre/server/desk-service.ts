// The desk's operations, shared by the HTTP routes and the benchmark: a customer message is stored (and so
// acknowledged) before anything else happens; the bot answers only while it owns the conversation; its reply,
// the customer message's tags, the new dialogue state, hand-off status, lead, recommendations, events and webhook
// outbox rows are written in one transaction, then published live. Agents take, reply (the customer sees the
// reply stream in), add notes, transfer to another agent or team, hand back to the bot and close; each is an event. An agent reply that edits the
// drafted one stores a preference pair (prompt = the conversation so far as text, chosen = sent, rejected = draft).
// Leaves out: assignment rules (agents pick from the queue; a transfer to a team queues it again), SLAs.
import type { WebhookConfig } from "../config-schema.js";
import { Assistant, initialDeskState, type DeskState } from "../pipeline/assistant.js";
import type { DeskUser } from "../store/accounts.js";
import { Outbox } from "../store/outbox.js";
import type { SqlDb } from "../store/sql.js";
import { ConversationStore, PRIORITIES, type Conversation, type Message } from "../store/store.js";
import type { HistoryMessage } from "../understanding/types.js";
import type { LiveHub } from "./live.js";

export class DeskError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

export type WebhookEvent = WebhookConfig["events"][number];

/** The conversation as text for a preference pair's prompt: one "role: text" line per message. */
export function renderContext(messages: readonly Message[]): string {
  const label: Record<string, string> = { customer: "customer", bot: "assistant", agent: "agent", system: "system" };
  return messages.map((m) => `${label[m.role]}: ${m.text}`).join("\n");
}

function history(messages: readonly Message[]): HistoryMessage[] {
  return messages.filter((m) => m.role !== "system").map((m) => ({ role: m.role === "customer" ? "user" : m.role === "agent" ? "agent" : "assistant", content: m.text }));
}

export class DeskService {
  readonly conversations: ConversationStore;
  readonly outbox: Outbox;
  /** Called after a conversation is closed and committed (the desk inspects it: inspection/desk-inspector.ts). */
  onClosed: ((conversationId: string) => void) | null = null;

  constructor(
    readonly db: SqlDb,
    private readonly assistant: Assistant,
    readonly live: LiveHub,
    /** Target URLs per webhook event (from the configuration). */
    private readonly webhookTargets: (event: WebhookEvent) => string[],
    private readonly defaultLanguage: "zh" | "en",
  ) {
    this.conversations = new ConversationStore(db);
    this.outbox = new Outbox(db);
  }

  private async emit(event: WebhookEvent, payload: Record<string, unknown>, tx: SqlDb): Promise<void> {
    const targets = this.webhookTargets(event);
    if (targets.length > 0) await this.outbox.enqueue(event, { event, created_at: new Date().toISOString(), data: payload }, targets, tx);
  }

  async start(o: { channel: string; language?: "zh" | "en"; pageUrl?: string | null }): Promise<{ conversation: Conversation; token: string }> {
    const language = o.language ?? this.defaultLanguage;
    const r = await this.conversations.createConversation({ channel: o.channel, language, pageUrl: o.pageUrl, state: initialDeskState(language) as unknown as Record<string, unknown> });
    this.live.publish({ type: "queue" });
    return r;
  }

  private async mustGet(id: string): Promise<Conversation> {
    const c = await this.conversations.conversation(id);
    if (!c) throw new DeskError(404, `conversation ${id} not found`);
    return c;
  }

  /** Stores the customer's message (acknowledged once this resolves), then lets the bot answer if it owns the
   *  conversation. A repeated clientId returns the stored message and its reply without answering twice. */
  async customerMessage(conversationId: string, text: string, clientId: string | null): Promise<{ message: Message; reply: Message | null; duplicate: boolean }> {
    const conv = await this.mustGet(conversationId);
    const { message, duplicate } = await this.conversations.addMessage(conversationId, { role: "customer", text, clientId });
    if (duplicate) {
      const later = await this.conversations.messages(conversationId, message.seq);
      return { message, reply: later.find((m) => m.meta.replyTo === message.id) ?? null, duplicate };
    }
    const all = await this.conversations.messages(conversationId);
    const state = (conv.state as unknown as DeskState).dialogue ? (conv.state as unknown as DeskState) : initialDeskState(conv.language as "zh" | "en");
    if (conv.status === "queued" || conv.status === "agent") {
      // A human owns it (or will): the bot stays quiet, but the message is still tagged for the agent.
      const { understanding: u, nextState } = this.assistant.understand(text, history(all.slice(0, -1)), state);
      await this.db.transaction(async (tx) => {
        await this.conversations.tagMessage(message.id, { intent: u.intent, confidence: u.confidence, emotion: u.emotion, sentiment: u.sentiment, meta: { slots: u.slots } }, tx);
        await this.conversations.updateConversation(conversationId, { state: nextState as unknown as Record<string, unknown> }, tx);
        await this.emit("message.created", { conversation_id: conversationId, message_id: message.id, role: "customer", text }, tx);
      });
      this.live.publish({ type: "message", conversationId, message: (await this.conversations.message(message.id))! });
      return { message, reply: null, duplicate };
    }
    this.live.publish({ type: "message", conversationId, message });
    const out = await this.assistant.turn(text, history(all.slice(0, -1)), state);
    const u = out.understanding;
    const reply = await this.db.transaction(async (tx) => {
      await this.conversations.tagMessage(message.id, { intent: u.intent, confidence: u.confidence, emotion: u.emotion, sentiment: u.sentiment,
        meta: { slots: u.slots, carriedSlots: u.carriedSlots, intentFromContext: u.intentFromContext, emotionConfidence: u.emotionConfidence } }, tx);
      const { message: bot } = await this.conversations.addMessage(conversationId, {
        role: "bot", text: out.reply, author: "bot",
        meta: { replyTo: message.id, route: out.route, citations: out.citations, grounded: out.grounded, empathy: out.empathy, leadAsk: out.leadAsk,
          suggestions: [] as unknown[] },
      }, tx);
      if (out.suggestions.length > 0) {
        const recs = await this.conversations.addRecommendations(conversationId, bot.id, out.suggestions.map((s) => ({ itemName: s.item, kind: s.kind, reason: s.reason })), tx);
        bot.meta.suggestions = out.suggestions.map((s, i) => ({ ...s, id: recs[i].id }));
        await tx.run("UPDATE messages SET meta = ? WHERE id = ?", [JSON.stringify(bot.meta), bot.id]);
      }
      // Webhook events in causal order: the two messages, then what they caused (hand-off, lead).
      await this.emit("message.created", { conversation_id: conversationId, message_id: message.id, role: "customer", text }, tx);
      await this.emit("message.created", { conversation_id: conversationId, message_id: bot.id, role: "bot", text: bot.text }, tx);
      const patch: Parameters<ConversationStore["updateConversation"]>[1] = { state: out.nextState as unknown as Record<string, unknown>, language: u.language };
      if (conv.status === "closed") patch.status = "bot";
      if (out.handoff) {
        Object.assign(patch, { status: "queued", priority: PRIORITIES.indexOf(out.handoff.priority), handoffReason: `${out.handoff.reason}: ${out.handoff.detail}`, queuedAt: Date.now() });
        await this.conversations.addEvent(conversationId, "handoff.requested", "bot", { ...out.handoff, emotion: u.emotion }, tx);
        await this.emit("handoff.requested", { conversation_id: conversationId, ...out.handoff }, tx);
      }
      if (out.lead) {
        const lead = await this.conversations.addLead({ conversationId, name: out.lead.name, phone: out.lead.phone, email: out.lead.email,
          need: out.lead.need ?? u.nextState.intent, consent: true, language: u.language }, tx);
        await this.conversations.addEvent(conversationId, "lead.created", "bot", { lead_id: lead.id }, tx);
        await this.emit("lead.created", { conversation_id: conversationId, lead_id: lead.id, name: lead.name, phone: lead.phone, email: lead.email, need: lead.need }, tx);
      }
      await this.conversations.updateConversation(conversationId, patch, tx);
      return bot;
    });
    void this.live.streamOut(reply);
    if (out.handoff) this.live.publish({ type: "conversation", conversationId, status: "queued", detail: { priority: out.handoff.priority } });
    if (out.handoff || out.lead) this.live.publish({ type: "queue" });
    return { message, reply, duplicate };
  }

  async take(conversationId: string, agent: DeskUser): Promise<Conversation> {
    const conv = await this.mustGet(conversationId);
    if (conv.status === "agent" && conv.assignee && conv.assignee !== agent.username) throw new DeskError(409, `conversation ${conversationId} is already taken by ${conv.assignee}`);
    if (conv.status === "closed") throw new DeskError(409, `conversation ${conversationId} is closed`);
    await this.db.transaction(async (tx) => {
      await this.conversations.updateConversation(conversationId, { status: "agent", assignee: agent.username }, tx);
      await this.conversations.addEvent(conversationId, "handoff.taken", agent.username, { waited_ms: conv.queuedAt ? Date.now() - conv.queuedAt : null }, tx);
    });
    this.live.publish({ type: "conversation", conversationId, status: "agent", detail: { assignee: agent.displayName } });
    this.live.publish({ type: "queue" });
    return (await this.conversations.conversation(conversationId))!;
  }

  private async mustOwn(conversationId: string, agent: DeskUser): Promise<Conversation> {
    const conv = await this.mustGet(conversationId);
    if (conv.status !== "agent" || (conv.assignee !== agent.username && agent.role === "agent")) {
      throw new DeskError(409, `conversation ${conversationId} is not taken by ${agent.username} (take it first)`);
    }
    return conv;
  }

  /** An agent's reply; with the draft it was edited from, a preference pair when the text differs. */
  async agentReply(conversationId: string, agent: DeskUser, text: string, draft: string | null): Promise<Message> {
    await this.mustOwn(conversationId, agent);
    const before = await this.conversations.messages(conversationId);
    const msg = await this.db.transaction(async (tx) => {
      const { message } = await this.conversations.addMessage(conversationId, { role: "agent", text, author: agent.displayName, meta: { draft } }, tx);
      if (draft !== null && draft.trim() && draft.trim() !== text.trim()) {
        await this.conversations.addPreferencePair({ conversationId, messageId: message.id, prompt: renderContext(before), chosen: text, rejected: draft, agent: agent.username }, tx);
      }
      await this.emit("message.created", { conversation_id: conversationId, message_id: message.id, role: "agent", text }, tx);
      return message;
    });
    void this.live.streamOut(msg);
    return msg;
  }

  async note(conversationId: string, agent: DeskUser, text: string): Promise<void> {
    await this.mustGet(conversationId);
    await this.conversations.addEvent(conversationId, "note", agent.username, { text });
    this.live.publish({ type: "conversation", conversationId, status: "note" });
  }

  async handBack(conversationId: string, agent: DeskUser): Promise<void> {
    const conv = await this.mustOwn(conversationId, agent);
    const state = conv.state as unknown as DeskState;
    const dialogue = { ...state.dialogue, handedOff: false, lowConfidenceStreak: 0, negativeStreak: 0, groundingFailures: 0 };
    const text = conv.language === "en" ? "You're back with the assistant. Ask me anything else any time." : "已为您转回智能助手，有其他问题可以随时问我。";
    const msg = await this.db.transaction(async (tx) => {
      await this.conversations.updateConversation(conversationId, { status: "bot", assignee: null, priority: 0, queuedAt: null, state: { ...state, dialogue } as unknown as Record<string, unknown> }, tx);
      await this.conversations.addEvent(conversationId, "handoff.handed_back", agent.username, {}, tx);
      return (await this.conversations.addMessage(conversationId, { role: "system", text, author: "bot" }, tx)).message;
    });
    this.live.publish({ type: "conversation", conversationId, status: "bot" });
    void this.live.streamOut(msg);
    this.live.publish({ type: "queue" });
  }

  /** Hands an open conversation to another agent (who owns it at once) or to a team (back in the queue, the team
   *  named in the reason). The owner may transfer; a supervisor or admin may transfer any open conversation. The
   *  customer is told; event and webhook `handoff.transferred` carry from (the previous owner, or null), to, team. */
  async transfer(conversationId: string, actor: DeskUser, target: { to: DeskUser; team: string | null } | { to: null; team: string }, reason: string | null): Promise<Conversation> {
    const conv = actor.role === "agent" ? await this.mustOwn(conversationId, actor) : await this.mustGet(conversationId);
    const what = `transfer of ${conversationId}`;
    if (conv.status === "closed") throw new DeskError(409, `${what}: the conversation is closed`);
    if (target.to && target.to.username === conv.assignee && conv.status === "agent") throw new DeskError(409, `${what}: ${target.to.username} already has it`);
    const from = conv.status === "agent" ? conv.assignee : null;
    const detail = { from, to: target.to?.username ?? null, team: target.team, reason };
    const text = conv.language === "en" ? "Transferring you to a colleague who can help; one moment please." : "正在为您转接其他客服，请稍候。";
    const msg = await this.db.transaction(async (tx) => {
      if (target.to) await this.conversations.updateConversation(conversationId, { status: "agent", assignee: target.to.username, queuedAt: null }, tx);
      else {
        const why = `transfer → ${target.team} (${actor.username}${reason ? `: ${reason}` : ""})`;
        await this.conversations.updateConversation(conversationId, { status: "queued", assignee: null, queuedAt: Date.now(), handoffReason: why }, tx);
      }
      await this.conversations.addEvent(conversationId, "handoff.transferred", actor.username, detail, tx);
      const { message } = await this.conversations.addMessage(conversationId, { role: "system", text, author: "bot" }, tx);
      await this.emit("handoff.transferred", { conversation_id: conversationId, by: actor.username, ...detail }, tx);
      return message;
    });
    this.live.publish({ type: "conversation", conversationId, status: target.to ? "agent" : "queued", detail: { transferredTo: target.to?.displayName ?? target.team } });
    void this.live.streamOut(msg);
    this.live.publish({ type: "queue" });
    return (await this.conversations.conversation(conversationId))!;
  }

  async close(conversationId: string, actor: DeskUser): Promise<void> {
    await this.mustGet(conversationId);
    await this.db.transaction(async (tx) => {
      await this.conversations.updateConversation(conversationId, { status: "closed", closedAt: Date.now() }, tx);
      await this.conversations.addEvent(conversationId, "conversation.closed", actor.username, {}, tx);
      await this.emit("conversation.closed", { conversation_id: conversationId, closed_by: actor.username }, tx);
    });
    this.live.publish({ type: "conversation", conversationId, status: "closed" });
    this.live.publish({ type: "queue" });
    this.onClosed?.(conversationId);
  }

  /** KB suggestions and a drafted reply to the customer's last message. */
  async assist(conversationId: string): Promise<{ draft: string; citations: unknown[]; intent: string; emotion: string }> {
    const conv = await this.mustGet(conversationId);
    const all = await this.conversations.messages(conversationId);
    const lastCustomer = [...all].reverse().find((m) => m.role === "customer");
    if (!lastCustomer) return { draft: "", citations: [], intent: "", emotion: "" };
    const state = (conv.state as unknown as DeskState).dialogue ? (conv.state as unknown as DeskState) : initialDeskState(conv.language as "zh" | "en");
    const r = await this.assistant.draft(lastCustomer.text, history(all.filter((m) => m.seq < lastCustomer.seq)), state);
    return { draft: r.draft, citations: r.citations, intent: r.understanding.intent, emotion: r.understanding.emotion };
  }
}

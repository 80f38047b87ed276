// In-process live updates for the desk: subscribers per conversation (the customer's widget stream) and for the
// whole desk (agents' pages). Messages are always stored first and published after, so a stream that also polls
// the store (for messages written by another desk process sharing PostgreSQL) never shows something unstored.
// A message being streamed out in chunks is marked, so a poller does not send it whole before its chunks end.
// Several desk processes on one PostgreSQL: every event but chunk deltas is also sent with NOTIFY, and events from
// other processes (a message by id, re-read from the store) are delivered here, so a widget or agent page sees
// another process's message at once; the streams' polling of the store stays on as the backstop.
// Leaves out: chunk-by-chunk streaming across processes (the whole message arrives instead).
import { randomUUID } from "node:crypto";
import type { DbSignals } from "../store/sql.js";
import type { Message } from "../store/store.js";

export type LiveEvent =
  | { type: "message"; conversationId: string; message: Message }
  | { type: "delta"; conversationId: string; messageId: string; role: string; author: string | null; text: string }
  | { type: "conversation"; conversationId: string; status: string; detail?: Record<string, unknown> }
  | { type: "queue" };

type Listener = (e: LiveEvent) => void;

const LIVE_CHANNEL = "zhiyu_desk_live";

export class LiveHub {
  private readonly byConversation = new Map<string, Set<Listener>>();
  private readonly desk = new Set<Listener>();
  /** conversationId → ids of messages whose chunks are still going out. */
  readonly streaming = new Map<string, Set<string>>();

  subscribe(conversationId: string, fn: Listener): () => void {
    let set = this.byConversation.get(conversationId);
    if (!set) this.byConversation.set(conversationId, (set = new Set()));
    set.add(fn);
    return () => {
      set!.delete(fn);
      if (set!.size === 0) this.byConversation.delete(conversationId);
    };
  }

  subscribeDesk(fn: Listener): () => void {
    this.desk.add(fn);
    return () => this.desk.delete(fn);
  }

  publish(e: LiveEvent): void {
    this.deliver(e);
    if (this.remote && e.type !== "delta") {
      const wire = e.type === "message" ? { o: this.remote.origin, t: e.type, c: e.conversationId, m: e.message.id }
        : e.type === "conversation" ? { o: this.remote.origin, t: e.type, c: e.conversationId, s: e.status, d: e.detail }
        : { o: this.remote.origin, t: e.type };
      let payload = JSON.stringify(wire);
      if (payload.length > 7000) payload = JSON.stringify({ ...wire, d: undefined });
      void this.remote.signals.notify(LIVE_CHANNEL, payload).catch(() => undefined);
    }
  }

  private deliver(e: LiveEvent): void {
    if ("conversationId" in e) for (const fn of this.byConversation.get(e.conversationId) ?? []) fn(e);
    for (const fn of this.desk) fn(e);
  }

  private remote: { signals: DbSignals; origin: string } | null = null;

  /** Joins the other processes on the database; returns the function that leaves. */
  async connectRemote(signals: DbSignals, loadMessage: (id: string) => Promise<Message | undefined>): Promise<() => Promise<void>> {
    const origin = randomUUID();
    const stop = await signals.listen(LIVE_CHANNEL, (payload) => {
      let w: { o?: string; t?: string; c?: string; m?: string; s?: string; d?: Record<string, unknown> };
      try {
        w = JSON.parse(payload) as typeof w;
      } catch {
        return;
      }
      if (w.o === origin) return;
      if (w.t === "message" && w.c && w.m) {
        void loadMessage(w.m).then((message) => { if (message) this.deliver({ type: "message", conversationId: w.c!, message }); }).catch(() => undefined);
      } else if (w.t === "conversation" && w.c && w.s) this.deliver({ type: "conversation", conversationId: w.c, status: w.s, detail: w.d });
      else if (w.t === "queue") this.deliver({ type: "queue" });
    });
    this.remote = { signals, origin };
    return async () => {
      this.remote = null;
      await stop();
    };
  }

  isStreaming(conversationId: string, messageId: string): boolean {
    return this.streaming.get(conversationId)?.has(messageId) ?? false;
  }

  /** Sends a stored message out in chunks (the reader sees it arrive), then whole. */
  async streamOut(message: Message, chunkChars = 3, delayMs = 12): Promise<void> {
    const id = message.conversationId;
    let set = this.streaming.get(id);
    if (!set) this.streaming.set(id, (set = new Set()));
    set.add(message.id);
    try {
      const chars = [...message.text];
      for (let i = 0; i < chars.length; i += chunkChars) {
        this.publish({ type: "delta", conversationId: id, messageId: message.id, role: message.role, author: message.author, text: chars.slice(i, i + chunkChars).join("") });
        await new Promise((r) => setTimeout(r, delayMs));
      }
    } finally {
      set.delete(message.id);
      if (set.size === 0) this.streaming.delete(id);
      this.publish({ type: "message", conversationId: id, message });
    }
  }
}

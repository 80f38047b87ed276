// In-process live updates for the desk: subscribers per conversation (the customer's widget stream) and for the
// whole desk (agents' pages). Messages are always stored first and published after, so a stream that also polls
// the store (for messages written by another desk process sharing PostgreSQL) never shows something unstored.
// A message being streamed out in chunks is marked, so a poller does not send it whole before its chunks end.
// Leaves out: cross-process fan-out (PostgreSQL LISTEN/NOTIFY); streams poll the store instead.
import type { Message } from "../store/store.js";

export type LiveEvent =
  | { type: "message"; conversationId: string; message: Message }
  | { type: "delta"; conversationId: string; messageId: string; role: string; author: string | null; text: string }
  | { type: "conversation"; conversationId: string; status: string; detail?: Record<string, unknown> }
  | { type: "queue" };

type Listener = (e: LiveEvent) => void;

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
    if ("conversationId" in e) for (const fn of this.byConversation.get(e.conversationId) ?? []) fn(e);
    for (const fn of this.desk) fn(e);
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

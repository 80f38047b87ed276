// The one history policy for a conversation that outgrew the context, shared by the server (requests that opt in
// with "zhiyu_history": "truncate", and its own tool runs), the web page and `zhiyu chat`: keep the leading
// system message(s) and whatever the prompt adds around the messages (tool definitions are rendered by the
// caller's `countTokens`, so they always stay); drop the oldest whole turns (a user message with the replies and
// tool results that follow it) until the prompt leaves room for the reply; always keep the newest turn; report
// how many messages were dropped so the caller can say so.
// Leaves out: summarising dropped turns (a small model's summary costs more context than it saves), and cutting
// inside a message (a newest turn that alone does not fit is an error naming the sizes).
import type { ChatMessage } from "./chat-template.js";

export interface FittedHistory {
  /** The messages that fit: the system prompt, then the newest turns. */
  messages: ChatMessage[];
  /** How many of the given messages were left out (0 when everything fit). */
  dropped: number;
  /** countTokens(messages) of the result. */
  promptTokens: number;
}

export class HistoryOverflowError extends Error {
  override name = "HistoryOverflowError";
  constructor(readonly promptTokens: number, readonly budget: number, readonly contextLength: number) {
    super(`the newest message alone makes a prompt of ${promptTokens} tokens, more than the ${budget} that fit in the ` +
      `${contextLength}-token context with room for a reply; shorten the message`);
  }
}

/** Tokens kept free for the reply: the asked-for maximum, but never more than half the context, and at least 1. */
export function replyReserve(contextLength: number, maxTokens: number | null | undefined): number {
  const wanted = maxTokens ?? Math.floor(contextLength / 4);
  return Math.max(1, Math.min(wanted, Math.floor(contextLength / 2)));
}

/** Start indices of the turns after the leading system messages: each user message opens one. */
function turnStarts(messages: readonly ChatMessage[], first: number): number[] {
  const starts: number[] = [];
  for (let i = first; i < messages.length; i++) {
    if (i === first || messages[i]!.role === "user") starts.push(i);
  }
  return starts;
}

/**
 * The longest suffix of whole turns (after the system prompt) whose prompt has at most contextLength − reserve
 * tokens. countTokens renders and tokenizes a message list exactly as the caller will (template, tools).
 */
export function fitHistory(messages: readonly ChatMessage[], countTokens: (messages: ChatMessage[]) => number,
  contextLength: number, reserve: number): FittedHistory {
  const budget = contextLength - reserve;
  const whole = countTokens([...messages]);
  if (whole <= budget) return { messages: [...messages], dropped: 0, promptTokens: whole };
  let first = 0;
  while (first < messages.length && messages[first]!.role === "system") first++;
  const system = messages.slice(0, first);
  const starts = turnStarts(messages, first);
  // Fewest dropped turns that fit: binary search over where the kept suffix starts (more dropped → fewer tokens).
  const keepFrom = (k: number) => [...system, ...messages.slice(starts[k])];
  let lo = 1;
  let hi = starts.length - 1;
  let best: { k: number; tokens: number } | null = null;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    const tokens = countTokens(keepFrom(mid));
    if (tokens <= budget) {
      best = { k: mid, tokens };
      hi = mid - 1;
    } else {
      lo = mid + 1;
    }
  }
  if (best === null) {
    const newest = starts.length > 0 ? countTokens(keepFrom(starts.length - 1)) : whole;
    throw new HistoryOverflowError(newest, budget, contextLength);
  }
  const kept = keepFrom(best.k);
  return { messages: kept, dropped: messages.length - kept.length, promptTokens: best.tokens };
}

/** The sentence the CLI prints and the page shows (English; the page has its own translation). */
export function describeDropped(dropped: number, contextLength: number): string {
  return `${dropped} earlier message${dropped === 1 ? "" : "s"} no longer fit the ${contextLength}-token context and ` +
    `${dropped === 1 ? "was" : "were"} left out (the system prompt is kept)`;
}

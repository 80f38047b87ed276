// The server's side of the shared history policy (src/infer/history.ts): a chat request that opted in with
// "zhiyu_history": "truncate" loses its oldest turns until the prompt — rendered exactly as the engine renders it,
// tool definitions included — leaves room for the reply. Requests without it stay strict (the engine's 400).
// Leaves out: completions (a raw prompt has no turns to drop).
import { fitHistory, HistoryOverflowError, replyReserve } from "../infer/history.js";
import type { Engine } from "./engine.js";
import { ApiError } from "./errors.js";
import type { ChatRequest } from "./protocol.js";

/** The request with the messages that fit, and how many were dropped (0 for strict requests). */
export function fitChatRequest(engine: Engine, req: ChatRequest): { req: ChatRequest; dropped: number } {
  if (req.history !== "truncate") return { req, dropped: 0 };
  // The grammar does not change the prompt, so the counting renders leave it out.
  const counting: ChatRequest = { ...req, responseFormat: { type: "text" }, toolChoice: req.toolChoice === "none" ? "none" : "auto" };
  try {
    const fit = fitHistory(req.messages, (messages) => engine.chatPromptLength({ ...counting, messages }),
      engine.contextLength, replyReserve(engine.contextLength, req.maxTokens));
    return { req: { ...req, messages: fit.messages }, dropped: fit.dropped };
  } catch (err) {
    if (err instanceof HistoryOverflowError) {
      throw new ApiError(400, `${err.message}.`, "invalid_request_error", "messages", "context_length_exceeded");
    }
    throw err;
  }
}

/** The extension field a response (or the stream's first chunk) carries when turns were dropped. */
export function historyNotice(dropped: number, contextLength: number): { zhiyu_history: { dropped_messages: number; context_length: number } } {
  return { zhiyu_history: { dropped_messages: dropped, context_length: contextLength } };
}

// The customer-facing REST API and streams (the widget uses them; any channel can). A conversation is opened
// without login and answered with an unguessable token; every later call for it must carry that token
// (Authorization: Bearer, or ?token= on the SSE stream, since EventSource cannot set headers), so a customer can
// read only its own conversation.
//   POST /api/conversations                         {language?, page_url?}      → 201 {id, token, status}
//   GET  /api/conversations/:id                                                 → {id, status, language, messages}
//   POST /api/conversations/:id/messages            {text, client_id?}          → 201 {message, reply}
//   GET  /api/conversations/:id/messages?after=SEQ                              → {messages}
//   GET  /api/conversations/:id/stream?token=&after=SEQ   SSE: message, delta, status
//   POST /api/conversations/:id/feedback            {message_id, rating: 1|-1, comment?}
//   POST /api/conversations/:id/recommendations/:rid/accept
// A message is acknowledged (201) only after it is stored; a client that retries with the same client_id gets
// the stored one back. Leaves out: attachments, typing indicators from the customer side.
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Conversation, Message } from "../store/store.js";
import { DeskError, type DeskService } from "./desk-service.js";
import { bearer, openSse, readJson, requireString, sendJson } from "./http-kit.js";

export interface CustomerRouteOptions {
  service: DeskService;
  maxMessageChars: number;
  corsHeaders: (req: IncomingMessage) => Record<string, string>;
  /** How often a stream re-reads the store (for messages written by other desk processes). */
  pollMs: number;
}

const publicMessage = (m: Message) => ({
  id: m.id, seq: m.seq, role: m.role, client_id: m.clientId, author: m.role === "agent" ? m.author : null, text: m.text, created_at: m.createdAt,
  citations: m.meta.citations ?? [], suggestions: m.meta.suggestions ?? [], lead_ask: m.meta.leadAsk ?? false, route: m.meta.route ?? null,
});

export async function customerRoutes(req: IncomingMessage, res: ServerResponse, url: URL, o: CustomerRouteOptions): Promise<boolean> {
  const cors = o.corsHeaders(req);
  const p = url.pathname;
  if (!p.startsWith("/api/conversations")) return false;
  if (req.method === "OPTIONS") {
    res.writeHead(204, { ...cors, "access-control-allow-methods": "GET, POST, OPTIONS", "access-control-allow-headers": "content-type, authorization", "access-control-max-age": "600" });
    res.end();
    return true;
  }
  const svc = o.service;
  if (p === "/api/conversations" && req.method === "POST") {
    const body = await readJson(req, 16 * 1024);
    const language = body.language === "en" ? "en" : body.language === "zh" ? "zh" : undefined;
    const pageUrl = typeof body.page_url === "string" ? body.page_url.slice(0, 500) : null;
    const { conversation, token } = await svc.start({ channel: typeof body.channel === "string" ? body.channel.slice(0, 40) : "widget", language, pageUrl });
    sendJson(res, 201, { id: conversation.id, token, status: conversation.status, language: conversation.language }, cors);
    return true;
  }
  const m = p.match(/^\/api\/conversations\/([A-Za-z0-9_]{1,64})(\/.*)?$/);
  if (!m) return false;
  const [, id, rest = ""] = m;
  const token = bearer(req) ?? url.searchParams.get("token");
  const conv: Conversation | undefined = token ? await svc.conversations.conversationForToken(id, token) : undefined;
  if (!conv) throw new DeskError(404, `conversation ${id}: not found or wrong token (send the token from POST /api/conversations as 'Authorization: Bearer TOKEN')`);
  const what = `${req.method} /api/conversations/${id}${rest}`;
  if (rest === "" && req.method === "GET") {
    const messages = await svc.conversations.messages(id);
    sendJson(res, 200, { id, status: conv.status, language: conv.language, messages: messages.map(publicMessage) }, cors);
  } else if (rest === "/messages" && req.method === "POST") {
    const body = await readJson(req, 64 * 1024);
    const text = requireString(body, "text", what, o.maxMessageChars);
    const clientId = typeof body.client_id === "string" ? body.client_id.slice(0, 80) : null;
    const r = await svc.customerMessage(id, text, clientId);
    sendJson(res, r.duplicate ? 200 : 201, { message: publicMessage(r.message), reply: r.reply ? publicMessage(r.reply) : null }, cors);
  } else if (rest === "/messages" && req.method === "GET") {
    const after = Number(url.searchParams.get("after") ?? 0) || 0;
    sendJson(res, 200, { messages: (await svc.conversations.messages(id, after)).map(publicMessage) }, cors);
  } else if (rest === "/stream" && req.method === "GET") {
    await stream(req, res, conv, Number(url.searchParams.get("after") ?? 0) || 0, o, cors);
  } else if (rest === "/feedback" && req.method === "POST") {
    const body = await readJson(req, 16 * 1024);
    const messageId = requireString(body, "message_id", what, 64);
    const rating = body.rating === 1 || body.rating === -1 ? body.rating : null;
    if (rating === null) throw new DeskError(400, `${what}: "rating" must be 1 (thumbs up) or -1 (thumbs down)`);
    const msg = await svc.conversations.message(messageId);
    if (!msg || msg.conversationId !== id) throw new DeskError(404, `${what}: message ${messageId} is not in this conversation`);
    const comment = typeof body.comment === "string" && body.comment.trim() ? body.comment.slice(0, 2000) : null;
    await svc.conversations.addFeedback(id, messageId, rating, comment);
    sendJson(res, 201, { ok: true }, cors);
  } else if (/^\/recommendations\/[A-Za-z0-9_]+\/accept$/.test(rest) && req.method === "POST") {
    const rid = rest.split("/")[2];
    if (!(await svc.conversations.acceptRecommendation(id, rid))) throw new DeskError(404, `${what}: recommendation ${rid} is not in this conversation`);
    await svc.conversations.addEvent(id, "recommendation.accepted", "customer", { recommendation_id: rid });
    sendJson(res, 200, { ok: true }, cors);
  } else {
    throw new DeskError(404, `${what}: no such endpoint`);
  }
  return true;
}

async function stream(req: IncomingMessage, res: ServerResponse, conv: Conversation, after: number, o: CustomerRouteOptions, cors: Record<string, string>): Promise<void> {
  const svc = o.service;
  const sse = openSse(req, res, cors);
  let lastSeq = after;
  let busy = false;
  let again = false;
  // Sends stored messages after lastSeq, stopping at one still being streamed out in chunks by this process.
  const catchUp = async (): Promise<void> => {
    if (sse.closed()) return;
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    try {
      for (const m of await svc.conversations.messages(conv.id, lastSeq)) {
        if (svc.live.isStreaming(conv.id, m.id)) break;
        sse.send("message", publicMessage(m));
        lastSeq = m.seq;
      }
    } finally {
      busy = false;
    }
    if (again) {
      again = false;
      await catchUp();
    }
  };
  const unsubscribe = svc.live.subscribe(conv.id, (e) => {
    if (e.type === "delta" && e.role !== "customer") sse.send("delta", { id: e.messageId, role: e.role, author: e.role === "agent" ? e.author : null, text: e.text });
    else if (e.type === "message") {
      if (e.message.seq > lastSeq && !svc.live.isStreaming(conv.id, e.message.id)) void catchUp();
    } else if (e.type === "conversation") sse.send("status", { status: e.status, ...(e.detail ?? {}) });
  });
  sse.send("status", { status: conv.status });
  await catchUp();
  const timer = setInterval(() => void catchUp().catch(() => undefined), o.pollMs);
  const ping = setInterval(() => res.write(": ping\n\n"), 15_000);
  await new Promise<void>((resolve) => req.on("close", resolve));
  clearInterval(timer);
  clearInterval(ping);
  unsubscribe();
}

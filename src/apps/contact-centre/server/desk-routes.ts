// The agent desk's API (session cookie from POST /desk/login for the pages, or a bearer token from
// POST /api/desk/tokens for programs). Roles: agent (queue, conversations, replies), supervisor (also all
// conversations and leads), admin (also users, audit log). Phone numbers and e-mails are masked in transcripts,
// notes and leads for roles not in access.unmasked_roles; every admin action is written to the audit log.
//   POST /desk/login {username, password}   POST /desk/logout     GET /api/desk/me
//   GET  /api/desk/queue   GET /api/desk/conversations?status=   GET /api/desk/conversations/:id
//   GET  /api/desk/conversations/:id/assist (KB suggestions + drafted reply)
//   POST /api/desk/conversations/:id/{take, reply {text, draft?}, note {text}, handback, close}
//   POST /api/desk/conversations/:id/transfer {to: username | team: name, reason?}   GET /api/desk/transfer-targets
//   GET  /api/desk/leads   GET /api/desk/leads.csv   GET /api/desk/events (SSE)
//   POST /api/desk/tokens (a bearer token for the caller)   GET/POST /api/desk/users, GET /api/desk/audit (admin)
// Leaves out: password change UI, team management; supervisor analytics are in inspection/supervisor-routes.ts.
import type { IncomingMessage, ServerResponse } from "node:http";
import { maskOne, maskPii } from "../../../core/pii.js";
import { ROLES, type Accounts, type DeskRole, type DeskUser } from "../store/accounts.js";
import type { Message } from "../store/store.js";
import { DeskError, type DeskService } from "./desk-service.js";
import { bearer, cookies, openSse, readJson, requireString, sendJson, sendText } from "./http-kit.js";

export const SESSION_COOKIE = "zhiyu_desk";

export interface DeskRouteOptions {
  service: DeskService;
  accounts: Accounts;
  unmaskedRoles: readonly DeskRole[];
  sessionMs: number;
  maxMessageChars: number;
  secureCookies: boolean;
  /** Teams and their agents (the configuration's inspection.teams): targets of a transfer to a team. */
  teams: Readonly<Record<string, readonly string[]>>;
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : String(v);
  // A leading =, +, - or @ would run as a formula in a spreadsheet.
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

export async function deskUser(req: IncomingMessage, accounts: Accounts): Promise<DeskUser | undefined> {
  const token = bearer(req);
  if (token) return accounts.sessionUser(token, "api");
  const cookie = cookies(req)[SESSION_COOKIE];
  return cookie ? accounts.sessionUser(cookie, "cookie") : undefined;
}

export async function deskRoutes(req: IncomingMessage, res: ServerResponse, url: URL, o: DeskRouteOptions): Promise<boolean> {
  const p = url.pathname;
  const { service: svc, accounts } = o;
  if (p === "/desk/login" && req.method === "POST") {
    const body = await readJson(req, 8 * 1024);
    const user = await accounts.checkPassword(String(body.username ?? ""), String(body.password ?? ""));
    if (!user) {
      await new Promise((r) => setTimeout(r, 300)); // slows password guessing
      throw new DeskError(401, "POST /desk/login: wrong username or password");
    }
    const token = await accounts.createSession(user.id, "cookie", o.sessionMs);
    const cookie = `${SESSION_COOKIE}=${token}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${Math.floor(o.sessionMs / 1000)}${o.secureCookies ? "; Secure" : ""}`;
    await accounts.audit(user.username, "login", user.id);
    sendJson(res, 200, { user }, { "set-cookie": cookie });
    return true;
  }
  if (p === "/desk/logout" && req.method === "POST") {
    const cookie = cookies(req)[SESSION_COOKIE];
    if (cookie) await accounts.endSession(cookie);
    sendJson(res, 200, { ok: true }, { "set-cookie": `${SESSION_COOKIE}=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0` });
    return true;
  }
  if (!p.startsWith("/api/desk/")) return false;
  const user = await deskUser(req, accounts);
  if (!user) throw new DeskError(401, `${req.method} ${p}: log in at /desk (or send 'Authorization: Bearer TOKEN' from POST /api/desk/tokens)`);
  const unmasked = o.unmaskedRoles.includes(user.role);
  const mask = (s: string | null) => (s === null || unmasked ? s : maskPii(s));
  const maskPhone = (p: string) => maskOne("mobile", p);
  const maskEmail = (e: string) => maskOne("email", e);
  const showMessage = (m: Message) => ({ ...m, text: mask(m.text)! });
  const need = (...roles: DeskRole[]) => {
    if (!roles.includes(user.role)) throw new DeskError(403, `${req.method} ${p}: needs role ${roles.join(" or ")} (you are ${user.role})`);
  };
  const what = `${req.method} ${p}`;

  if (p === "/api/desk/me" && req.method === "GET") {
    sendJson(res, 200, { user, unmasked });
  } else if (p === "/api/desk/queue" && req.method === "GET") {
    const now = Date.now();
    sendJson(res, 200, { queue: (await svc.conversations.queue()).map((c) => ({ ...c, state: undefined, waitingMs: c.queuedAt ? now - c.queuedAt : 0 })) });
  } else if (p === "/api/desk/conversations" && req.method === "GET") {
    const status = url.searchParams.get("status") as "bot" | "queued" | "agent" | "closed" | null;
    let list = await svc.conversations.conversations({ status: status ?? undefined });
    if (user.role === "agent") list = list.filter((c) => c.status === "queued" || c.assignee === user.username || c.status === "bot");
    sendJson(res, 200, { conversations: list.map((c) => ({ ...c, state: undefined })) });
  } else if (p === "/api/desk/leads" && req.method === "GET") {
    const leads = await svc.conversations.leads();
    sendJson(res, 200, { unmasked, leads: leads.map((l) => ({ ...l, phone: l.phone && !unmasked ? maskPhone(l.phone) : l.phone, email: l.email && !unmasked ? maskEmail(l.email) : l.email })) });
  } else if (p === "/api/desk/leads.csv" && req.method === "GET") {
    need("admin", "supervisor");
    const leads = await svc.conversations.leads();
    const rows = [["id", "created_at", "name", "phone", "email", "need", "consent", "language", "conversation_id"].join(",")];
    for (const l of leads) {
      rows.push([l.id, new Date(l.createdAt).toISOString(), l.name, l.phone && !unmasked ? maskPhone(l.phone) : l.phone, l.email && !unmasked ? maskEmail(l.email) : l.email,
        l.need, l.consent ? "yes" : "no", l.language, l.conversationId].map(csvCell).join(","));
    }
    await accounts.audit(user.username, "leads.export", null, { rows: leads.length, unmasked });
    sendText(res, 200, "\uFEFF" + rows.join("\r\n") + "\r\n", "text/csv; charset=utf-8", { "content-disposition": 'attachment; filename="leads.csv"' });
  } else if (p === "/api/desk/events" && req.method === "GET") {
    const sse = openSse(req, res);
    const unsubscribe = svc.live.subscribeDesk((e) => {
      if (e.type === "delta") return;
      sse.send(e.type, e.type === "message" ? { conversationId: e.conversationId, message: showMessage(e.message) } : e);
    });
    const timer = setInterval(() => sse.send("queue", { type: "queue" }), 5000);
    await new Promise<void>((resolve) => req.on("close", resolve));
    clearInterval(timer);
    unsubscribe();
  } else if (p === "/api/desk/transfer-targets" && req.method === "GET") {
    const agents = (await accounts.users()).filter((u) => !u.disabled && u.role === "agent" && u.username !== user.username);
    sendJson(res, 200, { agents: agents.map((u) => ({ username: u.username, displayName: u.displayName })), teams: Object.keys(o.teams).sort() });
  } else if (p === "/api/desk/tokens" && req.method === "POST") {
    const token = await accounts.createSession(user.id, "api", 30 * 24 * 3600_000);
    await accounts.audit(user.username, "token.create", user.id);
    sendJson(res, 201, { token, expires_in_days: 30 });
  } else if (p === "/api/desk/users" && req.method === "GET") {
    need("admin");
    sendJson(res, 200, { users: await accounts.users() });
  } else if (p === "/api/desk/users" && req.method === "POST") {
    need("admin");
    const body = await readJson(req, 8 * 1024);
    const role = String(body.role ?? "") as DeskRole;
    if (!ROLES.includes(role)) throw new DeskError(400, `${what}: "role" must be one of ${ROLES.join(", ")}`);
    let created;
    try {
      created = await accounts.createUser({ username: requireString(body, "username", what, 64), password: requireString(body, "password", what, 200), role,
        displayName: typeof body.display_name === "string" ? body.display_name : undefined });
    } catch (err) {
      if (err instanceof DeskError) throw err;
      throw new DeskError(400, `${what}: ${(err as Error).message}`);
    }
    await accounts.audit(user.username, "user.create", created.id, { username: created.username, role });
    sendJson(res, 201, { user: created });
  } else if (p === "/api/desk/audit" && req.method === "GET") {
    need("admin");
    sendJson(res, 200, { audit: await accounts.auditLog() });
  } else {
    const m = p.match(/^\/api\/desk\/conversations\/([A-Za-z0-9_]{1,64})(?:\/(take|reply|note|handback|transfer|close|assist))?$/);
    if (!m) throw new DeskError(404, `${what}: no such endpoint`);
    const [, id, action] = m;
    if (!action && req.method === "GET") {
      const conv = await svc.conversations.conversation(id);
      if (!conv) throw new DeskError(404, `${what}: conversation ${id} not found`);
      const [messages, events, feedback] = await Promise.all([svc.conversations.messages(id), svc.conversations.events(id), svc.conversations.feedback(id)]);
      sendJson(res, 200, {
        conversation: { ...conv, state: undefined, slots: (conv.state as { dialogue?: { slots?: unknown } }).dialogue?.slots ?? {} },
        messages: messages.map(showMessage),
        events: events.map((e) => ({ ...e, detail: typeof e.detail.text === "string" ? { ...e.detail, text: mask(e.detail.text) } : e.detail })),
        feedback,
      });
    } else if (action === "assist" && req.method === "GET") {
      const a = await svc.assist(id);
      sendJson(res, 200, { ...a, draft: mask(a.draft) });
    } else if (req.method === "POST" && action) {
      const body = await readJson(req, 64 * 1024);
      if (action === "take") sendJson(res, 200, { conversation: { ...(await svc.take(id, user)), state: undefined } });
      else if (action === "reply") {
        const text = requireString(body, "text", what, o.maxMessageChars);
        const draft = typeof body.draft === "string" ? body.draft : null;
        sendJson(res, 201, { message: showMessage(await svc.agentReply(id, user, text, draft)) });
      } else if (action === "note") {
        await svc.note(id, user, requireString(body, "text", what, 4000));
        sendJson(res, 201, { ok: true });
      } else if (action === "transfer") {
        const to = typeof body.to === "string" && body.to ? body.to : null;
        const team = typeof body.team === "string" && body.team ? body.team : null;
        if ((to === null) === (team === null)) throw new DeskError(400, `${what}: give exactly one of "to" (an agent's username) or "team" (one of: ${Object.keys(o.teams).join(", ") || "none configured in inspection.teams"})`);
        const reason = typeof body.reason === "string" && body.reason.trim() ? body.reason.trim().slice(0, 500) : null;
        let conv;
        if (to !== null) {
          const target = await accounts.userByName(to);
          if (!target || target.disabled || target.role !== "agent") throw new DeskError(400, `${what}: "to": ${JSON.stringify(to)} is not an active agent (GET /api/desk/transfer-targets lists them)`);
          const teamOf = Object.entries(o.teams).find(([, members]) => members.includes(target.username))?.[0] ?? null;
          conv = await svc.transfer(id, user, { to: target, team: teamOf }, reason);
        } else {
          if (!Object.hasOwn(o.teams, team!)) throw new DeskError(400, `${what}: "team": ${JSON.stringify(team)} is not a team (configured: ${Object.keys(o.teams).join(", ") || "none — add inspection.teams to the configuration"})`);
          conv = await svc.transfer(id, user, { to: null, team: team! }, reason);
        }
        sendJson(res, 200, { conversation: { ...conv, state: undefined } });
      } else if (action === "handback") {
        await svc.handBack(id, user);
        sendJson(res, 200, { ok: true });
      } else {
        await svc.close(id, user);
        if (user.role === "admin") await accounts.audit(user.username, "conversation.close", id);
        sendJson(res, 200, { ok: true });
      }
    } else {
      throw new DeskError(405, `${what}: method not allowed`);
    }
  }
  return true;
}

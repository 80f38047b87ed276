// The supervisor dashboard's page and API (roles supervisor and admin; the session cookie of /desk or a bearer token):
//   GET /supervisor (+ supervisor.js, supervisor.css)      GET /vendor/echarts.min.js (ECharts from node_modules)
//   GET /api/desk/analysis?agent=&team=&intent=&from=&to=&min_score=&max_score=   tables, charts' data, coaching, bot
//   GET /api/desk/analysis/<agents|teams|days|hours|workload|conversations|coaching|faq>.csv?<same filters>
//   GET /api/desk/inspections/:id      a conversation's turns cut into segments with the marks on them
//   GET /api/desk/live                 queue length, waiting times, agents online
// Texts are masked for roles that may not see personal data, segment by segment, so a mark's span stays on the
// words it marks. Leaves out: editing the rubric from the page (edit the configuration), scheduled reports.
import { readFileSync } from "node:fs";
import type { IncomingMessage, ServerResponse } from "node:http";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { maskPii } from "../../../core/pii.js";
import { deskUser } from "../server/desk-routes.js";
import { DeskError } from "../server/desk-service.js";
import { sendJson, sendText } from "../server/http-kit.js";
import type { Accounts, DeskRole } from "../store/accounts.js";
import { analyse, agentOf, type Analysis, type GroupRow } from "./analysis.js";
import { storedTranscript, type DeskInspector } from "./desk-inspector.js";
import type { RubricConfig } from "./rubric.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(import.meta.url);
const ASSETS: Record<string, { file: () => string; type: string }> = {
  "/supervisor": { file: () => path.join(HERE, "../pages/supervisor.html"), type: "text/html; charset=utf-8" },
  "/supervisor/supervisor.js": { file: () => path.join(HERE, "../pages/supervisor.js"), type: "text/javascript; charset=utf-8" },
  "/supervisor/supervisor.css": { file: () => path.join(HERE, "../pages/supervisor.css"), type: "text/css; charset=utf-8" },
  "/vendor/echarts.min.js": { file: echartsFile, type: "text/javascript; charset=utf-8" },
};

/** node_modules/echarts/dist/echarts.min.js (the package's main file is in its dist/ folder). */
function echartsFile(): string {
  let dir = path.dirname(require.resolve("echarts"));
  while (path.basename(dir) !== "echarts" && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return path.join(dir, "dist", "echarts.min.js");
}

export interface SupervisorOptions {
  inspector: DeskInspector;
  accounts: Accounts;
  rubric: RubricConfig;
  unmaskedRoles: readonly DeskRole[];
}

interface Filters { agent?: string; team?: string; intent?: string; from?: string; to?: string; minScore?: number; maxScore?: number }

function filtersOf(url: URL): Filters {
  const s = (k: string) => url.searchParams.get(k)?.trim() || undefined;
  const n = (k: string) => {
    const v = s(k);
    if (v === undefined) return undefined;
    const x = Number(v);
    if (!Number.isFinite(x)) throw new DeskError(400, `GET ${url.pathname}: ${k}=${v} is not a number`);
    return x;
  };
  return { agent: s("agent"), team: s("team"), intent: s("intent"), from: s("from"), to: s("to"), minScore: n("min_score"), maxScore: n("max_score") };
}

function csvCell(v: unknown): string {
  const s = v === null || v === undefined ? "" : typeof v === "number" ? String(Math.round(v * 1000) / 1000) : String(v);
  const safe = /^[=+\-@]/.test(s) ? `'${s}` : s;
  return /[",\n\r]/.test(safe) ? `"${safe.replaceAll('"', '""')}"` : safe;
}

function csv(header: string[], rows: unknown[][]): string {
  return "\uFEFF" + [header, ...rows].map((r) => r.map(csvCell).join(",")).join("\r\n") + "\r\n";
}

const GROUP_HEADER = ["key", "handled", "first_response_s", "handle_time_s", "resolution_rate", "hand_back_rate", "transfer_rate", "quality_score", "top_marks", "sentiment_change"];
const groupRow = (r: GroupRow) => [r.key, r.handled, r.firstResponseS, r.handleTimeS, r.resolutionRate, r.handBackRate, r.transferRate, r.qualityScore,
  r.topMarks.map((m) => `${m.item}×${m.count}`).join(" "), r.sentimentChange];

export async function supervisorRoutes(req: IncomingMessage, res: ServerResponse, url: URL, o: SupervisorOptions): Promise<boolean> {
  const p = url.pathname;
  if (req.method === "GET" && ASSETS[p]) {
    sendText(res, 200, readFileSync(ASSETS[p].file()), ASSETS[p].type, { "cache-control": "no-store", "x-content-type-options": "nosniff",
      "content-security-policy": "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'self'" });
    return true;
  }
  if (!(p === "/api/desk/live" || p.startsWith("/api/desk/analysis") || p.startsWith("/api/desk/inspections/"))) return false;
  const what = `${req.method} ${p}`;
  if (req.method !== "GET") throw new DeskError(405, `${what}: method not allowed`);
  const user = await deskUser(req, o.accounts);
  if (!user) throw new DeskError(401, `${what}: log in at /desk (or send 'Authorization: Bearer TOKEN')`);
  if (user.role !== "supervisor" && user.role !== "admin") throw new DeskError(403, `${what}: needs role supervisor or admin (you are ${user.role})`);
  const unmasked = o.unmaskedRoles.includes(user.role);
  const mask = (s: string) => (unmasked ? s : maskPii(s));

  if (p === "/api/desk/live") {
    const db = o.inspector.db;
    const now = Date.now();
    const queue = await o.inspector.store.queue();
    const waits = queue.map((c) => (c.queuedAt ? now - c.queuedAt : 0));
    const online = await db.all(`SELECT DISTINCT u.username, u.display_name FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.expires_at > ? AND u.role = 'agent' AND u.disabled = 0 ORDER BY u.username`, [now]);
    const active = await db.all("SELECT assignee, COUNT(*) AS n FROM conversations WHERE status = 'agent' GROUP BY assignee");
    const activeBy = new Map(active.map((r) => [String(r.assignee), Number(r.n)]));
    sendJson(res, 200, {
      queueLength: queue.length, waiting: queue.map((c, i) => ({ id: c.id, priority: c.priority, waitingMs: waits[i] })),
      longestWaitMs: waits.length ? Math.max(...waits) : 0, averageWaitMs: waits.length ? waits.reduce((s, w) => s + w, 0) / waits.length : 0,
      agentsOnline: online.map((r) => ({ username: String(r.username), displayName: String(r.display_name), activeConversations: activeBy.get(String(r.username)) ?? 0 })),
    });
    return true;
  }
  const inspection = p.match(/^\/api\/desk\/inspections\/([A-Za-z0-9_]{1,64})$/);
  if (inspection) {
    const id = inspection[1];
    const c = await o.inspector.store.conversation(id);
    if (!c) throw new DeskError(404, `${what}: conversation ${id} not found`);
    const t = await storedTranscript(o.inspector.store, c);
    const report = await o.inspector.inspection(id);
    if (!report) throw new DeskError(404, `${what}: conversation ${id} has not been inspected (only closed conversations are)`);
    const turns = t.turns.map((turn, i) => {
      const mine = report.marks.map((m, k) => ({ m, k })).filter(({ m }) => m.turn === i);
      const cuts = [...new Set([0, turn.text.length, ...mine.flatMap(({ m }) => [m.start, m.end])])].filter((x) => x >= 0 && x <= turn.text.length).sort((a, b) => a - b);
      const segments = cuts.slice(0, -1).map((start, j) => ({
        text: mask(turn.text.slice(start, cuts[j + 1])), marks: mine.filter(({ m }) => m.start <= start && m.end >= cuts[j + 1] && m.end > m.start).map(({ k }) => k),
      })).filter((s) => s.text.length > 0);
      return { role: turn.role, author: turn.author ?? null, ts: turn.ts ?? null, segments };
    });
    sendJson(res, 200, { id, score: report.score, rubric_version: report.rubric_version, marks: report.marks.map((m) => ({ ...m, reason: mask(m.reason) })), agent: t.agent ?? null, turns });
    return true;
  }
  const f = filtersOf(url);
  const all = await o.inspector.inspected();
  const teamOf = (agent: string | null, t?: string) => t ?? Object.entries(o.rubric.teams ?? {}).find(([, m]) => agent !== null && m.includes(agent))?.[0] ?? "—";
  const rows = all.map((x) => {
    const agent = agentOf(x.transcript);
    const day = new Date((x.conversation.createdAt) + (o.rubric.utc_offset_hours ?? 0) * 3600_000).toISOString().slice(0, 10);
    return { x, agent, team: teamOf(agent, x.transcript.team), intent: x.transcript.intent ?? "", day };
  }).filter((r) => (!f.agent || r.agent === f.agent) && (!f.team || r.team === f.team) && (!f.intent || r.intent === f.intent)
    && (!f.from || r.day >= f.from) && (!f.to || r.day <= f.to)
    && (f.minScore === undefined || (r.x.report?.score ?? -1) >= f.minScore) && (f.maxScore === undefined || (r.x.report !== undefined && r.x.report.score <= f.maxScore)));
  const analysis: Analysis = analyse(rows.map((r) => ({ transcript: r.x.transcript, report: r.x.report })), { rubric: o.rubric });
  const conversations = rows.map((r) => ({ id: r.x.conversation.id, agent: r.agent, team: r.team, intent: r.intent, date: r.day, channel: r.x.conversation.channel,
    score: r.x.report?.score ?? null, marks: r.x.report?.marks.length ?? 0, items: [...new Set(r.x.report?.marks.map((m) => m.item) ?? [])].join(" ") }));
  const table = p.match(/^\/api\/desk\/analysis\/([a-z]+)\.csv$/);
  if (table) {
    let body: string;
    switch (table[1]) {
      case "agents": case "teams": case "days": case "hours":
        body = csv(GROUP_HEADER, analysis[table[1]].map(groupRow));
        break;
      case "workload":
        body = csv(["agent", ...Array.from({ length: 24 }, (_, h) => `h${String(h).padStart(2, "0")}`)], analysis.workload.map((w) => [w.agent, ...w.byHour]));
        break;
      case "conversations":
        body = csv(["id", "agent", "team", "intent", "date", "channel", "score", "marks", "items"], conversations.map((c) => [c.id, c.agent, c.team, c.intent, c.date, c.channel, c.score, c.marks, c.items]));
        break;
      case "coaching":
        body = csv(["agent", "item", "count", "note"], analysis.coaching.map((n) => [n.agent, n.item, n.count, mask(n.note)]));
        break;
      case "faq":
        body = csv(["question", "count", "conversations"], analysis.bot.faqCandidates.map((q) => [mask(q.question), q.count, q.conversations.join(" ")]));
        break;
      default:
        throw new DeskError(404, `${what}: no such table (agents, teams, days, hours, workload, conversations, coaching, faq)`);
    }
    sendText(res, 200, body, "text/csv; charset=utf-8", { "content-disposition": `attachment; filename="${table[1]}.csv"`, "cache-control": "no-store" });
    return true;
  }
  if (p !== "/api/desk/analysis") throw new DeskError(404, `${what}: no such endpoint`);
  const options = {
    agents: [...new Set(all.map((x) => agentOf(x.transcript)).filter((a): a is string => a !== null))].sort(),
    teams: [...new Set(Object.keys(o.rubric.teams ?? {}))].sort(),
    intents: [...new Set(all.map((x) => x.transcript.intent).filter((i): i is string => !!i))].sort(),
  };
  sendJson(res, 200, {
    filters: f, options, conversations,
    analysis: { ...analysis, coaching: analysis.coaching.map((n) => ({ ...n, note: mask(n.note), citations: n.citations.map((c) => ({ ...c, quote: mask(c.quote) })) })),
      bot: { ...analysis.bot, faqCandidates: analysis.bot.faqCandidates.map((q) => ({ ...q, question: mask(q.question) })) } },
  });
  return true;
}

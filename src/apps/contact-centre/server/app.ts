// Starts the desk: opens the store (SQLite in the data folder, or PostgreSQL with a postgres:// URL) and migrates
// it, creates the configured users, imports the knowledge base, loads the understanding models and the catalogue,
// and serves on one port:
//   /widget.js              the customer chat widget (one script tag; see widget/widget.js)
//   /demo                   a page that embeds it          /desk   the agent desk (login, queue, conversations, leads)
//   /supervisor             quality inspection and agent analysis (inspection/supervisor-routes.ts)
//   /api/conversations/…    customer REST API + SSE        /api/desk/…   agent/admin API
//   /health                 liveness and store check
// Webhooks are delivered from the outbox in the background. Several processes may run against one PostgreSQL.
// Leaves out: TLS (put a proxy in front and pass secureCookies), static asset caching headers beyond no-store.
import { existsSync, readFileSync } from "node:fs";
import { maskPii } from "../../../core/pii.js";
import http, { type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { WebhookDeliverer, type WebhookTarget } from "../channels/webhooks.js";
import type { LoadedConfig } from "../config.js";
import { deskSettings, type DeskSettings } from "../desk-settings.js";
import { DeskInspector } from "../inspection/desk-inspector.js";
import { inspectorFor, rubricOf } from "../inspection/setup.js";
import { supervisorRoutes } from "../inspection/supervisor-routes.js";
import { KnowledgeBase } from "../kb/knowledge-base.js";
import type { Embedder, Generate, ImportReport } from "../kb/types.js";
import { Assistant } from "../pipeline/assistant.js";
import { loadCatalogue, type CatalogueItem } from "../recommend/catalogue.js";
import { Accounts } from "../store/accounts.js";
import { migrate } from "../store/migrations.js";
import { Outbox } from "../store/outbox.js";
import { openDatabase, type SqlDb } from "../store/sql.js";
import { loadUnderstander } from "../understanding/understand.js";
import { customerRoutes } from "./customer-routes.js";
import { DeskError, DeskService } from "./desk-service.js";
import { deskRoutes } from "./desk-routes.js";
import { sendError, sendJson, sendText } from "./http-kit.js";
import { LiveHub } from "./live.js";

const HERE = path.dirname(fileURLToPath(import.meta.url));
const ASSETS: Record<string, { file: string; type: string }> = {
  "/widget.js": { file: "../widget/widget.js", type: "text/javascript; charset=utf-8" },
  "/demo": { file: "../pages/demo.html", type: "text/html; charset=utf-8" },
  "/desk": { file: "../pages/desk.html", type: "text/html; charset=utf-8" },
  "/desk/desk.js": { file: "../pages/desk.js", type: "text/javascript; charset=utf-8" },
  "/desk/desk.css": { file: "../pages/desk.css", type: "text/css; charset=utf-8" },
};

export interface DeskOptions {
  config: LoadedConfig;
  /** postgres://… or a SQLite file/folder; default: desk.sqlite in the configuration's data folder. */
  db?: string;
  /** Data folder when the configuration sets no storage.data_dir (KB index, desk.sqlite). */
  dataDir?: string;
  host?: string;
  port?: number;
  /** Phrases KB answers when replies.phrasing is "model" (the CLI builds it from --model). */
  generate?: Generate;
  embedder?: Embedder;
  /** Passwords of access.users by username (the CLI reads them from the variables the file names). */
  userPasswords?: Record<string, string>;
  /** Created when the store has no user at all (first start). */
  bootstrapAdmin?: { username: string; password: string };
  /** Webhook signing secrets by URL. */
  webhookSecrets?: Record<string, string>;
  /** ../shared/data, for training the understanding models in memory when the shipped ones are stale. */
  dataRoot?: string;
  secureCookies?: boolean;
  pollMs?: number;
  webhookPollMs?: number;
  log?: (line: string) => void;
}

export interface RunningDesk {
  url: string;
  service: DeskService;
  accounts: Accounts;
  db: SqlDb;
  settings: DeskSettings;
  /** What this start's folder imports changed (new, updated, removed files and their passages). */
  kbReport: ImportReport[];
  /** Passages the KB holds now (also those imported by earlier starts and uploads). */
  kbPassages(): number;
  catalogueSize: number;
  /** Inspection of closed conversations (quality scores and marks; the supervisor dashboard reads them). */
  inspections: DeskInspector;
  close(): Promise<void>;
}

export async function startDesk(o: DeskOptions): Promise<RunningDesk> {
  const log = o.log ?? (() => undefined);
  const settings = deskSettings(o.config, o.dataDir);
  const targets: WebhookTarget[] = settings.webhooks.map((w) => {
    const secret = o.webhookSecrets?.[w.url];
    if (!secret) throw new Error(`${o.config.source}: webhooks: ${w.url} needs its signing secret in the environment variable ${w.secret_env}`);
    return { ...w, secret };
  });
  const db = await openDatabase(o.db ?? settings.dataDir);
  try {
    const applied = await migrate(db);
    if (applied.length > 0) log(`desk store ${db.where}: applied migrations ${applied.join(", ")}`);
  } catch (err) {
    await db.close();
    throw err;
  }
  const accounts = new Accounts(db);
  try {
    for (const u of settings.users) {
      if (await accounts.userByName(u.username)) continue;
      const password = o.userPasswords?.[u.username];
      if (!password) throw new Error(`${o.config.source}: access.users: user "${u.username}" needs a password in the environment variable ${u.password_env}`);
      await accounts.createUser({ username: u.username, password, role: u.role, displayName: u.display_name });
      await accounts.audit("config", "user.create", u.username, { role: u.role });
    }
    if (o.bootstrapAdmin && (await accounts.users()).length === 0) {
      await accounts.createUser({ ...o.bootstrapAdmin, role: "admin", displayName: "Admin" });
      await accounts.audit("startup", "user.create", o.bootstrapAdmin.username, { role: "admin", bootstrap: true });
    }
  } catch (err) {
    await db.close();
    throw err;
  }
  const kb = await KnowledgeBase.open({ config: o.config.knowledge_base, dir: path.join(settings.dataDir, "kb"), embedder: o.embedder, fallback: o.config.fallback });
  const kbReport: ImportReport[] = [];
  for (const folder of o.config.knowledge_base.folders) {
    const r = await kb.importFolder(folder);
    kbReport.push(r);
    for (const e of r.errors) log(`knowledge base: ${e.file}: ${e.error}`);
  }
  const brain = loadUnderstander(o.config, { dataRoot: o.dataRoot, onNote: (n) => log(`understanding: ${n}`) });
  let catalogue: CatalogueItem[] = [];
  const cat = o.config.products.catalogue;
  if (cat && existsSync(cat)) catalogue = loadCatalogue(cat);
  else if (cat) log(`recommendations off: catalogue ${cat} not found (products.catalogue)`);
  const live = new LiveHub();
  const deliverer = new WebhookDeliverer(new Outbox(db), targets, o.webhookPollMs ?? 500, log);
  const generate = settings.phrasing === "model" ? o.generate : undefined;
  const assistant = new Assistant(o.config, brain, kb, catalogue, generate);
  const service = new DeskService(db, assistant, live, (e) => deliverer.targetsFor(e), o.config.language);
  // Every closed conversation is inspected; after a rubric change the stale results are redone in the background.
  const inspections = new DeskInspector(db, inspectorFor(o.config), log);
  service.onClosed = (id) => inspections.enqueue(id);
  const caughtUp = inspections.catchUp().then((n) => { if (n > 0) log(`inspection: ${n} closed conversations (re)inspected under ${inspections.inspector.version}`); },
    (err) => log(`inspection catch-up: ${(err as Error).message}`));
  const leaveRemote = db.signals ? await live.connectRemote(db.signals, (id) => service.conversations.message(id)) : null;
  const corsHeaders = (req: IncomingMessage): Record<string, string> => {
    const origin = String(req.headers.origin ?? "");
    const allowed = settings.allowedOrigins.includes("*") ? "*" : settings.allowedOrigins.includes(origin) ? origin : "";
    return allowed ? { "access-control-allow-origin": allowed, vary: "origin" } : {};
  };
  const assets = new Map<string, Buffer>();
  const asset = (p: string) => {
    if (!assets.has(p)) assets.set(p, readFileSync(path.join(HERE, ASSETS[p].file)));
    return assets.get(p)!;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? "/", "http://desk.local");
    if (req.method === "GET" && ASSETS[url.pathname]) {
      const headers: Record<string, string> = { "cache-control": "no-store", "x-content-type-options": "nosniff" };
      if (url.pathname === "/widget.js") Object.assign(headers, { "access-control-allow-origin": "*", "cross-origin-resource-policy": "cross-origin" });
      else headers["content-security-policy"] = "default-src 'self'; style-src 'self' 'unsafe-inline'; frame-ancestors 'self'";
      let body = asset(url.pathname);
      // The demo page in English: the same single tag with data-lang="en" — in the shown snippet and in the real tag
      // (replacing only the first occurrence changed the snippet and left the widget Chinese).
      if (url.pathname === "/demo" && url.searchParams.get("lang") === "en") {
        body = Buffer.from(body.toString("utf8").replace('<html lang="zh">', '<html lang="en">').replaceAll('data-lang="zh"', 'data-lang="en"'));
      }
      sendText(res, 200, body, ASSETS[url.pathname].type, headers);
      return;
    }
    if (req.method === "GET" && url.pathname === "/") {
      res.writeHead(302, { location: "/desk" });
      res.end();
      return;
    }
    if (req.method === "GET" && url.pathname === "/health") {
      await db.get("SELECT 1 AS ok");
      sendJson(res, 200, { ok: true, store: db.dialect, kb_passages: kb.passageCount(), catalogue: catalogue.length });
      return;
    }
    if (await customerRoutes(req, res, url, { service, maxMessageChars: settings.maxMessageChars, corsHeaders, pollMs: o.pollMs ?? 1000 })) return;
    if (await supervisorRoutes(req, res, url, { inspector: inspections, accounts, rubric: rubricOf(o.config), unmaskedRoles: settings.unmaskedRoles })) return;
    if (await deskRoutes(req, res, url, { service, accounts, unmaskedRoles: settings.unmaskedRoles, sessionMs: settings.sessionMs,
      maxMessageChars: settings.maxMessageChars, secureCookies: o.secureCookies ?? false, teams: rubricOf(o.config).teams ?? {} })) return;
    throw new DeskError(404, `${req.method} ${url.pathname}: no such page or endpoint (the desk is at /desk, the widget at /widget.js)`);
  };
  const sockets = new Set<Socket>();
  const server = http.createServer((req, res) => {
    handle(req, res).catch((err) => {
      // The path only: a stream's query string carries the customer's token.
      if (!(err instanceof DeskError)) log(`desk: ${req.method} ${(req.url ?? "").split("?")[0]}: ${maskPii(String((err as Error).stack ?? err))}`);
      sendError(res, err);
    });
  });
  server.on("connection", (s) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(o.port ?? 8090, o.host ?? "127.0.0.1", () => resolve());
  });
  deliverer.start();
  const addr = server.address() as AddressInfo;
  const host = addr.address.includes(":") ? `[${addr.address}]` : addr.address;
  return {
    url: `http://${host}:${addr.port}`, service, accounts, db, settings, kbReport, kbPassages: () => kb.passageCount(), catalogueSize: catalogue.length, inspections,
    async close() {
      await leaveRemote?.();
      await deliverer.stop();
      await caughtUp;
      await inspections.idle();
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        for (const s of sockets) s.destroy();
      });
      kb.close();
      await db.close();
    },
  };
}

// The HTTP server: OpenAI-compatible endpoints, /health, /metrics and the web chat page, on plain node:http.
// Why not fastify: the surface is eight routes, SSE needs raw control of the response anyway, validation is the
// OpenAI-specific code in protocol.ts, and node:http adds no dependency or startup cost.
// Auth: with an API key set, every /v1/* request needs `Authorization: Bearer <key>` (401 otherwise); /health,
// /metrics and the page stay open (the page asks for the key and sends it).
// Posture (http-guard.ts): no CORS unless --cors names origins, a Host header must name this server (DNS rebinding),
// a cross-origin request from an unlisted page is refused. Limits: a connection cap, a deadline for the headers and
// for the whole request body, idle keep-alive sockets closed after a few seconds.
// Access log: with `accessLog` set, one line per request when its response ends — time, client address, method,
// path (no query string), status, duration — never bodies, headers or keys.
// Leaves out: TLS (put a proxy in front), multiple models per process, HTTP/2.
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { GenerativeModel } from "../infer/model-api.js";
import { Scheduler } from "../infer/scheduler.js";
import { Engine } from "./engine.js";
import { ApiError } from "./errors.js";
import { HttpGuard, redactTarget } from "./http-guard.js";
import { maskPii } from "../core/pii.js";
import { Metrics } from "./metrics.js";
import { checkJsonDepth } from "./protocol.js";
import { chatCompletions, completions, embeddings, listModels, modelObject, type RouteContext } from "./routes.js";
import type { Tool } from "../tools/tool.js";
import { adapterNames } from "./lora-select.js";
import type { BertEncoder } from "../infer/encoder.js";
import { type EncoderService, encoderEmbedder, noChatModel, rerank } from "./encoder-routes.js";

export interface ServerOptions {
  /** The chat / completions model; null when the server runs encoders only. */
  model: GenerativeModel | null;
  /** A BERT-family encoder serving /v1/embeddings under its own name (zhiyu serve --embedding-model). */
  embeddingModel?: BertEncoder | null;
  /** A cross-encoder serving /v1/rerank (zhiyu serve --rerank-model). */
  rerankModel?: BertEncoder | null;
  host?: string;
  /** 0 picks a free port. */
  port?: number;
  apiKey?: string | null;
  /** Decode slots (sequences batched per step). */
  parallel?: number;
  /** Requests that may wait for a slot before 429. */
  maxQueue?: number;
  /** Context length cap. */
  contextLength?: number;
  /** Per-request time limit in seconds. */
  requestTimeoutSeconds?: number;
  /** Extra names the `model` field may use besides model.id. */
  modelAliases?: string[];
  /** Receives one access-log line per request (see the header). */
  accessLog?: (line: string) => void;
  /** Largest request body in bytes. */
  maxBodyBytes?: number;
  /** Tools the server itself runs for requests with `zhiyu_tools: true` (the agent loop of src/tools/agent.ts). */
  tools?: readonly Tool[];
  /** Reuse finished sequences' KV caches for prompts sharing their prefix (default true). */
  prefixReuse?: boolean;
  /** Origins given CORS access (--cors); default none: only the server's own page. "*" opens it to every page. */
  corsOrigins?: readonly string[];
  /** Names clients may use in the Host header besides the listening address (--host-name). */
  hostNames?: readonly string[];
  /** Most open connections (default 256); more are refused at accept. */
  maxConnections?: number;
  /** Time for a client to send its request headers, and its whole request, in ms (defaults 10 s and 60 s). */
  headersTimeoutMs?: number;
  requestBodyTimeoutMs?: number;
  /** How long an idle keep-alive connection stays open, in ms (default 5 s). */
  keepAliveMs?: number;
  /** Mask personal data in logs and tool traces (default true). */
  maskPii?: boolean;
}

export interface RunningServer {
  server: Server;
  url: string;
  engine: Engine;
  metrics: Metrics;
  close(): Promise<void>;
}

const WEB_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), "web");
const STATIC: Record<string, [file: string, type: string]> = {
  "/": ["index.html", "text/html; charset=utf-8"],
  "/index.html": ["index.html", "text/html; charset=utf-8"],
  "/app.js": ["app.js", "text/javascript; charset=utf-8"],
  "/markdown.js": ["markdown.js", "text/javascript; charset=utf-8"],
  "/i18n.js": ["i18n.js", "text/javascript; charset=utf-8"],
  "/style.css": ["style.css", "text/css; charset=utf-8"],
  "/favicon.svg": ["favicon.svg", "image/svg+xml"],
  "/favicon.ico": ["favicon.svg", "image/svg+xml"],
};

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text), ...headers });
  res.end(text);
}

async function readJson(req: IncomingMessage, limit: number): Promise<unknown> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new ApiError(413, `the request body is larger than ${limit} bytes`, "invalid_request_error", null, "body_too_large");
    chunks.push(chunk as Buffer);
  }
  const text = Buffer.concat(chunks).toString("utf8");
  if (text.trim().length === 0) throw new ApiError(400, "the request body is empty; send a JSON object", "invalid_request_error", null, "invalid_json");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `the request body is not valid JSON: ${(err as Error).message}`, "invalid_request_error", null, "invalid_json");
  }
  checkJsonDepth(body);
  return body;
}

/** Starts the server; resolves once it listens. */
export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const encoderNames = (enc: BertEncoder) => [...new Set([enc.id, enc.id.replace(/\.gguf$/i, "")])];
  const embeddingService: EncoderService | null = options.embeddingModel
    ? { encoder: options.embeddingModel, names: encoderNames(options.embeddingModel) } : null;
  const rerankService: EncoderService | null = options.rerankModel ? { encoder: options.rerankModel, names: encoderNames(options.rerankModel) } : null;
  const firstEncoder = embeddingService ?? rerankService;
  if (!options.model && !firstEncoder) throw new Error("[startServer] give a chat model, an embedding model or a rerank model");
  const model = options.model ?? noChatModel(firstEncoder!);
  const chat = options.model !== null;
  const parallel = options.parallel ?? 4;
  const scheduler = new Scheduler(model, { parallel, maxQueue: options.maxQueue ?? parallel * 8, contextLength: options.contextLength,
    prefixReuse: options.prefixReuse });
  const engine = new Engine(model, scheduler, { requestTimeoutMs: (options.requestTimeoutSeconds ?? 600) * 1000 });
  // The embedding encoder gets its own scheduler and engine: its requests are queued, sliced per step and ended by
  // disconnect or the time limit exactly as the chat model's, on a queue of their own.
  const encoderScheduler = embeddingService ? new Scheduler(noChatModel(embeddingService), {
    parallel, maxQueue: options.maxQueue ?? parallel * 8, embedder: encoderEmbedder(embeddingService.encoder),
  }) : null;
  const encoderEngine = encoderScheduler ? new Engine(noChatModel(embeddingService!), encoderScheduler,
    { requestTimeoutMs: (options.requestTimeoutSeconds ?? 600) * 1000 }) : null;
  const metrics = new Metrics();
  // Served under the model's own name (TextModel.info); the file name, also without .gguf, works too.
  const modelNames = [...new Set([model.info?.name ?? model.id, model.id, model.id.replace(/\.gguf$/i, ""), ...(options.modelAliases ?? [])])];
  const createdAt = Math.floor(Date.now() / 1000);
  const apiKey = options.apiKey ?? null;
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const serverTools = options.tools ?? [];
  const listenHost = options.host ?? "127.0.0.1";
  const guard = new HttpGuard({ listenHost, hostNames: options.hostNames ?? [], corsOrigins: options.corsOrigins ?? [], apiKey });
  const maskLogs = options.maskPii === false ? (s: string) => s : maskPii;

  async function handle(req: IncomingMessage, res: ServerResponse, endpoint: { name: string }): Promise<void> {
    const url = URL.canParse(req.url ?? "/", "http://localhost") ? new URL(req.url ?? "/", "http://localhost") : null;
    if (url === null) throw new ApiError(400, "malformed request target", "invalid_request_error", null, "invalid_url");
    const route = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    const cors = guard.admit(req); // 403 for a foreign Host or an unlisted cross-origin page
    for (const [k, v] of Object.entries(cors)) res.setHeader(k, v);
    if (method === "OPTIONS") {
      // Only an origin listed with --cors gets here with CORS headers; same-origin pages never preflight.
      res.writeHead(204, cors["access-control-allow-origin"] ? {
        "access-control-allow-methods": "GET, POST, OPTIONS",
        // "*" covers every header but Authorization, which must be named.
        "access-control-allow-headers": "authorization, content-type, *",
        "access-control-max-age": "600",
      } : {});
      res.end();
      return;
    }
    if ((method === "GET" || method === "HEAD") && STATIC[url.pathname]) {
      endpoint.name = "page";
      const [file, type] = STATIC[url.pathname];
      const text = readFileSync(path.join(WEB_DIR, file));
      res.writeHead(200, { "content-type": type, "content-length": text.length, "cache-control": "no-cache" });
      res.end(method === "HEAD" ? undefined : text); // HEAD: the same headers, no body
      return;
    }
    if (method === "GET" && route === "/health") {
      endpoint.name = "health";
      // model_tool_calls comes from the model's own files (TextModel.info), whoever started the server; a model that
      // does not say (a test fake) is taken at its word that it can.
      sendJson(res, 200, { status: "ok", model: modelNames[0], model_tool_calls: chat && (model.info?.toolCalls ?? true), slots: parallel, active: scheduler.activeCount, queued: scheduler.queueDepth,
        tools: serverTools.map((t) => t.definition.name) });
      return;
    }
    if (method === "GET" && route === "/metrics") {
      endpoint.name = "metrics";
      const text = metrics.render({ queueDepth: scheduler.queueDepth, activeSequences: scheduler.activeCount, slots: parallel });
      res.writeHead(200, { "content-type": "text/plain; version=0.0.4; charset=utf-8" });
      res.end(text);
      return;
    }
    if (route.startsWith("/v1/") || route === "/rerank" || route === "/reranking") {
      guard.authorize(req);
      const disconnect = new AbortController();
      res.on("close", () => {
        if (!res.writableFinished) disconnect.abort();
      });
      const ctx: RouteContext = { engine, serverTools, metrics, modelNames, createdAt, arrivedAt: performance.now(), signal: disconnect.signal,
        maskPii: options.maskPii !== false };
      const encoderIds = [embeddingService, rerankService].flatMap((svc) => (svc ? [svc.names[0]] : []));
      if (method === "GET" && route === "/v1/models") {
        endpoint.name = "models";
        const list = listModels(ctx);
        const data = [...(chat ? list.data : []), ...encoderIds.map((n) => modelObject(ctx, n))];
        sendJson(res, 200, { ...list, data: data.filter((m, i) => data.findIndex((x) => x.id === m.id) === i) });
        return;
      }
      if (method === "GET" && route.startsWith("/v1/models/")) {
        endpoint.name = "models";
        const raw = route.slice("/v1/models/".length);
        let name: string;
        try {
          name = decodeURIComponent(raw);
        } catch {
          throw new ApiError(400, `the model name '${raw.slice(0, 80)}' has a malformed percent-escape`, "invalid_request_error", "model", "invalid_url");
        }
        const known = (chat && (modelNames.includes(name) || adapterNames(model).includes(name))) || [embeddingService, rerankService].some((svc) => svc?.names.includes(name));
        if (!known) throw new ApiError(404, `The model '${name}' does not exist`, "invalid_request_error", "model", "model_not_found");
        sendJson(res, 200, modelObject(ctx, name));
        return;
      }
      const noChat = async (): Promise<never> => noChatModel(firstEncoder!).forward([]) as never;
      const noRerank = async (): Promise<never> => {
        throw new ApiError(404, "this server has no rerank model; start it with zhiyu serve --rerank-model PATH (a cross-encoder: " +
          "…ForSequenceClassification with one label)", "invalid_request_error", null, "not_found");
      };
      const rerankRoute = (b: unknown) => (rerankService ? Promise.resolve(rerank(rerankService, metrics, b)) : noRerank());
      const handlers: Record<string, (body: unknown) => Promise<unknown>> = {
        "/v1/chat/completions": (b) => (chat ? chatCompletions(ctx, b, res) : noChat()),
        "/v1/completions": (b) => (chat ? completions(ctx, b, res) : noChat()),
        // The encoder answers requests that name it (or every request when there is no chat model).
        "/v1/embeddings": (b) => (encoderEngine && (!chat || !modelNames.includes(String((b as { model?: unknown })?.model)))
          ? embeddings({ ...ctx, engine: encoderEngine, modelNames: embeddingService!.names }, b) : embeddings(ctx, b)),
        "/v1/rerank": rerankRoute,
        "/v1/reranking": rerankRoute,
        "/rerank": rerankRoute,
        "/reranking": rerankRoute,
      };
      const h = handlers[route];
      if (h) {
        endpoint.name = route.replace(/^\/v1\//, "").replace(/^\//, "");
        if (method !== "POST") throw new ApiError(405, `${route} takes POST, not ${method}`, "invalid_request_error", null, "method_not_allowed");
        const body = await readJson(req, maxBody);
        const out = await h(body);
        if (out !== null) sendJson(res, 200, out);
        return;
      }
    }
    throw new ApiError(404, `no route for ${method} ${url.pathname}`, "invalid_request_error", null, "not_found");
  }

  const accessLog = options.accessLog;
  // The header/body deadlines are enforced by a sweep every connectionsCheckingInterval ms (Node's default 30 s
  // would let a slow client hold its socket well past them).
  const server = createHttpServer({ connectionsCheckingInterval: 1000 }, (req, res) => {
    const endpoint = { name: "other" };
    if (accessLog) {
      const started = performance.now();
      res.once("close", () => {
        const pathOnly = (req.url ?? "/").split("?")[0];
        accessLog(`${new Date().toISOString()} ${req.socket.remoteAddress ?? "-"} ${req.method ?? "-"} ${pathOnly} ` +
          `${res.statusCode}${res.writableFinished ? "" : " (client gone)"} ${Math.round(performance.now() - started)}ms`);
      });
    }
    handle(req, res, endpoint).then(
      () => metrics.countRequest(endpoint.name, res.statusCode),
      (err: unknown) => {
        // A client that hung up mid-upload or mid-answer is not a server error: counted as 499 (nginx's "client
        // closed request"), not logged.
        if (!(err instanceof ApiError) && (!req.complete || res.destroyed) && !res.writableFinished) {
          metrics.countRequest(endpoint.name, 499);
          if (!res.destroyed) res.destroy();
          return;
        }
        const e = err instanceof ApiError ? err : new ApiError(500, `internal error: ${(err as Error)?.message ?? String(err)}`, "server_error");
        if (!(err instanceof ApiError)) {
          const stack = (err as Error)?.stack ?? String(err);
          console.error(maskLogs(`zhiyu serve: ${req.method} ${redactTarget(req.url)} failed: ${stack}`));
        }
        metrics.countRequest(endpoint.name, e.status);
        if (!res.headersSent) sendJson(res, e.status, e.body(), e.headers);
        else if (!res.writableEnded) res.end();
      },
    );
  });
  server.maxConnections = options.maxConnections ?? 256;
  server.headersTimeout = options.headersTimeoutMs ?? 10_000;
  server.requestTimeout = options.requestBodyTimeoutMs ?? 60_000;
  server.keepAliveTimeout = options.keepAliveMs ?? 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, listenHost, () => resolve());
  });
  const addr = server.address() as AddressInfo;
  const host = addr.family === "IPv6" ? `[${addr.address}]` : addr.address;
  return {
    server,
    url: `http://${host}:${addr.port}`,
    engine,
    metrics,
    close: () => new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => {
        scheduler.releaseIdle();
        encoderScheduler?.releaseIdle();
        resolve();
      });
    }),
  };
}

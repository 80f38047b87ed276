// The HTTP server: OpenAI-compatible endpoints, /health, /metrics and the web chat page, on plain node:http.
// Why not fastify: the surface is eight routes, SSE needs raw control of the response anyway, validation is the
// OpenAI-specific code in protocol.ts, and node:http adds no dependency or startup cost.
// Auth: with an API key set, every /v1/* request needs `Authorization: Bearer <key>` (401 otherwise); /health,
// /metrics and the page stay open (the page asks for the key and sends it).
// Leaves out: TLS (put a proxy in front), multiple models per process, HTTP/2.
import { readFileSync } from "node:fs";
import { createServer as createHttpServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { TextModel } from "../infer/model-api.js";
import { Scheduler } from "../infer/scheduler.js";
import { Engine } from "./engine.js";
import { ApiError } from "./errors.js";
import { Metrics } from "./metrics.js";
import { chatCompletions, completions, embeddings, listModels, modelObject, type RouteContext } from "./routes.js";
import type { Tool } from "../tools/tool.js";
import type { BertEncoder } from "../infer/encoder.js";
import { type EncoderService, encoderEmbeddings, noChatModel, rerank } from "./encoder-routes.js";

export interface ServerOptions {
  /** The chat / completions model; null when the server runs encoders only. */
  model: TextModel | null;
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
  /** Largest request body in bytes. */
  maxBodyBytes?: number;
  /** Tools the server itself runs for requests with `zhiyu_tools: true` (the agent loop of src/tools/agent.ts). */
  tools?: readonly Tool[];
  /** Reuse finished sequences' KV caches for prompts sharing their prefix (default true). */
  prefixReuse?: boolean;
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
  "/style.css": ["style.css", "text/css; charset=utf-8"],
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
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new ApiError(400, `the request body is not valid JSON: ${(err as Error).message}`, "invalid_request_error", null, "invalid_json");
  }
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
  const metrics = new Metrics();
  // The file name without .gguf is a natural name for clients to use too.
  const modelNames = [...new Set([model.id, model.id.replace(/\.gguf$/i, ""), ...(options.modelAliases ?? [])])];
  const createdAt = Math.floor(Date.now() / 1000);
  const apiKey = options.apiKey ?? null;
  const maxBody = options.maxBodyBytes ?? 16 * 1024 * 1024;
  const serverTools = options.tools ?? [];

  async function handle(req: IncomingMessage, res: ServerResponse, endpoint: { name: string }): Promise<void> {
    const url = new URL(req.url ?? "/", "http://localhost");
    const route = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    res.setHeader("access-control-allow-origin", "*");
    if (method === "OPTIONS") {
      res.writeHead(204, {
        "access-control-allow-methods": "GET, POST, OPTIONS",
        // "*" covers every header but Authorization, which must be named.
        "access-control-allow-headers": "authorization, *",
        "access-control-max-age": "86400",
      });
      res.end();
      return;
    }
    if (method === "GET" && STATIC[url.pathname]) {
      endpoint.name = "page";
      const [file, type] = STATIC[url.pathname];
      const text = readFileSync(path.join(WEB_DIR, file));
      res.writeHead(200, { "content-type": type, "content-length": text.length, "cache-control": "no-cache" });
      res.end(text);
      return;
    }
    if (method === "GET" && route === "/health") {
      endpoint.name = "health";
      sendJson(res, 200, { status: "ok", model: model.id, slots: parallel, active: scheduler.activeCount, queued: scheduler.queueDepth,
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
      if (apiKey !== null) {
        const auth = req.headers.authorization ?? "";
        if (auth !== `Bearer ${apiKey}`) {
          throw new ApiError(401, auth ? "Incorrect API key provided." : "Missing API key: send 'Authorization: Bearer <key>'.",
            "authentication_error", null, "invalid_api_key");
        }
      }
      const disconnect = new AbortController();
      res.on("close", () => {
        if (!res.writableFinished) disconnect.abort();
      });
      const ctx: RouteContext = { engine, serverTools, metrics, modelNames, createdAt, arrivedAt: performance.now(), signal: disconnect.signal };
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
        const name = decodeURIComponent(route.slice("/v1/models/".length));
        const known = (chat && modelNames.includes(name)) || [embeddingService, rerankService].some((svc) => svc?.names.includes(name));
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
        "/v1/embeddings": (b) => (embeddingService && (!chat || !modelNames.includes(String((b as { model?: unknown })?.model)))
          ? Promise.resolve(encoderEmbeddings(embeddingService, metrics, b)) : embeddings(ctx, b)),
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

  const server = createHttpServer((req, res) => {
    const endpoint = { name: "other" };
    handle(req, res, endpoint).then(
      () => metrics.countRequest(endpoint.name, res.statusCode),
      (err: unknown) => {
        const e = err instanceof ApiError ? err : new ApiError(500, `internal error: ${(err as Error)?.message ?? String(err)}`, "server_error");
        if (!(err instanceof ApiError)) console.error(err);
        metrics.countRequest(endpoint.name, e.status);
        if (!res.headersSent) sendJson(res, e.status, e.body(), e.headers);
        else if (!res.writableEnded) res.end();
      },
    );
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port ?? 8080, options.host ?? "127.0.0.1", () => resolve());
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
        resolve();
      });
    }),
  };
}

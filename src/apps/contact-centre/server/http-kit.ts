// Small HTTP helpers for the desk server on node:http: reading a JSON body with a size limit and a UTF-8 check,
// JSON and error answers, cookies, Server-Sent Events, static files from the package (widget, desk page).
// Every refusal names the request and the fix ("POST /api/conversations/…/messages: body is not UTF-8").
// Leaves out: routing (the route files match paths), compression, TLS.
import type { IncomingMessage, ServerResponse } from "node:http";
import { DeskError } from "./desk-service.js";

export async function readJson(req: IncomingMessage, limitBytes: number): Promise<Record<string, unknown>> {
  const what = `${req.method} ${(req.url ?? "").split("?")[0]}`;
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > limitBytes) throw new DeskError(413, `${what}: body of ${declared} bytes exceeds the ${limitBytes}-byte limit`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limitBytes) throw new DeskError(413, `${what}: body exceeds the ${limitBytes}-byte limit`);
    chunks.push(chunk as Buffer);
  }
  if (size === 0) return {};
  const type = String(req.headers["content-type"] ?? "");
  if (!type.includes("application/json")) throw new DeskError(415, `${what}: send JSON with Content-Type: application/json (got "${type || "none"}")`);
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(Buffer.concat(chunks));
  } catch {
    throw new DeskError(400, `${what}: body is not UTF-8 (encode the JSON as UTF-8)`);
  }
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    throw new DeskError(400, `${what}: body is not valid JSON (${(err as Error).message})`);
  }
  if (body === null || typeof body !== "object" || Array.isArray(body)) throw new DeskError(400, `${what}: body must be a JSON object`);
  return body as Record<string, unknown>;
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(text), "cache-control": "no-store", ...headers });
  res.end(text);
}

export function sendError(res: ServerResponse, err: unknown): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  const status = err instanceof DeskError ? err.status : 500;
  sendJson(res, status, { error: { message: err instanceof Error ? err.message : String(err), status } });
}

export function sendText(res: ServerResponse, status: number, body: string | Buffer, type: string, headers: Record<string, string> = {}): void {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body), ...headers });
  res.end(body);
}

export function cookies(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of String(req.headers.cookie ?? "").split(";")) {
    const i = part.indexOf("=");
    if (i > 0) out[part.slice(0, i).trim()] = decodeURIComponent(part.slice(i + 1).trim());
  }
  return out;
}

export function bearer(req: IncomingMessage): string | null {
  const m = String(req.headers.authorization ?? "").match(/^Bearer\s+(\S+)$/i);
  return m ? m[1] : null;
}

/** Starts an SSE answer; returns a writer and a function that reports whether the client is gone. */
export function openSse(req: IncomingMessage, res: ServerResponse, headers: Record<string, string> = {}): { send: (event: string, data: unknown) => void; closed: () => boolean } {
  res.writeHead(200, { "content-type": "text/event-stream; charset=utf-8", "cache-control": "no-store", connection: "keep-alive", "x-accel-buffering": "no", ...headers });
  res.write(": connected\n\n");
  let gone = false;
  req.on("close", () => (gone = true));
  return {
    send: (event, data) => {
      if (!gone) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
    },
    closed: () => gone,
  };
}

export function requireString(body: Record<string, unknown>, field: string, what: string, maxChars: number): string {
  const v = body[field];
  if (typeof v !== "string" || !v.trim()) throw new DeskError(400, `${what}: "${field}" must be a non-empty string`);
  if ([...v].length > maxChars) throw new DeskError(413, `${what}: "${field}" has ${[...v].length} characters, more than the ${maxChars} allowed`);
  return v;
}

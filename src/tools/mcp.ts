// A minimal Model Context Protocol client over stdio: spawns an MCP server process, speaks newline-delimited
// JSON-RPC 2.0 (initialize → notifications/initialized → tools/list, tools/call), and exposes the server's tools as
// agent-loop Tools. Tool results' text content parts are joined; isError results become tool errors.
// Leaves out: the HTTP/SSE transports, resources, prompts, sampling, and server-initiated requests (answered with a
// "method not found" error so servers do not hang).
// The child gets an explicit allow-list of the parent's environment (what a program needs to run: PATH, HOME,
// locale, temp dir …) plus what the caller passes: never the server's secrets (ZHIYU_API_KEY, cloud credentials).
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { createInterface } from "node:readline";
import type { Tool } from "./tool.js";

const PROTOCOL_VERSION = "2025-06-18";

/** Parent variables an MCP server inherits; everything else (keys, tokens, credentials) stays behind. */
export const MCP_INHERITED_ENV = ["PATH", "HOME", "USER", "LOGNAME", "SHELL", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE",
  "LC_MESSAGES", "TERM", "TZ", "TMPDIR", "TMP", "TEMP", "SYSTEMROOT", "WINDIR", "COMSPEC", "PATHEXT", "APPDATA",
  "LOCALAPPDATA", "USERPROFILE", "XDG_RUNTIME_DIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME", "NODE_PATH"] as const;

/** The child's environment: the allow-listed parent variables, then the caller's extra ones. */
export function mcpChildEnv(parent: NodeJS.ProcessEnv, extra: Record<string, string> = {}): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of MCP_INHERITED_ENV) {
    const v = parent[name];
    if (v !== undefined) env[name] = v;
  }
  return { ...env, ...extra };
}

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

export interface McpToolInfo {
  name: string;
  description?: string;
  inputSchema: Record<string, unknown>;
}

export class McpStdioClient {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private closed = false;
  private stderr = "";

  private constructor(private readonly proc: ChildProcessWithoutNullStreams, private readonly timeoutMs: number) {
    createInterface({ input: proc.stdout }).on("line", (line) => this.onLine(line));
    proc.stderr.on("data", (d: Buffer) => {
      this.stderr = (this.stderr + d.toString("utf8")).slice(-2000);
    });
    proc.on("exit", (code) => {
      this.closed = true;
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(new Error(`[mcp] the server exited (code ${code}) ${this.stderr.trim()}`.trim()));
      }
      this.pending.clear();
    });
  }

  /** Starts the server and completes the initialize handshake. */
  static async start(command: string, args: readonly string[] = [], options: { env?: Record<string, string>; timeoutMs?: number } = {}): Promise<McpStdioClient> {
    const proc = spawn(command, [...args], { stdio: ["pipe", "pipe", "pipe"], env: mcpChildEnv(process.env, options.env) });
    const client = new McpStdioClient(proc, options.timeoutMs ?? 30_000);
    await client.request("initialize", { protocolVersion: PROTOCOL_VERSION, capabilities: {}, clientInfo: { name: "zhiyu", version: "0.1.0" } });
    client.notify("notifications/initialized");
    return client;
  }

  private onLine(line: string): void {
    if (!line.trim()) return;
    let msg: { id?: number | string; method?: string; result?: unknown; error?: { code: number; message: string } };
    try {
      msg = JSON.parse(line);
    } catch {
      return; // not JSON-RPC (a stray log line)
    }
    if (msg.method !== undefined) {
      // A request from the server (sampling, roots …): unsupported here.
      if (msg.id !== undefined) this.send({ jsonrpc: "2.0", id: msg.id, error: { code: -32601, message: `method ${msg.method} not supported` } });
      return;
    }
    const p = typeof msg.id === "number" ? this.pending.get(msg.id) : undefined;
    if (!p) return;
    this.pending.delete(msg.id as number);
    clearTimeout(p.timer);
    if (msg.error) p.reject(new Error(`[mcp] ${msg.error.message} (code ${msg.error.code})`));
    else p.resolve(msg.result);
  }

  private send(msg: object): void {
    if (!this.closed) this.proc.stdin.write(JSON.stringify(msg) + "\n");
  }

  private notify(method: string, params?: object): void {
    this.send({ jsonrpc: "2.0", method, ...(params ? { params } : {}) });
  }

  request(method: string, params?: object): Promise<unknown> {
    if (this.closed) return Promise.reject(new Error(`[mcp] cannot call ${method}: the server has exited`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`[mcp] ${method} timed out after ${this.timeoutMs} ms`));
      }, this.timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.send({ jsonrpc: "2.0", id, method, ...(params ? { params } : {}) });
    });
  }

  async listTools(): Promise<McpToolInfo[]> {
    const r = (await this.request("tools/list", {})) as { tools?: McpToolInfo[] };
    return r.tools ?? [];
  }

  async callTool(name: string, args: Record<string, unknown>): Promise<string> {
    const r = (await this.request("tools/call", { name, arguments: args })) as {
      content?: { type: string; text?: string }[]; isError?: boolean; structuredContent?: unknown };
    const text = (r.content ?? []).filter((c) => c.type === "text" && typeof c.text === "string").map((c) => c.text).join("\n") ||
      (r.structuredContent !== undefined ? JSON.stringify(r.structuredContent) : "");
    if (r.isError) throw new Error(text || `tool ${name} failed`);
    return text;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.proc.stdin.end();
    this.proc.kill();
  }
}

/** The MCP server's tools as agent-loop Tools. */
export async function mcpTools(client: McpStdioClient): Promise<Tool[]> {
  return (await client.listTools()).map((t) => ({
    definition: { name: t.name, description: t.description, parameters: t.inputSchema ?? { type: "object" } },
    run: (args) => client.callTool(t.name, args),
  }));
}

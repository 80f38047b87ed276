// Plugins: tools declared in JSON (name, description, JSON-schema parameters, an HTTP endpoint) and called over HTTP:
// the validated arguments are POSTed as a JSON body, and the response body (JSON or text, truncated) is the tool
// output. A manifest file is a JSON array of such declarations.
// Leaves out: MCP (stdio/SSE transports), OAuth, streaming plugin responses.
import { readFileSync } from "node:fs";
import type { Tool } from "./tool.js";

export interface PluginManifest {
  name: string;
  description?: string;
  parameters: Record<string, unknown>;
  /** http(s) URL the arguments are POSTed to. */
  url: string;
  /** Extra request headers (e.g. an API key for the plugin). */
  headers?: Record<string, string>;
  /** Default 15000. */
  timeoutMs?: number;
}

const MAX_OUTPUT_CHARS = 8000;

export function validateManifest(m: unknown, where: string): PluginManifest {
  const o = m as Partial<PluginManifest> | null;
  if (typeof o !== "object" || o === null) throw new Error(`[plugins] ${where}: a plugin must be an object`);
  if (typeof o.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(o.name)) {
    throw new Error(`[plugins] ${where}: 'name' must be 1–64 characters of a-z, A-Z, 0-9, _ and -`);
  }
  if (typeof o.parameters !== "object" || o.parameters === null) throw new Error(`[plugins] ${where} (${o.name}): 'parameters' must be a JSON schema object`);
  if (typeof o.url !== "string" || !/^https?:\/\//.test(o.url)) throw new Error(`[plugins] ${where} (${o.name}): 'url' must be an http(s) URL`);
  return o as PluginManifest;
}

/** Reads a JSON array of plugin declarations. */
export function loadPluginManifests(file: string): PluginManifest[] {
  let data: unknown;
  try {
    data = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`[plugins] cannot read ${file}: ${(err as Error).message}`);
  }
  if (!Array.isArray(data)) throw new Error(`[plugins] ${file} must hold a JSON array of plugins`);
  return data.map((m, i) => validateManifest(m, `${file}[${i}]`));
}

export function pluginTool(m: PluginManifest): Tool {
  return {
    definition: { name: m.name, description: m.description, parameters: m.parameters },
    run: async (args, signal) => {
      const timeout = AbortSignal.timeout(m.timeoutMs ?? 15_000);
      const r = await fetch(m.url, {
        method: "POST",
        headers: { "content-type": "application/json", accept: "application/json, text/plain", ...m.headers },
        body: JSON.stringify(args),
        signal: signal ? AbortSignal.any([signal, timeout]) : timeout,
      });
      const text = await r.text();
      if (!r.ok) throw new Error(`plugin ${m.name} answered HTTP ${r.status}: ${text.slice(0, 300)}`);
      return text.length > MAX_OUTPUT_CHARS ? `${text.slice(0, MAX_OUTPUT_CHARS)}… (truncated)` : text;
    },
  };
}

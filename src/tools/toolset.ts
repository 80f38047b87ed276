// Builds the tool list that `zhiyu chat --tools …` and `zhiyu serve --tools …` hand to the agent loop, from names:
// "calculator", "search" (needs a docs folder; its SQLite index lives in <docs>/.zhiyu/index.sqlite, re-indexed
// incrementally on open), any HTTP plugins from a manifest file, and the tools of MCP servers started over stdio.
// Leaves out: watching the folder for changes while running (re-open to re-index).
import { mkdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { McpStdioClient, mcpTools } from "./mcp.js";
import { loadPluginManifests, pluginTool } from "./plugins.js";
import { DocumentIndex, type IndexReport } from "./search.js";
import { calculatorAsTool, searchAsTool, type Tool } from "./tool.js";

export const TOOL_NAMES = ["calculator", "search"] as const;

export interface ToolsetOptions {
  /** Built-in tools by name: "calculator", "search". */
  names: readonly string[];
  /** Folder of documents for "search". */
  docs?: string;
  /** A user dictionary for segmentation: one word per line (jieba's "word freq tag" lines work too). */
  userDictionary?: string;
  /** JSON file with an array of plugin declarations (see plugins.ts). */
  pluginsFile?: string;
  /** Where the search index goes (default <docs>/.zhiyu/index.sqlite). */
  indexPath?: string;
  /** MCP servers to start, each a command line ("node server.js --flag"; split on spaces). */
  mcpServers?: readonly string[];
}

export interface Toolset {
  tools: Tool[];
  /** What indexing did, when search is on. */
  indexReport: IndexReport | null;
  close(): void;
}

export function readUserDictionary(file: string): string[] {
  return readFileSync(file, "utf8").split(/\r?\n/).map((l) => l.trim().split(/\s+/)[0]).filter((w) => w && !w.startsWith("#"));
}

/** Opens (and incrementally re-indexes) the search index of a documents folder, at <docs>/.zhiyu/index.sqlite unless
 *  indexPath says otherwise. Shared by the search tool and retrieval mode (retrieval.ts). */
export function openDocumentIndex(docs: string, userDictionary?: string, indexPath?: string): { index: DocumentIndex; report: IndexReport } {
  const dbPath = indexPath ?? path.join(docs, ".zhiyu", "index.sqlite");
  mkdirSync(path.dirname(dbPath), { recursive: true });
  const index = new DocumentIndex({ dbPath, userWords: userDictionary ? readUserDictionary(userDictionary) : [] });
  return { index, report: index.indexFolder(docs) };
}

export async function createToolset(o: ToolsetOptions): Promise<Toolset> {
  const tools: Tool[] = [];
  let index: DocumentIndex | null = null;
  let indexReport: IndexReport | null = null;
  for (const name of o.names) {
    if (name === "calculator") tools.push(calculatorAsTool());
    else if (name === "search") {
      if (!o.docs) throw new Error("[tools] the search tool needs a documents folder (--docs DIR)");
      ({ index, report: indexReport } = openDocumentIndex(o.docs, o.userDictionary, o.indexPath));
      tools.push(searchAsTool(index));
    } else throw new Error(`[tools] unknown tool '${name}'; built-in tools: ${TOOL_NAMES.join(", ")} (plugins come from --plugins FILE)`);
  }
  if (o.pluginsFile) for (const m of loadPluginManifests(o.pluginsFile)) tools.push(pluginTool(m));
  const mcp: McpStdioClient[] = [];
  try {
    for (const line of o.mcpServers ?? []) {
      const [command, ...args] = line.trim().split(/\s+/);
      const client = await McpStdioClient.start(command, args);
      mcp.push(client);
      tools.push(...(await mcpTools(client)));
    }
  } catch (err) {
    for (const c of mcp) c.close();
    index?.close();
    throw err;
  }
  const names = new Set<string>();
  for (const t of tools) {
    if (names.has(t.definition.name)) throw new Error(`[tools] two tools are named '${t.definition.name}'`);
    names.add(t.definition.name);
  }
  return {
    tools,
    indexReport,
    close: () => {
      index?.close();
      for (const c of mcp) c.close();
    },
  };
}

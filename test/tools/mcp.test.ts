// The MCP stdio client against a small MCP server written here (newline-delimited JSON-RPC 2.0 as the MCP spec
// describes it): handshake, tools/list, tools/call (text result and isError), and the tools used by the agent loop.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { McpStdioClient, mcpTools } from "../../src/tools/mcp.js";
import { runAgent, type AgentEvent, type ChatTurn } from "../../src/tools/agent.js";

const SERVER = `
const rl = require("node:readline").createInterface({ input: process.stdin });
const send = (m) => process.stdout.write(JSON.stringify(m) + "\\n");
let initialized = false;
rl.on("line", (line) => {
  const m = JSON.parse(line);
  if (m.method === "initialize") return send({ jsonrpc: "2.0", id: m.id, result: { protocolVersion: m.params.protocolVersion,
    capabilities: { tools: {} }, serverInfo: { name: "test-mcp", version: "1" } } });
  if (m.method === "notifications/initialized") { initialized = true; return; }
  if (!initialized) return send({ jsonrpc: "2.0", id: m.id, error: { code: -32002, message: "not initialized" } });
  if (m.method === "tools/list") return send({ jsonrpc: "2.0", id: m.id, result: { tools: [
    { name: "reverse", description: "Reverse a string", inputSchema: { type: "object", properties: { text: { type: "string" } }, required: ["text"] } },
    { name: "fail", description: "Always fails", inputSchema: { type: "object" } } ] } });
  if (m.method === "tools/call" && m.params.name === "reverse")
    return send({ jsonrpc: "2.0", id: m.id, result: { content: [{ type: "text", text: [...m.params.arguments.text].reverse().join("") }] } });
  if (m.method === "tools/call") return send({ jsonrpc: "2.0", id: m.id, result: { content: [{ type: "text", text: "boom" }], isError: true } });
  send({ jsonrpc: "2.0", id: m.id, error: { code: -32601, message: "unknown method" } });
});
`;

let dir: string;
let client: McpStdioClient;
before(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-mcp-"));
  writeFileSync(path.join(dir, "server.cjs"), SERVER);
  client = await McpStdioClient.start(process.execPath, [path.join(dir, "server.cjs")]);
});
after(() => {
  client.close();
  rmSync(dir, { recursive: true, force: true });
});

test("tools/list and tools/call", async () => {
  const tools = await client.listTools();
  assert.deepEqual(tools.map((t) => t.name), ["reverse", "fail"]);
  assert.equal(await client.callTool("reverse", { text: "智语abc" }), "cba语智");
  await assert.rejects(client.callTool("fail", {}), /boom/);
  await assert.rejects(client.request("nope"), /unknown method/);
});

test("MCP tools in the agent loop", async () => {
  const turns: ChatTurn[] = [
    { content: null, toolCalls: [{ id: "1", name: "reverse", arguments: '{"text":"hello"}' }, { id: "2", name: "fail", arguments: "{}" }] },
    { content: "done", toolCalls: [] },
  ];
  const events: AgentEvent[] = [];
  await runAgent({ client: { complete: async () => turns.shift()! }, messages: [{ role: "user", content: "x" }],
    tools: await mcpTools(client), onEvent: (e) => events.push(e) });
  const results = events.filter((e): e is Extract<AgentEvent, { kind: "tool_result" }> => e.kind === "tool_result");
  assert.deepEqual(results.map((r) => [r.ok, r.output]), [[true, "olleh"], [false, "boom"]]);
});

test("the MCP child gets an allow-listed environment: no ZHIYU_API_KEY or other secrets", async () => {
  const envServer = SERVER.replace(`if (m.method === "tools/list")`,
    `if (m.method === "tools/list") return send({ jsonrpc: "2.0", id: m.id, result: { tools: [{ name: "env", description: JSON.stringify(process.env), inputSchema: { type: "object" } }] } });
  if (false)`);
  writeFileSync(path.join(dir, "env-server.cjs"), envServer);
  process.env.ZHIYU_API_KEY = "sk-secret-key";
  process.env.AWS_SECRET_ACCESS_KEY = "aws-secret";
  try {
    const c = await McpStdioClient.start(process.execPath, [path.join(dir, "env-server.cjs")], { env: { EXTRA_FOR_MCP: "1" } });
    const childEnv = JSON.parse((await c.listTools())[0].description!) as Record<string, string>;
    c.close();
    assert.equal(childEnv.ZHIYU_API_KEY, undefined);
    assert.equal(childEnv.AWS_SECRET_ACCESS_KEY, undefined);
    assert.equal(childEnv.EXTRA_FOR_MCP, "1");
    assert.equal(childEnv.PATH, process.env.PATH);
  } finally {
    delete process.env.ZHIYU_API_KEY;
    delete process.env.AWS_SECRET_ACCESS_KEY;
  }
});

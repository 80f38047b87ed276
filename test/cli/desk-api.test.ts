// `npm start` is `zhiyu desk --api-port 8080`: the desk starts the OpenAI API server for the model it loaded. That
// server must describe the model exactly as `zhiyu serve --model <same>` does — its name in /v1/models and /health,
// and whether it was trained to call tools (/health model_tool_calls, which the page reads to leave server tools off
// and show its note). Issue 13: under the desk /health said model_tool_calls: true for models/zhiyu-mini, whose
// model-info (src/infer/model-info.ts) says false. Both commands run as a user runs them (bin/zhiyu.mjs, port 0).
// Leaves out: the desk's own pages and APIs (test/apps/contact-centre/desk-server.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadModel } from "../../src/infer/load.js";
import { readModelInfo } from "../../src/infer/model-info.js";
import { startServer } from "../../src/serve/server.js";

const MODEL = "models/zhiyu-mini";

/** Starts `zhiyu <args>` and resolves with the OpenAI API base URL it prints (and the process, to stop it). */
function startCli(args: string[], cwd: string): Promise<{ child: ChildProcess; api: string }> {
  const child = spawn(process.execPath, [path.resolve("bin/zhiyu.mjs"), ...args], { cwd, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { child.kill("SIGTERM"); reject(new Error(`zhiyu ${args.join(" ")}: no API URL in 120 s\n${out}`)); }, 120_000);
    const look = (chunk: Buffer) => {
      out += chunk.toString();
      const m = /OpenAI API\s+(http:\/\/\S+\/v1)/.exec(out);
      if (m) { clearTimeout(timer); resolve({ child, api: m[1]!.replace(/\/v1$/, "") }); }
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", (c: Buffer) => { out += c.toString(); });
    child.on("exit", (code) => { clearTimeout(timer); reject(new Error(`zhiyu ${args.join(" ")} exited with ${code} before serving\n${out}`)); });
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return;
  const done = new Promise((resolve) => child.once("exit", resolve));
  child.kill("SIGTERM");
  await done;
}

async function describe(base: string) {
  const health = await (await fetch(`${base}/health`)).json() as { model: string; model_tool_calls: boolean; tools: string[] };
  const models = await (await fetch(`${base}/v1/models`)).json() as { data: { id: string }[] };
  return { health: health.model, id: models.data[0]!.id, toolCalls: health.model_tool_calls, tools: health.tools };
}

test("the desk's API server (npm start) describes the model as zhiyu serve does", { timeout: 300_000 }, async () => {
  const expected = readModelInfo(MODEL, null); // the name and the verdict; zhiyu-mini's template has no tools section
  assert.equal(expected.toolCalls, false, "the model card / template says zhiyu-mini was not trained for tool calls");
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-api-"));
  const running: ChildProcess[] = [];
  try {
    const serve = await startCli(["serve", "--model", path.resolve(MODEL), "--port", "0", "--quiet"], dir);
    running.push(serve.child);
    const desk = await startCli(["desk", "--api-port", "0", "--port", "0", "--db", path.join(dir, "desk.sqlite")], dir);
    running.push(desk.child);
    const fromServe = await describe(serve.api);
    const fromDesk = await describe(desk.api);
    assert.deepEqual(fromServe, { health: expected.name, id: expected.name, toolCalls: false, tools: [] });
    assert.deepEqual(fromDesk, fromServe);
  } finally {
    for (const c of running) await stop(c);
    rmSync(dir, { recursive: true, force: true });
  }
});

test("startServer given only a loaded model reports the model's own info (no caller can forget to pass it)", async () => {
  const model = await loadModel(MODEL);
  const srv = await startServer({ model, port: 0, parallel: 1 });
  try {
    const d = await describe(srv.url);
    const info = readModelInfo(MODEL, model.chatTemplate);
    assert.deepEqual(d, { health: info.name, id: info.name, toolCalls: info.toolCalls, tools: [] });
  } finally {
    await srv.close();
    model.dispose();
  }
});

test("zhiyu desk --embedder: the KB ranks with a sentence encoder next to BM25; a bad path is a clear error", { timeout: 300_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-desk-embedder-"));
  const encoder = path.resolve("../shared/testdata/hf/bert/base");
  const run = (args: string[]) => new Promise<{ out: string; code: number | null; child: ChildProcess }>((resolve) => {
    const child = spawn(process.execPath, [path.resolve("bin/zhiyu.mjs"), "desk", "--port", "0", "--db", path.join(dir, "desk.sqlite"), ...args],
      { cwd: dir, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGTERM"), 120_000);
    const look = (c: Buffer) => {
      out += c.toString();
      if (/agent desk\s+http/.test(out)) { clearTimeout(timer); resolve({ out, code: null, child }); }
    };
    child.stdout!.on("data", look);
    child.stderr!.on("data", look);
    child.on("exit", (code) => { clearTimeout(timer); resolve({ out, code, child }); });
  });
  try {
    const ok = await run(["--embedder", encoder]);
    await stop(ok.child);
    assert.match(ok.out, /KB ranking\s+BM25 \+ dense \(.+, \d+ dims, weight 0\.2\)/, ok.out);
    const bad = await run(["--embedder", path.join(dir, "no-such-encoder")]);
    assert.equal(bad.code, 1, bad.out);
    assert.match(bad.out, /desk: --embedder .*no-such-encoder: .*does not exist/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

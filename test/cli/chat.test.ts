// `zhiyu chat` driven as a child process through a stdin pipe and signals, the way a person drives it:
// Ctrl-C (SIGINT) during a reply stops the reply and the session goes on; /help lists the commands; an unknown
// /x is an error and never reaches the model; Ctrl-C at the prompt and end of input (Ctrl-D) end the session;
// a conversation that outgrows the context drops its oldest turns with a line saying so, with and without --tools.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

// A random-weight GPT-2 (256-token context, 50k vocabulary) never ends a turn by itself: its replies run to the
// context limit and take seconds, long enough to interrupt.
const SLOW = "../shared/testdata/gguf/dev-gpt2-e32-f16.gguf";

function waitFor(get: () => string, pattern: RegExp, what: string, ms = 60_000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const tick = () => {
      if (pattern.test(get())) resolve();
      else if (Date.now() - start > ms) reject(new Error(`timed out waiting for ${what}; got:\n${get()}`));
      else setTimeout(tick, 20);
    };
    tick();
  });
}

test("chat: Ctrl-C stops the reply, /help lists commands, /x is an error, Ctrl-C at the prompt quits",
  { skip: !existsSync(SLOW) && `${SLOW} is not there` }, async () => {
    const child = spawn(process.execPath, ["bin/zhiyu.mjs", "chat", "--model", SLOW, "--max-tokens", "250"], { stdio: "pipe" });
    let out = "";
    let err = "";
    child.stdout.on("data", (d: Buffer) => { out += d.toString(); });
    child.stderr.on("data", (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    child.stdin.write("tell me a story\n");
    await waitFor(() => out, /\S/, "the reply to start");
    child.kill("SIGINT");
    await waitFor(() => err, /reply stopped/, "the reply to stop");
    const stoppedAt = out.length;
    child.stdin.write("/help\n");
    await waitFor(() => out, /\/reset/, "the /help listing");
    child.stdin.write("/nonsense\n");
    await waitFor(() => err, /unknown command \/nonsense; \/help lists the commands/, "the unknown-command error");
    assert.ok(!/commands:/.test(out.slice(0, stoppedAt)), "nothing was listed before /help");
    child.kill("SIGINT"); // at the prompt: quits
    assert.equal(await exited, 0, err);
  });

test("chat: end of input (Ctrl-D) quits with status 0 and /x is never sent to the model", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "chat", "--max-tokens", "8", "--temperature", "0"],
    { input: "/x\n/help\n", encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /unknown command \/x/);
  assert.match(r.stdout, /\/help +this list/);
  assert.doesNotMatch(r.stdout, /您好|你好/, "no model reply for commands");
});

// Long Chinese lines: zhiyu-mini's byte-level vocabulary spends about 2–3 tokens per character, so a dozen of
// these outgrow its 1024-token context.
const LONG_TURNS = Array.from({ length: 12 }, (_, i) => `第${i}个问题：${"请告诉我今天上海的天气怎么样，适合出门吗？".repeat(4)}`).join("\n") + "\n";

test("chat: a conversation longer than the context drops its oldest turns with a line and never exits", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "chat", "--system", "你是智语。", "--max-tokens", "16", "--temperature", "0"],
    { input: LONG_TURNS, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /earlier messages? no longer fit the 1024-token context and (was|were) left out \(the system prompt is kept\)/);
  assert.equal(r.stdout.split("\n").filter((l) => l.trim().length > 0).length >= 12, true, "every turn got a reply");
});

test("chat --tools: overflow drops old turns instead of exiting, and warns once that the model was not trained for tools", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "chat", "--tools", "calculator", "--max-tokens", "16", "--temperature", "0"],
    { input: LONG_TURNS, encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /left out/);
  assert.equal(r.stderr.match(/was not trained to call tools/g)?.length, 1);
});

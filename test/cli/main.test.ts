// The CLI entry: help lists commands, an unknown command fails with exit code 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

test("zhiyu --help lists commands", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "--help"], { encoding: "utf8" });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /commands: .*doctor/);
});

test("unknown command exits 2 and says so", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "no-such-command"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'no-such-command'/);
});

test("without --model, generate uses the shipped default model (models/zhiyu-mini)", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "generate", "--prompt", "<|im_start|>user\n你好<|im_end|>\n<|im_start|>assistant\n",
    "--max-tokens", "64", "--temperature", "0", "--json"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  const out = JSON.parse(r.stdout.trim().split("\n").pop()!) as { prompt_ids: number[]; ids: number[]; text: string };
  assert.ok(out.prompt_ids.length > 0 && out.ids.length > 0);
  assert.equal(typeof out.text, "string");
});

test("chat --tools runs turns through the agent loop (default model, piped input) and rejects search without --docs", () => {
  const ok = spawnSync(process.execPath, ["bin/zhiyu.mjs", "chat", "--tools", "calculator", "--max-tokens", "24", "--temperature", "0"],
    { input: "12乘以7等于多少？\n", encoding: "utf8" });
  assert.equal(ok.status, 0, ok.stderr);
  assert.ok(ok.stdout.trim().length > 0, "a reply was printed");
  const bad = spawnSync(process.execPath, ["bin/zhiyu.mjs", "chat", "--tools", "search"], { input: "hi\n", encoding: "utf8" });
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /search tool needs a documents folder \(--docs DIR\)/);
});

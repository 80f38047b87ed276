// Batch inspection through the real CLI: 10,000 imported conversations with a progress bar, interrupted with
// SIGINT part-way and resumed without redoing finished ones (the partial report is fsynced; the final report is
// renamed into place). In process (1,000 conversations): a re-run with the same rubric keeps every line, a changed
// transcript is redone alone, and a changed rubric redoes everything under its new version. A changed facts CSV
// (kb_contradiction) is a new rubric version too: the CLI redoes every line and the desk's catch-up every result.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { runBatch } from "../../../../src/apps/contact-centre/inspection/batch.js";
import { DeskInspector } from "../../../../src/apps/contact-centre/inspection/desk-inspector.js";
import { Inspector } from "../../../../src/apps/contact-centre/inspection/engine.js";
import { DEFAULT_RUBRIC, rubricVersion, type RubricConfig } from "../../../../src/apps/contact-centre/inspection/rubric.js";
import { toTranscript } from "../../../../src/apps/contact-centre/inspection/transcript.js";
import { loadConfig } from "../../../../src/apps/contact-centre/config.js";
import { inspectorFor } from "../../../../src/apps/contact-centre/inspection/setup.js";
import { migrate } from "../../../../src/apps/contact-centre/store/migrations.js";
import { openDatabase } from "../../../../src/apps/contact-centre/store/sql.js";
import { ConversationStore } from "../../../../src/apps/contact-centre/store/store.js";

const BIN = path.resolve("bin/zhiyu.mjs");

function conversation(i: number): string {
  const t0 = Date.UTC(2026, 11, 1, 8, 0, 0) + i * 60_000;
  const rude = i % 10 === 3;
  return JSON.stringify({ id: `conv-${i}`, agent: `agent${i % 7}`, turns: [
    { role: "customer", text: "我想查一下订单什么时候出票？", ts: t0 },
    { role: "agent", text: i % 5 === 0 ? "订单明天出票。" : "您好，订单明天出票。", ts: t0 + 15_000 },
    { role: "customer", text: "好的，谢谢！", ts: t0 + 30_000 },
    { role: "agent", text: rude ? "这不是我的问题，再见。" : "感谢您的咨询，再见！", ts: t0 + 40_000 },
  ] });
}

function lines(file: string): { id: string; score: number; rubric_version: string }[] {
  return readFileSync(file, "utf8").trim().split("\n").map((l) => JSON.parse(l));
}

test("10,000 conversations through the CLI: progress bar, SIGINT, resume without redoing", { timeout: 180_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-inspect-"));
  try {
    const input = path.join(dir, "t.jsonl");
    const out = path.join(dir, "report.jsonl");
    writeFileSync(input, Array.from({ length: 10_000 }, (_, i) => conversation(i)).join("\n") + "\n");
    const args = [BIN, "inspect", "--input", input, "--out", out, "--rules-only", "--progress"];
    // 1. Interrupt once the partial report has some finished lines.
    const child = spawn(process.execPath, args, { stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const partial = `${out}.partial`;
    const deadline = Date.now() + 60_000;
    while (!(existsSync(partial) && statSync(partial).size > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
    child.kill("SIGINT");
    const code = await new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
    assert.equal(code, 130, `the interrupted run exits with 130\n${stderr}`);
    {
      assert.match(stderr, /stopped at \d+\/10000 — run the same command to resume/);
      assert.ok(!existsSync(out), "no final report before the input is done");
      const kept = lines(partial).length;
      assert.ok(kept > 0 && kept < 10_000, `partial report holds the finished lines (${kept})`);
      // 2. Resume: the finished ones are not redone.
      const resumed = spawnSync(process.execPath, args, { encoding: "utf8" });
      assert.equal(resumed.status, 0, resumed.stderr);
      const m = resumed.stderr.match(/(\d+) inspected, (\d+) unchanged \(kept\), (\d+) resumed/)!;
      assert.equal(Number(m[3]), kept, "every finished line is resumed");
      assert.equal(Number(m[1]), 10_000 - kept, "only the rest is inspected");
    }
    assert.match(stderr, /\[#+ *\] \d+\/10000/, "a progress bar is printed");
    assert.ok(!existsSync(partial), "the partial report was renamed into place");
    const report = lines(out);
    assert.equal(report.length, 10_000);
    assert.equal(new Set(report.map((r) => r.id)).size, 10_000, "each conversation once");
    assert.deepEqual(report.map((r) => r.id).slice(0, 3), ["conv-0", "conv-1", "conv-2"], "input order");
    // Independent expectations: no greeting every 5th, a forbidden phrase every 10th from 3.
    // Rules only: greeting 15 + closing 10 + forbidden 25 + personal data 20 = 70 judged weight.
    const expected = (i: number) => 100 * (1 - ((i % 5 === 0 ? 15 : 0) + (i % 10 === 3 ? 25 : 0)) / 70);
    for (const i of [0, 1, 3, 5, 13, 9999]) assert.ok(Math.abs(report[i].score - Math.round(10 * expected(i)) / 10) < 0.11, `conv-${i}: ${report[i].score} vs ${expected(i)}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("re-inspection is incremental under the same rubric and versioned after a change", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-inspect-"));
  try {
    const out = path.join(dir, "report.jsonl");
    const read = (list: string[]) => list.map((l, i) => ({ transcript: toTranscript(JSON.parse(l), `line-${i + 1}`), line: i + 1 }));
    const input = Array.from({ length: 1000 }, (_, i) => conversation(i));
    const first = await runBatch({ inspector: new Inspector(DEFAULT_RUBRIC, null), transcripts: read(input), out });
    assert.deepEqual([first.inspected, first.reused], [1000, 0]);
    const again = await runBatch({ inspector: new Inspector(DEFAULT_RUBRIC, null), transcripts: read(input), out });
    assert.deepEqual([again.inspected, again.reused], [0, 1000], "same rubric, same transcripts: every line kept");
    // conv-42 now holds conv-43's turns: only it is redone.
    input[42] = conversation(43).replace('"conv-43"', '"conv-42"');
    const changed = await runBatch({ inspector: new Inspector(DEFAULT_RUBRIC, null), transcripts: read(input), out });
    assert.deepEqual([changed.inspected, changed.reused], [1, 999]);
    const strict: RubricConfig = { version: "strict", items: [{ id: "banned", type: "forbidden_phrases", weight: 1, phrases: { zh: ["不是我的问题"] } }] };
    const redo = await runBatch({ inspector: new Inspector(strict, null), transcripts: read(input), out });
    assert.deepEqual([redo.inspected, redo.reused], [1000, 0], "a changed rubric redoes everything");
    const v2 = lines(out);
    assert.ok(v2.every((r) => r.rubric_version === `${rubricVersion(strict)}+rules`));
    // Every 10th from 3, plus conv-42 with conv-43's turns.
    assert.equal(v2.filter((r) => r.score === 0).length, 101, "the forbidden phrase every 10th conversation");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a changed facts CSV is a new rubric version: the CLI redoes every line, the desk re-inspects every result", { timeout: 60_000 }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-inspect-facts-"));
  try {
    const config = path.join(dir, "qc.yaml");
    writeFileSync(config, "version: 1\ninspection:\n  version: \"2026-12\"\n  items:\n    - {id: kb, type: kb_contradiction, weight: 10, facts: prices.csv}\n");
    const facts = path.join(dir, "prices.csv");
    writeFileSync(facts, "entity,value\n故宫,60\n天坛,15\n");
    const input = path.join(dir, "t.jsonl");
    const say = (id: string, text: string) => JSON.stringify({ id, turns: [{ role: "customer", text: "门票多少钱？" }, { role: "agent", text }] });
    writeFileSync(input, [say("a", "您好，故宫的门票是60元。"), say("b", "您好，天坛的门票是15元。")].join("\n") + "\n");
    const out = path.join(dir, "report.jsonl");
    const cli = () => spawnSync(process.execPath, [BIN, "inspect", "--config", config, "--input", input, "--out", out, "--rules-only"], { encoding: "utf8" });
    const first = cli();
    assert.equal(first.status, 0, first.stderr);
    const v1 = lines(out);
    assert.deepEqual(v1.map((r) => r.score), [100, 100], "both prices agree with the CSV");
    const same = cli();
    assert.match(same.stderr, / 0 inspected, 2 unchanged \(kept\)/, "same rubric and facts: nothing redone");
    // The price of 故宫 changes in the CSV only (the configuration is untouched).
    writeFileSync(facts, "entity,value\n故宫,80\n天坛,15\n");
    const second = cli();
    assert.equal(second.status, 0, second.stderr);
    assert.match(second.stderr, / 2 inspected, 0 unchanged \(kept\)/, "every line is redone under the new version");
    const v2 = lines(out) as { id: string; score: number; rubric_version: string; marks: { item: string; reason: string }[] }[];
    assert.notEqual(v2[0].rubric_version, v1[0].rubric_version);
    assert.match(v2[0].rubric_version, /^2026-12@[0-9a-f]{12}\+rules$/);
    assert.deepEqual(v2.map((r) => r.score), [0, 100]);
    assert.match(v2[0].marks[0].reason, /知识库为80/);
    // The desk: results stored under the old facts are stale once the file changes.
    const db = await openDatabase(path.join(dir, "desk.sqlite"));
    try {
      await migrate(db);
      const store = new ConversationStore(db);
      const { conversation } = await store.createConversation({ channel: "web", language: "zh", state: {} });
      await store.addMessage(conversation.id, { role: "customer", text: "故宫门票多少钱？" });
      await store.addMessage(conversation.id, { role: "agent", text: "您好，故宫的门票是80元。" });
      await store.updateConversation(conversation.id, { status: "closed", closedAt: Date.now() });
      const before = new DeskInspector(db, inspectorFor(loadConfig(config), { rulesOnly: true }));
      assert.equal(await before.catchUp(), 1);
      assert.equal((await before.inspection(conversation.id))!.score, 100);
      writeFileSync(facts, "entity,value\n故宫,60\n天坛,15\n");
      const after = new DeskInspector(db, inspectorFor(loadConfig(config), { rulesOnly: true }));
      assert.notEqual(after.inspector.version, before.inspector.version);
      assert.equal(await after.catchUp(), 1, "the stale result is redone");
      assert.equal((await after.inspection(conversation.id))!.score, 0);
      assert.equal(await after.catchUp(), 0);
    } finally {
      await db.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

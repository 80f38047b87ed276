// `zhiyu bench desk` end to end, small: a few simulated customers over the widget API for a few seconds, the desk
// SIGKILLed one second in — but only once 4 messages are acknowledged, so a slow start on a loaded machine cannot
// leave nothing to lose — and restarted; every customer then talks to the restarted server too. The simulator's own
// log of acknowledged messages is read back from the server and nothing acknowledged may be lost or stored twice — on
// SQLite and on a real PostgreSQL (the harness starts one). The run waits on conditions, not on the clock, so the
// time limits are generous. The 200-customer × 60 s figures are made by hand (BENCHMARKS.md, "Contact-centre desk
// under load").
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { pgSkipReason, startPostgres } from "../apps/contact-centre/postgres-harness.js";

function bench(args: string[]): { result: Record<string, any>; log: { conversation: string; clientId: string }[] } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-bench-desk-test-"));
  try {
    const log = path.join(dir, "acked.jsonl");
    const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "bench", "desk", "--customers", "4", "--seconds", "4", "--kill-at", "1", "--kill-after-acks", "4", "--think-ms", "200", "--log", log, "--json", ...args],
      { encoding: "utf8", timeout: 540_000 });
    assert.equal(r.status, 0, `bench desk failed (${r.status}): ${r.stderr.slice(-2000)}`);
    const lines = r.stdout.trim().split("\n");
    const result = JSON.parse(lines[lines.length - 1]) as Record<string, any>;
    const acked = readFileSync(log, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as { conversation: string; clientId: string });
    return { result, log: acked };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function check({ result, log }: ReturnType<typeof bench>): void {
  assert.equal(result.killed_at_s, 1);
  assert.ok(typeof result.restart_gap_ms === "number" && result.restart_gap_ms > 0, "the server was killed and restarted");
  assert.ok(result.acknowledged_before_kill >= 4, `the kill came after 4 acknowledged messages (${result.acknowledged_before_kill})`);
  assert.ok(result.acknowledged_after_restart >= 4, `each of the 4 customers had a message acknowledged by the restarted server (${result.acknowledged_after_restart})`);
  assert.ok(result.acknowledged >= result.acknowledged_before_kill + result.acknowledged_after_restart && log.length === result.acknowledged,
    `${result.acknowledged} acknowledged, ${log.length} in the log`);
  assert.equal(new Set(log.map((a) => `${a.conversation}/${a.clientId}`)).size, log.length, "each acknowledged message once in the log");
  assert.equal(result.lost, 0);
  assert.equal(result.duplicated, 0);
  assert.ok(result.latency_ms.p50 > 0 && result.latency_ms.p95 >= result.latency_ms.p50);
}

test("bench desk on SQLite: SIGKILL mid-load and restart lose no acknowledged message", { timeout: 600_000 }, () => {
  check(bench([]));
});

test("bench desk on PostgreSQL: SIGKILL mid-load and restart lose no acknowledged message", { skip: pgSkipReason, timeout: 600_000 }, async () => {
  const pg = await startPostgres();
  try {
    const { result, log } = bench(["--db", pg.url]);
    assert.equal(result.store, "postgres/--db");
    check({ result, log });
  } finally {
    pg.stop();
  }
});

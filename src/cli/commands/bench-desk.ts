// `zhiyu bench desk`: load and fault test of the contact-centre desk. Starts `zhiyu desk` as a child process (the
// real pipeline: understanding, KB, recommendations, SQLite or --db PostgreSQL) and runs N simulated customers over
// the widget's REST API for --seconds: each opens a conversation and sends messages in a loop (Chinese and English
// questions, a think time between), keeping its own log of every message the server acknowledged. With --kill-at S
// the server is SIGKILLed S seconds in (and not before --kill-after-acks messages are acknowledged, so a slow start
// cannot leave nothing to lose) and restarted at once; customers retry unacknowledged messages with the same client
// id, and each customer talks until the end and until it has had one message acknowledged by the restarted server.
// At the end every conversation is read back and each acknowledged message must be there exactly once.
// Reports acknowledged messages, throughput, p50/p95/p99 latency of a message's POST (which returns after the bot's
// reply is stored), the restart gap, and lost/duplicated messages (both must be 0).
// Leaves out: SSE stream load (customers read back with GET), agent-side load.
import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { UsageError } from "../errors.js";
import { intFlagOr, parseFlags } from "../flags.js";

const HELP = `usage: zhiyu bench desk [--customers 200] [--seconds 60] [--db URL] [--kill-at S] [--kill-after-acks N] [--think-ms 1000]
                        [--log FILE] [--json]

  --customers N     simulated customers at once (default 200)
  --seconds S       how long they talk (default 60)
  --db URL          postgres://… (a shared PostgreSQL) or a SQLite file; default: a temporary SQLite folder
  --kill-at S       SIGKILL the server S seconds in and restart it (default: no kill)
  --kill-after-acks N  with --kill-at: also wait until N messages are acknowledged before the kill (default 1)
  --think-ms MS     pause between a reply and the customer's next message (default 1000)
  --log FILE        write the simulator's log of acknowledged messages (JSONL)
  --json            one JSON object instead of lines`;

const BIN = fileURLToPath(new URL("../../../bin/zhiyu.mjs", import.meta.url));
const TURNS = ["故宫门票多少钱？", "那它几点关门？", "我想订故宫附近的酒店", "退款多久到账？", "How much is a ticket to the Forbidden City?",
  "And when does it close?", "can I change the date", "你好", "支持哪些支付方式？", "thanks"];

interface Acked { conversation: string; clientId: string; latencyMs: number; at: number; afterRestart: boolean }

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(port));
    });
    s.on("error", reject);
  });
}

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv, strict: true,
    options: { customers: { type: "string" }, seconds: { type: "string" }, db: { type: "string" }, "kill-at": { type: "string" }, "think-ms": { type: "string" },
      "kill-after-acks": { type: "string" },
      log: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const customers = intFlagOr("customers", values.customers, 200);
  const seconds = intFlagOr("seconds", values.seconds, 60);
  const thinkMs = intFlagOr("think-ms", values["think-ms"], 1000, 0);
  const killAt = values["kill-at"] === undefined ? null : intFlagOr("kill-at", values["kill-at"], 1);
  if (killAt !== null && killAt >= seconds) throw new UsageError(`bench desk: --kill-at ${killAt} must be before the end (--seconds ${seconds})`);
  const killAfterAcks = intFlagOr("kill-after-acks", values["kill-after-acks"], 1, 0);
  if (values["kill-after-acks"] !== undefined && killAt === null) throw new UsageError("bench desk: --kill-after-acks needs --kill-at");
  const tmp = values.db ? null : mkdtempSync(path.join(os.tmpdir(), "zhiyu-bench-desk-"));
  const db = values.db ?? path.join(tmp!, "desk.sqlite");
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const say = (line: string) => {
    if (!values.json) console.log(line);
  };

  let child: ChildProcess | null = null;
  const start = async (): Promise<number> => {
    const t0 = Date.now();
    child = spawn(process.execPath, [BIN, "desk", "--port", String(port), "--db", db], { stdio: ["ignore", "ignore", "pipe"], env: { ...process.env, ZHIYU_DESK_ADMIN_PASSWORD: "bench-admin-pass" } });
    let stderr = "";
    child.stderr!.on("data", (d) => (stderr += String(d)));
    const exited = new Promise<never>((_, reject) => child!.once("exit", (code) => reject(new Error(`bench desk: the desk exited (${code}) while starting: ${stderr.slice(-2000)}`))));
    const ready = (async () => {
      for (;;) {
        try {
          if ((await fetch(`${base}/health`)).ok) return;
        } catch { /* not up yet */ }
        await sleep(100);
      }
    })();
    await Promise.race([ready, exited]);
    child.removeAllListeners("exit");
    return Date.now() - t0;
  };

  const startupMs = await start();
  say(`bench desk: server up in ${(startupMs / 1000).toFixed(1)} s (${values.db ? "PostgreSQL/--db" : "SQLite"}); ${customers} customers for ${seconds} s${killAt !== null ? `, SIGKILL at ${killAt} s` : ""}`);
  const acked: Acked[] = [];
  const tokens = new Map<string, string>();
  let failedAttempts = 0;
  const t0 = Date.now();
  const deadline = t0 + seconds * 1000;
  const post = async (p: string, body: unknown, token?: string) => {
    const res = await fetch(base + p, { method: "POST", headers: { "content-type": "application/json", ...(token ? { authorization: `Bearer ${token}` } : {}) }, body: JSON.stringify(body), signal: AbortSignal.timeout(30_000) });
    if (!res.ok) throw new Error(`HTTP ${res.status}`);
    return res.json() as Promise<Record<string, unknown>>;
  };

  // The run ends at the deadline, but not before the restart (a loaded machine may take longer to restart than the
  // run lasts) and not before each customer has had a message acknowledged by the restarted server.
  let restartedAt: number | null = killAt === null ? t0 : null;
  const customer = async (i: number) => {
    await sleep(Math.random() * Math.min(2000, thinkMs + 200));
    let conv: { id: string; token: string } | null = null;
    let n = 0;
    let ackedAfterRestart = killAt === null;
    while (Date.now() < deadline || !ackedAfterRestart) {
      try {
        if (!conv) {
          const c = await post("/api/conversations", { language: i % 2 ? "en" : "zh", channel: "bench" });
          conv = { id: String(c.id), token: String(c.token) };
          tokens.set(conv.id, conv.token);
        }
        const clientId = `b${i}-${n}`;
        const text = TURNS[(i + n) % TURNS.length];
        const sent = Date.now();
        // Retry the same client id until the server acknowledges it (it may be restarting).
        for (;;) {
          try {
            await post(`/api/conversations/${conv.id}/messages`, { text, client_id: clientId }, conv.token);
            // Acknowledged after the restart only if sent after it (a reply to an earlier attempt may race the kill).
            const afterRestart = restartedAt !== null && killAt !== null && sent >= restartedAt;
            acked.push({ conversation: conv.id, clientId, latencyMs: Date.now() - sent, at: Date.now() - t0, afterRestart });
            ackedAfterRestart ||= afterRestart;
            break;
          } catch {
            failedAttempts++;
            // Give up on a message only once the restarted server has had 60 s to answer it.
            if (restartedAt !== null && Date.now() > Math.max(deadline, restartedAt) + 60_000) return;
            await sleep(200);
          }
        }
        n++;
        await sleep(thinkMs);
      } catch {
        failedAttempts++;
        await sleep(200);
      }
    }
  };

  let restartGapMs: number | null = null;
  let ackedBeforeKill: number | null = null;
  const killer = killAt === null ? Promise.resolve() : (async () => {
    await sleep(killAt * 1000);
    while (acked.length < killAfterAcks) await sleep(50);
    const killedAfter = acked.length;
    const k = Date.now();
    child!.kill("SIGKILL");
    await new Promise((r) => child!.once("exit", r));
    await start();
    restartedAt = Date.now();
    ackedBeforeKill = killedAfter;
    restartGapMs = Date.now() - k;
    say(`bench desk: SIGKILL at ${((k - t0) / 1000).toFixed(1)} s; back after ${(restartGapMs / 1000).toFixed(1)} s`);
  })();
  await Promise.all([...Array.from({ length: customers }, (_, i) => customer(i)), killer]);
  const wall = (Date.now() - t0) / 1000;

  // Read every conversation back: each acknowledged message exactly once.
  const byConv = new Map<string, Acked[]>();
  for (const a of acked) byConv.set(a.conversation, [...(byConv.get(a.conversation) ?? []), a]);
  let lost = 0;
  let duplicated = 0;
  for (const [id, list] of byConv) {
    const res = await fetch(`${base}/api/conversations/${id}`, { headers: { authorization: `Bearer ${tokens.get(id)}` } });
    const stored = ((await res.json()) as { messages: { client_id: string | null }[] }).messages.map((m) => m.client_id).filter((c): c is string => c !== null);
    const counts = new Map<string, number>();
    for (const c of stored) counts.set(c, (counts.get(c) ?? 0) + 1);
    for (const a of list) {
      const k = counts.get(a.clientId) ?? 0;
      if (k === 0) lost++;
      if (k > 1) duplicated++;
    }
  }
  child!.kill("SIGTERM");
  await new Promise((r) => child!.once("exit", r));
  if (values.log) writeFileSync(values.log, acked.map((a) => JSON.stringify(a)).join("\n") + "\n");
  if (tmp) rmSync(tmp, { recursive: true, force: true });
  const lat = acked.map((a) => a.latencyMs).sort((a, b) => a - b);
  const result = {
    customers, seconds, store: values.db ? "postgres/--db" : "sqlite", acknowledged: acked.length, conversations: byConv.size,
    throughput_msgs_per_s: Math.round((acked.length / wall) * 10) / 10, latency_ms: { p50: percentile(lat, 50), p95: percentile(lat, 95), p99: percentile(lat, 99) },
    failed_attempts: failedAttempts, killed_at_s: killAt, restart_gap_ms: restartGapMs,
    acknowledged_before_kill: ackedBeforeKill, acknowledged_after_restart: killAt === null ? null : acked.filter((a) => a.afterRestart).length, lost, duplicated,
  };
  if (values.json) console.log(JSON.stringify(result));
  else {
    say(`  acknowledged ${result.acknowledged} messages in ${result.conversations} conversations, ${result.throughput_msgs_per_s} msg/s`);
    say(`  latency (POST → stored reply) p50 ${result.latency_ms.p50} ms, p95 ${result.latency_ms.p95} ms, p99 ${result.latency_ms.p99} ms; ${failedAttempts} failed attempts (retried)`);
    say(`  read back: ${lost} lost, ${duplicated} duplicated`);
  }
  return lost === 0 && duplicated === 0 ? 0 : 1;
}

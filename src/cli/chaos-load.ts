// `zhiyu bench serve --chaos`: overload and faults against the server while /health latency is sampled. The load runs
// in a worker thread (the in-process server's forward passes block this thread): bursts of streaming and plain chat
// requests at 8× the decode slots, a share of clients that disconnect after the first chunk, a share that send their
// body slowly over a raw socket, and a steady /health probe every 50 ms. Checks: every rejected request got 429 with
// Retry-After as its status (never a 200 followed by an in-stream error), every accepted request that stayed
// connected completed ([DONE] or a finish_reason), /health p99, and the process's memory before and after.
// Leaves out: network faults below TCP (packet loss), many client machines.
import { Worker } from "node:worker_threads";

export interface ChaosOptions {
  base: string;
  model: string;
  slots: number;
  /** Waves of 8 × slots requests, fired at once. */
  bursts: number;
  tokens: number;
}

export interface ChaosReport {
  requests: number;
  accepted: number;
  rejected429: number;
  rejectedWithoutRetryAfter: number;
  otherStatuses: Record<string, number>;
  streamErrorsAfter200: number;
  acceptedLost: number;
  disconnectedOnPurpose: number;
  slowBodies: { sent: number; answered: number };
  health: { samples: number; p50Ms: number; p99Ms: number; maxMs: number; failures: number };
  seconds: number;
}

const CHAOS_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
const net = require("node:net");
const { base, model, slots, bursts, tokens } = workerData;
const url = new URL(base);
const body = (i, stream) => JSON.stringify({ model, stream, max_tokens: tokens, temperature: 0.7, seed: i,
  messages: [{ role: "user", content: "Tell me a story number " + i }] });
const out = { requests: 0, accepted: 0, rejected429: 0, rejectedWithoutRetryAfter: 0, otherStatuses: {}, streamErrorsAfter200: 0,
  acceptedLost: 0, disconnectedOnPurpose: 0, slowBodies: { sent: 0, answered: 0 }, health: [] , healthFailures: 0 };
async function one(i) {
  const stream = i % 2 === 0;
  const disconnect = i % 7 === 3;
  const ctrl = new AbortController();
  out.requests++;
  let r;
  try {
    r = await fetch(base + "/chat/completions", { method: "POST", headers: { "content-type": "application/json" }, body: body(i, stream), signal: ctrl.signal });
  } catch (e) { out.otherStatuses["network"] = (out.otherStatuses["network"] || 0) + 1; return; }
  if (r.status === 429) {
    out.rejected429++;
    if (!r.headers.get("retry-after")) out.rejectedWithoutRetryAfter++;
    await r.text();
    return;
  }
  if (r.status !== 200) { out.otherStatuses[r.status] = (out.otherStatuses[r.status] || 0) + 1; await r.text(); return; }
  out.accepted++;
  let text = "";
  try {
    if (disconnect) {
      const reader = r.body.getReader();
      await reader.read();
      ctrl.abort();
      out.disconnectedOnPurpose++;
      return;
    }
    text = await r.text();
  } catch (e) { out.acceptedLost++; return; }
  if (stream) {
    if (/"error"/.test(text)) out.streamErrorsAfter200++;
    if (!text.trimEnd().endsWith("data: [DONE]")) out.acceptedLost++;
  } else {
    try { if (!JSON.parse(text).choices?.[0]?.finish_reason) out.acceptedLost++; } catch { out.acceptedLost++; }
  }
}
function slowBody(i) {
  // The body arrives in 8 pieces over ~1.6 s: the server must wait for it without holding up others.
  return new Promise((resolve) => {
    const b = Buffer.from(body(i, false));
    out.slowBodies.sent++;
    out.requests++;
    const sock = net.connect(Number(url.port), url.hostname, async () => {
      sock.write("POST " + url.pathname + "/chat/completions HTTP/1.1\\r\\nhost: " + url.host + "\\r\\ncontent-type: application/json\\r\\n" +
        "content-length: " + b.length + "\\r\\nconnection: close\\r\\n\\r\\n");
      const piece = Math.ceil(b.length / 8);
      for (let k = 0; k < 8; k++) {
        await new Promise((r) => setTimeout(r, 200));
        if (!sock.destroyed) sock.write(b.subarray(k * piece, (k + 1) * piece));
      }
    });
    let head = "";
    sock.on("data", (d) => {
      head += d.toString("latin1");
      const m = /^HTTP\\/1\\.1 (\\d{3})/.exec(head);
      if (m && head.includes("\\r\\n\\r\\n")) {
        const status = Number(m[1]);
        out.slowBodies.answered++;
        if (status === 429) { out.rejected429++; if (!/retry-after/i.test(head)) out.rejectedWithoutRetryAfter++; }
        else if (status === 200) out.accepted++;
        else out.otherStatuses[status] = (out.otherStatuses[status] || 0) + 1;
        sock.destroy();
      }
    });
    sock.on("close", resolve);
    sock.on("error", resolve);
  });
}
(async () => {
  const t0 = performance.now();
  let probing = true;
  const probe = (async () => {
    while (probing) {
      const s = performance.now();
      try { const r = await fetch(url.origin + "/health"); await r.text(); if (r.status !== 200) out.healthFailures++; }
      catch { out.healthFailures++; }
      out.health.push(performance.now() - s);
      await new Promise((r) => setTimeout(r, 50));
    }
  })();
  await new Promise((r) => setTimeout(r, 500)); // a baseline of idle probes
  let i = 0;
  for (let b = 0; b < bursts; b++) {
    const wave = [];
    for (let k = 0; k < 8 * slots; k++) wave.push(k % 8 === 5 ? slowBody(i++) : one(i++));
    await Promise.all(wave);
    await new Promise((r) => setTimeout(r, 300));
  }
  probing = false;
  await probe;
  parentPort.postMessage({ ...out, seconds: (performance.now() - t0) / 1000 });
})();
`;

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export async function runChaos(o: ChaosOptions): Promise<ChaosReport> {
  const worker = new Worker(CHAOS_WORKER, { eval: true, workerData: o });
  const raw = await new Promise<Omit<ChaosReport, "health"> & { health: number[]; healthFailures: number }>((resolve, reject) => {
    worker.once("message", resolve);
    worker.once("error", reject);
  });
  await worker.terminate();
  const r1 = (x: number) => Math.round(x * 10) / 10;
  return { ...raw, health: { samples: raw.health.length, p50Ms: r1(percentile(raw.health, 50)), p99Ms: r1(percentile(raw.health, 99)),
    maxMs: r1(Math.max(0, ...raw.health)), failures: raw.healthFailures }, seconds: r1(raw.seconds) };
}

/** The verdicts the issue asks for, as lines (empty when all hold). */
export function chaosViolations(r: ChaosReport, healthP99BoundMs: number): string[] {
  const v: string[] = [];
  if (r.rejectedWithoutRetryAfter > 0) v.push(`${r.rejectedWithoutRetryAfter} 429s without Retry-After`);
  if (r.streamErrorsAfter200 > 0) v.push(`${r.streamErrorsAfter200} streams got 200 then an in-stream error`);
  if (r.acceptedLost > 0) v.push(`${r.acceptedLost} accepted requests were lost`);
  if (Object.keys(r.otherStatuses).length > 0) v.push(`unexpected statuses ${JSON.stringify(r.otherStatuses)}`);
  if (r.health.failures > 0) v.push(`${r.health.failures} /health probes failed`);
  if (r.health.p99Ms > healthP99BoundMs) v.push(`/health p99 ${r.health.p99Ms} ms over ${healthP99BoundMs} ms`);
  return v;
}

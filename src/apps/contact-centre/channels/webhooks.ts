// Outbound webhooks: delivers the outbox's rows (store/outbox.ts) as JSON POSTs signed with HMAC-SHA256 over
// "<timestamp>.<body>" with the target's secret, in the headers
//   X-Zhiyu-Event: message.created    X-Zhiyu-Delivery: <outbox seq>    X-Zhiyu-Timestamp: <unix seconds>
//   X-Zhiyu-Signature: sha256=<hex>
// A 2xx answer is delivered; anything else (an error status, a refused connection, no answer within the
// target's timeout) is retried with exponential back-off (1 s, 2 s, 4 s, … capped at 10 min) up to max_attempts,
// then marked failed with the last error. Each target gets its events in outbox order (one at a time; after a
// failure the rest of that target's batch waits for the next pass), so message.created precedes the
// handoff.requested it caused; a retried event may still arrive after later ones. Receivers verify with `verifySignature` (or the same HMAC) and should
// reject timestamps older than a few minutes.
// Leaves out: per-target rate limits, a dead-letter replay command (failed rows stay in the table).
import { createHmac, timingSafeEqual } from "node:crypto";
import type { WebhookConfig } from "../config-schema.js";
import type { Outbox, OutboxRow } from "../store/outbox.js";

export interface WebhookTarget extends Required<WebhookConfig> {
  /** The signing secret (the CLI reads it from the variable named by secret_env). */
  secret: string;
}

export function sign(secret: string, timestamp: number, body: string): string {
  return `sha256=${createHmac("sha256", secret).update(`${timestamp}.${body}`).digest("hex")}`;
}

export function verifySignature(secret: string, timestamp: number, body: string, signature: string): boolean {
  const want = Buffer.from(sign(secret, timestamp, body));
  const got = Buffer.from(signature);
  return want.length === got.length && timingSafeEqual(want, got);
}

export function backoffMs(attempts: number): number {
  return Math.min(600_000, 1000 * 2 ** Math.max(0, attempts - 1));
}

export class WebhookDeliverer {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private stopped = false;

  constructor(private readonly outbox: Outbox, private readonly targets: readonly WebhookTarget[], private readonly pollMs = 500,
    private readonly log: (line: string) => void = () => undefined) {}

  targetsFor(event: string): string[] {
    return this.targets.filter((t) => (t.events as string[]).includes(event)).map((t) => t.url);
  }

  start(): void {
    if (this.targets.length === 0) return;
    const tick = () => {
      if (this.stopped) return;
      this.running = this.deliverDue().then(() => undefined, (err) => this.log(`webhooks: ${(err as Error).message}`)).finally(() => {
        this.running = null;
        if (!this.stopped) this.timer = setTimeout(tick, this.pollMs);
      });
    };
    this.timer = setTimeout(tick, 0);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  /** One pass: claim the due rows; targets in parallel, each target's rows in order until one fails. */
  async deliverDue(): Promise<number> {
    const batch = 20;
    const maxTimeout = Math.max(1000, ...this.targets.map((t) => t.timeout_ms));
    const rows = await this.outbox.claimDue(batch, batch * maxTimeout + 5000);
    const byTarget = new Map<string, OutboxRow[]>();
    for (const r of rows) byTarget.set(r.targetUrl, [...(byTarget.get(r.targetUrl) ?? []), r]);
    await Promise.all([...byTarget.values()].map(async (queue) => {
      for (let i = 0; i < queue.length; i++) {
        if (!(await this.deliver(queue[i]))) {
          await this.outbox.release(queue.slice(i + 1).map((r) => r.seq));
          return;
        }
      }
    }));
    return rows.length;
  }

  /** Tries one row once; true when it was delivered. */
  private async deliver(row: OutboxRow): Promise<boolean> {
    const target = this.targets.find((t) => t.url === row.targetUrl);
    if (!target) {
      await this.outbox.attemptFailed(row.seq, `no webhook configured for ${row.targetUrl} any more`, null);
      return false;
    }
    const ts = Math.floor(Date.now() / 1000);
    let error: string;
    try {
      const res = await fetch(target.url, {
        method: "POST",
        body: row.payload,
        headers: { "content-type": "application/json", "x-zhiyu-event": row.event, "x-zhiyu-delivery": String(row.seq),
          "x-zhiyu-timestamp": String(ts), "x-zhiyu-signature": sign(target.secret, ts, row.payload) },
        signal: AbortSignal.timeout(target.timeout_ms),
      });
      await res.arrayBuffer().catch(() => undefined);
      if (res.ok) {
        await this.outbox.delivered(row.seq);
        return true;
      }
      error = `HTTP ${res.status}`;
    } catch (err) {
      const e = err as Error;
      error = e.name === "TimeoutError" ? `no answer within ${target.timeout_ms} ms` : (e.cause as Error | undefined)?.message ?? e.message;
    }
    const attempts = row.attempts + 1;
    const retryAt = attempts >= target.max_attempts ? null : Date.now() + backoffMs(attempts);
    this.log(`webhook ${row.event} #${row.seq} → ${target.url}: ${error}${retryAt ? `; retry in ${Math.round((retryAt - Date.now()) / 1000)} s` : "; giving up"}`);
    await this.outbox.attemptFailed(row.seq, error, retryAt);
    return false;
  }
}

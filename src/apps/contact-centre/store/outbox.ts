// The webhook outbox: an event to deliver is written in the same transaction as the change it reports, then a
// deliverer (channels/webhooks.ts) claims due rows, posts them and records the outcome. Claiming sets a lease
// (locked_until) with a conditional UPDATE, so several desk processes sharing one PostgreSQL never post the same
// row at once; a process killed mid-delivery leaves a lease that expires and the row is retried (at-least-once).
// Leaves out: ordering guarantees across events (receivers use the event id to deduplicate and the time to order).
import type { SqlDb } from "./sql.js";

export interface OutboxRow {
  seq: number;
  event: string;
  targetUrl: string;
  payload: string;
  attempts: number;
}

export class Outbox {
  constructor(readonly db: SqlDb) {}

  async enqueue(event: string, payload: unknown, targets: readonly string[], db: SqlDb = this.db): Promise<void> {
    const now = Date.now();
    for (const url of targets) {
      await db.run("INSERT INTO webhook_outbox (event, target_url, payload, status, next_attempt_at, created_at) VALUES (?, ?, ?, 'pending', ?, ?)",
        [event, url, JSON.stringify(payload), now, now]);
    }
  }

  /** Claims up to `limit` due rows for `leaseMs`; rows another process claimed meanwhile are skipped. */
  async claimDue(limit: number, leaseMs: number): Promise<OutboxRow[]> {
    const now = Date.now();
    const due = await this.db.all<Record<string, unknown>>(
      "SELECT * FROM webhook_outbox WHERE status = 'pending' AND next_attempt_at <= ? AND locked_until <= ? ORDER BY seq LIMIT ?", [now, now, limit]);
    const claimed: OutboxRow[] = [];
    for (const r of due) {
      const won = await this.db.run("UPDATE webhook_outbox SET locked_until = ? WHERE seq = ? AND locked_until <= ? AND status = 'pending'",
        [now + leaseMs, Number(r.seq), now]);
      if (won.changes === 1) {
        claimed.push({ seq: Number(r.seq), event: String(r.event), targetUrl: String(r.target_url), payload: String(r.payload), attempts: Number(r.attempts) });
      }
    }
    return claimed;
  }

  /** Gives claimed rows back untried (their target failed earlier in the pass), due again at once. */
  async release(seqs: readonly number[]): Promise<void> {
    for (const seq of seqs) await this.db.run("UPDATE webhook_outbox SET locked_until = 0 WHERE seq = ? AND status = 'pending'", [seq]);
  }

  async delivered(seq: number): Promise<void> {
    await this.db.run("UPDATE webhook_outbox SET status = 'delivered', attempts = attempts + 1, delivered_at = ?, locked_until = 0, last_error = NULL WHERE seq = ?", [Date.now(), seq]);
  }

  /** Records a failed attempt: retried at `retryAt`, or given up ("failed") when null. */
  async attemptFailed(seq: number, error: string, retryAt: number | null): Promise<void> {
    await this.db.run("UPDATE webhook_outbox SET attempts = attempts + 1, last_error = ?, locked_until = 0, status = ?, next_attempt_at = ? WHERE seq = ?",
      [error.slice(0, 500), retryAt === null ? "failed" : "pending", retryAt ?? Date.now(), seq]);
  }

  async rows(): Promise<(OutboxRow & { status: string; lastError: string | null })[]> {
    const rows = await this.db.all<Record<string, unknown>>("SELECT * FROM webhook_outbox ORDER BY seq");
    return rows.map((r) => ({ seq: Number(r.seq), event: String(r.event), targetUrl: String(r.target_url), payload: String(r.payload),
      attempts: Number(r.attempts), status: String(r.status), lastError: (r.last_error as string | null) ?? null }));
  }
}

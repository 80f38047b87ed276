// Desk users (roles admin, supervisor, agent) with Argon2id password hashes (@node-rs/argon2), login sessions
// (a cookie for the pages, a bearer token for the API; only a SHA-256 of the secret is stored, so a stolen
// database does not yield live sessions) and the audit log of admin actions.
// Leaves out: password reset by e-mail, SSO, lockout after failed logins (the server rate-limits logins instead).
import { hash, verify } from "@node-rs/argon2";
import { randomUUID } from "node:crypto";
import { hashToken, newToken } from "./store.js";
import type { SqlDb } from "./sql.js";

export const ROLES = ["admin", "supervisor", "agent"] as const;
export type DeskRole = (typeof ROLES)[number];

export interface DeskUser {
  id: string;
  username: string;
  displayName: string;
  role: DeskRole;
  disabled: boolean;
}

export interface AuditEntry {
  seq: number;
  actor: string;
  action: string;
  target: string | null;
  detail: Record<string, unknown>;
  createdAt: number;
}

const toUser = (r: Record<string, unknown>): DeskUser => ({
  id: String(r.id), username: String(r.username), displayName: String(r.display_name), role: r.role as DeskRole,
  disabled: Number(r.disabled) === 1,
});

export class Accounts {
  constructor(readonly db: SqlDb) {}

  async createUser(o: { username: string; password: string; role: DeskRole; displayName?: string }): Promise<DeskUser> {
    if (!/^[A-Za-z0-9_.-]{2,64}$/.test(o.username)) throw new Error(`user "${o.username}": a username is 2-64 letters, digits, '_', '.' or '-'`);
    if (!ROLES.includes(o.role)) throw new Error(`user "${o.username}": role must be one of ${ROLES.join(", ")}, not "${o.role}"`);
    if (o.password.length < 8) throw new Error(`user "${o.username}": the password needs at least 8 characters`);
    const id = `u_${randomUUID().replaceAll("-", "").slice(0, 16)}`;
    await this.db.run("INSERT INTO users (id, username, display_name, role, password_hash, created_at) VALUES (?, ?, ?, ?, ?, ?)",
      [id, o.username, o.displayName ?? o.username, o.role, await hash(o.password), Date.now()]);
    return (await this.user(id))!;
  }

  async user(id: string): Promise<DeskUser | undefined> {
    const r = await this.db.get("SELECT * FROM users WHERE id = ?", [id]);
    return r ? toUser(r) : undefined;
  }

  async userByName(username: string): Promise<DeskUser | undefined> {
    const r = await this.db.get("SELECT * FROM users WHERE username = ?", [username]);
    return r ? toUser(r) : undefined;
  }

  async users(): Promise<DeskUser[]> {
    return (await this.db.all("SELECT * FROM users ORDER BY username")).map(toUser);
  }

  async setPassword(id: string, password: string): Promise<void> {
    if (password.length < 8) throw new Error("the password needs at least 8 characters");
    await this.db.run("UPDATE users SET password_hash = ? WHERE id = ?", [await hash(password), id]);
  }

  async setDisabled(id: string, disabled: boolean): Promise<void> {
    await this.db.run("UPDATE users SET disabled = ? WHERE id = ?", [disabled ? 1 : 0, id]);
    if (disabled) await this.db.run("DELETE FROM sessions WHERE user_id = ?", [id]);
  }

  /** The user when the password matches and the account is enabled. */
  async checkPassword(username: string, password: string): Promise<DeskUser | undefined> {
    const r = await this.db.get<Record<string, unknown>>("SELECT * FROM users WHERE username = ?", [username]);
    if (!r || Number(r.disabled) === 1) return undefined;
    return (await verify(String(r.password_hash), password)) ? toUser(r) : undefined;
  }

  /** A new session secret for the user ("cookie" for pages, "api" for bearer tokens). */
  async createSession(userId: string, kind: "cookie" | "api", ttlMs: number): Promise<string> {
    const token = newToken();
    const now = Date.now();
    await this.db.run("INSERT INTO sessions (token_hash, user_id, kind, created_at, expires_at) VALUES (?, ?, ?, ?, ?)",
      [hashToken(token), userId, kind, now, now + ttlMs]);
    return token;
  }

  async sessionUser(token: string, kind: "cookie" | "api"): Promise<DeskUser | undefined> {
    const r = await this.db.get(`SELECT u.* FROM sessions s JOIN users u ON u.id = s.user_id
      WHERE s.token_hash = ? AND s.kind = ? AND s.expires_at > ? AND u.disabled = 0`, [hashToken(token), kind, Date.now()]);
    return r ? toUser(r) : undefined;
  }

  async endSession(token: string): Promise<void> {
    await this.db.run("DELETE FROM sessions WHERE token_hash = ?", [hashToken(token)]);
  }

  async audit(actor: string, action: string, target: string | null, detail: Record<string, unknown> = {}): Promise<void> {
    await this.db.run("INSERT INTO audit_log (actor, action, target, detail, created_at) VALUES (?, ?, ?, ?, ?)",
      [actor, action, target, JSON.stringify(detail), Date.now()]);
  }

  async auditLog(limit = 500): Promise<AuditEntry[]> {
    const rows = await this.db.all("SELECT * FROM audit_log ORDER BY seq DESC LIMIT ?", [limit]);
    return rows.map((r) => ({ seq: Number(r.seq), actor: String(r.actor), action: String(r.action), target: (r.target as string | null) ?? null,
      detail: JSON.parse(String(r.detail ?? "{}")) as Record<string, unknown>, createdAt: Number(r.created_at) }));
  }
}

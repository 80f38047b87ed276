// The one SQL interface the desk's store is written against, with two adapters: SQLite through better-sqlite3
// (WAL, the default, a file in the data folder) and PostgreSQL through `pg` (a pool; several desk processes may
// share one server). Statements use `?` placeholders (rewritten to $1, $2, … for PostgreSQL); numbers that
// PostgreSQL returns as BIGINT strings come back as JavaScript numbers (our BIGINTs are millisecond times and
// sequence numbers, far below 2^53). SQLite is synchronous and single-connection: an async transaction holds a
// lock that every other statement waits for, so statements of concurrent requests never land inside it.
// Leaves out: query building, connection retries beyond pg's pool, read replicas.
import Database from "better-sqlite3";
import { mkdirSync } from "node:fs";
import path from "node:path";
import pg from "pg";

export type Row = Record<string, unknown>;
export type Param = string | number | null | boolean;

export interface SqlDb {
  readonly dialect: "sqlite" | "postgres";
  /** Where it lives, for messages (a file path, or the PostgreSQL URL without its password). */
  readonly where: string;
  all<T = Row>(sql: string, params?: readonly Param[]): Promise<T[]>;
  get<T = Row>(sql: string, params?: readonly Param[]): Promise<T | undefined>;
  run(sql: string, params?: readonly Param[]): Promise<{ changes: number }>;
  /** Several statements without parameters (migrations). */
  exec(sql: string): Promise<void>;
  /** Runs fn inside one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T>;
  /** Cross-process signals (PostgreSQL LISTEN/NOTIFY): absent for SQLite, whose store one process owns. */
  readonly signals?: DbSignals;
  close(): Promise<void>;
}

/** Payloads of at most ~7,900 bytes (PostgreSQL's NOTIFY limit is 8,000) on one channel. */
export interface DbSignals {
  notify(channel: string, payload: string): Promise<void>;
  /** Calls `onPayload` for every notification on the channel (this process's own included) until stopped. */
  listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>>;
}

/** A promise chain that runs one task at a time (SQLite's single connection). */
class Mutex {
  private tail: Promise<unknown> = Promise.resolve();
  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task, task);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

function sqliteParams(params: readonly Param[]): unknown[] {
  return params.map((p) => (typeof p === "boolean" ? (p ? 1 : 0) : p));
}

class SqliteDb implements SqlDb {
  readonly dialect = "sqlite" as const;
  private readonly lock = new Mutex();
  constructor(private readonly db: Database.Database, readonly where: string, private readonly inTx = false) {}

  private direct(): SqlDb {
    return new SqliteDb(this.db, this.where, true);
  }
  private guarded<T>(fn: () => T): Promise<T> {
    return this.inTx ? Promise.resolve().then(fn) : this.lock.run(async () => fn());
  }
  all<T = Row>(sql: string, params: readonly Param[] = []): Promise<T[]> {
    return this.guarded(() => this.db.prepare(sql).all(...sqliteParams(params)) as T[]);
  }
  get<T = Row>(sql: string, params: readonly Param[] = []): Promise<T | undefined> {
    return this.guarded(() => this.db.prepare(sql).get(...sqliteParams(params)) as T | undefined);
  }
  run(sql: string, params: readonly Param[] = []): Promise<{ changes: number }> {
    return this.guarded(() => ({ changes: this.db.prepare(sql).run(...sqliteParams(params)).changes }));
  }
  exec(sql: string): Promise<void> {
    return this.guarded(() => void this.db.exec(sql));
  }
  transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T> {
    if (this.inTx) return fn(this);
    return this.lock.run(async () => {
      this.db.exec("BEGIN IMMEDIATE");
      try {
        const out = await fn(this.direct());
        this.db.exec("COMMIT");
        return out;
      } catch (err) {
        this.db.exec("ROLLBACK");
        throw err;
      }
    });
  }
  async close(): Promise<void> {
    await this.lock.run(async () => this.db.close());
  }
}

/** `?` → `$n` outside of string literals. */
export function toDollarParams(sql: string): string {
  let n = 0;
  let quoted = false;
  let out = "";
  for (const ch of sql) {
    if (ch === "'") quoted = !quoted;
    out += ch === "?" && !quoted ? `$${++n}` : ch;
  }
  return out;
}

type Queryable = pg.Pool | pg.PoolClient;

class PostgresDb implements SqlDb {
  readonly dialect = "postgres" as const;
  readonly signals?: DbSignals;
  constructor(private readonly q: Queryable, readonly where: string, private readonly pool: pg.Pool | null) {
    if (pool) this.signals = new PostgresSignals(pool);
  }

  private async query(sql: string, params: readonly Param[]): Promise<pg.QueryResult> {
    return this.q.query(toDollarParams(sql), params as Param[]);
  }
  async all<T = Row>(sql: string, params: readonly Param[] = []): Promise<T[]> {
    return (await this.query(sql, params)).rows as T[];
  }
  async get<T = Row>(sql: string, params: readonly Param[] = []): Promise<T | undefined> {
    return (await this.query(sql, params)).rows[0] as T | undefined;
  }
  async run(sql: string, params: readonly Param[] = []): Promise<{ changes: number }> {
    return { changes: (await this.query(sql, params)).rowCount ?? 0 };
  }
  async exec(sql: string): Promise<void> {
    await this.q.query(sql);
  }
  async transaction<T>(fn: (tx: SqlDb) => Promise<T>): Promise<T> {
    if (!this.pool) return fn(this);
    const client = await this.pool.connect();
    try {
      await client.query("BEGIN");
      const out = await fn(new PostgresDb(client, this.where, null));
      await client.query("COMMIT");
      return out;
    } catch (err) {
      await client.query("ROLLBACK").catch(() => undefined);
      throw err;
    } finally {
      client.release();
    }
  }
  async close(): Promise<void> {
    await this.pool?.end();
  }
}

/** LISTEN on one pooled connection kept checked out; if it breaks (server restart) it is re-acquired with back-off,
 *  and the pollers that stay on as a backstop cover the gap. */
class PostgresSignals implements DbSignals {
  constructor(private readonly pool: pg.Pool) {}
  async notify(channel: string, payload: string): Promise<void> {
    await this.pool.query("SELECT pg_notify($1, $2)", [channel, payload]);
  }
  async listen(channel: string, onPayload: (payload: string) => void): Promise<() => Promise<void>> {
    if (!/^[a-z_][a-z0-9_]{0,62}$/.test(channel)) throw new Error(`desk store: LISTEN channel '${channel}' must be a lower-case SQL identifier`);
    let client: pg.PoolClient | null = null;
    let stopped = false;
    let retry: NodeJS.Timeout | null = null;
    const onNotification = (n: pg.Notification) => {
      if (n.channel === channel && n.payload !== undefined) onPayload(n.payload);
    };
    const connect = async (delayMs: number): Promise<void> => {
      try {
        const c = await this.pool.connect();
        c.on("notification", onNotification);
        c.on("error", () => {
          c.release(true);
          if (client === c) client = null;
          if (!stopped) retry = setTimeout(() => void connect(Math.min(delayMs * 2, 10_000)), delayMs);
        });
        await c.query(`LISTEN ${channel}`);
        if (stopped) c.release();
        else client = c;
      } catch {
        if (!stopped) retry = setTimeout(() => void connect(Math.min(delayMs * 2, 10_000)), delayMs);
      }
    };
    await connect(250);
    return async () => {
      stopped = true;
      if (retry) clearTimeout(retry);
      const c = client;
      client = null;
      if (c) {
        await c.query(`UNLISTEN ${channel}`).catch(() => undefined);
        c.release();
      }
    };
  }
}

// BIGINT (int8) and NUMERIC come back as strings by default; ours fit in a double.
pg.types.setTypeParser(20, (v) => Number(v));
pg.types.setTypeParser(1700, (v) => Number(v));

/** The URL with its password replaced, for logs and error messages. */
export function redactUrl(url: string): string {
  return url.replace(/\/\/([^:/@]+):[^@/]*@/, "//$1:***@");
}

/** Opens `postgres://…` / `postgresql://…` with pg, anything else as a SQLite file (":memory:" too); a folder
 *  path gets desk.sqlite inside it. */
export async function openDatabase(target: string): Promise<SqlDb> {
  if (/^postgres(ql)?:\/\//.test(target)) {
    const pool = new pg.Pool({ connectionString: target, max: 10 });
    // An idle client's error (the server restarted) must not crash the process; the next query reconnects.
    pool.on("error", () => undefined);
    try {
      await pool.query("SELECT 1");
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new Error(`desk store: cannot connect to ${redactUrl(target)}: ${(err as Error).message} (check --db and that the server is running)`);
    }
    return new PostgresDb(pool, redactUrl(target), pool);
  }
  const file = target === ":memory:" || target.endsWith(".sqlite") || target.endsWith(".db") ? target : path.join(target, "desk.sqlite");
  if (file !== ":memory:") mkdirSync(path.dirname(path.resolve(file)), { recursive: true });
  const db = new Database(file);
  db.pragma("journal_mode = WAL");
  // FULL: a COMMIT is on disk before we acknowledge (WAL's NORMAL could lose the last transactions on power loss).
  db.pragma("synchronous = FULL");
  db.pragma("busy_timeout = 5000");
  db.pragma("foreign_keys = ON");
  return new SqliteDb(db, file);
}

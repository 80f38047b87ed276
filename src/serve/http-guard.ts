// The server's front door, checked before any route runs: the Host header (DNS-rebinding protection), the Origin
// (CORS only for origins the operator named; a cross-origin request from any other page is refused, so a page in the
// user's browser can neither read answers nor fire tool calls), and the API key (case-insensitive "Bearer",
// compared in constant time). Also the redaction of request targets for logs (query values of secret-looking keys).
// Posture by default: same-origin only, Host must name this server; `--cors ORIGIN…` and `--host-name NAME…` open it.
// Leaves out: TLS, rate limiting per client (the scheduler's queue bounds the work), cookies (none are used).
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";
import type { IncomingMessage } from "node:http";
import { ApiError } from "./errors.js";

export interface GuardOptions {
  /** The address the server listens on (--host). */
  listenHost: string;
  /** Extra names clients may use in the Host header (--host-name), e.g. a reverse proxy's name. */
  hostNames: readonly string[];
  /** Origins allowed cross-origin access (--cors); "*" allows every origin (deliberately open). */
  corsOrigins: readonly string[];
  apiKey: string | null;
}

const LOOPBACK_LISTEN = new Set(["127.0.0.1", "::1", "localhost", "[::1]"]);

/** The host name of a Host header or URL authority, lower-cased, without port or IPv6 brackets. */
export function hostNameOf(authority: string): string {
  const a = authority.trim().toLowerCase();
  if (a.startsWith("[")) return a.slice(1, a.indexOf("]") > 0 ? a.indexOf("]") : undefined);
  const colon = a.lastIndexOf(":");
  return colon >= 0 && a.indexOf(":") === colon ? a.slice(0, colon) : a;
}

export class HttpGuard {
  private readonly names: Set<string>;
  private readonly loopback: boolean;
  private readonly keyDigest: Buffer | null;

  constructor(private readonly options: GuardOptions) {
    const listen = hostNameOf(options.listenHost);
    this.loopback = LOOPBACK_LISTEN.has(listen) || listen.startsWith("127.");
    this.names = new Set([listen, ...options.hostNames.map(hostNameOf)]);
    this.keyDigest = options.apiKey === null ? null : digest(options.apiKey);
  }

  /** Whether a Host header may reach this server. A rebinding attack needs a DNS name the attacker controls; IP
   *  literals and the configured names cannot be one, and loopback names only resolve here when bound to loopback. */
  hostAllowed(hostHeader: string | undefined): boolean {
    if (hostHeader === undefined) return true; // HTTP/1.0 without Host: no browser sends that
    const name = hostNameOf(hostHeader);
    if (this.names.has(name) || isIP(name) !== 0) return true;
    return this.loopback && (name === "localhost" || name.endsWith(".localhost"));
  }

  /** The CORS allow-origin value for this Origin, or null when it gets none. */
  corsOriginFor(origin: string): string | null {
    if (this.options.corsOrigins.includes("*")) return "*";
    return this.options.corsOrigins.some((o) => o.replace(/\/+$/, "").toLowerCase() === origin.toLowerCase()) ? origin : null;
  }

  /** Checks Host and Origin; returns the CORS headers to send (empty for same-origin or non-browser requests). */
  admit(req: IncomingMessage): Record<string, string> {
    if (!this.hostAllowed(req.headers.host)) {
      throw new ApiError(403, `the Host header '${String(req.headers.host).slice(0, 100)}' does not name this server; ` +
        "start it with --host-name NAME to allow that name (protection against DNS rebinding)", "invalid_request_error", null, "host_not_allowed");
    }
    const origin = req.headers.origin;
    if (origin === undefined || origin === "null" && req.method === "GET") return {};
    if (sameOrigin(origin, req.headers.host)) return {};
    const allowed = this.corsOriginFor(origin);
    if (allowed === null) {
      throw new ApiError(403, `cross-origin requests from '${origin.slice(0, 100)}' are not allowed; start the server with ` +
        "--cors ORIGIN to allow a page on another origin", "invalid_request_error", null, "origin_not_allowed");
    }
    return { "access-control-allow-origin": allowed, vary: "origin" };
  }

  /** Throws 401 unless the request carries the key (when one is set). */
  authorize(req: IncomingMessage): void {
    if (this.keyDigest === null) return;
    const auth = req.headers.authorization ?? "";
    const m = /^bearer[ \t]+(.*)$/i.exec(auth.trim());
    // Digests of equal length make the comparison constant-time whatever the key's length.
    if (m === null || !timingSafeEqual(digest(m[1]), this.keyDigest)) {
      throw new ApiError(401, auth ? "Incorrect API key provided." : "Missing API key: send 'Authorization: Bearer <key>'.",
        "authentication_error", null, "invalid_api_key");
    }
  }
}

function digest(s: string): Buffer {
  return createHash("sha256").update(s, "utf8").digest();
}

function sameOrigin(origin: string, host: string | undefined): boolean {
  if (host === undefined) return false;
  try {
    const u = new URL(origin);
    return (u.protocol === "http:" || u.protocol === "https:") && u.host.toLowerCase() === host.trim().toLowerCase();
  } catch {
    return false;
  }
}

const SECRET_KEY = /^(api[-_]?key|key|token|access[-_]?token|auth|authorization|password|passwd|secret|sig|signature|session)$/i;

/** The request target for logs: the path, and query values of secret-looking keys replaced by "REDACTED". Never
 *  throws (a malformed target is cut to its path). */
export function redactTarget(target: string | undefined): string {
  const t = (target ?? "").slice(0, 2048);
  const q = t.indexOf("?");
  if (q < 0) return t;
  const parts = t.slice(q + 1).split("&").map((kv) => {
    const eq = kv.indexOf("=");
    const key = eq < 0 ? kv : kv.slice(0, eq);
    let name = key;
    try {
      name = decodeURIComponent(key);
    } catch { /* keep the raw key */ }
    return eq >= 0 && SECRET_KEY.test(name) ? `${key}=REDACTED` : kv;
  });
  return `${t.slice(0, q)}?${parts.join("&")}`;
}

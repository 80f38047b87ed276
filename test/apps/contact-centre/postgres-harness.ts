// A real, throw-away PostgreSQL server for tests: Debian's binaries (/usr/lib/postgresql/<ver>/bin) run initdb in
// a temporary folder and start the server on a free port, listening on 127.0.0.1 only with trust authentication;
// stop() shuts it down and deletes the folder. PostgreSQL refuses to run as root, so as root the folder is given
// to the unprivileged `nobody` and the binaries run through runuser. When the binaries are absent, `skipReason`
// says so (install Debian's postgresql package; .ci/run does).
// Leaves out: TLS, replication, anything but one database "postgres" with superuser "desk".
import { execFileSync, spawnSync } from "node:child_process";
import { chmodSync, chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

function binDir(): string | null {
  const root = "/usr/lib/postgresql";
  if (!existsSync(root)) return null;
  const versions = readdirSync(root).filter((v) => existsSync(path.join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return versions.length > 0 ? path.join(root, versions[0], "bin") : null;
}

export const PG_BIN = binDir();
export const pgSkipReason: string | false = PG_BIN ? false
  : "PostgreSQL binaries not found under /usr/lib/postgresql/*/bin (apt-get install postgresql; .ci/run installs it)";

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

export interface TestPostgres {
  url: string;
  stop(): void;
}

export async function startPostgres(): Promise<TestPostgres> {
  if (!PG_BIN) throw new Error(String(pgSkipReason));
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-pg-"));
  chmodSync(dir, 0o755);
  const data = path.join(dir, "data");
  const asRoot = process.getuid?.() === 0;
  const run = (bin: string, args: string[]) => {
    const cmd = asRoot ? "runuser" : path.join(PG_BIN, bin);
    const full = asRoot ? ["-u", "nobody", "--", path.join(PG_BIN, bin), ...args] : args;
    const r = spawnSync(cmd, full, { encoding: "utf8", cwd: dir });
    if (r.status !== 0) throw new Error(`postgres harness: ${bin} failed (${r.status}): ${r.stderr || r.stdout}`);
  };
  if (asRoot) chownSync(dir, Number(execFileSync("id", ["-u", "nobody"], { encoding: "utf8" }).trim()), Number(execFileSync("id", ["-g", "nobody"], { encoding: "utf8" }).trim()));
  run("initdb", ["-D", data, "-U", "desk", "--auth=trust", "--encoding=UTF8", "--locale=C", "-N"]);
  const port = await freePort();
  run("pg_ctl", ["-D", data, "-l", path.join(dir, "log"), "-w", "-t", "60", "-o",
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`, "start"]);
  return {
    url: `postgres://desk@127.0.0.1:${port}/postgres`,
    stop() {
      try {
        run("pg_ctl", ["-D", data, "-m", "immediate", "-w", "stop"]);
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}

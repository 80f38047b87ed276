// `zhiyu bench <what> ...`: each benchmark is its own file, commands/bench-<what>.ts, exporting run(argv).
import { existsSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import path from "node:path";
import { UsageError } from "../errors.js";

const dir = path.dirname(fileURLToPath(import.meta.url));
/** ".ts" from src/ through tsx, ".js" from the transpiled dist/. */
const EXT = path.extname(fileURLToPath(import.meta.url));

export async function run(argv: string[]): Promise<number | void> {
  const [what, ...rest] = argv;
  const available = readdirSync(dir).filter((f) => f.startsWith("bench-") && f.endsWith(EXT)).map((f) => f.slice(6, -EXT.length)).sort();
  if (!what || what === "--help") {
    console.log(`usage: zhiyu bench <${available.join("|")}> [options] [--json]`);
    return what ? 0 : 2;
  }
  if (!/^[a-z0-9]+$/.test(what) || !existsSync(path.join(dir, `bench-${what}${EXT}`))) {
    throw new UsageError(`unknown benchmark '${what}'; available: ${available.join(", ")}`);
  }
  const mod = (await import(`./bench-${what}.js`)) as { run: (argv: string[]) => Promise<number | void> };
  return mod.run(rest);
}

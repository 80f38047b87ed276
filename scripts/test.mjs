// npm test: type check, then every test/**/*.test.ts on node:test (through tsx).
import { spawnSync } from "node:child_process";
import { readdirSync, statSync } from "node:fs";
import path from "node:path";

function find(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...find(p));
    else if (name.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const filter = process.argv.slice(2);
if (filter.length === 0) {
  const tsc = spawnSync(process.execPath, ["node_modules/typescript/bin/tsc", "--noEmit", "-p", "."], { stdio: "inherit" });
  if (tsc.status !== 0) { console.error("type check failed"); process.exit(tsc.status ?? 1); }
}
const files = find("test").filter((f) => filter.length === 0 || filter.some((s) => f.includes(s))).sort();
const res = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", ...files], { stdio: "inherit" });
process.exit(res.status ?? 1);

// npm test: type check, then every test/**/*.test.ts on node:test (through tsx).
// `node scripts/test.mjs <substring>...` runs only the test files whose path contains one of the substrings (no
// type check); a filter that matches no file is an error (node --test given no file would search for test files
// on its own and report a pass without running anything we asked for).
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, rmSync, statSync } from "node:fs";
import { tmpdir } from "node:os";
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
const all = find("test").sort();
const files = all.filter((f) => filter.length === 0 || filter.some((s) => f.includes(s)));
const unmatched = filter.filter((s) => !all.some((f) => f.includes(s)));
if (files.length === 0 || unmatched.length > 0) {
  const what = unmatched.length > 0 ? unmatched : filter;
  console.error(`scripts/test.mjs: no test file under test/ has a path containing ${what.map((s) => JSON.stringify(s)).join(" or ")}` +
    ` (${all.length} test files; pass a substring of a path such as "backend/gemm", or no argument for the whole suite)`);
  process.exit(2);
}
// Tests get their own cache folder (the decode-kernel tuning cache, src/cli/tuning-flags.ts): they never read or
// write the user's ~/.cache/zhiyu, so a cache another build left there cannot add a warning to a test's stderr.
const cacheHome = mkdtempSync(path.join(tmpdir(), "zhiyu-test-cache-"));
const res = spawnSync(process.execPath, ["--import", "tsx", "--test", "--test-concurrency=2", ...files],
  { stdio: "inherit", env: { ...process.env, XDG_CACHE_HOME: cacheHome } });
rmSync(cacheHome, { recursive: true, force: true });
process.exit(res.status ?? 1);

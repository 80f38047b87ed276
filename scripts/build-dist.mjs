// Transpiles src/**/*.ts to dist/**/*.js (esbuild, file by file, no bundling: imports already name ".js") and
// copies the other files under src/ (the web page), then writes dist/.stamp. bin/zhiyu.mjs runs dist/ when no
// file under src/ is newer than the stamp, and src/ through tsx otherwise (tsx's loader thread costs ~34 MB of
// resident memory and a second of start-up; an edited source is never run stale). Run by `npm install`; safe to
// rerun: a dist/ newer than every file under src/ is left alone (`npx zhiyu` reruns the install scripts).
// Leaves out: type checking (npm test runs tsc), source maps.
import { copyFileSync, existsSync, mkdirSync, readFileSync, readdirSync, renameSync, rmSync, statSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const src = path.join(root, "src");
const out = path.join(root, "dist");
const tmp = `${out}.tmp-${process.pid}`;

function* walk(dir) {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    if (e.isDirectory()) yield* walk(p);
    else if (e.isFile()) yield p;
  }
}

const stampFile = path.join(out, ".stamp");
if (!process.argv.includes("--force") && existsSync(stampFile)) {
  const stampTime = statSync(stampFile).mtimeMs;
  let newest = 0;
  for (const file of walk(src)) newest = Math.max(newest, statSync(file).mtimeMs);
  if (stampTime >= newest) {
    console.log("zhiyu: dist/ up to date; not rebuilt");
    process.exit(0);
  }
}

let transform;
try {
  ({ transform } = await import("esbuild"));
} catch (err) {
  // Not fatal: bin/zhiyu.mjs runs src/ through tsx when dist/ is missing.
  console.log(`zhiyu: dist/ not built (esbuild unavailable: ${err.message}); the CLI runs src/ through tsx`);
  process.exit(0);
}
console.log("zhiyu: transpiling src/ to dist/ (plain JavaScript the CLI starts faster from)…");
const t0 = performance.now();
rmSync(tmp, { recursive: true, force: true });
let count = 0;
for (const file of walk(src)) {
  const rel = path.relative(src, file);
  const dest = path.join(tmp, rel.endsWith(".ts") ? rel.slice(0, -3) + ".js" : rel);
  mkdirSync(path.dirname(dest), { recursive: true });
  if (!rel.endsWith(".ts")) {
    copyFileSync(file, dest);
    continue;
  }
  const r = await transform(readFileSync(file, "utf8"), { loader: "ts", format: "esm", target: "node20", sourcefile: file });
  writeFileSync(dest, r.code);
  count++;
}
writeFileSync(path.join(tmp, ".stamp"), new Date().toISOString() + "\n");
// Swap in whole: a killed build leaves the previous dist/ (or none), never half of one.
rmSync(out, { recursive: true, force: true });
renameSync(tmp, out);
console.log(`zhiyu: ${count} modules transpiled to dist/ in ${((performance.now() - t0) / 1000).toFixed(1)} s`);

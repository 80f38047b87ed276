#!/usr/bin/env node
// The zhiyu command. Runs dist/ (plain JavaScript that `npm install` transpiles from src/, see
// scripts/build-dist.mjs) when it is at least as new as every file under src/; otherwise runs src/ through tsx,
// so an edited source is never run stale. Warns when native/ is newer than the built addon.
import { existsSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

function newestMtime(dir) {
  let newest = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, e.name);
    newest = Math.max(newest, e.isDirectory() ? newestMtime(p) : statSync(p).mtimeMs);
  }
  return newest;
}

// A pulled or edited native/ newer than the built addon: the old addon may lack what src/ calls (a bad-argument
// error from a kernel), so say what to run. (Rebuilding here would replace an addon other processes have loaded.)
const addon = path.join(root, "build", "Release", "zhiyu_native.node");
if (existsSync(addon) && existsSync(path.join(root, "native")) && newestMtime(path.join(root, "native")) > statSync(addon).mtimeMs) {
  console.error("zhiyu: native/ changed since build/Release/zhiyu_native.node was built; run `npm install` (or `npm run build:native`) to rebuild it");
}

const stamp = path.join(root, "dist", ".stamp");
if (existsSync(stamp) && statSync(stamp).mtimeMs >= newestMtime(path.join(root, "src"))) {
  await import("../dist/cli/main.js");
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("../src/cli/main.ts");
}

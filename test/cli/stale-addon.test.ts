// bin/zhiyu.mjs warns when native/ is newer than the built addon (a `git pull` without `npm install` would otherwise
// run src/ against an old addon and fail inside a kernel with an argument error), and stays quiet when it is not.
// Runs a copy of bin/zhiyu.mjs in a temporary tree whose dist/cli/main.js only prints a line.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";

test("a native/ newer than build/Release/zhiyu_native.node gets one line saying to run npm install", () => {
  const root = mkdtempSync(path.join(os.tmpdir(), "zhiyu-stale-addon-"));
  try {
    for (const d of ["bin", "src", "dist/cli", "native", "build/Release"]) mkdirSync(path.join(root, d), { recursive: true });
    copyFileSync("bin/zhiyu.mjs", path.join(root, "bin/zhiyu.mjs"));
    writeFileSync(path.join(root, "src/x.ts"), "");
    writeFileSync(path.join(root, "dist/cli/main.js"), 'console.log("main ran");\n');
    writeFileSync(path.join(root, "dist/.stamp"), "");
    writeFileSync(path.join(root, "native/ops.c"), "");
    writeFileSync(path.join(root, "build/Release/zhiyu_native.node"), "");
    const at = (f: string, s: number) => utimesSync(path.join(root, f), s, s);
    const t = Date.now() / 1000;
    at("src/x.ts", t - 100);
    at("dist/.stamp", t - 50);
    const run = () => spawnSync(process.execPath, [path.join(root, "bin/zhiyu.mjs")], { encoding: "utf8" });
    at("native/ops.c", t - 10);
    at("build/Release/zhiyu_native.node", t - 20);
    const stale = run();
    assert.match(stale.stdout, /main ran/);
    assert.match(stale.stderr, /native\/ changed since build\/Release\/zhiyu_native\.node was built; run `npm install`/);
    at("build/Release/zhiyu_native.node", t);
    const fresh = run();
    assert.match(fresh.stdout, /main ran/);
    assert.equal(fresh.stderr, "");
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

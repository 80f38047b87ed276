// The install steps a newcomer runs: `npx zhiyu` inside the checkout uses the checkout (no native rebuild, a few
// seconds), install scripts say what they do, and the addon is replaced by rename, never rewritten in place (a
// running server keeps the file it mapped).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
// @ts-expect-error a plain .mjs script without types
import { replaceAtomically } from "../../scripts/build-native.mjs";

const ADDON = "build/Release/zhiyu_native.node";
const built = existsSync(ADDON) && existsSync("build/Release/zhiyu_native.stamp");

test("replaceAtomically: the new file arrives under the name whole, an open handle keeps the old bytes", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-atomic-"));
  try {
    const dest = path.join(dir, "addon.node");
    const next = path.join(dir, "next.node");
    writeFileSync(dest, "old addon bytes");
    writeFileSync(next, "new addon bytes!");
    const fd = openSync(dest, "r"); // what a process that loaded the addon holds
    const before = statSync(dest).ino;
    (replaceAtomically as (a: string, b: string) => void)(next, dest);
    const buf = Buffer.alloc(64);
    const n = readSync(fd, buf, 0, 64, 0);
    closeSync(fd);
    assert.equal(buf.subarray(0, n).toString(), "old addon bytes");
    assert.equal(readFileSync(dest, "utf8"), "new addon bytes!");
    assert.notEqual(statSync(dest).ino, before, "a new file, not the old one rewritten");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("install scripts: an up-to-date addon and dist/ are left alone and each says so in one line",
  { skip: !built && "the native addon was not built by scripts/build-native.mjs here" }, () => {
    const ino = statSync(ADDON).ino;
    const native = spawnSync(process.execPath, ["scripts/build-native.mjs"], { encoding: "utf8" });
    assert.equal(native.status, 0, native.stderr);
    assert.equal(native.stdout.trim(), "zhiyu: native addon up to date (build/Release/zhiyu_native.node); not rebuilt");
    assert.equal(statSync(ADDON).ino, ino);
  });

test("npx zhiyu inside the checkout runs the checkout without rebuilding the addon",
  { skip: !built && "the native addon was not built by scripts/build-native.mjs here" }, () => {
    const cache = mkdtempSync(path.join(tmpdir(), "zhiyu-npx-cache-"));
    try {
      const ino = statSync(ADDON).ino;
      const started = Date.now();
      // A fresh npm cache: npx installs the checkout into it, which reruns the install scripts in the checkout.
      const r = spawnSync("npm", ["exec", "--cache", cache, "--offline", "--yes", "--", "zhiyu", "--help"],
        { encoding: "utf8", timeout: 120_000 });
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stdout, /commands: .*chat/);
      assert.equal(statSync(ADDON).ino, ino, "the loaded addon file was not replaced");
      assert.ok(Date.now() - started < 60_000, `npx took ${Date.now() - started} ms`);
    } finally {
      rmSync(cache, { recursive: true, force: true });
    }
  });

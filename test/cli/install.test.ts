// The install steps a newcomer runs: `npx zhiyu` inside the checkout uses the checkout (no native rebuild, a few
// seconds), install scripts say what they do, and the addon is replaced by rename, never rewritten in place (a
// running server keeps the file it mapped).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { closeSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, readdirSync, readSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
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

// `npm install` says what it does, one line per step: the real install command of package.json, run in a temporary
// copy of the build scripts with a one-file native/ (a minimal Node-API module) and a two-file src/, so a full
// compile and transpile take seconds. The second run finds both up to date and says so. .npmrc must keep npm from
// hiding these lines (foreground-scripts).
test("npm install's steps, each with its line: compile (per file), addon built, transpile, then up to date",
  { skip: !built && "the native addon was not built by scripts/build-native.mjs here" }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-install-steps-"));
    try {
      for (const d of ["scripts", "native", "src/web"]) mkdirSync(path.join(dir, d), { recursive: true });
      // Every build script (build-native.mjs imports its helpers, binding.gyp runs some), and binding.gyp itself.
      const scripts = readdirSync("scripts").filter((f) => f.endsWith(".mjs")).map((f) => `scripts/${f}`);
      for (const f of [...scripts, "binding.gyp"]) copyFileSync(f, path.join(dir, f));
      symlinkSync(path.resolve("node_modules"), path.join(dir, "node_modules"), "dir");
      writeFileSync(path.join(dir, "native", "tiny.c"), [
        "#include <node_api.h>",
        "static napi_value Init(napi_env env, napi_value exports) {",
        "  napi_value v; napi_create_int32(env, 42, &v); napi_set_named_property(env, exports, \"answer\", v); return exports;",
        "}",
        "NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)", ""].join("\n"));
      writeFileSync(path.join(dir, "src", "main.ts"), "export const answer: number = 42;\n");
      writeFileSync(path.join(dir, "src", "web", "page.html"), "<p>hi</p>\n");
      const install = (JSON.parse(readFileSync("package.json", "utf8")) as { scripts: { install: string } }).scripts.install;
      const run = () => {
        const r = spawnSync("sh", ["-c", install], { cwd: dir, encoding: "utf8", timeout: 240_000 });
        assert.equal(r.status, 0, r.stderr);
        return r.stdout.trim().split("\n");
      };
      const first = run();
      const expected = [
        /^zhiyu: compiling the native kernels \(1 C\/C\+\+ files under native\/\) — a few minutes on two cores…$/,
        /^zhiyu: (with MPI for data-parallel training — .+|without MPI \(.+\); training runs in one process)$/,
        /^zhiyu: {3}compiling native\/tiny$/,
        /^zhiyu: native addon built in \d+ s \(build\/Release\/zhiyu_native\.node\)$/,
        /^zhiyu: transpiling src\/ to dist\/ \(plain JavaScript the CLI starts faster from\)…$/,
        /^zhiyu: 1 modules transpiled to dist\/ in [\d.]+ s$/,
      ];
      assert.equal(first.length, expected.length, first.join("\n"));
      first.forEach((line, i) => assert.match(line, expected[i]!));
      const addon = { exports: {} as { answer?: number } };
      process.dlopen(addon, path.join(dir, "build", "Release", "zhiyu_native.node"));
      assert.equal(addon.exports.answer, 42);
      assert.ok(existsSync(path.join(dir, "dist", "web", "page.html")) && existsSync(path.join(dir, "dist", "main.js")));
      assert.deepEqual(run(), ["zhiyu: native addon up to date (build/Release/zhiyu_native.node); not rebuilt", "zhiyu: dist/ up to date; not rebuilt"]);
      assert.match(readFileSync(".npmrc", "utf8"), /^foreground-scripts=true$/m, "npm shows install scripts' output as it comes");
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

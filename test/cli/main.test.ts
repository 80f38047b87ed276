// The CLI entry: help lists commands, an unknown command fails with exit code 2.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

test("zhiyu --help lists commands", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "--help"], { encoding: "utf8" });
  assert.equal(r.status, 0);
  assert.match(r.stdout, /commands: .*doctor/);
});

test("unknown command exits 2 and says so", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "no-such-command"], { encoding: "utf8" });
  assert.equal(r.status, 2);
  assert.match(r.stderr, /unknown command 'no-such-command'/);
});

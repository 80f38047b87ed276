// `zhiyu doctor` reports the backend, ISA and threads, honours --threads and passes its self-test.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cpu } from "./harness.js";

test("zhiyu doctor --threads 1 reports the backend and a passing self-test", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "doctor", "--threads", "1"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /backend +(cpu|ref)/);
  assert.match(r.stdout, /isa +\S+/);
  if (cpu) {
    assert.match(r.stdout, /threads +1\n/);
    assert.match(r.stdout, /selftest +ok/);
  }
});

test("zhiyu doctor rejects a bad --threads value", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "doctor", "--threads", "zero"], { encoding: "utf8" });
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /--threads must be a positive integer/);
});

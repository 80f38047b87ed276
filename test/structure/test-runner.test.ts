// scripts/test.mjs: a filter that matches no test file fails with a message naming the filter (instead of handing
// node --test an empty file list, which searches on its own and reports a pass).
// Leaves out: the full run (that is `npm test` itself).
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

test("node scripts/test.mjs <filter matching nothing> exits non-zero and names the filter", () => {
  const res = spawnSync(process.execPath, ["scripts/test.mjs", "no/such-test-file-anywhere"], { encoding: "utf8" });
  assert.notEqual(res.status, 0, `expected a failure, got exit ${res.status}; stdout: ${res.stdout}`);
  assert.match(res.stderr, /no test file under test\/ has a path containing "no\/such-test-file-anywhere"/);
  assert.doesNotMatch(res.stdout, /# pass/, "the runner must not have run any test");
});

test("one matching and one unmatched filter still fails, naming only the unmatched one", () => {
  const res = spawnSync(process.execPath, ["scripts/test.mjs", "structure/test-runner", "typo-filter"], { encoding: "utf8" });
  assert.notEqual(res.status, 0);
  assert.match(res.stderr, /"typo-filter"/);
  assert.doesNotMatch(res.stderr, /"structure\/test-runner"/);
});

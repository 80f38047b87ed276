// `zhiyu desk eval --set handoff --json` with the models `npm start` ships: the hand-off decisions on the seeded
// test set derived from the data sets (training/handoff-benchmark.ts) reach precision and recall ≥ 0.9, and every
// category is present; a bad --set is a usage error naming the choices.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";

test("desk eval --set handoff: precision and recall ≥ 0.9 with the shipped models", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "desk", "eval", "--set", "handoff", "--json"], { encoding: "utf8" });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, "", "the shipped models match the default configuration (no retraining note)");
  const out = JSON.parse(r.stdout) as { precision: number; recall: number; test_size: number; categories: Record<string, { n: number; correct: number }> };
  assert.ok(out.precision >= 0.9, `precision ${out.precision}`);
  assert.ok(out.recall >= 0.9, `recall ${out.recall}`);
  for (const c of ["explicit_request", "out_of_scope_twice", "sensitive_intent", "strong_emotion", "in_scope", "out_of_scope_once", "negated_request"]) {
    assert.ok((out.categories[c]?.n ?? 0) > 0, `category ${c}`);
  }
  assert.ok(out.test_size > 500);
});

test("desk eval rejects an unknown set with the list of sets", () => {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "desk", "eval", "--set", "banking78"], { encoding: "utf8" });
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--set must be one of banking77, clinc150, smp2017, clue-emotion, handoff \(got "banking78"\)/);
});

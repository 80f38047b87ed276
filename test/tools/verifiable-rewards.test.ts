// Verifiable rewards for GRPO (src/tools/verifiable-rewards.ts): exact arithmetic through the calculator (the
// expected values are worked by hand here), JSON validity against a schema (ajv), regex and KB citations, and the
// abstentions and bad specs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { arithmeticReward, citationReward, jsonSchemaReward, parseRewards, regexReward } from "../../src/tools/verifiable-rewards.js";

test("arithmetic: the last number of the reply, compared exactly with the answer or the expression's value", () => {
  assert.equal(arithmeticReward.score("23 + 45 = 68", { answer: 68 }), 1);
  assert.equal(arithmeticReward.score("I think it is 67.", { answer: "68" }), 0);
  assert.equal(arithmeticReward.score("The answer: 0.75", { expression: "3/4" }), 1);
  assert.equal(arithmeticReward.score("= 6/8", { expression: "3 / 4" }), 1); // equal rationals
  assert.equal(arithmeticReward.score("-12", { expression: "7 - 19" }), 1);
  assert.equal(arithmeticReward.score("137 * 3 = 411, so 412", { expression: "137*3" }), 0); // the last number counts
  assert.equal(arithmeticReward.score("no number here", { answer: 5 }), 0);
  assert.equal(arithmeticReward.score("5", {}), null); // nothing to check: abstain
});

test("json-schema: valid JSON for the record's schema or a schema file; anything else 0", () => {
  const schema = { type: "object", properties: { n: { type: "integer" } }, required: ["n"], additionalProperties: false };
  const r = jsonSchemaReward();
  assert.equal(r.score('{"n": 3}', { schema }), 1);
  assert.equal(r.score('```json\n{"n": 3}\n```', { schema }), 1);
  assert.equal(r.score('{"n": 3.5}', { schema }), 0);
  assert.equal(r.score('{"n": 3', { schema }), 0);
  assert.equal(r.score('{"n": 3}', {}), null);
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-rw-"));
  writeFileSync(path.join(dir, "s.json"), JSON.stringify({ type: "array", items: { type: "string" } }));
  const fromFile = jsonSchemaReward(path.join(dir, "s.json"));
  assert.equal(fromFile.score('["a", "b"]', {}), 1);
  assert.equal(fromFile.score("[1]", {}), 0);
  assert.throws(() => jsonSchemaReward(path.join(dir, "missing.json")), /json-schema:.*missing\.json/);
});

test("regex and cite; parseRewards names unknown kinds", () => {
  assert.equal(regexReward("^yes\\b").score("yes, it is", {}), 1);
  assert.equal(regexReward().score("no", { pattern: "^yes" }), 0);
  assert.equal(regexReward().score("no", {}), null);
  assert.throws(() => regexReward("(("), /regex/);
  assert.equal(citationReward.score("Refunds take 5 days [kb-12].", { sources: ["kb-12", "kb-3"] }), 1);
  assert.equal(citationReward.score("Refunds take 5 days [kb-99].", { sources: ["kb-12"] }), 0);
  assert.equal(citationReward.score("Refunds take 5 days.", { sources: ["kb-12"] }), 0);
  assert.deepEqual(parseRewards(["arithmetic", "regex:a+", "cite"]).map((r) => r.name), ["arithmetic", "regex", "cite"]);
  assert.throws(() => parseRewards(["bleu"]), /unknown reward; use arithmetic/);
  assert.throws(() => parseRewards([]), /at least one --reward/);
});

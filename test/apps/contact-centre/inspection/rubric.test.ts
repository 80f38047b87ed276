// The rubric in the contact-centre configuration: a valid one loads; unknown keys, keys of another item type,
// contradictory items (two SLA items, a phrase both required and forbidden, duplicate ids) and bad patterns are
// rejected with the key path of the item; without a rubric the default one (the six items) applies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { ConfigError, parseConfig } from "../../../../src/apps/contact-centre/config.js";
import { rubricOf } from "../../../../src/apps/contact-centre/inspection/setup.js";
import { DEFAULT_RUBRIC, rubricVersion } from "../../../../src/apps/contact-centre/inspection/rubric.js";

const base = `version: 1
inspection:
  version: "2026-12"
  items:
    - {id: greeting, type: greeting, weight: 10, phrases: {zh: [您好], en: [hello]}}
    - {id: sla, type: response_sla, weight: 10, max_seconds: 30}
    - {id: banned, type: forbidden_phrases, weight: 20, phrases: {zh: [不归我管]}}
`;

function problem(yaml: string): ConfigError {
  try {
    parseConfig(yaml, { source: "qc.yaml" });
  } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err;
  }
  assert.fail("the configuration was accepted");
}

test("a valid rubric loads with its items and a version that changes with them", () => {
  const c = parseConfig(base, { source: "qc.yaml" });
  assert.equal(c.inspection?.items.length, 3);
  const v1 = rubricVersion(c.inspection!);
  assert.match(v1, /^2026-12@[0-9a-f]{12}$/);
  const c2 = parseConfig(base.replace("max_seconds: 30", "max_seconds: 45"), { source: "qc.yaml" });
  assert.notEqual(rubricVersion(c2.inspection!), v1, "a changed item changes the version");
});

test("unknown and contradictory rubric items are rejected with their key path", () => {
  const cases: [string, RegExp][] = [
    [base.replace("type: response_sla", "type: response_time"), /qc\.yaml: inspection\.items\[1\]\.type: must be one of/],
    [base.replace("max_seconds: 30", "max_seconds: 30, colour: red"), /inspection\.items\[1\]\.colour: unknown key/],
    [base.replace("max_seconds: 30", "max_seconds: 30, phrases: {zh: [x]}"), /inspection\.items\[1\]\.phrases: not used by an item of type "response_sla"/],
    [base + "    - {id: sla2, type: response_sla, weight: 5, max_seconds: 90}\n", /inspection\.items\[3\]\.type: contradicts items\[1\]/],
    [base + "    - {id: sla, type: unanswered_question, weight: 5}\n", /inspection\.items\[3\]\.id: duplicate item id "sla"/],
    [base.replace("[不归我管]", "[不归我管, 您好]"), /inspection\.items\[2\]\.phrases\.zh\[1\]: "您好" is forbidden here but required by items\[0\]/],
    [base.replace("phrases: {zh: [不归我管]}", "patterns: ['(unclosed']"), /inspection\.items\[2\]\.patterns\[0\]: not a valid regular expression/],
    [base.replace("phrases: {zh: [您好], en: [hello]}", "within_turns: 2"), /inspection\.items\[0\]\.phrases: missing/],
    [base + "    - {id: kb, type: kb_contradiction, weight: 5}\n", /inspection\.items\[3\]\.facts: missing/],
  ];
  for (const [yaml, expected] of cases) assert.match(problem(yaml).message, expected);
});

test("without a rubric the default one applies: greeting, closing, forbidden phrases, personal data, rudeness, resolution", () => {
  const c = parseConfig("version: 1\n", { source: "plain.yaml" });
  assert.deepEqual(rubricOf(c).items.map((i) => i.type), ["greeting", "closing", "forbidden_phrases", "pii_readout", "rudeness", "resolution"]);
  assert.equal(rubricOf(c), DEFAULT_RUBRIC);
});

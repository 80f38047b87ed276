// Contact-centre configuration: the default configuration loads; every kind of mistake is rejected with the file
// and the path of the offending key (unknown keys, wrong types and enums, unknown intents and slots in references,
// duplicate names, bad regular expressions, malformed YAML, non-UTF-8 files); relative paths resolve against the
// configuration's folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { ConfigError, DEFAULT_CONFIG_PATH, loadConfig, parseConfig } from "../../../src/apps/contact-centre/config.js";

const MINIMAL = `
version: 1
slots:
  - {name: city, values: {北京: [beijing]}}
intents:
  - name: refund
    examples: {zh: [我要退款], en: [refund please]}
  - name: hours
    slots: [city]
    examples: {zh: [几点开门], en: [when do you open]}
handoff:
  rules:
    - {type: explicit_request}
    - {type: intent, intent: refund, priority: high}
    - {type: intent, intent: refnd}
`;

function errorOf(text: string): ConfigError {
  try {
    parseConfig(text, { source: "desk.yaml" });
  } catch (err) {
    assert.ok(err instanceof ConfigError, `expected a ConfigError, got ${String(err)}`);
    return err;
  }
  assert.fail("the configuration was accepted");
}

test("the default configuration loads, with its paths resolved against its folder", () => {
  const c = loadConfig(DEFAULT_CONFIG_PATH);
  assert.equal(c.language, "zh");
  assert.ok(c.intents.length >= 10);
  assert.ok(c.intents.every((i) => (i.examples.zh?.length ?? 0) > 0 && (i.examples.en?.length ?? 0) > 0), "every intent is bilingual");
  assert.equal(c.knowledge_base.folders[0], path.join(path.dirname(DEFAULT_CONFIG_PATH), "default-kb"));
  assert.ok(path.isAbsolute(c.understanding.model_dir));
});

test("an unknown intent in a hand-off rule names the rule's path", () => {
  const e = errorOf(MINIMAL);
  assert.equal(e.keyPath, "handoff.rules[2].intent");
  assert.match(e.message, /^desk\.yaml: handoff\.rules\[2\]\.intent: unknown intent "refnd"/);
  assert.match(e.message, /known: refund, hours/);
});

test("an unknown key is rejected with its path and the allowed keys", () => {
  const e = errorOf(MINIMAL.replace("refnd", "refund").replace("  - name: hours", "  - name: hours\n    exmaples: {zh: [x]}"));
  assert.equal(e.keyPath, "intents[1].exmaples");
  assert.match(e.message, /unknown key \(allowed here: .*examples/);
  const top = errorOf("version: 1\nknowlege_base: {}\n");
  assert.equal(top.keyPath, "knowlege_base");
});

test("wrong types, enums and ranges name the key", () => {
  assert.equal(errorOf("version: 1\nlanguage: fr\n").keyPath, "language");
  assert.match(errorOf("version: 1\nlanguage: fr\n").message, /must be one of "zh", "en"/);
  assert.equal(errorOf("version: 1\nknowledge_base: {confidence_threshold: 2}\n").keyPath, "knowledge_base.confidence_threshold");
  assert.equal(errorOf("version: 1\nhandoff: {rules: [{type: angry}]}\n").keyPath, "handoff.rules[0].type");
  assert.equal(errorOf("version: 2\n").keyPath, "version");
  assert.equal(errorOf("language: zh\n").keyPath, "version");
});

test("cross-references: unknown slots, duplicates, bad patterns, lead triggers, missing rule fields", () => {
  const fixed = MINIMAL.replace("refnd", "refund");
  assert.doesNotThrow(() => parseConfig(fixed));
  assert.equal(errorOf(fixed.replace("slots: [city]", "slots: [town]")).keyPath, "intents[1].slots[0]");
  assert.equal(errorOf(fixed.replace("name: hours", "name: refund")).keyPath, "intents[1].name");
  assert.equal(errorOf(fixed.replace("{name: city, values: {北京: [beijing]}}", "{name: city, pattern: \"([a-z\"}")).keyPath, "slots[0].pattern");
  assert.equal(errorOf(fixed + "lead_capture: {trigger_intents: [buy]}\n").keyPath, "lead_capture.trigger_intents[0]");
  assert.equal(errorOf(fixed.replace("- {type: explicit_request}", "- {type: emotion}")).keyPath, "handoff.rules[0].emotions");
  assert.equal(errorOf(fixed.replace("{type: intent, intent: refund, priority: high}", "{type: intent}")).keyPath, "handoff.rules[1].intent");
});

test("malformed YAML, a non-mapping, a missing file and a non-UTF-8 file are clear errors naming the file", () => {
  assert.match(errorOf("version: [1\n").message, /^desk\.yaml: not valid YAML/);
  assert.match(errorOf("- 1\n- 2\n").message, /must be a mapping/);
  assert.match(errorOf("version: 1\nversion: 1\n").message, /not valid YAML/);
  const dir = mkdtempSync(path.join(os.tmpdir(), "desk-config-"));
  try {
    assert.throws(() => loadConfig(path.join(dir, "none.yaml")), /none\.yaml: file not found/);
    const latin1 = path.join(dir, "latin1.yaml");
    writeFileSync(latin1, Buffer.from([0x76, 0x65, 0x72, 0x73, 0x69, 0x6f, 0x6e, 0x3a, 0x20, 0x31, 0x0a, 0x23, 0xe9, 0x0a]));
    assert.throws(() => loadConfig(latin1), /latin1\.yaml: not UTF-8/);
    const json = path.join(dir, "desk.json");
    writeFileSync(json, JSON.stringify({ version: 1, knowledge_base: { folders: ["kb"] } }));
    assert.equal(loadConfig(json).knowledge_base.folders[0], path.join(dir, "kb"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

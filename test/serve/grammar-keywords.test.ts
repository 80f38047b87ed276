// Real-world JSON Schema keywords under constrained decoding (issue 13 item 10), checked against Ajv with
// ajv-formats (independent validators): for every keyword, random walks through the grammar (random logits under
// the token mask, with a token budget so the walk must close) produce strings that parse and validate, and texts
// that violate the keyword are rejected by the grammar while valid ones are accepted.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import addFormatsModule from "ajv-formats";
import { grammarFromJsonSchema } from "../../src/infer/grammar/json-schema.js";
import { GrammarConstraint, TokenTrie } from "../../src/infer/grammar/token-mask.js";
import { Sampler } from "../../src/infer/sampler.js";
import { ByteTokenizer, EOT } from "./fake-model.js";

const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;
const ajv = addFormats(new Ajv({ strict: false }));
const tok = new ByteTokenizer();
const trie = new TokenTrie(tok);

/** One random walk: random logits (a little bias towards closing and EOT), masked, sampled, within `budget`. */
function walk(schema: unknown, seed: number, budget = 160): { text: string; steps: number } {
  const g = grammarFromJsonSchema(schema);
  const constraint = new GrammarConstraint(g, trie, [EOT], budget);
  const sampler = new Sampler({ temperature: 1, seed });
  const rng = new Sampler({ temperature: 1, seed: seed + 7919 }).rng;
  const ids: number[] = [];
  let steps = 0;
  for (; steps < budget && !constraint.finished; steps++) {
    const logits = new Float32Array(tok.vocabSize);
    for (let i = 0; i < logits.length; i++) logits[i] = rng.next() * 4;
    logits[EOT] += 2;
    constraint.mask(logits);
    const id = sampler.sample(logits);
    constraint.accept(id);
    if (id === EOT) break;
    ids.push(id);
  }
  return { text: tok.decode(ids), steps };
}

interface Case {
  name: string;
  schema: Record<string, unknown>;
  valid: string[];
  invalid: string[];
}

const CASES: Case[] = [
  { name: "integer minimum/maximum", schema: { type: "integer", minimum: -17, maximum: 342 },
    valid: ["-17", "0", "9", "342", "100"], invalid: ["-18", "343", "1000", "3.5", "-0.5"] },
  { name: "integer exclusive bounds", schema: { type: "integer", exclusiveMinimum: 0, exclusiveMaximum: 100 },
    valid: ["1", "99", "50"], invalid: ["0", "100", "-1", "101"] },
  { name: "integer minimum only", schema: { type: "integer", minimum: 1000 }, valid: ["1000", "123456789"], invalid: ["999", "-5", "0"] },
  { name: "number bounds", schema: { type: "number", minimum: 0.5, maximum: 2.25 },
    valid: ["0.50", "1.00", "2.25", "0.75"], invalid: ["0.49", "2.26", "3.00", "-1.00"] },
  { name: "number exclusive bounds", schema: { type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1 },
    valid: ["0.1", "0.9"], invalid: ["0.0", "1.0", "-0.1", "1.5"] },
  { name: "minLength/maxLength (code points, CJK)", schema: { type: "string", minLength: 2, maxLength: 4 },
    valid: ['"ab"', '"中文字"', '"a\\"b"', '"😀😀"'], invalid: ['"a"', '"中"', '"abcde"', '"中文中文中"'] },
  { name: "pattern (anchored)", schema: { type: "string", pattern: "^[A-Z]{2}-\\d{3,4}$" },
    valid: ['"AB-123"', '"ZZ-0000"'], invalid: ['"ab-123"', '"AB-12"', '"AB-12345"', '"AB123"'] },
  { name: "pattern (groups, alternation, escapes)", schema: { type: "string", pattern: "^(?:foo|ba[rz])+\\.txt$" },
    valid: ['"foo.txt"', '"barbazfoo.txt"'], invalid: ['"fo.txt"', '"foo.txt2"', '"foo_txt"'] },
  { name: "pattern (unanchored, negated class)", schema: { type: "string", pattern: "[^\\s\"]{3}" },
    valid: ['"abc"', '"中文字"'], invalid: ['"a b"', '"ab"'] },
  { name: "format date", schema: { type: "string", format: "date" },
    valid: ['"2024-02-28"', '"1999-12-31"'], invalid: ['"2024-02-30"', '"2024-13-01"', '"2024-1-01"', '"2023-04-31"'] },
  { name: "format time", schema: { type: "string", format: "time" },
    valid: ['"23:59:59Z"', '"08:30:00+08:00"'], invalid: ['"24:00:00Z"', '"12:60:00Z"', '"12:00"'] },
  { name: "format date-time", schema: { type: "string", format: "date-time" },
    valid: ['"2024-06-01T12:00:00Z"', '"2024-06-01T12:00:00.123+02:00"'], invalid: ['"2024-06-01T25:00:00Z"', '"2024-06-31T12:00:00Z"'] },
  { name: "format uuid", schema: { type: "string", format: "uuid" },
    valid: ['"123e4567-e89b-12d3-a456-426614174000"'], invalid: ['"123e4567e89b12d3a456426614174000"', '"xyz"'] },
  { name: "format email", schema: { type: "string", format: "email" },
    valid: ['"li.wei@example.com"', '"a+b@mail.example.cn"'], invalid: ['"a@b"', '"@example.com"', '"li wei@example.com"'] },
  { name: "format ipv4", schema: { type: "string", format: "ipv4" },
    valid: ['"192.168.0.1"', '"255.255.255.255"'], invalid: ['"256.1.1.1"', '"1.2.3"'] },
  { name: "minItems/maxItems", schema: { type: "array", items: { type: "integer", minimum: 0, maximum: 9 }, minItems: 2, maxItems: 4 },
    valid: ["[1, 2]", "[0,9,3,4]"], invalid: ["[1]", "[1,2,3,4,5]", "[1, 10]", "[]"] },
  { name: "const", schema: { const: { a: [1, "x"] } }, valid: ['{"a":[1,"x"]}'], invalid: ['{"a":[1]}', "1"] },
  { name: "enum", schema: { enum: ["red", 3, null, "中"] }, valid: ['"red"', "3", "null", '"中"'], invalid: ['"blue"', "4", "false"] },
  { name: "anyOf / oneOf", schema: { oneOf: [{ type: "string", maxLength: 3 }, { type: "integer", minimum: 10 }] },
    valid: ['"abc"', "10", "99"], invalid: ['"abcd"', "9", "null"] },
  { name: "$ref / $defs, recursive", schema: { $ref: "#/$defs/node", $defs: { node: { type: "object",
    properties: { v: { type: "integer", minimum: 0, maximum: 3 }, kids: { type: "array", maxItems: 2, items: { $ref: "#/$defs/node" } } },
    required: ["v"], additionalProperties: false } } },
    valid: ['{"v": 1}', '{"v": 0, "kids": [{"v": 3}]}'], invalid: ['{"v": 4}', '{"kids": []}', '{"v": 1, "kids": [{"w": 1}]}'] },
  { name: "additionalProperties false, required vs optional", schema: { type: "object",
    properties: { id: { type: "integer" }, name: { type: "string", maxLength: 5 }, note: { type: "string" } }, required: ["id", "name"],
    additionalProperties: false },
    valid: ['{"id": 1, "name": "a"}', '{"id": 1, "name": "a", "note": "x"}'], invalid: ['{"id": 1}', '{"name": "a"}', '{"id": 1, "name": "a", "x": 1}'] },
  { name: "additionalProperties schema (map)", schema: { type: "object", additionalProperties: { type: "integer", minimum: 0, maximum: 5 } },
    valid: ['{"a": 1, "b": 5}', "{}"], invalid: ['{"a": 6}', '{"a": "x"}'] },
  { name: "additionalProperties true with properties", schema: { type: "object", properties: { a: { type: "boolean" } }, required: ["a"],
    additionalProperties: true }, valid: ['{"a": true}'], invalid: ['{"a": 1}', "{}"] },
  { name: "required name without a property schema", schema: { type: "object", properties: { a: { type: "integer" } }, required: ["b"] },
    valid: ['{"b": [1, {}]}', '{"a": 1, "b": null}'], invalid: ['{"a": 1}'] },
];

describe("JSON Schema keywords are enforced, not refused", () => {
  for (const c of CASES) {
    test(c.name, () => {
      const validate = ajv.compile(c.schema);
      const g = grammarFromJsonSchema(c.schema);
      for (const text of c.valid) {
        assert.ok(validate(JSON.parse(text)), `Ajv agrees ${text} is valid`);
        assert.ok(g.matches(text), `the grammar accepts ${text}`);
      }
      for (const text of c.invalid) {
        let parsed: unknown;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        assert.ok(parsed === undefined || !validate(parsed), `Ajv agrees ${text} is invalid`);
        assert.ok(!g.matches(text), `the grammar rejects ${text}`);
      }
      const seen = new Set<string>();
      for (let seed = 0; seed < 25; seed++) {
        const { text } = walk(c.schema, seed);
        let value: unknown;
        assert.doesNotThrow(() => (value = JSON.parse(text)), `walk ${seed} is JSON: ${text}`);
        assert.ok(validate(value), `walk ${seed}: ${text} — ${JSON.stringify(validate.errors)}`);
        seen.add(text);
      }
      // A walk that always wrote the same text would not exercise the grammar.
      if (c.name !== "const") assert.ok(seen.size > 1, `${c.name}: walks vary (${[...seen].slice(0, 3).join(" | ")})`);
    });
  }
});

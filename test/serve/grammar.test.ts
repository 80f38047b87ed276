// Grammar-constrained decoding: the JSON-schema grammar accepts exactly valid JSON (checked with JSON.parse and Ajv,
// independent implementations, on known valid and invalid texts), random "models" sampling under the mask always
// produce output that validates, unenforceable keywords are refused, and tool-call parsing handles Hermes blocks
// and the bare-JSON fallback, also when streamed in pieces.
import { describe, test } from "node:test";
import assert from "node:assert/strict";
import { Ajv } from "ajv";
import { grammarFromJsonSchema, jsonObjectGrammar, UnsupportedSchemaError } from "../../src/infer/grammar/json-schema.js";
import { GrammarConstraint, TokenTrie } from "../../src/infer/grammar/token-mask.js";
import { Sampler } from "../../src/infer/sampler.js";
import { parseJsonFallback, ToolCallStreamParser, toolCallGrammar } from "../../src/serve/tool-calls.js";
import { ByteTokenizer, EOT } from "./fake-model.js";

const person = {
  type: "object",
  properties: {
    name: { type: "string", maxLength: 12 },
    age: { type: "integer" },
    tags: { type: "array", items: { enum: ["a", "b", "中文"] }, maxItems: 3 },
    nick: { type: ["string", "null"] },
    address: { $ref: "#/$defs/address" },
  },
  required: ["name", "age"],
  additionalProperties: false,
  $defs: { address: { type: "object", properties: { city: { type: "string" }, zip: { type: "number" } }, required: ["city"] } },
};

describe("json-schema grammar", () => {
  const g = grammarFromJsonSchema(person);
  const validate = new Ajv().compile(person);

  test("accepts valid documents in any whitespace layout it allows", () => {
    for (const text of [
      '{"name": "Li", "age": 30}',
      '{"name":"Li","age":-0,"tags":["中文","a"],"nick":null}',
      '{\n  "name": "\\"q\\"", "age": 1, "address": {"city": "上海", "zip": 2.5e3}}',
      '{"name": "", "age": 7, "nick": "x", "address": {"city": "a"}}',
    ]) {
      assert.ok(validate(JSON.parse(text)), `Ajv agrees ${text} is valid`);
      assert.ok(g.matches(text), text);
    }
  });

  test("rejects invalid documents", () => {
    for (const text of [
      '{"age": 30}', // name missing
      '{"name": "Li", "age": 3.5}', // not an integer
      '{"name": "Li", "age": 3, "extra": 1}', // additionalProperties false
      '{"name": "Li", "age": 3, "tags": ["c"]}', // not in enum
      '{"name": "Li", "age": 3, "tags": ["a","a","a","a"]}', // maxItems
      '{"name": "0123456789abc", "age": 3}', // maxLength
      '{"age": 3, "name": "Li"}', // (valid JSON, but the grammar fixes schema order: documented)
      '{"name": "Li", "age": 01}', // leading zero
      '{"name": "Li", "age": 3,}',
    ]) {
      assert.ok(!g.matches(text), text);
    }
  });

  test("random logits under the mask always give valid JSON", () => {
    const tok = new ByteTokenizer();
    const trie = new TokenTrie(tok);
    for (let seed = 0; seed < 20; seed++) {
      const constraint = new GrammarConstraint(g, trie, [EOT]);
      const sampler = new Sampler({ temperature: 1, seed });
      const rng = new Sampler({ temperature: 1, seed: seed + 1000 }).rng;
      const ids: number[] = [];
      for (let step = 0; step < 3000 && !constraint.finished; step++) {
        const logits = new Float32Array(tok.vocabSize);
        for (let i = 0; i < logits.length; i++) logits[i] = rng.next() * 4;
        // Closing bytes are favoured a little so that documents end within the step budget.
        for (const c of '"}]') logits[c.charCodeAt(0)] += 3;
        logits[EOT] += 6;
        constraint.mask(logits);
        const id = sampler.sample(logits);
        constraint.accept(id);
        if (id === EOT) break;
        ids.push(id);
      }
      const text = tok.decode(ids);
      const value = JSON.parse(text);
      assert.ok(validate(value), `${text}: ${JSON.stringify(validate.errors)}`);
    }
  });

  test("json_object grammar: any object, nothing else", () => {
    const o = jsonObjectGrammar();
    assert.ok(o.matches('{"a": [1, {"b": null}], "c": "d"}'));
    assert.ok(o.matches("{}"));
    assert.ok(!o.matches("[1]"));
    assert.ok(!o.matches('"x"'));
  });

  test("unenforceable keywords fail closed", () => {
    for (const s of [
      { type: "string", pattern: "^(?!a)b" },
      { type: "string", pattern: "(a)\\1" },
      { type: "string", format: "uri" },
      { type: "integer", multipleOf: 3 },
      { type: "array", uniqueItems: true },
      { not: { type: "string" } },
      { $ref: "https://example.com/schema.json" },
    ]) {
      assert.throws(() => grammarFromJsonSchema(s), UnsupportedSchemaError, JSON.stringify(s));
    }
  });

  test("recursive $ref (a tree) compiles and matches", () => {
    const tree = { $ref: "#/$defs/node", $defs: { node: { type: "object", properties: { v: { type: "integer" },
      kids: { type: "array", items: { $ref: "#/$defs/node" } } }, required: ["v"], additionalProperties: false } } };
    const t = grammarFromJsonSchema(tree);
    assert.ok(t.matches('{"v": 1, "kids": [{"v": 2}, {"v": 3, "kids": []}]}'));
    assert.ok(!t.matches('{"v": 1, "kids": [{"w": 2}]}'));
  });
});

describe("tool calls", () => {
  const names = new Set(["get_weather", "calculator"]);

  test("stream parser: text, then calls, split at every position", () => {
    const text = 'Let me check.<tool_call>\n{"name": "get_weather", "arguments": {"city": "北京"}}\n</tool_call>\n' +
      '<tool_call>\n{"name": "calculator", "arguments": {"expression": "1+1"}}\n</tool_call>';
    for (const step of [1, 2, 3, 7, 1000]) {
      const p = new ToolCallStreamParser(names);
      let out = "";
      const calls: string[] = [];
      for (let i = 0; i < text.length; i += step) {
        for (const e of p.push(text.slice(i, i + step))) e.kind === "text" ? (out += e.text) : calls.push(`${e.call.name} ${e.call.arguments}`);
      }
      for (const e of p.end()) e.kind === "text" ? (out += e.text) : calls.push(`${e.call.name} ${e.call.arguments}`);
      assert.equal(out, "Let me check.");
      assert.deepEqual(calls, ['get_weather {"city":"北京"}', 'calculator {"expression":"1+1"}']);
    }
  });

  test("unknown tool names and broken JSON stay text", () => {
    const p = new ToolCallStreamParser(names);
    const ev = [...p.push('<tool_call>{"name": "rm_rf", "arguments": {}}</tool_call>'), ...p.end()];
    assert.deepEqual(ev.map((e) => e.kind), ["text"]);
  });

  test("JSON fallback: bare call, list, fenced, OpenAI-shaped", () => {
    assert.equal(parseJsonFallback('{"name": "calculator", "arguments": {"expression": "2"}}', names)?.[0].name, "calculator");
    assert.equal(parseJsonFallback('```json\n[{"name": "get_weather", "arguments": "{\\"city\\": \\"x\\"}"}]\n```', names)?.[0].arguments, '{"city":"x"}');
    assert.equal(parseJsonFallback('{"tool_calls": [{"function": {"name": "calculator", "arguments": {}}}]}', names)?.length, 1);
    assert.equal(parseJsonFallback('{"answer": 42}', names), null);
  });

  test("tool-call grammar accepts exactly well-formed calls", () => {
    const tools = [{ name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
    const g = toolCallGrammar(tools, true);
    const call = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
    assert.ok(g.matches(call));
    assert.ok(g.matches(`${call}\n${call}`));
    assert.ok(!g.matches('<tool_call>\n{"name": "other", "arguments": {}}\n</tool_call>'));
    assert.ok(!g.matches("Sure!"));
    assert.ok(!toolCallGrammar(tools, false).matches(`${call}\n${call}`));
  });
});

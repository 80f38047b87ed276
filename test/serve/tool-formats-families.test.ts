// Tool calls in each family's own format, checked against the families' real chat templates as transformers renders
// them (test/fixtures/chat-templates.json, dev/models/make-template-references.py): (1) an OpenAI-style conversation
// with tool_calls and tool results, turned into the template's own terms by the format Zhiyu reads off the template,
// renders exactly as transformers renders the family's native form of it (GLM-4-9B-chat: metadata turns and
// observations; Phi-4-mini: the tool list on the system message, <|tool_call|>[…] and tool_response turns; Gemma 2:
// the system message merged into the first user turn, as llama.cpp does); (2) the assistant text cut out of
// transformers' rendering parses back to the same names and arguments — whole and streamed in small pieces, with
// no markup leaking as content; (3) malformed calls come back as plain content; (4) the Hermes path still works
// through templates that render no tools at all (Gemma 2, Phi-3.5), so those keep the generic parser.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { renderChat, type ChatMessage } from "../../src/infer/chat-template.js";
import { toolCallGrammar, type ToolCallParser, type ToolStreamEvent } from "../../src/serve/tool-calls.js";
import { toolCallFormatOf } from "../../src/serve/tool-formats.js";
import type { ToolDefinition } from "../../src/serve/protocol.js";
import { guardSpecialText } from "../../src/tokenizers/special-text.js";
import type { Tokenizer } from "../../src/tokenizers/tokenizer.js";

interface Case {
  family: string; template: string; bos_token: string; eos_token: string; messages: ChatMessage[]; tools: unknown[] | null;
  add_generation_prompt: boolean; extra: Record<string, unknown>; rendered: string; openai_messages?: ChatMessage[];
  openai_tools?: { function: { name: string; description: string; parameters: Record<string, unknown> } }[];
}
const fixture = JSON.parse(readFileSync(path.resolve("test/fixtures/chat-templates.json"), "utf8")) as { cases: Case[] };
// The last case of a family: GLM-4-9B-chat's GGUF template (the tool cases), not llama.cpp's test copy.
const templateOf = (family: string) => fixture.cases.findLast((c) => c.family === family)!.template;
const toolDefs = (c: Case): ToolDefinition[] => (c.openai_tools ?? []).map((t) => ({ name: t.function.name, description: t.function.description,
  parameters: t.function.parameters }));
const NAMES = new Set(["get_weather"]);

/** Where the first assistant turn after the question starts and ends in each family's rendering. */
const CUT: Record<string, { after: string; until: string }> = {
  glm4: { after: "Weather in Paris?<|assistant|>", until: "<|observation|>" },
  phi4mini: { after: "Weather in Paris?<|end|><|assistant|>", until: "<|end|>" },
  qwen3: { after: "Weather in Paris?<|im_end|>\n<|im_start|>assistant\n", until: "<|im_end|>" },
  gemma2: { after: "Weather in Paris?<end_of_turn>\n<start_of_turn>model\n", until: "<end_of_turn>" },
  "phi3.5": { after: "Weather in Paris?<|end|>\n<|assistant|>\n", until: "<|end|>" },
};
function cut(family: string, rendered: string): string {
  const { after, until } = CUT[family];
  const start = rendered.indexOf(after);
  assert.ok(start >= 0, `${family}: the rendering has no "${after}"`);
  const body = rendered.slice(start + after.length);
  return body.slice(0, body.indexOf(until));
}

/** Feeds text whole or in pieces of `step` characters; returns the calls and the text events. */
function run(parser: ToolCallParser, text: string, step = text.length): { calls: { name: string; arguments: unknown }[]; text: string } {
  const events: ToolStreamEvent[] = [];
  for (let i = 0; i < text.length; i += step) events.push(...parser.push(text.slice(i, i + step)));
  events.push(...parser.end());
  return {
    calls: events.flatMap((e) => (e.kind === "call" ? [{ name: e.call.name, arguments: JSON.parse(e.call.arguments) }] : [])),
    text: events.flatMap((e) => (e.kind === "text" ? [e.text] : [])).join(""),
  };
}
const expectedCalls = (c: Case) => c.openai_messages!.flatMap((m) => (m.tool_calls ?? []).map((t) => ({ name: t.function.name,
  arguments: typeof t.function.arguments === "string" ? JSON.parse(t.function.arguments) : t.function.arguments })));

test("the format is read off the template text: GLM-4 and Phi-4-mini their own, Qwen3 Hermes, templates without tools inline", () => {
  // Both GLM-4 texts: the GGUF's and llama.cpp's test copy (which ends its generation prompt in a newline).
  for (const c of fixture.cases.filter((x) => x.family === "glm4")) assert.equal(toolCallFormatOf(c.template).name, "glm4");
  assert.equal(toolCallFormatOf(templateOf("phi4mini")).name, "phi4mini");
  assert.equal(toolCallFormatOf(templateOf("qwen3")).name, "hermes");
  for (const family of ["gemma2", "phi3.5", "phi4"]) assert.equal(toolCallFormatOf(templateOf(family)).name, "inline", family);
  assert.equal(toolCallFormatOf(null).name, "inline");
});

for (const [i, c] of fixture.cases.entries()) {
  if (!c.openai_messages) continue;
  const calls = c.openai_messages.some((m) => m.tool_calls);
  test(`${c.family} (case ${i}): the OpenAI conversation${calls ? " with tool calls" : " with a system message"} renders as transformers renders the family's form`, () => {
    const format = toolCallFormatOf(c.template);
    const prepared = format.prepare(c.openai_messages!, toolDefs(c));
    const got = renderChat({ chatTemplate: c.template, tokenizer: null }, prepared.messages, { addGenerationPrompt: c.add_generation_prompt,
      tools: prepared.tools, extra: { bos_token: c.bos_token, eos_token: c.eos_token, ...c.extra }, mergeSystemIfUnsupported: true });
    assert.equal(got, c.rendered);
  });
  if (!calls) continue;
  test(`${c.family} (case ${i}): the assistant turn transformers rendered parses back to the same calls, whole and streamed`, () => {
    const format = toolCallFormatOf(c.template);
    const reply = cut(c.family, c.rendered);
    for (const step of [reply.length, 1, 2, 3, 7]) {
      const got = run(format.parser(NAMES), reply, step);
      assert.deepEqual(got.calls, expectedCalls(c), `step ${step}`);
      assert.equal(got.text, "", `step ${step}: markup leaked as content`);
    }
  });
}

test("qwen3: the Hermes call transformers rendered in the tool history parses back", () => {
  const c = fixture.cases.find((x) => x.family === "qwen3" && x.tools)!;
  const reply = cut("qwen3", c.rendered);
  assert.match(reply, /<tool_call>/);
  for (const step of [reply.length, 1, 4]) {
    const got = run(toolCallFormatOf(c.template).parser(NAMES), reply, step);
    assert.deepEqual(got.calls, [{ name: "get_weather", arguments: { city: "Paris" } }]);
    assert.doesNotMatch(got.text, /tool_call/);
  }
});

for (const family of ["gemma2", "phi3.5"]) {
  test(`${family}: the template renders no tools, so the inline Hermes prompt and parser apply and survive its rendering`, () => {
    const template = templateOf(family);
    const glm = fixture.cases.find((x) => x.family === "glm4" && x.openai_messages?.some((m) => m.tool_calls))!;
    const format = toolCallFormatOf(template);
    const prepared = format.prepare([{ role: "system", content: "Be brief." }, ...glm.openai_messages!], toolDefs(glm));
    const rendered = renderChat({ chatTemplate: template, tokenizer: null }, prepared.messages, { mergeSystemIfUnsupported: true,
      extra: { bos_token: "", eos_token: "" } });
    assert.match(rendered, /# Tools[\s\S]*get_weather[\s\S]*Weather in Paris\?/);
    const got = run(format.parser(NAMES), cut(family, rendered), 2);
    assert.deepEqual(got.calls, [{ name: "get_weather", arguments: { city: "Paris" } }]);
    assert.equal(got.text, "");
  });
}

test("glm4: a plain reply streams at once; malformed or unknown calls come back as content", () => {
  const format = toolCallFormatOf(templateOf("glm4"));
  const p = format.parser(NAMES);
  assert.deepEqual(p.push("\nIt is "), [{ kind: "text", text: "\nIt is " }]);
  assert.deepEqual(p.push("sunny."), [{ kind: "text", text: "sunny." }]);
  assert.deepEqual(p.end(), []);
  for (const bad of ['get_weather\n{"city": "Par', "get_weather\n[1, 2]", 'get_time\n{"city": "Paris"}', "get_weather", "get_weather\nParis"]) {
    for (const step of [bad.length, 1]) {
      const got = run(format.parser(NAMES), bad, step);
      assert.deepEqual(got, { calls: [], text: bad }, JSON.stringify(bad));
    }
  }
});

test("phi4mini: the Berkeley harness's documented variants parse; malformed blocks come back as content", () => {
  const format = toolCallFormatOf(templateOf("phi4mini"));
  const names = new Set(["calculate_final_velocity", "calculate_sales_tax"]);
  const v = { name: "calculate_final_velocity", arguments: { height: 150, initial_velocity: 0 } };
  const tax = (amount: number) => ({ name: "calculate_sales_tax", arguments: { purchase_amount: amount } });
  const cases: [string, unknown[]][] = [
    [`<|tool_call|>[${JSON.stringify(v)}]<|/tool_call|>`, [v]],
    [`<|tool_call|>[${JSON.stringify(v)}]`, [v]], // the closing marker missed
    [`<|tool_call|>${JSON.stringify(tax(30.45))}, ${JSON.stringify(tax(52.33))}<|/tool_call|>`, [tax(30.45), tax(52.33)]], // no list brackets
  ];
  for (const [text, want] of cases) {
    for (const step of [text.length, 1, 5]) {
      const got = run(format.parser(names), text, step);
      assert.deepEqual(got, { calls: want, text: "" }, `${text} step ${step}`);
    }
  }
  const bad = '<|tool_call|>[{"name": "calculate_sales_tax", "arguments": {"purchase_amount": ]<|/tool_call|>';
  assert.deepEqual(run(format.parser(names), `Let me see. ${bad}`, 3), { calls: [], text: `Let me see. ${bad}` });
});

test("forced calls (tool_choice required / named) are written in each format and parse back", () => {
  const tools: ToolDefinition[] = [{ name: "get_weather", parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } }];
  const forced: Record<string, string> = { glm4: 'get_weather\n{"city": "Paris"}', phi4mini: '[{"name": "get_weather", "arguments": {"city": "Paris"}}]' };
  for (const [family, text] of Object.entries(forced)) {
    const format = toolCallFormatOf(templateOf(family));
    const g = toolCallGrammar(tools, format.parallel, format.grammar);
    assert.ok(g.matches(text), family);
    assert.ok(!g.matches("Sure!"), family);
    assert.deepEqual(run(format.parser(NAMES), text, 2), { calls: [{ name: "get_weather", arguments: { city: "Paris" } }], text: "" }, family);
  }
  assert.equal(toolCallFormatOf(templateOf("glm4")).parallel, false);
});

test("Gemma's system message joins the first user turn (llama.cpp's rule); a lone system message is dropped", () => {
  const template = templateOf("gemma2");
  const lone = renderChat({ chatTemplate: template, tokenizer: null }, [{ role: "system", content: "Be brief." }], { mergeSystemIfUnsupported: true,
    extra: { bos_token: "<bos>" } });
  assert.equal(lone, "<bos><start_of_turn>model\n");
  // Templates with a system role are left alone.
  const phi = fixture.cases.find((x) => x.family === "phi3.5")!;
  assert.equal(renderChat({ chatTemplate: phi.template, tokenizer: null }, phi.messages, { addGenerationPrompt: phi.add_generation_prompt,
    mergeSystemIfUnsupported: true, extra: { bos_token: phi.bos_token, eos_token: phi.eos_token, ...phi.extra } }), phi.rendered);
});

test("phi4mini: a history call's markers stay special when the server protects content; the text around them does not", () => {
  const template = templateOf("phi4mini");
  // A tokenizer stand-in: every <|…|> text is special, so protection guards it.
  const tok = { idToToken: () => undefined, protectSpecialText: (t: string) => guardSpecialText(t, /<\|[a-z_/]+\|>/g) } as unknown as Tokenizer;
  const prepared = toolCallFormatOf(template).prepare([{ role: "user", content: "Hi<|end|>" }, { role: "assistant", content: "<|tool_call|>", tool_calls: [
    { id: "c", type: "function", function: { name: "get_weather", arguments: '{"city": "<|end|>"}' } }] }], []);
  const text = renderChat({ chatTemplate: template, tokenizer: tok }, prepared.messages, { protectContent: true });
  const guarded = (s: string) => guardSpecialText(s, /.+/g);
  assert.equal(text, `<|user|>Hi${guarded("<|end|>")}<|end|><|assistant|>${guarded("<|tool_call|>")}<|tool_call|>` +
    `[{"name": "get_weather", "arguments": {"city": "${guarded("<|end|>")}"}}]<|/tool_call|><|end|><|assistant|>`);
});

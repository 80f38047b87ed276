// The chat templates the issue-22 families ship, rendered by Zhiyu (@huggingface/jinja through renderChat) exactly as
// Hugging Face transformers' apply_chat_template renders them: test/fixtures/chat-templates.json, made by
// dev/models/make-template-references.py from the template texts in llama.cpp's checkout (Gemma 2 2B-it and
// Phi-3.5-mini from models/templates/, Phi-4 and GLM-4-9B-chat from tests/test-chat-template.cpp, Qwen3 0.6B with
// thinking on and off and with tools and a tool-calling, reasoning history), and GLM-4-9B-chat's and Phi-4-mini's GGUF
// templates from huggingface.js's Ollama template map (with tool-calling histories in each family's own terms;
// test/serve/tool-formats-families.test.ts checks the OpenAI side of those). Also: the Gemma template's own
// raise_exception (a system turn) surfaces as a renderChat error naming the template.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { renderChat, type ChatMessage } from "../../src/infer/chat-template.js";

const fixture = JSON.parse(readFileSync(path.resolve("test/fixtures/chat-templates.json"), "utf8")) as { cases: {
  family: string; template: string; bos_token: string; eos_token: string; messages: ChatMessage[]; tools: unknown[] | null;
  add_generation_prompt: boolean; extra: Record<string, unknown>; rendered: string }[] };

for (const [i, c] of fixture.cases.entries()) {
  test(`${c.family} template (case ${i}${Object.keys(c.extra).length ? `, ${JSON.stringify(c.extra)}` : ""}${c.tools ? ", tools" : ""}): as transformers renders it`, () => {
    const got = renderChat({ chatTemplate: c.template, tokenizer: null }, c.messages, { addGenerationPrompt: c.add_generation_prompt,
      ...(c.tools && { tools: c.tools }), extra: { bos_token: c.bos_token, eos_token: c.eos_token, ...c.extra } });
    assert.equal(got, c.rendered);
  });
}

test("Gemma's template refuses a system turn through its own raise_exception, named as a template failure", () => {
  const gemma = fixture.cases.find((c) => c.family === "gemma2")!;
  assert.throws(() => renderChat({ chatTemplate: gemma.template, tokenizer: null }, [{ role: "system", content: "x" }, ...gemma.messages]),
    /\[renderChat\] the chat template failed: .*System role not supported/);
});

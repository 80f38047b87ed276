// Chat templates: the built-in ChatML fallback (known text), a Llama-3-style Jinja template with bos_token,
// tool-call arguments given as JSON strings, raise_exception, and templates found in an HF folder.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { chatTemplateFromFolder, renderChat } from "../../src/infer/chat-template.js";

const messages = [
  { role: "system", content: "你是客服。" },
  { role: "user", content: "Hi" },
];

test("ChatML fallback", () => {
  const text = renderChat({ chatTemplate: null, tokenizer: null }, messages);
  assert.equal(text, "<|im_start|>system\n你是客服。<|im_end|>\n<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n");
  const noGen = renderChat({ chatTemplate: null, tokenizer: null }, messages, { addGenerationPrompt: false });
  assert.ok(!noGen.endsWith("assistant\n"));
});

test("a model template sees bos_token, tools and parsed tool-call arguments", () => {
  const tpl = "{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content or '' }}" +
    "{% if m.tool_calls %}{% for c in m.tool_calls %}<{{ c.function.name }}:{{ c.function.arguments.city }}>{% endfor %}{% endif %}" +
    "{% endfor %}{% if tools %}#tools={{ tools | length }}{% endif %}{% if add_generation_prompt %}[assistant]{% endif %}";
  const tokenizer = { bosTokenId: 1, eosTokenId: 2, idToToken: (id: number) => (id === 1 ? "<s>" : "</s>") };
  const text = renderChat({ chatTemplate: tpl, tokenizer: tokenizer as never }, [
    { role: "user", content: "weather?" },
    { role: "assistant", content: null, tool_calls: [{ function: { name: "get_weather", arguments: '{"city":"上海"}' } }] },
  ], { tools: [{ type: "function" }] });
  assert.equal(text, "<s>[user]weather?[assistant]<get_weather:上海>#tools=1[assistant]");
});

test("raise_exception surfaces as an error naming renderChat", () => {
  const tpl = "{% if messages[0].role != 'user' %}{{ raise_exception('first must be user') }}{% endif %}ok";
  assert.throws(() => renderChat({ chatTemplate: tpl, tokenizer: null }, messages), /renderChat.*first must be user/);
  assert.equal(renderChat({ chatTemplate: tpl, tokenizer: null }, [{ role: "user", content: "x" }]), "ok");
});

test("templates from a folder: chat_template.jinja wins, else tokenizer_config.json (string or list)", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-tpl-"));
  assert.equal(chatTemplateFromFolder(dir), null);
  writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ chat_template: [{ name: "tool_use", template: "T" }, { name: "default", template: "D" }] }));
  assert.equal(chatTemplateFromFolder(dir), "D");
  writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify({ chat_template: "S" }));
  assert.equal(chatTemplateFromFolder(dir), "S");
  writeFileSync(path.join(dir, "chat_template.jinja"), "J");
  assert.equal(chatTemplateFromFolder(dir), "J");
});

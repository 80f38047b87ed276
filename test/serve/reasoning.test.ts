// Reasoning models' <think> blocks (issue 22): the splitter gives the same reasoning / content however the text is
// chunked, and holds back what may still become a tag; the server returns the block as `reasoning_content` (non-
// streaming: on the message; streaming: as reasoning_content deltas) separately from the content and from the
// `<tool_call>` blocks after it, which become OpenAI tool_calls. The model is the scripted fake, for chunking and
// template-variable checks; reasoning-qwen3.test.ts does the same with a real Qwen3 file and Qwen3's own template.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { ReasoningSplitter } from "../../src/serve/reasoning.js";
import { FakeModel } from "./fake-model.js";

const THOUGHT = "The user asks for the weather in Paris.\nI should call get_weather.";
const CALL = '<tool_call>\n{"name": "get_weather", "arguments": {"city": "Paris"}}\n</tool_call>';
const reply = (lastTurn: string, prompt: string) =>
  /<tools>|get_weather/.test(prompt) ? `<think>\n${THOUGHT}\n</think>\n\n${CALL}` : `<think>\nShort thought.\n</think>\n\nHello ${lastTurn}`;

function split(text: string, chunk: number, startsInside = false): { reasoning: string; content: string } {
  const s = new ReasoningSplitter(startsInside);
  const out = { reasoning: "", content: "" };
  for (let i = 0; i < text.length; i += chunk) {
    const p = s.push(text.slice(i, i + chunk));
    out.reasoning += p.reasoning;
    out.content += p.content;
  }
  const e = s.end();
  return { reasoning: out.reasoning + e.reasoning, content: out.content + e.content };
}

test("the splitter gives the same parts for any chunking", () => {
  const text = `<think>\n${THOUGHT}\n</think>\n\nThe answer.`;
  for (const chunk of [1, 2, 3, 7, 1000]) {
    assert.deepEqual(split(text, chunk), { reasoning: `${THOUGHT}\n`, content: "The answer." }, `chunk ${chunk}`);
  }
  assert.deepEqual(split("<b>bold</b> no thinking", 1), { reasoning: "", content: "<b>bold</b> no thinking" });
  assert.deepEqual(split("<thin", 1), { reasoning: "", content: "<thin" });
  assert.deepEqual(split("still thinking</think>Done", 2, true), { reasoning: "still thinking", content: "Done" });
  assert.deepEqual(split("<think>\ncut off by max_tokens </thi", 4), { reasoning: "cut off by max_tokens </thi", content: "" });
});

let srv: RunningServer;
before(async () => {
  srv = await startServer({ model: new FakeModel({ script: reply }), port: 0 });
});
after(() => srv.close());

const tools = [{ type: "function", function: { name: "get_weather", description: "Weather for a city",
  parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] } } }];
const post = (body: object) => fetch(`${srv.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
  body: JSON.stringify({ model: "fake-chatml", temperature: 0, ...body }) });

test("a tools request: tool_calls parsed, reasoning_content separate, no content", async () => {
  const r = await post({ messages: [{ role: "user", content: "Weather in Paris?" }], tools });
  assert.equal(r.status, 200);
  const j = (await r.json()) as { choices: { message: { content: string | null; reasoning_content?: string;
    tool_calls?: { type: string; function: { name: string; arguments: string } }[] }; finish_reason: string }[] };
  const m = j.choices[0]!.message;
  assert.equal(j.choices[0]!.finish_reason, "tool_calls");
  assert.equal(m.content, null);
  assert.equal(m.reasoning_content, `${THOUGHT}\n`);
  assert.equal(m.tool_calls?.length, 1);
  assert.equal(m.tool_calls![0]!.function.name, "get_weather");
  assert.deepEqual(JSON.parse(m.tool_calls![0]!.function.arguments), { city: "Paris" });
});

test("streaming: reasoning_content deltas, then content; no <think> in the content", async () => {
  const r = await post({ messages: [{ role: "user", content: "hi" }], stream: true });
  const events = (await r.text()).split("\n\n").filter((e) => e.startsWith("data: ") && !e.includes("[DONE]")).map((e) => JSON.parse(e.slice(6)));
  const deltas = events.filter((c) => c.choices.length > 0).map((c) => c.choices[0].delta);
  const reasoning = deltas.map((d) => d.reasoning_content ?? "").join("");
  const content = deltas.map((d) => d.content ?? "").join("");
  assert.equal(reasoning, "Short thought.\n");
  assert.equal(content, "Hello hi");
  const lastReasoning = deltas.findLastIndex((d) => d.reasoning_content);
  const firstContent = deltas.findIndex((d) => d.content);
  assert.ok(lastReasoning < firstContent, "reasoning streams before the content");
});

test("chat_template_kwargs reach the template (Qwen3's enable_thinking) and are checked", async () => {
  // A template that renders Qwen3's non-thinking generation prompt when enable_thinking is false.
  const template = "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}" +
    "{% if add_generation_prompt %}<|im_start|>assistant\n{% if enable_thinking is defined and enable_thinking is false %}" +
    "<think>\n\n</think>\n\n{% endif %}{% endif %}";
  let seen: string[] = [];
  const model = new FakeModel({ chatTemplate: template });
  const forward = model.forward.bind(model);
  // The prompt as the model first sees it (the fake's own script only runs at a bare assistant header).
  model.forward = (batch) => {
    const first = batch[0]!;
    seen.push(model.tokenizer.decode([...(first.seq as unknown as { tokens: number[] }).tokens, ...first.tokens]));
    return forward(batch);
  };
  const s = await startServer({ model, port: 0 });
  try {
    const ask = (body: object) => fetch(`${s.url}/v1/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: "fake-chatml", temperature: 0, messages: [{ role: "user", content: "hi" }], ...body }) });
    const prompts = async (body: object) => {
      seen = [];
      assert.equal((await ask(body)).status, 200);
      return seen;
    };
    assert.ok((await prompts({ chat_template_kwargs: { enable_thinking: false } })).some((p) => p.endsWith("<|im_start|>assistant\n<think>\n\n</think>\n\n")));
    assert.ok((await prompts({ messages: [{ role: "user", content: "hello" }] })).some((p) => p.endsWith("<|im_start|>user\nhello<|im_end|>\n<|im_start|>assistant\n")));
    const bad = await ask({ chat_template_kwargs: [1] });
    assert.equal(bad.status, 400);
    assert.equal(((await bad.json()) as { error: { param: string } }).error.param, "chat_template_kwargs");
  } finally {
    await s.close();
  }
});

// The shared history policy: keeps the system prompt, drops the oldest whole turns, keeps the newest, reports
// the count, and errors only when the newest turn alone cannot fit. Token counts come from the real zhiyu-mini
// tokenizer and ChatML rendering, as the CLI and the server count them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { fitHistory, HistoryOverflowError, replyReserve } from "../../src/infer/history.js";
import { renderChat, type ChatMessage } from "../../src/infer/chat-template.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";

const tokenizer = loadTokenizer("models/zhiyu-mini");
const count = (m: ChatMessage[]) =>
  tokenizer.encode(renderChat({ chatTemplate: null, tokenizer }, m, { addGenerationPrompt: true }), { addSpecialTokens: false, parseSpecial: true }).length;

function conversation(turns: number): ChatMessage[] {
  const m: ChatMessage[] = [{ role: "system", content: "你是智语，一个简短回答的助手。" }];
  for (let i = 0; i < turns; i++) {
    m.push({ role: "user", content: `第${i}个问题：今天天气怎么样？请详细说明。` });
    m.push({ role: "assistant", content: `第${i}个回答：今天天气很好，阳光明媚，适合出门散步。` });
  }
  m.push({ role: "user", content: "最后的问题" });
  return m;
}

test("fitHistory keeps everything that fits", () => {
  const m = conversation(2);
  const r = fitHistory(m, count, 1024, 256);
  assert.equal(r.dropped, 0);
  assert.deepEqual(r.messages, m);
  assert.equal(r.promptTokens, count(m));
});

test("fitHistory drops the oldest whole turns, keeps the system prompt and the newest message, and fits", () => {
  const m = conversation(40);
  const ctx = 1024;
  const reserve = replyReserve(ctx, 200);
  assert.ok(count(m) > ctx, "the test conversation overflows");
  const r = fitHistory(m, count, ctx, reserve);
  assert.ok(r.dropped > 0 && r.dropped % 2 === 0, "whole user+assistant turns are dropped");
  assert.equal(r.messages[0], m[0]);
  assert.equal(r.messages.at(-1), m.at(-1));
  assert.equal(r.messages[1]!.role, "user", "the kept history starts at a user turn");
  assert.deepEqual(r.messages.slice(1), m.slice(1 + r.dropped));
  assert.ok(r.promptTokens <= ctx - reserve);
  // Fewest dropped: one more turn would not fit.
  assert.ok(count([m[0]!, ...m.slice(1 + r.dropped - 2)]) > ctx - reserve);
});

test("fitHistory: a newest message that cannot fit alone is an error with the sizes", () => {
  const m: ChatMessage[] = [{ role: "system", content: "s" }, { role: "user", content: "早".repeat(3000) }];
  assert.throws(() => fitHistory(m, count, 256, 64), (e: unknown) =>
    e instanceof HistoryOverflowError && e.budget === 192 && e.contextLength === 256 && /shorten the message/.test(e.message));
});

test("replyReserve: the asked maximum, at most half the context, a quarter when unset", () => {
  assert.equal(replyReserve(1024, 100), 100);
  assert.equal(replyReserve(1024, 5000), 512);
  assert.equal(replyReserve(1024, null), 256);
});

// decode(encode(x)) === x on Chinese, English, emoji and code, for every kind of byte-exact tokenizer; streamed
// decoding of any id sequence — including random ids that split UTF-8 characters — concatenates to decode().
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import type { Tokenizer } from "../../src/tokenizers/tokenizer.js";
import { LLAMA3_JSON_DIR, QWEN_JSON_DIR, VOCAB_DIR, xorshift } from "./helpers.js";

const SAMPLES = [
  "你好，请问今天几点关门？我的订单号是12345，什么时候能到？",
  "北京欢迎你！「智语」是一个用 TypeScript 写的大模型系统。",
  "The quick brown fox jumps over the lazy dog. It's 3.14159 o'clock, isn't it?",
  "emoji: 🦙🚀 😶‍🌫️ 👩‍👩‍👧‍👦 ✅ 🇨🇳 — and a lone ZWJ\u200d.",
  "function add(a: number, b: number): number {\n\treturn a + b; // sum\n}\n\n    if (x <= 0x1F) { y = `${x}`; }\r\n",
  "  leading spaces, trailing spaces   \n\n\n mixed\ttabs\t\t and Ünïcödé ñ",
  "日本語のテキストと한국어 텍스트도 섞여 있습니다。",
];

const tokenizers: [string, string][] = [
  ["qwen tokenizer.json", path.join(QWEN_JSON_DIR, "tokenizer.json")],
  ["llama-3 tokenizer.json", path.join(LLAMA3_JSON_DIR, "tokenizer.json")],
  ["gpt-2 GGUF", path.join(VOCAB_DIR, "ggml-vocab-gpt-2.gguf")],
  ["llama SentencePiece GGUF", path.join(VOCAB_DIR, "ggml-vocab-llama-spm.gguf")],
  ["qwen2 GGUF", path.join(VOCAB_DIR, "rebuilt/ggml-vocab-qwen2.gguf")],
];

for (const [name, file] of tokenizers) {
  const tok: Tokenizer = loadTokenizer(file);

  test(`${name}: decode(encode(x)) === x`, () => {
    for (const s of SAMPLES) {
      const ids = tok.encode(s, { addSpecialTokens: false });
      assert.equal(tok.decode(ids), s);
      // With the tokenizer's own BOS/EOS, skipping special tokens gives the text back too.
      assert.equal(tok.decode(tok.encode(s), { skipSpecialTokens: true }), s);
    }
  });

  test(`${name}: streamed decode concatenates to decode()`, () => {
    const check = (ids: number[], skipSpecialTokens: boolean): void => {
      const stream = tok.createStreamDecoder({ skipSpecialTokens });
      let text = "";
      for (const id of ids) {
        const piece = stream.push(id);
        // A piece never ends inside a character: no lone high surrogate, and nothing held back is emitted early.
        assert.ok(!/[\ud800-\udbff]$/.test(piece), `piece ends in a lone surrogate: ${JSON.stringify(piece)}`);
        text += piece;
      }
      text += stream.flush();
      assert.equal(text, tok.decode(ids, { skipSpecialTokens }));
    };
    for (const s of SAMPLES) check(tok.encode(s), true);
    const rand = xorshift(2025);
    for (let round = 0; round < 200; round++) {
      const n = 1 + (rand() % 24);
      const ids: number[] = [];
      for (let i = 0; i < n; i++) ids.push(rand() % tok.vocabSize);
      check(ids, round % 2 === 0);
    }
    // Byte tokens that split one Chinese character: nothing may come out until the character is complete.
    const bytes = [...new TextEncoder().encode("智")];
    const byteIds = bytes.map((b) => findByteToken(tok, b));
    if (byteIds.every((id) => id !== null)) {
      const stream = tok.createStreamDecoder();
      assert.equal(stream.push(byteIds[0]!), "");
      assert.equal(stream.push(byteIds[1]!), "");
      assert.equal(stream.push(byteIds[2]!), "智");
      // Cut after two of the three bytes: flush() marks the broken character, flush({ dropIncomplete }) drops it.
      for (const [drop, want] of [[false, "\uFFFD"], [true, ""]] as const) {
        const cut = tok.createStreamDecoder();
        cut.push(byteIds[0]!);
        cut.push(byteIds[1]!);
        assert.equal(cut.flush({ dropIncomplete: drop }), want);
      }
    }
  });
}

/** A token whose bytes are exactly [b], if the vocabulary has one. */
function findByteToken(tok: Tokenizer, b: number): number | null {
  for (let id = 0; id < tok.vocabSize; id++) {
    const bytes = tok.tokenBytes(id);
    if (bytes.length === 1 && bytes[0] === b) return id;
  }
  return null;
}

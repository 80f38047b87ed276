// SFT data: the three chat formats parse (and say which they are), the ChatML loss mask trains exactly the
// assistant tokens up to and including <|im_end|> (a 2-turn example worked out by hand on a bytes-only tokenizer,
// where every character is one token), first-fit packing lays examples into rows as computed by hand, and plain-text
// replay documents are cut into delimiter-led pieces.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BpeTrainer, trainedTokenizerConfig, trainedTokenizerJson } from "../../src/tokenizers/train-bpe.js";
import { tokenizerFromHfJson } from "../../src/tokenizers/hf-json.js";
import { IGNORE_INDEX, detectChatFormat, packExamples, parseChatData, textExamples, tokenizeConversation } from "../../src/train/sft-data.js";

/** 256 byte tokens + the 4 special tokens, no merges: one token per ASCII character. */
function bytesTokenizer() {
  const trainer = new BpeTrainer({ vocabSize: 260, specialTokens: ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"] });
  trainer.addText("hello\n");
  const t = trainer.train();
  return tokenizerFromHfJson(trainedTokenizerJson(t), { config: trainedTokenizerConfig(t) });
}

test("the three chat formats are detected and parsed", () => {
  const openai = '{"messages":[{"role":"system","content":"s"},{"role":"user","content":"q"},{"role":"assistant","content":"a"}]}\n' +
    '{"messages":[{"role":"user","content":"q2"},{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":"{}"}}]}]}\n';
  const a = parseChatData(openai, "x.jsonl");
  assert.equal(a.format, "messages-jsonl");
  assert.equal(a.conversations.length, 1);
  assert.equal(a.skipped, 1);
  assert.deepEqual(a.conversations[0]!.messages.map((m) => m.role), ["system", "user", "assistant"]);

  const alpaca = JSON.stringify([{ instruction: "Translate", input: "你好", output: "hello", history: [["hi", "hey"]] }]);
  const b = parseChatData(alpaca, "a.json");
  assert.equal(b.format, "alpaca");
  assert.deepEqual(b.conversations[0]!.messages, [
    { role: "user", content: "hi" }, { role: "assistant", content: "hey" },
    { role: "user", content: "Translate\n你好" }, { role: "assistant", content: "hello" },
  ]);

  const sharegpt = JSON.stringify([
    { conversations: [{ from: "human", value: "q" }, { from: "gpt", value: "a" }], system: "be brief" },
    { conversations: [{ from: "human", value: "q" }, { from: "function_call", value: "{}" }] },
  ]);
  const c = parseChatData(sharegpt, "s.json");
  assert.equal(c.format, "sharegpt");
  assert.equal(c.conversations.length, 1);
  assert.equal(c.skipped, 1);
  assert.deepEqual(c.conversations[0]!.messages, [
    { role: "system", content: "be brief" }, { role: "user", content: "q" }, { role: "assistant", content: "a" },
  ]);
  assert.throws(() => detectChatFormat([{ prompt: "x" }], "bad.json"), /expected OpenAI "messages", ShareGPT/);
});

test("ChatML mask: only assistant tokens and their <|im_end|> are trained (2-turn known answer)", () => {
  const tok = bytesTokenizer();
  const imEnd = tok.tokenToId("<|im_end|>")!;
  const ex = tokenizeConversation({ chatTemplate: null, tokenizer: tok }, [
    { role: "user", content: "hi" }, { role: "assistant", content: "yo" },
    { role: "user", content: "a" }, { role: "assistant", content: "b" },
  ], imEnd);
  // <|im_start|> "user\nhi" <|im_end|> "\n" = 10 tokens; <|im_start|> "assistant\n" = 11 → "yo" at 21, 22,
  // <|im_end|> at 23, "\n" at 24; second user turn 25…33; <|im_start|>assistant\n 34…44; "b" 45, <|im_end|> 46, "\n" 47.
  assert.equal(ex.ids.length, 48);
  const trained = [...ex.trainMask].flatMap((m, i) => (m ? [i] : []));
  assert.deepEqual(trained, [21, 22, 23, 45, 46]);
  assert.equal(tok.decode([ex.ids[21]!, ex.ids[22]!]), "yo");
  assert.equal(ex.ids[23], imEnd);
  assert.equal(ex.ids[46], imEnd);
  assert.equal(tok.decode([ex.ids[45]!]), "b");
});

test("first-fit packing into rows of seq + 1 with ignored targets outside the mask", () => {
  const ex = (start: number, n: number, maskFrom: number) => ({
    ids: Array.from({ length: n }, (_, i) => start + i),
    trainMask: Uint8Array.from({ length: n }, (_, i) => (i >= maskFrom ? 1 : 0)),
  });
  // lengths 5, 4, 3 into rows of 8: row 0 = [A(5), C(3)], row 1 = [B(4)] + 4 pads.
  const p = packExamples([ex(10, 5, 3), ex(20, 4, 1), ex(30, 3, 2)], 7, 0);
  assert.equal(p.rows, 2);
  assert.deepEqual([...p.inputs], [10, 11, 12, 13, 14, 30, 31, 20, 21, 22, 23, 0, 0, 0]);
  const I = IGNORE_INDEX;
  // row 0 targets: next token where the next token is masked in: 13 (i=3), 14 (i=4); C: 32 (i=2 of C).
  assert.deepEqual([...p.targets.subarray(0, 7)], [I, I, 13, 14, I, I, 32]);
  assert.deepEqual([...p.targets.subarray(7)], [21, 22, 23, I, I, I, I]);
  assert.equal(p.trainedTokens, 6);
  // a too-long example is cut to seq + 1 tokens
  const q = packExamples([ex(0, 12, 0)], 7, 0);
  assert.equal(q.truncated, 1);
  assert.equal(q.rows, 1);
});

test("plain-text replay: delimiter-led pieces of at most seq + 1 tokens, every token but the delimiter trained", () => {
  const tok = bytesTokenizer();
  const eos = tok.eosTokenId!;
  // "abcdefg" = 7 byte tokens; seq 4 → pieces of 1 + 4 tokens: [eos a b c d], [eos e f g]
  const ex = textExamples(tok, ["abcdefg"], 4);
  assert.equal(ex.length, 2);
  assert.deepEqual(ex.map((e) => e.ids.length), [5, 4]);
  assert.equal(ex[0]!.ids[0], eos);
  assert.equal(tok.decode(ex[1]!.ids.slice(1)), "efg");
  assert.deepEqual([...ex[0]!.trainMask], [0, 1, 1, 1, 1]);
});

// Prompting techniques with known answers: few-shot messages and prompts (and nearest-example selection),
// chain-of-thought prompts and answer extraction in English and Chinese, and self-consistency's majority vote over
// scripted reasoning paths (the published example: most paths agree on 18 although one says 26).
import { test } from "node:test";
import assert from "node:assert/strict";
import { chainOfThoughtMessages, chainOfThoughtPrompt, extractAnswer, fewShotMessages, fewShotPrompt, normaliseAnswer,
  selectExamples, selfConsistency, similarity } from "../../src/prompting/index.js";

const examples = [
  { input: "物流太慢了，等了一周", output: "负面" },
  { input: "客服态度很好，问题解决了", output: "正面" },
  { input: "The package arrived early", output: "positive" },
];

test("few-shot chat messages: instruction, example turns, query", () => {
  const m = fewShotMessages({ instruction: "判断情感：正面或负面。", examples, query: "快递很快，很满意" });
  assert.deepEqual(m.map((x) => x.role), ["system", "user", "assistant", "user", "assistant", "user", "assistant", "user"]);
  assert.equal(m[0].content, "判断情感：正面或负面。");
  assert.equal(m[2].content, "负面");
  assert.equal(m[7].content, "快递很快，很满意");
});

test("few-shot completion prompt ends where the model continues", () => {
  const p = fewShotPrompt({ instruction: "Sentiment:", examples: examples.slice(2), query: "Broken on arrival" });
  assert.equal(p, "Sentiment:\n\nInput: The package arrived early\nOutput: positive\n\nInput: Broken on arrival\nOutput:");
});

test("example selection keeps the k most similar, the most similar last", () => {
  assert.equal(similarity("abc", "abc"), 1);
  assert.equal(similarity("ab", "cd"), 0);
  const chosen = selectExamples(examples, "客服态度太差了", 2);
  assert.equal(chosen.length, 2);
  assert.equal(chosen[1].output, "正面"); // shares 客服态度
  assert.equal(chosen[0].output, "负面"); // shares 太…了 more than the English one
});

test("chain-of-thought prompts", () => {
  const m = chainOfThoughtMessages({ question: "小明有3个苹果，又买了5个，一共几个？", language: "zh",
    examples: [{ question: "2+2=?", reasoning: "2加2等于4。", answer: "4" }] });
  assert.match(m[0].content!, /答案：<答案>/);
  assert.equal(m[2].content, "2加2等于4。\n答案： 4");
  assert.equal(m[3].content, "小明有3个苹果，又买了5个，一共几个？\n让我们一步一步地思考。");
  assert.equal(chainOfThoughtPrompt({ question: "What is 6*7?" }), "Q: What is 6*7?\nA: Let's think step by step.");
});

test("answer extraction", () => {
  const cases: [string, string | null][] = [
    ["3 + 5 = 8.\nAnswer: 8", "8"],
    ["先算3+5=8。\n答案：8个", "8个"],
    ["So the answer is 42.", "42"],
    ["We get \\boxed{17} in the end", "17"],
    ["first 10 then 12, finally 1,250 apples", "1250"],
    ["Answer: **Paris**.", "Paris"],
    ["no idea", null],
  ];
  for (const [text, want] of cases) assert.equal(extractAnswer(text), want, text);
  assert.equal(normaliseAnswer("1,000"), "1000");
  assert.equal(normaliseAnswer("18.0"), "18");
  assert.equal(normaliseAnswer("  Paris "), "paris");
});

test("self-consistency: majority vote over sampled paths", async () => {
  // Janet's ducks (Wang et al. 2022, fig. 1): two paths reach 18, one reaches 26.
  const paths = [
    "She has 16 - 3 - 4 = 9 eggs left. So she makes $2 * 9 = $18.\nAnswer: 18",
    "This means she sells the remainder for $2 * (16 - 4 - 3) = $26 per day.\nAnswer: 26",
    "She eats 3 and bakes 4, so she has 16 - 7 = 9 eggs. 9 * 2 = 18.\nAnswer: $18.00",
    "I am not sure.",
  ];
  const seen: number[] = [];
  const r = await selfConsistency({ k: 4, concurrency: 2, sample: async (i) => {
    seen.push(i);
    return paths[i];
  } });
  assert.equal(r.answer, "18");
  assert.deepEqual(r.votes, [{ answer: "18", count: 2 }, { answer: "26", count: 1 }]);
  assert.equal(r.agreement, 0.5);
  assert.equal(r.samples[3].answer, null);
  assert.deepEqual([...seen].sort(), [0, 1, 2, 3]);
  // Ties go to the answer seen first.
  const tie = await selfConsistency({ k: 2, sample: async (i) => (i === 0 ? "Answer: B" : "Answer: A") });
  assert.equal(tie.answer, "B");
});

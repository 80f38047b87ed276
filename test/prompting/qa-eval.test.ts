// `zhiyu eval --qa`: the prompts it builds (K nearest examples, never the question itself; direct or chain of
// thought), the answers it reads back (first line, or the final "Answer:" line; a majority over N samples), and
// its errors for bad JSONL — run on stories260K (a tiny real model: its replies are nonsense, so this checks the
// plumbing, not accuracy), plus the scoring on scripted replies where the right answers are known.
// Leaves out: the accuracy of any model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { run } from "../../src/cli/commands/eval.js";
import { directAnswer, evaluateQa, parseQaJsonl, qaMessages, type QaItem } from "../../src/prompting/index.js";

const model = path.resolve("../shared/testdata/gguf/stories260K.gguf");
const ITEMS = [
  { question: "Tom has 3 apples and eats 1. How many apples are left?", answer: "2", reasoning: "3 - 1 = 2." },
  { question: "Tom has 5 apples and eats 2. How many apples are left?", answer: "3", reasoning: "5 - 2 = 3." },
  { question: "What colour is the sky on a clear day?", answer: "blue", reasoning: "A clear sky looks blue." },
  { question: "Tom has 9 apples and eats 4. How many apples are left?", answer: "5", reasoning: "9 - 4 = 5." },
];

function qaFile(items: object[]): string {
  const file = path.join(mkdtempSync(path.join(os.tmpdir(), "zhiyu-qa-")), "qa.jsonl");
  writeFileSync(file, items.map((i) => JSON.stringify(i)).join("\n") + "\n");
  return file;
}

async function evalJson(args: string[]): Promise<{
  accuracy: number; correct: number;
  items: { question: string; messages: { role: string; content: string }[]; samples: { text: string; answer: string | null }[];
    predicted: string | null; correct: boolean; reference: string }[];
}> {
  const lines: string[] = [];
  const log = console.log;
  console.log = (s: string) => { lines.push(s); };
  try {
    assert.equal(await run(["--model", model, "--ctx", "512", "--json", ...args]), 0);
  } finally {
    console.log = log;
  }
  return JSON.parse(lines.join("\n"));
}

test("--few-shot 2 --cot --self-consistency 3: two nearest other items as worked examples, three sampled replies, answers from their last answer line or number", async () => {
  const report = await evalJson(["--qa", qaFile(ITEMS), "--few-shot", "2", "--cot", "--self-consistency", "3", "--max-tokens", "12"]);
  assert.equal(report.items.length, 4);
  for (const [i, r] of report.items.entries()) {
    const m = r.messages;
    assert.deepEqual(m.map((x) => x.role), ["system", "user", "assistant", "user", "assistant", "user"]);
    assert.match(m[0].content, /Reason step by step, then give the final answer on its own line as "Answer: <answer>"/);
    assert.equal(m[5].content, `${ITEMS[i].question}\nLet's think step by step.`);
    const shown = [m[1].content, m[3].content];
    assert.ok(!shown.includes(ITEMS[i].question), `item ${i} is never its own example`);
    for (const [j, q] of shown.entries()) {
      const ex = ITEMS.find((x) => x.question === q)!;
      assert.equal(m[2 + 2 * j].content, `${ex.reasoning}\nAnswer: ${ex.answer}`);
    }
    assert.equal(r.samples.length, 3);
    for (const s of r.samples) {
      // stories260K writes stories, not answer lines: what is read back is the last number in the reply, or nothing
      const numbers = s.text.match(/-?\d[\d,]*(?:\.\d+)?(?:\/\d+)?/g);
      if (!/answer|答案|\\boxed/i.test(s.text)) assert.equal(s.answer, numbers ? numbers.at(-1)!.replace(/,/g, "") : null, s.text);
    }
    const votes = r.samples.map((s) => s.answer).filter((a) => a !== null);
    if (votes.length === 0) assert.equal(r.predicted, null);
    else assert.ok(votes.filter((a) => a === r.predicted).length >= Math.max(...votes.map((a) => votes.filter((b) => b === a).length)));
    assert.equal(r.correct, r.predicted !== null && r.predicted.toLowerCase() === r.reference.toLowerCase());
  }
  // The apple questions pick the other apple questions (more shared bigrams than the sky question).
  assert.ok(report.items[0].messages.filter((x) => x.role === "user").slice(0, 2).every((x) => /apples/.test(x.content)));
});

test("direct --few-shot 1 with an --examples file: the answer is the reply's first line, greedy, one sample", async () => {
  const examples = qaFile([{ question: "What colour is grass?", answer: "green" }, { question: "How many legs has a cat?", answer: "4" }]);
  const report = await evalJson(["--qa", qaFile(ITEMS.slice(2, 3)), "--examples", examples, "--few-shot", "1", "--max-tokens", "6"]);
  const r = report.items[0];
  assert.deepEqual(r.messages, [
    { role: "system", content: "Answer the question. Reply with the answer only, on one line." },
    { role: "user", content: "What colour is grass?" }, { role: "assistant", content: "green" },
    { role: "user", content: ITEMS[2].question },
  ]);
  assert.equal(r.samples.length, 1);
  const first = r.samples[0].text.split("\n").map((s) => s.trim()).find((s) => s.length > 0);
  assert.equal(r.predicted, first === undefined ? null : first.replace(/[*。.，,！!？?\s]+$/u, "") || null);
});

test("bad input: a malformed line names file:line; --cot examples without reasoning name the example; stray QA flags need --qa", async () => {
  const bad = qaFile([{ question: "q1", answer: "a1" }]);
  writeFileSync(bad, '{"question": "q1", "answer": "a1"}\n{"question": "q2"}\n');
  await assert.rejects(run(["--model", model, "--qa", bad]), /qa\.jsonl:2: "answer" must be a non-empty string, got undefined/);
  const noReasoning = qaFile([{ question: "q1", answer: "a1" }, { question: "q2", answer: "a2" }]);
  await assert.rejects(run(["--model", model, "--qa", noReasoning, "--cot", "--few-shot", "1"]),
    /qa\.jsonl:[12]: chain-of-thought examples need a "reasoning" field/);
  await assert.rejects(run(["--model", model, "--data", bad, "--cot"]), /--cot applies to question answering: give --qa FILE/);
  await assert.rejects(run(["--model", model, "--qa", noReasoning, "--few-shot=-1"]), /--few-shot -1: expected an integer ≥ 0/);
});

test("scoring on scripted replies: majority over samples, numbers by value, text case-insensitive", async () => {
  const items: QaItem[] = parseQaJsonl(ITEMS.map((i) => JSON.stringify(i)).join("\n"), "mem.jsonl");
  const replies: Record<string, string[]> = {
    [ITEMS[0].question]: ["3 - 1 = 2.\nAnswer: 2", "Answer: 3", "so 2.0 apples\nAnswer: 2.0"],
    [ITEMS[1].question]: ["Answer: 4", "Answer: 4", "Answer: 3"],
    [ITEMS[2].question]: ["Answer: Blue.", "The answer is blue", "Answer: grey"],
    [ITEMS[3].question]: ["I do not know", "no idea", "none"],
  };
  const report = await evaluateQa({
    items, fewShot: 1, cot: true, samples: 3,
    generate: async (messages, i) => replies[(messages.at(-1)!.content ?? "").split("\n")[0]][i],
  });
  assert.deepEqual(report.items.map((r) => [r.predicted, r.correct]), [["2", true], ["4", false], ["Blue", true], [null, false]]);
  assert.equal(report.accuracy, 0.5);
  assert.equal(directAnswer("\n  Answer: 42.\nmore"), "42");
  assert.equal(directAnswer("blue sky\nsecond line"), "blue sky");
  assert.equal(qaMessages(items[0], items, { fewShot: 0, cot: false }).length, 2);
});

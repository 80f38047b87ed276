// Question answering as an evaluation (`zhiyu eval --qa FILE`): a JSONL file with one {"question", "answer"
// [, "reasoning"]} object per line. Each question is asked with K few-shot examples — the K items most similar to
// it (few-shot.ts selectExamples), drawn from a separate examples file or else from the other items, never the
// item itself — directly (the reply's first line is the answer) or as chain of thought (worked examples show their
// reasoning; the answer is read from the reply's final "Answer:" line, chain-of-thought.ts extractAnswer), and
// with self-consistency N, N sampled replies whose majority answer counts (self-consistency.ts). An item is
// correct when its answer and the reference agree after normaliseAnswer (numbers by value, text case-insensitive).
// The generator is injected (messages and a sample index → reply text), so this file never touches a model.
// Leaves out: generation (the CLI passes the engine), partial credit, several reference answers per item.
import type { ChatMessage } from "../infer/chat-template.js";
import { chainOfThoughtMessages, extractAnswer, normaliseAnswer } from "./chain-of-thought.js";
import { fewShotMessages, selectExamples, type Example } from "./few-shot.js";
import { selfConsistency } from "./self-consistency.js";

export interface QaItem {
  question: string;
  answer: string;
  /** Worked reasoning, shown when the item is a chain-of-thought example. */
  reasoning?: string;
  /** Where the item came from ("file:line"), for messages. */
  source: string;
}

/** Parses QA JSONL (blank lines skipped); a malformed line throws naming file:line and the field. */
export function parseQaJsonl(text: string, file: string): QaItem[] {
  const items: QaItem[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `${file}:${i + 1}`;
    let v: unknown;
    try {
      v = JSON.parse(line);
    } catch (err) {
      throw new Error(`${where}: not JSON (${(err as Error).message}); each line must be {"question": "...", "answer": "..."}`);
    }
    if (v === null || typeof v !== "object" || Array.isArray(v)) throw new Error(`${where}: expected an object {"question", "answer"}`);
    const o = v as Record<string, unknown>;
    const str = (key: string, required: boolean): string | undefined => {
      const s = o[key];
      if (s === undefined && !required) return undefined;
      if (typeof s === "number" && key === "answer") return String(s);
      if (typeof s !== "string" || s.trim() === "") throw new Error(`${where}: "${key}" must be a non-empty string, got ${JSON.stringify(s)}`);
      return s;
    };
    const reasoning = str("reasoning", false);
    items.push({ question: str("question", true)!, answer: str("answer", true)!, ...(reasoning ? { reasoning } : {}), source: where });
  });
  if (items.length === 0) throw new Error(`${file}: no items (expected JSONL lines {"question": "...", "answer": "..."})`);
  return items;
}

export interface QaPromptOptions {
  /** Examples per question (0: zero-shot). */
  fewShot: number;
  cot: boolean;
  language?: "en" | "zh";
}

const DIRECT = {
  en: "Answer the question. Reply with the answer only, on one line.",
  zh: "回答问题。只写出答案，单独一行。",
};

/** The chat messages that ask `item`, with examples chosen from `pool` (the item itself excluded). */
export function qaMessages(item: QaItem, pool: readonly QaItem[], o: QaPromptOptions): ChatMessage[] {
  const others = pool.filter((p) => p !== item && p.question !== item.question);
  const asExample = new Map<Example, QaItem>(others.map((p) => [{ input: p.question, output: p.answer }, p]));
  const chosen = selectExamples([...asExample.keys()], item.question, o.fewShot).map((e) => asExample.get(e)!);
  if (!o.cot) {
    return fewShotMessages({
      instruction: DIRECT[o.language ?? "en"], query: item.question,
      examples: chosen.map((c) => ({ input: c.question, output: c.answer })),
    });
  }
  const missing = chosen.find((c) => c.reasoning === undefined);
  if (missing) {
    throw new Error(`${missing.source}: chain-of-thought examples need a "reasoning" field (the worked steps before the answer)`);
  }
  return chainOfThoughtMessages({
    question: item.question, language: o.language,
    examples: chosen.map((c) => ({ question: c.question, reasoning: c.reasoning!, answer: c.answer })),
  });
}

/** The answer in a direct reply: its first non-empty line (an "Answer: …" prefix and end punctuation removed). */
export function directAnswer(text: string): string | null {
  const line = text.split("\n").map((s) => s.trim()).find((s) => s.length > 0);
  if (line === undefined) return null;
  return extractAnswer(line.match(/^(?:final answer|answer|答案|最终答案)\s*[:：]/i) ? line : `Answer: ${line}`);
}

export interface QaEvalOptions extends QaPromptOptions {
  items: readonly QaItem[];
  /** Where examples come from (default: the items themselves, leave-one-out). */
  examples?: readonly QaItem[];
  /** Replies per question; above 1 the majority answer counts (self-consistency). */
  samples: number;
  /** The i-th sampled reply to these messages (i = 0 … samples−1). */
  generate: (messages: ChatMessage[], sampleIndex: number) => Promise<string>;
  /** Called after each item (progress). */
  onItem?: (result: QaItemResult, index: number) => void;
}

export interface QaItemResult {
  source: string;
  question: string;
  reference: string;
  messages: ChatMessage[];
  samples: { text: string; answer: string | null }[];
  /** The (majority) answer, null when no reply had one. */
  predicted: string | null;
  /** Share of the samples that voted for `predicted`. */
  agreement: number;
  correct: boolean;
}

export interface QaEvalReport {
  items: QaItemResult[];
  correct: number;
  accuracy: number;
}

export async function evaluateQa(o: QaEvalOptions): Promise<QaEvalReport> {
  if (!Number.isInteger(o.fewShot) || o.fewShot < 0) throw new RangeError(`[evaluateQa] fewShot = ${o.fewShot}; expected an integer ≥ 0`);
  if (!Number.isInteger(o.samples) || o.samples < 1) throw new RangeError(`[evaluateQa] samples = ${o.samples}; expected an integer ≥ 1`);
  const pool = o.examples ?? o.items;
  const results: QaItemResult[] = [];
  for (const [index, item] of o.items.entries()) {
    const messages = qaMessages(item, pool, o);
    const vote = await selfConsistency({
      k: o.samples, concurrency: 1, extract: o.cot ? extractAnswer : directAnswer,
      sample: (i) => o.generate(messages, i),
    });
    const predicted = vote.answer;
    const result: QaItemResult = {
      source: item.source, question: item.question, reference: item.answer, messages, samples: vote.samples, predicted,
      agreement: vote.agreement, correct: predicted !== null && normaliseAnswer(predicted) === normaliseAnswer(item.answer),
    };
    results.push(result);
    o.onItem?.(result, index);
  }
  const correct = results.filter((r) => r.correct).length;
  return { items: results, correct, accuracy: correct / results.length };
}

// Chain-of-thought prompting: ask for step-by-step reasoning that ends in a fixed answer line, zero-shot
// ("Let's think step by step", Kojima et al. 2022) or with worked examples (Wei et al. 2022), in English or Chinese;
// and extract the final answer from a reasoning text (the answer line, \boxed{…}, or the last number).
// Leaves out: tree/graph-of-thought search, verifier models.
import type { ChatMessage } from "../infer/chat-template.js";

export interface ReasoningExample {
  question: string;
  reasoning: string;
  answer: string;
}

export interface ChainOfThoughtOptions {
  question: string;
  examples?: readonly ReasoningExample[];
  /** "en" (default) or "zh". */
  language?: "en" | "zh";
  system?: string;
}

const TEXT = {
  en: { think: "Let's think step by step.", answer: "Answer:", rule: "Reason step by step, then give the final answer on its own line as \"Answer: <answer>\"." },
  zh: { think: "让我们一步一步地思考。", answer: "答案：", rule: "请一步一步地推理，最后单独一行写出“答案：<答案>”。" },
};

/** Messages asking for reasoning and a final "Answer: …" line (worked examples as earlier turns). */
export function chainOfThoughtMessages(o: ChainOfThoughtOptions): ChatMessage[] {
  const t = TEXT[o.language ?? "en"];
  const messages: ChatMessage[] = [{ role: "system", content: o.system ? `${o.system}\n${t.rule}` : t.rule }];
  for (const e of o.examples ?? []) {
    messages.push({ role: "user", content: e.question }, { role: "assistant", content: `${e.reasoning}\n${t.answer} ${e.answer}` });
  }
  messages.push({ role: "user", content: `${o.question}\n${t.think}` });
  return messages;
}

/** A completion-style prompt: examples as Q/A blocks, then the question and "A: Let's think step by step." */
export function chainOfThoughtPrompt(o: ChainOfThoughtOptions): string {
  const t = TEXT[o.language ?? "en"];
  const blocks = (o.examples ?? []).map((e) => `Q: ${e.question}\nA: ${e.reasoning}\n${t.answer} ${e.answer}`);
  return [...blocks, `Q: ${o.question}\nA: ${t.think}`].join("\n\n");
}

/** The final answer in a reasoning text, or null: the last "Answer:"/"答案："/"the answer is" line, else the last
 *  \boxed{…}, else the last number. Trailing punctuation is dropped. */
export function extractAnswer(text: string): string | null {
  const clean = (s: string) => s.replace(/^[*\s]+/, "").replace(/[*。.，,！!？?\s]+$/u, "");
  const lines = [...text.matchAll(/(?:^|\n)\s*(?:final answer|answer|答案|最终答案)\s*(?:is)?\s*[:：是为]\s*(.+)/gi)];
  if (lines.length > 0) {
    const v = clean(lines[lines.length - 1][1]);
    if (v) return v;
  }
  const is = [...text.matchAll(/the answer is\s+([^\n]+)/gi)];
  if (is.length > 0) return clean(is[is.length - 1][1]);
  const boxed = [...text.matchAll(/\\boxed\{([^{}]*)\}/g)];
  if (boxed.length > 0) return clean(boxed[boxed.length - 1][1]);
  const numbers = [...text.matchAll(/-?\d[\d,]*(?:\.\d+)?(?:\/\d+)?/g)];
  if (numbers.length > 0) return numbers[numbers.length - 1][0].replace(/,/g, "");
  return null;
}

/** Canonical form for voting: numbers compared by value ("1,000" = "1000.0"), text case- and space-insensitive. */
export function normaliseAnswer(answer: string): string {
  const a = answer.normalize("NFKC").trim().replace(/^\$|\$$/g, "");
  const num = a.replace(/,/g, "");
  if (/^-?\d+(?:\.\d+)?$/.test(num)) return String(Number(num));
  return a.toLowerCase().replace(/\s+/g, " ");
}

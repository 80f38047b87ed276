// Few-shot prompting (in-context learning): an instruction, worked examples and the query, as chat messages
// (examples become user/assistant turns, which chat models follow best) or as one completion prompt
// ("Input: …\nOutput: …" blocks). With more examples than fit, the k most similar to the query are chosen
// (character-bigram Jaccard similarity, which works for Chinese without segmentation), most similar last — nearest
// to the query, where models weigh examples most.
// Leaves out: token-budget packing (callers pick k), embedding-based selection.
import type { ChatMessage } from "../infer/chat-template.js";

export interface Example {
  input: string;
  output: string;
}

export interface FewShotOptions {
  /** What the task is, e.g. "Classify the sentiment as 正面 or 负面." */
  instruction: string;
  examples: readonly Example[];
  query: string;
  /** Use at most k examples, chosen by similarity to the query (default: all, in the given order). */
  k?: number;
  /** Labels for the completion format (default "Input" / "Output"). */
  inputLabel?: string;
  outputLabel?: string;
}

function bigrams(text: string): Set<string> {
  const s = text.normalize("NFKC").toLowerCase().replace(/\s+/g, " ");
  const out = new Set<string>();
  for (let i = 0; i < s.length - 1; i++) out.add(s.slice(i, i + 2));
  if (s.length === 1) out.add(s);
  return out;
}

/** Jaccard similarity of character bigrams, in [0, 1]. */
export function similarity(a: string, b: string): number {
  const x = bigrams(a);
  const y = bigrams(b);
  if (x.size === 0 && y.size === 0) return 1;
  let common = 0;
  for (const g of x) if (y.has(g)) common++;
  return common / (x.size + y.size - common);
}

/** The examples to show: all of them, or the k most similar to the query ordered least → most similar. */
export function selectExamples(examples: readonly Example[], query: string, k?: number): Example[] {
  if (k === undefined || k >= examples.length) return [...examples];
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`[few-shot] k = ${k}; expected an integer ≥ 0`);
  const scored = examples.map((e, i) => ({ e, i, s: similarity(e.input, query) }));
  scored.sort((a, b) => b.s - a.s || a.i - b.i);
  return scored.slice(0, k).reverse().map((x) => x.e);
}

/** Chat messages: system instruction, one user/assistant pair per example, then the query. */
export function fewShotMessages(o: FewShotOptions): ChatMessage[] {
  const messages: ChatMessage[] = [{ role: "system", content: o.instruction }];
  for (const e of selectExamples(o.examples, o.query, o.k)) {
    messages.push({ role: "user", content: e.input }, { role: "assistant", content: e.output });
  }
  messages.push({ role: "user", content: o.query });
  return messages;
}

/** One completion prompt ending in "<outputLabel>:" for the model to continue. */
export function fewShotPrompt(o: FewShotOptions): string {
  const inp = o.inputLabel ?? "Input";
  const out = o.outputLabel ?? "Output";
  const blocks = selectExamples(o.examples, o.query, o.k).map((e) => `${inp}: ${e.input}\n${out}: ${e.output}`);
  return [o.instruction, ...blocks, `${inp}: ${o.query}\n${out}:`].join("\n\n");
}

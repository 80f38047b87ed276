// Prompts for RL training (zhiyu grpo, zhiyu ppo): one JSON object per line (.jsonl, .jsonl.gz) or a JSON array.
//   {"prompt": "What is 12 + 30?", "answer": "42"}                  text, tokenized as is (the tokenizer's BOS added)
//   {"prompt": [{"role": "user", "content": "…"}], "schema": {…}}     messages, through the model's chat template
//   {"prompt_ids": [1, 345, …], "pattern": "^yes"}                   token ids, fed exactly
// Every other field stays with the prompt for the reward functions (answer, expression, schema, pattern, sources).
// Every `valEvery`-th prompt is held out for the before/after evaluation.
// Leaves out: multi-turn rollouts, images.
import type { ChatMessage } from "../infer/chat-template.js";
import { encodeChat } from "../infer/chat-template.js";
import type { RlExample } from "./objectives/grpo.js";
import { PreferenceDataError, type PreferenceEncoder, readRecords } from "./preference-data.js";

function ids(v: unknown, where: string, vocab: number): Int32Array {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => Number.isInteger(x) && x >= 0 && x < vocab)) {
    throw new PreferenceDataError(`${where}: "prompt_ids" must be a non-empty array of token ids in [0, ${vocab})`);
  }
  return Int32Array.from(v as number[]);
}

/** One record → its prompt ids and fields. */
export function encodeRlExample(r: Record<string, unknown>, enc: PreferenceEncoder, vocab: number, where: string): RlExample {
  const { prompt, prompt_ids: promptIds, ...fields } = r;
  if (promptIds !== undefined) return { promptIds: ids(promptIds, where, vocab), fields };
  if (typeof prompt === "string") {
    if (prompt.trim() === "") throw new PreferenceDataError(`${where}: "prompt" is empty`);
    return { promptIds: Int32Array.from(enc.tokenizer.encode(prompt, { addSpecialTokens: true, parseSpecial: false })), fields };
  }
  if (Array.isArray(prompt) && prompt.length > 0 && prompt.every((m) => m && typeof m === "object" && typeof m.role === "string")) {
    return { promptIds: Int32Array.from(encodeChat({ chatTemplate: enc.chatTemplate, tokenizer: enc.tokenizer }, prompt as ChatMessage[])), fields };
  }
  throw new PreferenceDataError(`${where}: a prompt record needs "prompt" (text or a list of {role, content} messages) or "prompt_ids"`);
}

/** Every record of the files, split into training and held-out prompts (every valEvery-th held out; 0 = none). */
export function readRlExamples(files: readonly string[], enc: PreferenceEncoder, vocab: number, valEvery: number):
  { train: RlExample[]; val: RlExample[] } {
  const all: RlExample[] = [];
  for (const file of files) for (const { record, where } of readRecords(file)) all.push(encodeRlExample(record, enc, vocab, where));
  if (all.length === 0) throw new PreferenceDataError(`${files.join(", ")}: no prompts`);
  const train = all.filter((_, i) => valEvery <= 0 || i % valEvery !== valEvery - 1);
  const val = valEvery > 0 ? all.filter((_, i) => i % valEvery === valEvery - 1) : [];
  return { train, val };
}

// Retrieval mode (`zhiyu chat --docs DIR` without --tools): the top search passages for the user's message go into
// the prompt, so a model that cannot call tools (or has no room for their definitions) still answers from the
// documents. Uses the same BM25 + jieba index as the search tool (search.ts).
// Only the turn being answered carries passages: earlier turns stay as the user typed them, so the history does
// not fill up with old passages.
// Leaves out: re-ranking, citing passages in the reply (the model decides what to quote).
import type { ChatMessage } from "../infer/chat-template.js";
import type { DocumentIndex, SearchHit } from "./search.js";

export interface RetrievalOptions {
  /** Passages to put in (default 3). */
  topK?: number;
  /** Most characters of passage text in total (default 1200), so the passages leave room for the conversation. */
  maxChars?: number;
}

const HAS_CJK = /[\u3400-\u9fff]/;

/** The user's question with the passages in front of it, in the question's language. */
export function questionWithPassages(question: string, hits: readonly SearchHit[], maxChars: number): string {
  if (hits.length === 0) return question;
  const zh = HAS_CJK.test(question);
  let left = maxChars;
  const lines: string[] = [];
  hits.forEach((h, i) => {
    if (left <= 0) return;
    const flat = h.text.replace(/\s*\n\s*/g, " "); // one line per passage
    const text = flat.length > left ? `${flat.slice(0, left)}…` : flat;
    left -= text.length;
    lines.push(`[${i + 1}] (${h.path}) ${text}`);
  });
  return zh
    ? `根据以下资料回答问题。\n\n资料：\n${lines.join("\n")}\n\n问题：${question}`
    : `Answer the question using these passages.\n\nPassages:\n${lines.join("\n")}\n\nQuestion: ${question}`;
}

/** The conversation with its last user message carrying the best passages for it; also returns the hits. */
export function withRetrievedPassages(index: DocumentIndex, messages: readonly ChatMessage[], options: RetrievalOptions = {}):
  { messages: ChatMessage[]; hits: SearchHit[] } {
  const last = messages.length - 1;
  const question = messages[last];
  if (!question || question.role !== "user" || !question.content) return { messages: [...messages], hits: [] };
  const hits = index.search(question.content, options.topK ?? 3);
  const out = [...messages];
  out[last] = { ...question, content: questionWithPassages(question.content, hits, options.maxChars ?? 1200) };
  return { messages: out, hits };
}

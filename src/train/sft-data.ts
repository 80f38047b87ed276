// Chat data for supervised fine-tuning (SFT): reads the three common file formats into conversations, renders each
// conversation through the model's chat template (src/infer/chat-template.ts; ChatML for Zhiyu's own models) into
// token ids with a per-token loss mask (only assistant replies, up to and including the end-of-turn token, are
// trained), and packs short examples into fixed-length rows.
//   - OpenAI `messages` JSONL: one {"messages": [{role, content}, …]} per line.
//   - Alpaca JSON: an array of {instruction, input?, output, system?, history?: [[user, assistant], …]}.
//   - ShareGPT JSON: an array of {conversations: [{from: human|gpt|system|user|assistant, value}], system?}.
// Packing: whole examples are laid greedily into rows of seq + 1 tokens (first-fit in file order); the rest of a
// row is padding with ignored targets. Examples in one row attend to each other (no block-diagonal mask, no
// position reset): acceptable for short chats, and documented in the model card.
// Plain-text "replay" documents (pretraining text mixed into SFT so the model keeps its language modelling) become
// examples whose every token is trained, cut into pieces that fit a row, each piece led by the document delimiter.
// Leaves out: tool calls and function messages (skipped with a count), DPO/KTO preference fields.
import { readFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { renderChat, TEMPLATE_ENCODING, type ChatMessage } from "../infer/chat-template.js";

/** Target id that the cross-entropy ignores (src/tensor crossEntropy's default). */
export const IGNORE_INDEX = -100;

export type ChatFormat = "messages-jsonl" | "alpaca" | "sharegpt";

export interface Conversation {
  messages: ChatMessage[];
}

export interface ParsedChatFile {
  format: ChatFormat;
  conversations: Conversation[];
  /** Records that could not be used (no assistant turn, tool calls, empty). */
  skipped: number;
}

export class SftDataError extends Error {
  override name = "SftDataError";
}

const SHAREGPT_ROLES: Record<string, string> = {
  human: "user", user: "user", gpt: "assistant", assistant: "assistant", system: "system", bot: "assistant",
};

function usable(messages: ChatMessage[]): boolean {
  return messages.some((m) => m.role === "assistant" && typeof m.content === "string" && m.content.length > 0);
}

/** Says which of the three formats a file's records are in (by their fields), or throws with what was found. */
export function detectChatFormat(records: readonly unknown[], where: string): ChatFormat {
  const first = records.find((r) => r && typeof r === "object") as Record<string, unknown> | undefined;
  if (!first) throw new SftDataError(`${where}: no JSON object records found; expected chat records`);
  if (Array.isArray(first.messages)) return "messages-jsonl";
  if (Array.isArray(first.conversations)) return "sharegpt";
  if (typeof first.instruction === "string" && "output" in first) return "alpaca";
  throw new SftDataError(`${where}: records have fields [${Object.keys(first).join(", ")}]; expected OpenAI "messages", ` +
    `ShareGPT "conversations" or Alpaca "instruction"/"output"`);
}

function fromMessages(rec: Record<string, unknown>): ChatMessage[] | null {
  const msgs = rec.messages as Array<Record<string, unknown>>;
  const out: ChatMessage[] = [];
  for (const m of msgs) {
    if (m.tool_calls || m.role === "tool" || m.role === "function") return null;
    if (typeof m.role !== "string" || typeof m.content !== "string") return null;
    out.push({ role: m.role, content: m.content });
  }
  return out;
}

function fromAlpaca(rec: Record<string, unknown>): ChatMessage[] | null {
  const out: ChatMessage[] = [];
  if (typeof rec.system === "string" && rec.system) out.push({ role: "system", content: rec.system });
  if (Array.isArray(rec.history)) {
    for (const pair of rec.history as unknown[]) {
      if (!Array.isArray(pair) || typeof pair[0] !== "string" || typeof pair[1] !== "string") return null;
      out.push({ role: "user", content: pair[0] }, { role: "assistant", content: pair[1] });
    }
  }
  const instruction = String(rec.instruction ?? "");
  const input = typeof rec.input === "string" ? rec.input : "";
  if (typeof rec.output !== "string") return null;
  out.push({ role: "user", content: input ? `${instruction}\n${input}` : instruction }, { role: "assistant", content: rec.output });
  return out;
}

function fromShareGpt(rec: Record<string, unknown>): ChatMessage[] | null {
  const out: ChatMessage[] = [];
  if (typeof rec.system === "string" && rec.system) out.push({ role: "system", content: rec.system });
  for (const turn of rec.conversations as Array<Record<string, unknown>>) {
    const role = SHAREGPT_ROLES[String(turn.from ?? turn.role ?? "")];
    if (!role || typeof (turn.value ?? turn.content) !== "string") return null; // function_call, observation …
    out.push({ role, content: String(turn.value ?? turn.content) });
  }
  return out;
}

/** Parses the text of a chat data file (JSONL or a JSON array). */
export function parseChatData(text: string, where: string): ParsedChatFile {
  let records: unknown[];
  const trimmed = text.trimStart();
  if (trimmed.startsWith("[")) {
    try {
      records = JSON.parse(trimmed) as unknown[];
    } catch (err) {
      throw new SftDataError(`${where}: not valid JSON (${(err as Error).message})`);
    }
  } else {
    records = [];
    const lines = text.split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i]!.trim()) continue;
      try {
        records.push(JSON.parse(lines[i]!));
      } catch (err) {
        throw new SftDataError(`${where}:${i + 1}: not a JSON line (${(err as Error).message})`);
      }
    }
  }
  const format = detectChatFormat(records, where);
  const convert = format === "messages-jsonl" ? fromMessages : format === "alpaca" ? fromAlpaca : fromShareGpt;
  const conversations: Conversation[] = [];
  let skipped = 0;
  for (const r of records) {
    const messages = r && typeof r === "object" ? convert(r as Record<string, unknown>) : null;
    if (messages && usable(messages)) conversations.push({ messages });
    else skipped++;
  }
  return { format, conversations, skipped };
}

export function readChatFile(file: string): ParsedChatFile {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    throw new SftDataError(`--data ${file}: cannot read (${(err as Error).message})`);
  }
  const text = (file.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
  return parseChatData(text, path.basename(file));
}

export interface TokenizedExample {
  ids: number[];
  /** 1 where the token is a training target (predicted from the token before it), else 0. */
  trainMask: Uint8Array;
}

/** What the renderer needs from a model: its template (null = ChatML) and tokenizer. */
export interface ChatRenderer {
  chatTemplate: string | null;
  tokenizer: Tokenizer;
}

/**
 * Renders one conversation and marks the assistant tokens. Each assistant turn's text is the difference between
 * the rendering up to and including it and the rendering of the turns before it with the generation prompt, so
 * any template that renders prefixes consistently works (ChatML does). Within a turn the tokens after the last
 * end-of-turn token (ChatML's trailing "\n") are not trained: generation stops at the end-of-turn token.
 */
export function tokenizeConversation(r: ChatRenderer, messages: readonly ChatMessage[], endOfTurnId: number | null): TokenizedExample {
  const ids: number[] = [];
  const mask: number[] = [];
  // Template markers are special tokens; conversation text is plain text even where it spells a marker.
  const encode = (text: string) => r.tokenizer.encode(text, TEMPLATE_ENCODING);
  let rendered = "";
  for (let k = 0; k < messages.length; k++) {
    const m = messages[k]!;
    if (m.role === "assistant") {
      const before = renderChat(r, messages.slice(0, k), { addGenerationPrompt: true, protectContent: true });
      if (!before.startsWith(rendered)) throw new SftDataError("[tokenizeConversation] the chat template does not render prefixes consistently");
      const promptIds = encode(before.slice(rendered.length));
      for (const id of promptIds) { ids.push(id); mask.push(0); }
      const after = renderChat(r, messages.slice(0, k + 1), { addGenerationPrompt: false, protectContent: true });
      if (!after.startsWith(before)) throw new SftDataError("[tokenizeConversation] the assistant turn does not extend the generation prompt");
      const replyIds = encode(after.slice(before.length));
      let last = replyIds.length - 1;
      if (endOfTurnId !== null) {
        const eot = replyIds.lastIndexOf(endOfTurnId);
        if (eot >= 0) last = eot;
      }
      replyIds.forEach((id, i) => { ids.push(id); mask.push(i <= last ? 1 : 0); });
      rendered = after;
    } else {
      const after = renderChat(r, messages.slice(0, k + 1), { addGenerationPrompt: false, protectContent: true });
      if (!after.startsWith(rendered)) throw new SftDataError("[tokenizeConversation] the chat template does not render prefixes consistently");
      for (const id of encode(after.slice(rendered.length))) { ids.push(id); mask.push(0); }
      rendered = after;
    }
  }
  return { ids, trainMask: Uint8Array.from(mask) };
}

export interface PackedRows {
  seq: number;
  /** rows × (seq) input ids. */
  inputs: Int32Array;
  /** rows × (seq) target ids, IGNORE_INDEX where no loss is taken. */
  targets: Int32Array;
  rows: number;
  /** Examples placed, and examples cut because they were longer than seq + 1 tokens. */
  examples: number;
  truncated: number;
  /** Target tokens that carry loss. */
  trainedTokens: number;
}

/**
 * Packs examples into rows of seq + 1 tokens, first-fit in order (an example goes into the first row with room,
 * a new row otherwise). Inputs are a row's first seq tokens, targets the next seq, with a target kept only where
 * the example's trainMask is 1. Padding uses padId with ignored targets.
 */
export function packExamples(examples: readonly TokenizedExample[], seq: number, padId: number): PackedRows {
  const width = seq + 1;
  const rowsIds: number[][] = [];
  const rowsMask: number[][] = [];
  let truncated = 0;
  for (const ex of examples) {
    let ids = ex.ids;
    let mask = Array.from(ex.trainMask);
    if (ids.length > width) {
      ids = ids.slice(0, width);
      mask = mask.slice(0, width);
      truncated++;
    }
    let r = rowsIds.findIndex((row) => row.length + ids.length <= width);
    if (r < 0) {
      rowsIds.push([]);
      rowsMask.push([]);
      r = rowsIds.length - 1;
    }
    rowsIds[r]!.push(...ids);
    rowsMask[r]!.push(...mask);
  }
  const rows = rowsIds.length;
  const inputs = new Int32Array(rows * seq);
  const targets = new Int32Array(rows * seq).fill(IGNORE_INDEX);
  let trainedTokens = 0;
  for (let r = 0; r < rows; r++) {
    const row = rowsIds[r]!;
    const m = rowsMask[r]!;
    for (let t = 0; t < seq; t++) {
      inputs[r * seq + t] = t < row.length ? row[t]! : padId;
      if (t + 1 < row.length && m[t + 1] === 1) {
        targets[r * seq + t] = row[t + 1]!;
        trainedTokens++;
      }
    }
  }
  return { seq, inputs, targets, rows, examples: examples.length, truncated, trainedTokens };
}

/** Plain-text documents as fully trained examples: [delimiter, …tokens], cut into pieces of at most seq + 1 tokens. */
export function textExamples(tokenizer: Tokenizer, documents: readonly string[], seq: number): TokenizedExample[] {
  const delimiter = tokenizer.bosTokenId ?? tokenizer.eosTokenId;
  const out: TokenizedExample[] = [];
  const width = seq + 1 - (delimiter === null ? 0 : 1);
  for (const d of documents) {
    const ids = tokenizer.encode(d, { addSpecialTokens: false });
    for (let at = 0; at < ids.length; at += width) {
      const piece = ids.slice(at, at + width);
      const full = delimiter === null ? piece : [delimiter, ...piece];
      const mask = new Uint8Array(full.length).fill(1);
      mask[0] = 0; // the delimiter itself is context, not a target
      out.push({ ids: full, trainMask: mask });
    }
  }
  return out;
}

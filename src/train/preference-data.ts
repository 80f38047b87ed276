// Preference pairs for reward models and DPO: reads the common file forms into token ids (prompt, chosen completion,
// rejected completion) and builds trl-style batches (every pair's prompt+chosen row, then every pair's
// prompt+rejected row, right-padded, with completion targets).
// Forms (one JSON object per line in .jsonl / .jsonl.gz, or a JSON array in .json):
//   - explicit prompt: {"prompt": "…", "chosen": "…", "rejected": "…"}; the texts are tokenized as they are and the
//     completions end with EOS (trl's standard form). Pre-tokenized: {"prompt_ids": […], "chosen_ids": […],
//     "rejected_ids": […]} (used as given).
//   - HH-RLHF full text: {"chosen": "\n\nHuman: …\n\nAssistant: …", "rejected": "…"}: the prompt is the shared
//     text up to and including the last "\n\nAssistant:", the completions what follows.
//   - conversational: {"prompt": [{role, content}…], "chosen": [{role: "assistant", …}], "rejected": […]} and
//     llamafactory's DPO form {"conversations": [{from, value}…], "chosen": {from, value}, "rejected": {…}}: rendered
//     with the model's chat template; the completion is the assistant reply up to its end-of-turn token.
// A pair whose chosen or rejected completion is empty is an error naming the file and line (before any training).
// Leaves out: KTO's unpaired form, per-pair margins from scores (a numeric "margin" field is read).
import { readFileSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import type { ChatMessage } from "../infer/chat-template.js";
import { IGNORE_INDEX, tokenizeConversation, type ChatRenderer } from "./sft-data.js";

export class PreferenceDataError extends Error {
  override name = "PreferenceDataError";
}

export interface PreferencePair {
  prompt: number[];
  chosen: number[];
  rejected: number[];
  /** Bradley–Terry margin (reward-model training), 0 when the record has none. */
  margin: number;
}

export interface PreferenceEncoder {
  tokenizer: Tokenizer;
  /** The model's chat template (conversational records), or null for ChatML. */
  chatTemplate: string | null;
  eosId: number | null;
  endOfTurnId: number | null;
}

export type PreferenceForm = "explicit" | "token-ids" | "hh-rlhf" | "conversational" | "llamafactory";

/** Reads a file's records (JSONL, gzipped JSONL or a JSON array), each with its 1-based line/index for messages. */
export function readRecords(file: string): { record: Record<string, unknown>; where: string }[] {
  let text: string;
  try {
    const raw = readFileSync(file);
    text = (file.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
  } catch (err) {
    throw new PreferenceDataError(`${file}: cannot read (${(err as Error).message})`);
  }
  const trimmed = text.trimStart();
  if (trimmed.startsWith("[")) {
    let arr: unknown;
    try {
      arr = JSON.parse(trimmed);
    } catch (err) {
      throw new PreferenceDataError(`${file}: not valid JSON (${(err as Error).message})`);
    }
    return (arr as unknown[]).map((r, i) => ({ record: asObject(r, `${file}[${i}]`), where: `${file}[${i}]` }));
  }
  const out: { record: Record<string, unknown>; where: string }[] = [];
  text.split("\n").forEach((line, i) => {
    if (line.trim() === "") return;
    const where = `${file}:${i + 1}`;
    try {
      out.push({ record: asObject(JSON.parse(line), where), where });
    } catch (err) {
      if (err instanceof PreferenceDataError) throw err;
      throw new PreferenceDataError(`${where}: not valid JSON (${(err as Error).message})`);
    }
  });
  return out;
}

function asObject(v: unknown, where: string): Record<string, unknown> {
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new PreferenceDataError(`${where}: expected a JSON object per pair`);
  return v as Record<string, unknown>;
}

export function detectForm(r: Record<string, unknown>, where: string): PreferenceForm {
  if (Array.isArray(r.chosen_ids) && Array.isArray(r.rejected_ids)) return "token-ids";
  if (Array.isArray(r.conversations)) return "llamafactory";
  if (Array.isArray(r.chosen) || Array.isArray(r.prompt)) return "conversational";
  if (typeof r.chosen === "string" && typeof r.rejected === "string") return typeof r.prompt === "string" ? "explicit" : "hh-rlhf";
  throw new PreferenceDataError(`${where}: not a preference pair; expected {"prompt", "chosen", "rejected"}, HH-RLHF's ` +
    `{"chosen", "rejected"} full texts, or llamafactory's {"conversations", "chosen", "rejected"} (keys here: ${Object.keys(r).join(", ")})`);
}

const ASSISTANT = "\n\nAssistant:";

/** HH-RLHF: the shared prefix up to and including the last "\n\nAssistant:" of the chosen text is the prompt. */
export function splitHhRlhf(chosen: string, rejected: string, where: string): { prompt: string; chosen: string; rejected: string } {
  const at = chosen.lastIndexOf(ASSISTANT);
  if (at < 0) throw new PreferenceDataError(`${where}: an HH-RLHF "chosen" text has no "\\n\\nAssistant:" turn`);
  const prompt = chosen.slice(0, at + ASSISTANT.length);
  if (!rejected.startsWith(prompt)) {
    throw new PreferenceDataError(`${where}: "chosen" and "rejected" do not share the dialogue before the last assistant turn`);
  }
  return { prompt, chosen: chosen.slice(prompt.length), rejected: rejected.slice(prompt.length) };
}

function ids(v: unknown, key: string, where: string): number[] {
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x) && x >= 0)) throw new PreferenceDataError(`${where}: "${key}" must be an array of token ids`);
  return v as number[];
}

function messages(v: unknown, key: string, where: string): ChatMessage[] {
  const list = Array.isArray(v) ? v : [v];
  return list.map((m, i) => {
    const o = m as Record<string, unknown>;
    const role = String(o?.role ?? o?.from ?? "");
    const content = o?.content ?? o?.value;
    if (typeof content !== "string") throw new PreferenceDataError(`${where}: "${key}"[${i}] has no text (content or value)`);
    const mapped = role === "human" || role === "user" ? "user" : role === "gpt" || role === "assistant" ? "assistant" : role === "system" ? "system" : null;
    if (!mapped) throw new PreferenceDataError(`${where}: "${key}"[${i}] has role '${role}'; expected system, user/human or assistant/gpt`);
    return { role: mapped, content } as ChatMessage;
  });
}

/** Token ids of one record. */
export function encodePair(r: Record<string, unknown>, enc: PreferenceEncoder, where: string): PreferencePair {
  const form = detectForm(r, where);
  const margin = typeof r.margin === "number" ? r.margin : 0;
  const text = (s: string) => enc.tokenizer.encode(s, { addSpecialTokens: false, parseSpecial: false });
  let pair: PreferencePair;
  if (form === "token-ids") {
    pair = { prompt: ids(r.prompt_ids ?? [], "prompt_ids", where), chosen: ids(r.chosen_ids, "chosen_ids", where), rejected: ids(r.rejected_ids, "rejected_ids", where), margin };
  } else if (form === "explicit" || form === "hh-rlhf") {
    const t = form === "explicit" ? { prompt: r.prompt as string, chosen: r.chosen as string, rejected: r.rejected as string }
      : splitHhRlhf(r.chosen as string, r.rejected as string, where);
    const eos = enc.eosId !== null ? [enc.eosId] : [];
    const c = t.chosen.trim() === "" ? [] : [...text(t.chosen), ...eos];
    const j = t.rejected.trim() === "" ? [] : [...text(t.rejected), ...eos];
    pair = { prompt: enc.tokenizer.encode(t.prompt, { addSpecialTokens: true, parseSpecial: false }), chosen: c, rejected: j, margin };
  } else {
    const prompt = messages(form === "llamafactory" ? r.conversations : r.prompt ?? [], form === "llamafactory" ? "conversations" : "prompt", where);
    const renderer: ChatRenderer = { chatTemplate: enc.chatTemplate, tokenizer: enc.tokenizer };
    const reply = (key: "chosen" | "rejected") => {
      const m = messages(r[key], key, where).filter((x) => x.role === "assistant");
      if (m.length === 0 || (m[m.length - 1]!.content ?? "").trim() === "") return null;
      const ex = tokenizeConversation(renderer, [...prompt, m[m.length - 1]!], enc.endOfTurnId);
      // The final reply's trained tokens: the last run of 1s in the mask.
      const end = ex.trainMask.lastIndexOf(1) + 1;
      let start = end - 1;
      while (start > 0 && ex.trainMask[start - 1] === 1) start--;
      return { prompt: ex.ids.slice(0, start), completion: ex.ids.slice(start, end) };
    };
    const c = reply("chosen"), j = reply("rejected");
    pair = { prompt: (c ?? j)?.prompt ?? [], chosen: c ? c.completion : [], rejected: j ? j.completion : [], margin };
  }
  for (const key of ["chosen", "rejected"] as const) {
    if (pair[key].length === 0) throw new PreferenceDataError(`${where}: the ${key} completion is empty; every pair needs a non-empty chosen and rejected reply`);
  }
  return pair;
}

/** Reads and encodes every pair of the files. */
export function readPreferencePairs(files: readonly string[], enc: PreferenceEncoder): { pairs: PreferencePair[]; forms: Map<string, PreferenceForm> } {
  const pairs: PreferencePair[] = [];
  const forms = new Map<string, PreferenceForm>();
  for (const file of files) {
    const records = readRecords(file);
    if (records.length === 0) throw new PreferenceDataError(`${file}: no preference pairs`);
    forms.set(file, detectForm(records[0]!.record, records[0]!.where));
    for (const { record, where } of records) pairs.push(encodePair(record, enc, where));
  }
  return { pairs, forms };
}

/** A batch of n pairs: rows 0…n−1 are prompt+chosen, rows n…2n−1 prompt+rejected, right-padded with padId to the
 *  longest row (at most maxLen: the prompt loses tokens from its start, then the completion from its end). */
export interface PairBatch {
  inputs: Int32Array;
  /** Completion targets shifted by one (targets[t] = id t+1 where t+1 is a completion token), IGNORE_INDEX elsewhere. */
  targets: Int32Array;
  rows: number;
  seq: number;
  /** Tokens per row before padding. */
  lengths: Int32Array;
  margins: Float32Array;
}

export function pairBatch(pairs: readonly PreferencePair[], padId: number, maxLen: number): PairBatch {
  const rowsOf = (key: "chosen" | "rejected") => pairs.map((p) => {
    let prompt = p.prompt;
    let completion = p[key];
    if (prompt.length + completion.length > maxLen) {
      prompt = prompt.slice(Math.max(0, prompt.length - Math.max(1, maxLen - completion.length)));
      completion = completion.slice(0, maxLen - prompt.length);
    }
    return { ids: [...prompt, ...completion], promptLen: prompt.length };
  });
  const all = [...rowsOf("chosen"), ...rowsOf("rejected")];
  const seq = Math.max(...all.map((r) => r.ids.length));
  const inputs = new Int32Array(all.length * seq).fill(padId);
  const targets = new Int32Array(all.length * seq).fill(IGNORE_INDEX);
  all.forEach((r, b) => {
    inputs.set(r.ids, b * seq);
    for (let t = r.promptLen; t < r.ids.length; t++) if (t >= 1) targets[b * seq + t - 1] = r.ids[t]!;
  });
  return { inputs, targets, rows: all.length, seq, lengths: Int32Array.from(all, (r) => r.ids.length), margins: Float32Array.from(pairs, (p) => p.margin) };
}

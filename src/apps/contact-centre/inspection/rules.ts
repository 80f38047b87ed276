// The rule items of the rubric, each a pure function of a transcript: required greeting and closing, forbidden
// phrases, promises outside policy, personal data read out in full (src/core/pii.ts finds it), the response-time
// SLA per customer turn, and customer questions left unanswered. Each returns marks on exact spans (turn index,
// character range [start, end) in UTF-16 units of that turn's text) with a one-line reason in the conversation's
// language. A mark that concerns a missing thing (no greeting, a late reply) covers the whole turn it concerns.
// Leaves out: the model items (model-checks.ts) and scoring (engine.ts).
import { findPii } from "../../../core/pii.js";
import type { RubricItem } from "./rubric.js";
import type { Transcript, TranscriptTurn } from "./transcript.js";

export interface Mark {
  turn: number;
  start: number;
  end: number;
  item: string;
  reason: string;
}

export type Lang = "zh" | "en";

/** Whether a turn is one the item judges (agent and bot turns unless the item names roles). */
export function judged(item: RubricItem, turn: TranscriptTurn): boolean {
  const roles = item.roles ?? ["agent", "bot"];
  return (turn.role === "agent" || turn.role === "bot") && roles.includes(turn.role);
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** One case-insensitive pattern for a list of phrases; a phrase that starts or ends with a Latin letter or digit
 *  only matches at a word boundary ("hi" is not found in "this"). */
export function phraseRegExp(phrases: readonly string[], patterns: readonly string[] = []): RegExp | null {
  const parts = phrases.filter((p) => p.trim()).map((p) => {
    const body = escapeRegExp(p.trim()).replace(/\s+/g, "\\s+");
    const pre = /^[\p{Script=Latin}\d]/u.test(p.trim()) ? "(?<![\\p{L}\\p{N}])" : "";
    const post = /[\p{Script=Latin}\d]$/u.test(p.trim()) ? "(?![\\p{L}\\p{N}])" : "";
    return pre + body + post;
  });
  const all = [...parts, ...patterns.map((p) => `(?:${p})`)];
  // Longest first, so "not my problem" wins over a shorter phrase inside it.
  all.sort((a, b) => b.length - a.length);
  return all.length > 0 ? new RegExp(all.join("|"), "giu") : null;
}

/** Sentences of a text with their offsets (cut after 。！？!?；; and newlines, and after ". " in Latin text). */
export function sentences(text: string): { start: number; end: number; text: string }[] {
  const out: { start: number; end: number; text: string }[] = [];
  for (const m of text.matchAll(/[^。！？!?；;\n]+[。！？!?；;]*/gu)) {
    const base = m.index!;
    const chunk = m[0];
    const pieces: [number, number][] = [];
    let from = 0;
    for (const c of chunk.matchAll(/\.\s+(?=[A-Z])/g)) {
      pieces.push([from, c.index! + 1]);
      from = c.index! + c[0].length;
    }
    pieces.push([from, chunk.length]);
    for (const [a, b] of pieces) {
      const raw = chunk.slice(a, b);
      const lead = raw.length - raw.trimStart().length;
      const trimmed = raw.trim();
      if (trimmed) out.push({ start: base + a + lead, end: base + a + lead + trimmed.length, text: trimmed });
    }
  }
  return out;
}

const REASONS: Record<string, Record<Lang, (d: Record<string, string | number>) => string>> = {
  greeting: { zh: () => "座席开场未问候客户", en: () => "The agent's opening turn has no greeting" },
  closing: { zh: () => "会话结束时缺少结束语", en: () => "The conversation ends without a closing" },
  forbidden_phrases: { zh: (d) => `使用了服务禁语「${d.text}」`, en: (d) => `Forbidden phrase "${d.text}"` },
  policy_promise: { zh: (d) => `超出政策的承诺「${d.text}」`, en: (d) => `Promise outside policy: "${d.text}"` },
  pii_readout: { zh: (d) => `完整读出了客户个人信息（${d.kind}）`, en: (d) => `Personal data read out in full (${d.kind})` },
  response_sla: { zh: (d) => `回复用时${d.seconds}秒，超过${d.max}秒的时限`, en: (d) => `Replied after ${d.seconds} s, over the ${d.max} s limit` },
  unanswered_question: { zh: () => "客户的问题没有得到回答", en: () => "The customer's question was never answered" },
};

const PII_NAMES: Record<string, Record<Lang, string>> = {
  mobile: { zh: "手机号", en: "mobile number" }, id_card: { zh: "身份证号", en: "ID card number" },
  email: { zh: "邮箱", en: "e-mail address" }, bank_card: { zh: "银行卡号", en: "bank card number" },
};

export function reason(type: string, lang: Lang, detail: Record<string, string | number> = {}): string {
  return REASONS[type]?.[lang](detail) ?? type;
}

/** Turn indices the item judges. */
function judgedTurns(item: RubricItem, t: Transcript): number[] {
  const out: number[] = [];
  t.turns.forEach((turn, i) => { if (judged(item, turn)) out.push(i); });
  return out;
}

// One compiled pattern per rubric item (rubric items are not changed once an Inspector holds them).
const compiled = new WeakMap<RubricItem, RegExp | null>();
function itemRegExp(item: RubricItem): RegExp | null {
  if (!compiled.has(item)) compiled.set(item, phraseRegExp([...(item.phrases?.zh ?? []), ...(item.phrases?.en ?? [])], item.patterns ?? []));
  const re = compiled.get(item)!;
  if (re) re.lastIndex = 0;
  return re;
}

function requiredPhrase(item: RubricItem, t: Transcript, lang: Lang, fromEnd: boolean): Mark[] {
  const turns = judgedTurns(item, t);
  if (turns.length === 0) return [];
  const re = itemRegExp(item);
  const n = item.within_turns ?? 1;
  const window = fromEnd ? turns.slice(-n) : turns.slice(0, n);
  if (re && window.some((i) => { re.lastIndex = 0; return re.test(t.turns[i].text); })) return [];
  const at = fromEnd ? window[window.length - 1] : window[0];
  return [{ turn: at, start: 0, end: t.turns[at].text.length, item: item.id, reason: reason(item.type, lang) }];
}

function phraseMarks(item: RubricItem, t: Transcript, lang: Lang): Mark[] {
  const re = itemRegExp(item);
  if (!re) return [];
  const out: Mark[] = [];
  for (const i of judgedTurns(item, t)) {
    for (const m of t.turns[i].text.matchAll(re)) {
      if (m[0].length === 0) continue;
      out.push({ turn: i, start: m.index!, end: m.index! + m[0].length, item: item.id, reason: reason(item.type, lang, { text: m[0] }) });
    }
  }
  return out;
}

function piiMarks(item: RubricItem, t: Transcript, lang: Lang): Mark[] {
  const kinds = new Set<string>(item.kinds ?? ["mobile", "id_card", "email", "bank_card"]);
  const out: Mark[] = [];
  for (const i of judgedTurns(item, t)) {
    const text = t.turns[i].text;
    if (!/[\d@]/.test(text)) continue;
    for (const m of findPii(text)) {
      if (kinds.has(m.kind)) out.push({ turn: i, start: m.start, end: m.end, item: item.id, reason: reason(item.type, lang, { kind: PII_NAMES[m.kind][lang] }) });
    }
  }
  return out;
}

function slaMarks(item: RubricItem, t: Transcript, lang: Lang): Mark[] {
  const max = item.max_seconds ?? 60;
  const out: Mark[] = [];
  let waitingSince: number | null = null;
  t.turns.forEach((turn, i) => {
    if (turn.role === "customer") {
      if (waitingSince === null && turn.ts !== undefined) waitingSince = turn.ts;
    } else if (judged(item, turn)) {
      if (waitingSince !== null && turn.ts !== undefined) {
        const seconds = (turn.ts - waitingSince) / 1000;
        if (seconds > max) out.push({ turn: i, start: 0, end: turn.text.length, item: item.id, reason: reason(item.type, lang, { seconds: Math.round(seconds), max }) });
      }
      waitingSince = null;
    }
  });
  return out;
}

const QUESTION = /[?？]|[吗呢么嘛][\s。.!！]*$|^(请问|怎么|为什么|为啥|多少|什么|哪|几|是否|能否|可以吗|有没有)|^(how|what|when|where|why|which|who|can|could|would|will|do|does|did|is|are)\b/iu;

/** Whether a customer turn asks something. */
export function isQuestion(text: string): boolean {
  return QUESTION.test(text.trim());
}

function unansweredMarks(item: RubricItem, t: Transcript, lang: Lang): Mark[] {
  let lastReply = -1;
  t.turns.forEach((turn, i) => { if (judged(item, turn)) lastReply = i; });
  const out: Mark[] = [];
  t.turns.forEach((turn, i) => {
    if (turn.role !== "customer" || i < lastReply || !isQuestion(turn.text)) return;
    const lead = turn.text.length - turn.text.trimStart().length;
    out.push({ turn: i, start: lead, end: lead + turn.text.trim().length, item: item.id, reason: reason(item.type, lang) });
  });
  return out;
}

/** The marks of one rule item on a transcript. */
export function ruleMarks(item: RubricItem, t: Transcript, lang: Lang): Mark[] {
  switch (item.type) {
    case "greeting": return requiredPhrase(item, t, lang, false);
    case "closing": return requiredPhrase(item, t, lang, true);
    case "forbidden_phrases":
    case "policy_promise": return phraseMarks(item, t, lang);
    case "pii_readout": return piiMarks(item, t, lang);
    case "response_sla": return slaMarks(item, t, lang);
    case "unanswered_question": return unansweredMarks(item, t, lang);
    default: throw new Error(`inspection: "${item.type}" is not a rule item (model-checks.ts judges it)`);
  }
}

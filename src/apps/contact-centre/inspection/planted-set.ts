// A labelled test set for inspection, built by a seeded script from licensed dialogues in ../shared/data —
// CrossWOZ val (Apache-2.0, Chinese travel dialogues with a database), LCCC toy (MIT, Chinese chit-chat) and ABCD
// sample (MIT, English customer service) — by planting one rubric violation into about half of the conversations
// and leaving the rest clean: a missing greeting, a forbidden phrase, a read-out mobile number, a rude reply, a
// ticket price contradicting the CrossWOZ attraction database, a slow reply, an unresolved ending. Every clean
// conversation gets a greeting opener, a settled ending (one of six per language) and a closing, replies within 20 s, and (CrossWOZ) sometimes a
// correct price statement, so a detector that fires on anything is caught by precision. Each label is the exact
// span of what was planted. `scorePlanted` gives precision/recall per family and the span agreement.
// Leaves out: faults in customer turns other than the unresolved ending; more than one fault per conversation.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Rng } from "../../../core/rng.js";
import { readSingleEntryZip } from "../../../io/zip.js";
import { DEFAULT_RUBRIC, type KbFact, type RubricConfig } from "./rubric.js";
import type { Mark } from "./rules.js";
import type { Transcript, TranscriptTurn } from "./transcript.js";

export const FAMILIES = ["greeting", "forbidden", "pii", "rudeness", "kb", "sla", "resolution"] as const;
export type Family = (typeof FAMILIES)[number];
/** Families judged by rules (precision and recall ≥ 0.9 required) and by the classifier (reported). */
export const RULE_FAMILIES: readonly Family[] = ["greeting", "forbidden", "pii", "kb", "sla"];
export const MODEL_FAMILIES: readonly Family[] = ["rudeness", "resolution"];

export interface PlantedLabel {
  id: string;
  family: Family;
  turn: number;
  start: number;
  end: number;
}

export interface PlantedSet {
  transcripts: Transcript[];
  labels: PlantedLabel[];
  facts: KbFact[];
  /** The rubric the set is judged with: the default one plus the SLA and KB items (item id = family). */
  rubric: RubricConfig;
}

const OPENER = { zh: "您好，欢迎咨询智语旅行，请问有什么可以帮您？", en: "Hello, thanks for contacting us. How can I help you today?" };
const BARE_OPENER = { zh: "请说明具体是什么问题。", en: "Please state the issue." };
// A clean conversation ends with one of these (drawn from a second seeded stream, so the faults stay where they were).
const THANKS = { zh: ["好的，明白了，谢谢！", "行，那就这样，麻烦您了。", "嗯嗯，已经可以用了，感谢！", "好的，没有其他问题了。", "知道了，辛苦啦。", "那太好了，我这就去办。"],
  en: ["Great, that works. Thanks!", "Okay, that answers it. Bye!", "Perfect, everything shows up now, thank you.", "No, that's everything. Appreciate it.",
    "Got it, thanks for your help.", "Nice, I'll do that right away."] };
const UNRESOLVED = { zh: ["问题还是没有解决，太失望了。", "还是不行啊，根本没解决，气死了！", "算了吧，问了半天也没用，我很不满意。"],
  en: ["This still hasn't fixed my problem, I'm really disappointed.", "Nothing was solved, this is so frustrating and useless!", "Forget it, that did not help at all. I'm very unhappy."] };
const CLOSING = { zh: "感谢您的咨询，祝您生活愉快，再见！", en: "Thank you for contacting us, have a great day!" };
const FORBIDDEN = { zh: [["这个问题", "不归我管", "。"], ["", "爱买不买", "，您自己决定。"], ["", "我也没办法", "，规定就是这样。"], ["", "跟我说没用", "，这是系统的事。"]],
  en: [["Honestly, that's ", "not my problem", "."], ["You'll have to ", "deal with it", "."], ["", "Whatever", ", it's the rule."], ["", "I don't care", " how you do it."]] };
const RUDE = { zh: ["你烦不烦啊，说了多少遍了！", "你到底有完没完，我已经说得很清楚了！", "这么简单都不会，真是服了你了！", "别再问这种蠢问题了，自己去看！"],
  en: ["Are you even listening? I already told you that!", "This is ridiculous, stop wasting my time!", "How many times do I have to repeat myself?!", "Seriously, read the page yourself, it's not hard!"] };
const PII_LEAD = { zh: ["为您核对一下，您登记的手机号是", "。"], en: ["Just to confirm, the phone number on file is ", "."] };
const CLEAN_AGENT = /1[3-9]\d{9}|@/;

type Lang = "zh" | "en";
interface Base { id: string; lang: Lang; source: "crosswoz" | "lccc" | "abcd"; turns: { role: TranscriptTurn["role"]; text: string }[] }

function loadCrossWoz(dataRoot: string, n: number): Base[] {
  const file = path.join(dataRoot, "crosswoz", "val.json.zip");
  const doc = JSON.parse(readSingleEntryZip(readFileSync(file), file).toString("utf8")) as Record<string, { messages: { role: string; content: string }[] }>;
  return Object.entries(doc).slice(0, n).map(([id, d]) => ({
    id: `crosswoz-${id}`, lang: "zh" as const, source: "crosswoz" as const,
    turns: d.messages.map((m) => ({ role: m.role === "usr" ? "customer" as const : "agent" as const, text: m.content })),
  }));
}

function loadLccc(dataRoot: string, n: number): Base[] {
  const doc = JSON.parse(readFileSync(path.join(dataRoot, "lccc-toy", "toy_data.json"), "utf8")) as { test: string[][] };
  return doc.test.filter((d) => d.length >= 2).slice(0, n).map((d, k) => ({
    id: `lccc-test-${k}`, lang: "zh" as const, source: "lccc" as const,
    turns: d.map((u, i) => ({ role: i % 2 === 0 ? "customer" as const : "agent" as const, text: u.replace(/ /g, "") })),
  }));
}

function loadAbcd(dataRoot: string, copies: number): Base[] {
  const doc = JSON.parse(readFileSync(path.join(dataRoot, "abcd-sample", "abcd_sample.json"), "utf8")) as { convo_id: number; original: [string, string][] }[];
  const out: Base[] = [];
  for (let c = 0; c < copies; c++) {
    for (const d of doc) {
      out.push({ id: `abcd-${d.convo_id}-${c}`, lang: "en", source: "abcd",
        turns: d.original.map(([s, text]) => ({ role: s === "agent" ? "agent" as const : s === "customer" ? "customer" as const : "system" as const, text })) });
    }
  }
  return out;
}

/** Attraction ticket prices from the CrossWOZ database (the "KB" the price claims are judged against). */
export function crossWozFacts(dataRoot: string): KbFact[] {
  const db = JSON.parse(readFileSync(path.join(dataRoot, "crosswoz", "database", "attraction_db.json"), "utf8")) as [string, Record<string, unknown>][];
  return db.filter(([name, a]) => typeof a["门票"] === "number" && [...name].length >= 2).map(([name, a]) => ({ entity: name, value: a["门票"] as number }));
}

export interface PlantOptions {
  seed?: number;
  crosswoz?: number;
  lccc?: number;
  abcdCopies?: number;
  /** Share of conversations that get a fault. */
  faultRate?: number;
}

export function buildPlantedSet(dataRoot: string, o: PlantOptions = {}): PlantedSet {
  const rng = new Rng(o.seed ?? 7);
  const endings = new Rng((o.seed ?? 7) + 1);
  const pick = <T>(list: readonly T[]): T => list[Math.floor(rng.nextFloat() * list.length)];
  const facts = crossWozFacts(dataRoot);
  const forbiddenAll = [...(DEFAULT_RUBRIC.items.find((i) => i.type === "forbidden_phrases")!.phrases!.zh ?? []), ...(DEFAULT_RUBRIC.items.find((i) => i.type === "forbidden_phrases")!.phrases!.en ?? [])];
  const bases = [...loadCrossWoz(dataRoot, o.crosswoz ?? 200), ...loadLccc(dataRoot, o.lccc ?? 80), ...loadAbcd(dataRoot, o.abcdCopies ?? 30)]
    // The clean pool: no read-out number or address and no forbidden phrase already in an agent turn.
    .filter((b) => !b.turns.some((t) => t.role === "agent" && (CLEAN_AGENT.test(t.text) || forbiddenAll.some((f) => t.text.toLowerCase().includes(f.toLowerCase())))));
  const transcripts: Transcript[] = [];
  const labels: PlantedLabel[] = [];
  let clock = Date.UTC(2026, 10, 2, 1, 0, 0);
  for (const b of bases) {
    const lang = b.lang;
    const faulty = rng.nextFloat() < (o.faultRate ?? 0.55);
    const families = FAMILIES.filter((f) => f !== "kb" || b.source === "crosswoz");
    const family: Family | null = faulty ? pick(families) : null;
    const turns: TranscriptTurn[] = b.turns.map((t) => ({ ...t }));
    const firstAgent = turns.findIndex((t) => t.role === "agent");
    if (firstAgent < 0) continue;
    turns.splice(firstAgent, 0, { role: "agent", text: family === "greeting" ? BARE_OPENER[lang] : OPENER[lang] });
    const opener = firstAgent;
    const thanks = THANKS[lang][Math.floor(endings.nextFloat() * THANKS[lang].length)];
    turns.push({ role: "customer", text: family === "resolution" ? pick(UNRESOLVED[lang]) : thanks });
    turns.push({ role: "agent", text: CLOSING[lang] });
    // Agent turns a fault may go into: not the opener, not the closing.
    const body = turns.map((t, i) => i).filter((i) => turns[i].role === "agent" && i !== opener && i !== turns.length - 1);
    const label = (turn: number, start: number, end: number) => labels.push({ id: b.id, family: family!, turn, start, end });
    const append = (i: number, before: string, core: string, after: string) => {
      const sep = lang === "zh" ? "" : " ";
      const start = turns[i].text.length + sep.length + before.length;
      turns[i].text = `${turns[i].text}${sep}${before}${core}${after}`;
      return { start, end: start + core.length };
    };
    if (family === "greeting") label(opener, 0, turns[opener].text.length);
    else if (family === "resolution") label(turns.length - 2, 0, turns[turns.length - 2].text.length);
    else if (body.length === 0 && family !== "sla") {
      // Nowhere to plant it: the conversation stays clean.
    } else if (family === "forbidden") {
      const i = pick(body);
      const [before, core, after] = pick(FORBIDDEN[lang]);
      const s = append(i, before, core, after);
      label(i, s.start, s.end);
    } else if (family === "pii") {
      const i = pick(body);
      const digits = `1${pick(["3", "5", "7", "8", "9"])}${Array.from({ length: 9 }, () => Math.floor(rng.nextFloat() * 10)).join("")}`;
      const s = append(i, PII_LEAD[lang][0], digits, PII_LEAD[lang][1]);
      label(i, s.start, s.end);
    } else if (family === "rudeness") {
      const i = pick(body);
      const s = append(i, "", pick(RUDE[lang]), "");
      label(i, s.start, s.end);
    } else if (family === "kb") {
      const i = pick(body);
      const f = pick(facts);
      const wrong = f.value === 0 ? 20 + 10 * Math.floor(rng.nextFloat() * 5) : f.value + 10 + 5 * Math.floor(rng.nextFloat() * 10);
      const s = append(i, "另外提醒您，", `${f.entity}的门票是${wrong}元`, "。");
      label(i, s.start, s.end);
    }
    if (family === null && b.source === "crosswoz" && body.length > 0 && rng.nextFloat() < 0.4) {
      // A correct price statement in a clean conversation (a detector must not mark it).
      const f = pick(facts);
      append(pick(body), "另外提醒您，", `${f.entity}的门票${f.value === 0 ? "免费" : `是${f.value}元`}`, "。");
    }
    // Times: a reply 3–20 s after the turn before, a run of one speaker's turns 1–5 s apart; a slow reply waits 2–10 min.
    const replies = turns.map((t, i) => i).filter((i) => i > 0 && turns[i].role === "agent" && turns[i - 1].role === "customer");
    const slow = family === "sla" && replies.length > 0 ? pick(replies) : -1;
    clock += 3600_000 + Math.floor(rng.nextFloat() * 600_000);
    let at = clock;
    turns.forEach((t, i) => {
      // Customer runs and system notes come in seconds, so no clean wait adds up past 60 s.
      const prev = turns[i - 1]?.role;
      const gap = t.role === "system" || prev === t.role ? 1000 + Math.floor(rng.nextFloat() * 4000) : 3000 + Math.floor(rng.nextFloat() * 17_000);
      at += i === slow ? 120_000 + Math.floor(rng.nextFloat() * 480_000) : gap;
      t.ts = at;
    });
    if (slow >= 0) label(slow, 0, turns[slow].text.length);
    transcripts.push({ id: b.id, language: lang, turns });
  }
  const rubric: RubricConfig = {
    version: "planted-1",
    items: [
      ...DEFAULT_RUBRIC.items.map((i) => ({ ...i, id: i.type === "forbidden_phrases" ? "forbidden" : i.id })),
      { id: "sla", type: "response_sla", weight: 10, max_seconds: 60 },
      { id: "kb", type: "kb_contradiction", weight: 15, facts },
    ],
  };
  return { transcripts, labels, facts, rubric };
}

export interface FamilyScore {
  family: Family;
  planted: number;
  marks: number;
  truePositives: number;
  precision: number;
  recall: number;
  /** Of the found labels, how many had a mark whose span equals the planted span exactly. */
  exactSpans: number;
}

const overlaps = (m: { turn: number; start: number; end: number }, l: PlantedLabel) => m.turn === l.turn && m.start < l.end && l.start < m.end;

/** Precision/recall per family: a mark of item F is right when it overlaps a label of family F in the same
 *  conversation and turn; a label is found when such a mark exists. Item ids must equal family names. */
export function scorePlanted(reports: readonly { id: string; marks: readonly Mark[] }[], labels: readonly PlantedLabel[], families: readonly Family[] = FAMILIES): FamilyScore[] {
  const byId = new Map(reports.map((r) => [r.id, r.marks]));
  return families.map((family) => {
    const fl = labels.filter((l) => l.family === family);
    let marks = 0;
    let good = 0;
    for (const r of reports) {
      for (const m of r.marks) {
        if (m.item !== family) continue;
        marks++;
        if (fl.some((l) => l.id === r.id && overlaps(m, l))) good++;
      }
    }
    let found = 0;
    let exact = 0;
    for (const l of fl) {
      const hits = (byId.get(l.id) ?? []).filter((m) => m.item === family && overlaps(m, l));
      if (hits.length > 0) found++;
      if (hits.some((m) => m.start === l.start && m.end === l.end)) exact++;
    }
    return { family, planted: fl.length, marks, truePositives: good, precision: marks > 0 ? good / marks : 1, recall: fl.length > 0 ? found / fl.length : 1, exactSpans: exact };
  });
}

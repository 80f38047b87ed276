// The model items of the rubric: rudeness or impatience of an agent sentence, the customer's sentiment trajectory
// from first to last turn, whether the issue was resolved, and agent statements that contradict the knowledge base.
// The first three use small classifiers shipped in models/contact-centre: an agent sentence is rude when the
// rudeness model (rudeness.zdcm) gives P(rude) at or above the item's threshold; a turn's sentiment is
// P(like, happiness) − P(anger, disgust, sadness, fear) of the emotion model (emotion.zdcm; a sentiment the source
// recorded, as the desk does, is used as is); the customer's closing turn is unresolved when the resolution model
// (resolution.zdcm) gives P(unresolved) ≥ 0.1 (≥ 0.05 with a sentiment at or below −threshold) and it came after a
// reply, or when it is a question nobody answered afterwards. KB contradiction reads price claims ("故宫门票85元", "a ticket to X costs $20")
// next to an entity the facts know and compares them with the known value.
// Leaves out: a generative judge (a chat model could phrase these better; see docs/inspection.md), claims other
// than prices.
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { readSingleEntryZip } from "../../../io/zip.js";
import { EMOTION_TRAIN, fitClassifier } from "../training/train-models.js";
import { loadModel, predictText, type LoadedModel } from "../understanding/model-file.js";
import { RESOLUTION_SEED } from "./resolution-seed.js";
import { RUDENESS_SEED } from "./rudeness-seed.js";
import type { KbFact, RubricItem } from "./rubric.js";
import { csvRows } from "./transcript.js";
import type { Transcript } from "./transcript.js";
import { isQuestion, judged, sentences, type Lang, type Mark } from "./rules.js";

/** What the model items need from the classifiers. */
export interface EmotionScorer {
  /** Probability that an agent sentence is rude or impatient, in [0, 1]. */
  hostility(text: string): number;
  /** Sentiment in [−1, 1]. */
  sentiment(text: string): number;
  /** Probability that a customer's closing message leaves the issue open, in [0, 1] (absent: sentiment only). */
  unresolved?(text: string): number;
  /** Identifies the models behind it (part of the inspector's version, so retrained models redo stored results). */
  fingerprint?: string;
}

const POSITIVE = ["like", "happiness"];
const NEGATIVE = ["anger", "disgust", "sadness", "fear"];

/** The rudeness model's training examples: the written seed set (rudeness-seed.ts) and, with `dataRoot`, the
 *  system-side turns of CrossWOZ's test split (Apache-2.0; ordinary travel-agent replies) and the first assistant
 *  replies of HH-RLHF harmless-base test (MIT) as more polite ones. The
 *  planted test set uses the val split, so it stays held out. */
export function rudenessExamples(dataRoot?: string): { text: string; label: string }[] {
  const examples = (["rude", "polite"] as const).flatMap((label) => [...RUDENESS_SEED[label].zh, ...RUDENESS_SEED[label].en].map((text) => ({ text, label })));
  const file = dataRoot ? path.join(dataRoot, "crosswoz", "test.json.zip") : "";
  if (file && existsSync(file)) {
    const doc = JSON.parse(readSingleEntryZip(readFileSync(file), file).toString("utf8")) as Record<string, { messages: { role: string; content: string }[] }>;
    const replies = Object.values(doc).flatMap((d) => d.messages.filter((m) => m.role === "sys").map((m) => m.content));
    for (let i = 0; i < replies.length && i < 6000; i += 2) examples.push({ text: replies[i], label: "polite" });
  }
  // English: the assistant's first reply of HH-RLHF harmless-base test (MIT), sentence by sentence.
  const hh = dataRoot ? path.join(dataRoot, "hh-rlhf-harmless-test", "test.jsonl.gz") : "";
  if (hh && existsSync(hh)) {
    const rows = gunzipSync(readFileSync(hh)).toString("utf8").split("\n").filter(Boolean).slice(0, 1500);
    for (const row of rows) {
      const first = (JSON.parse(row) as { chosen: string }).chosen.split("\n\nAssistant: ")[1]?.split("\n\nHuman:")[0] ?? "";
      for (const s of sentences(first)) if (s.text.length <= 200) examples.push({ text: s.text, label: "polite" });
    }
  }
  return examples;
}

/** The resolution model's training examples: the written seed set (resolution-seed.ts) and, with `dataRoot`, as
 *  endings that leave nothing open: the last user turn of CrossWOZ's test dialogues (Apache-2.0; tasks that end
 *  settled), the thank-you and goodbye queries of CLINC150's train split (CC BY 3.0; English sign-offs) and the
 *  last turn of LCCC toy's train dialogues (MIT; chit-chat, so ordinary remarks are not read as complaints). */
export function resolutionExamples(dataRoot?: string): { text: string; label: string }[] {
  const examples = (["unresolved", "resolved"] as const).flatMap((label) => [...RESOLUTION_SEED[label].zh, ...RESOLUTION_SEED[label].en].map((text) => ({ text, label })));
  const file = dataRoot ? path.join(dataRoot, "crosswoz", "test.json.zip") : "";
  if (file && existsSync(file)) {
    const doc = JSON.parse(readSingleEntryZip(readFileSync(file), file).toString("utf8")) as Record<string, { messages: { role: string; content: string }[] }>;
    for (const d of Object.values(doc)) {
      const last = [...d.messages].reverse().find((m) => m.role === "usr");
      if (last) examples.push({ text: last.content, label: "resolved" });
    }
  }
  const clinc = dataRoot ? path.join(dataRoot, "clinc150", "data_full.json") : "";
  if (clinc && existsSync(clinc)) {
    const train = (JSON.parse(readFileSync(clinc, "utf8")) as { train: [string, string][] }).train;
    for (const [text, intent] of train) if (intent === "thank_you" || intent === "goodbye") examples.push({ text, label: "resolved" });
  }
  const lccc = dataRoot ? path.join(dataRoot, "lccc-toy", "toy_data.json") : "";
  if (lccc && existsSync(lccc)) {
    for (const d of (JSON.parse(readFileSync(lccc, "utf8")) as { train: string[][] }).train) examples.push({ text: d[d.length - 1].replace(/ /g, ""), label: "resolved" });
  }
  return examples;
}

/** Fits the two-class resolution model (a fraction of a second; seconds with `dataRoot`). */
export function fitResolutionModel(dataRoot?: string): LoadedModel {
  return fitClassifier("resolution", resolutionExamples(dataRoot), { buckets: 1 << 15 }, { ...EMOTION_TRAIN, classWeight: "balanced" }).model;
}

/** Fits the two-class rudeness model (a fraction of a second; seconds with `dataRoot`). */
export function fitRudenessModel(dataRoot?: string): LoadedModel {
  return fitClassifier("rudeness", rudenessExamples(dataRoot), { buckets: 1 << 15 }, { ...EMOTION_TRAIN, classWeight: "balanced" }).model;
}

/** The shipped rudeness model beside the emotion model (rudeness.zdcm), else one fitted on the seed set. */
export function loadRudenessModel(modelDir: string): LoadedModel {
  const file = path.join(modelDir, "rudeness.zdcm");
  return existsSync(file) ? loadModel(file) : fitRudenessModel();
}

/** The shipped resolution model (resolution.zdcm), else one fitted on the seed set. */
export function loadResolutionModel(modelDir: string): LoadedModel {
  const file = path.join(modelDir, "resolution.zdcm");
  return existsSync(file) ? loadModel(file) : fitResolutionModel();
}

/** The scorer over the contact centre's emotion model (sentiment), the rudeness and the resolution models. */
export function emotionScorer(model: LoadedModel, rudeness: LoadedModel = fitRudenessModel(), resolution?: LoadedModel, fingerprint?: string): EmotionScorer {
  const labels = model.classifier.labels;
  const index = (names: string[]) => names.map((n) => labels.indexOf(n)).filter((i) => i >= 0);
  const pos = index(POSITIVE);
  const neg = index(NEGATIVE);
  const sum = (p: Float32Array, ids: number[]) => ids.reduce((s, i) => s + p[i], 0);
  const rude = rudeness.classifier.labels.indexOf("rude");
  const open = resolution ? resolution.classifier.labels.indexOf("unresolved") : -1;
  return {
    fingerprint,
    unresolved: resolution ? (text) => predictText(resolution, text).probs[open] : undefined,
    hostility: (text) => predictText(rudeness, text).probs[rude],
    sentiment: (text) => {
      const p = predictText(model, text).probs;
      return sum(p, pos) - sum(p, neg);
    },
  };
}

/** The scorer from a model folder (models/contact-centre: emotion.zdcm, rudeness.zdcm, resolution.zdcm); its
 *  fingerprint hashes the three files (a model fitted in memory for want of its file counts as "seed"). */
export function loadEmotionScorer(modelDir: string): EmotionScorer {
  const hash = createHash("sha256");
  for (const name of ["emotion.zdcm", "rudeness.zdcm", "resolution.zdcm"]) {
    const file = path.join(modelDir, name);
    hash.update(existsSync(file) ? readFileSync(file) : `${name}:seed`);
  }
  return emotionScorer(loadModel(path.join(modelDir, "emotion.zdcm")), loadRudenessModel(modelDir), loadResolutionModel(modelDir), hash.digest("hex").slice(0, 8));
}

const REASONS: Record<string, Record<Lang, (d: Record<string, string | number>) => string>> = {
  rudeness: { zh: (d) => `座席语气不耐烦或不礼貌（模型置信度${d.p}）`, en: (d) => `Rude or impatient wording (model confidence ${d.p})` },
  sentiment_trajectory: { zh: (d) => `客户情绪由${d.first}降到${d.last}`, en: (d) => `Customer sentiment fell from ${d.first} to ${d.last}` },
  resolution: { zh: () => "会话结束时客户的问题看来未解决", en: () => "The customer's issue looks unresolved at the end" },
  kb_contradiction: { zh: (d) => `称「${d.entity}」价格为${d.stated}，知识库为${d.known}`, en: (d) => `States ${d.stated} for "${d.entity}"; the knowledge base says ${d.known}` },
};

function reason(type: string, lang: Lang, d: Record<string, string | number> = {}): string {
  return REASONS[type][lang](d);
}

function rudenessMarks(item: RubricItem, t: Transcript, lang: Lang, scorer: EmotionScorer): Mark[] {
  const threshold = item.threshold ?? 0.5;
  const out: Mark[] = [];
  t.turns.forEach((turn, i) => {
    if (!judged(item, turn)) return;
    for (const s of sentences(turn.text)) {
      const p = scorer.hostility(s.text);
      if (p >= threshold) out.push({ turn: i, start: s.start, end: s.end, item: item.id, reason: reason("rudeness", lang, { p: p.toFixed(2) }) });
    }
  });
  return out;
}

function customerTurns(t: Transcript): number[] {
  const out: number[] = [];
  t.turns.forEach((turn, i) => { if (turn.role === "customer" && turn.text.trim()) out.push(i); });
  return out;
}

/** A customer turn's sentiment: the recorded one, else the model's. */
export function turnSentiment(t: Transcript, i: number, scorer: EmotionScorer | null): number | null {
  const turn = t.turns[i];
  if (turn.sentiment !== undefined) return turn.sentiment;
  return scorer ? scorer.sentiment(turn.text) : null;
}

function whole(t: Transcript, i: number): { start: number; end: number } {
  const text = t.turns[i].text;
  const lead = text.length - text.trimStart().length;
  return { start: lead, end: lead + text.trim().length };
}

function trajectoryMarks(item: RubricItem, t: Transcript, lang: Lang, scorer: EmotionScorer): Mark[] {
  const turns = customerTurns(t);
  if (turns.length < 2) return [];
  const first = turnSentiment(t, turns[0], scorer)!;
  const last = turnSentiment(t, turns[turns.length - 1], scorer)!;
  if (first - last < (item.min_drop ?? 0.5)) return [];
  const at = turns[turns.length - 1];
  return [{ turn: at, ...whole(t, at), item: item.id, reason: reason("sentiment_trajectory", lang, { first: first.toFixed(2), last: last.toFixed(2) }) }];
}

/** P(unresolved) from which a closing message counts as unresolved. The model sees 60 unresolved examples against
 *  ~1,800 settled ones, so its probabilities run low; 0.1 is the operating point chosen on the planted set and
 *  three sets of real endings (BENCHMARKS.md, "Quality inspection"). */
const UNRESOLVED_P = 0.1;

function resolutionMarks(item: RubricItem, t: Transcript, lang: Lang, scorer: EmotionScorer): Mark[] {
  const turns = customerTurns(t);
  if (turns.length === 0) return [];
  const at = turns[turns.length - 1];
  const answered = t.turns.slice(at + 1).some((x) => x.role === "agent" || x.role === "bot");
  const sentiment = turnSentiment(t, at, scorer)!;
  const negative = sentiment <= -(item.threshold ?? 0.3);
  // With the resolution model, a negative tone only tips a borderline verdict: the emotion model reads polite
  // sign-offs such as "麻烦您了" as negative. Without it (an older model folder), the tone decides alone.
  const p = scorer.unresolved?.(t.turns[at].text);
  // Only a message written after a reply is a reaction to judge: a lone request that got its answer ("我要退票" →
  // "已为您退票") has no closing word from the customer, so it is not taken for an unresolved ending.
  const reacted = t.turns.slice(0, at).some((x) => x.role === "agent" || x.role === "bot");
  const open = !reacted && answered ? false : p === undefined ? negative : p >= UNRESOLVED_P || (negative && p >= UNRESOLVED_P / 2);
  const unresolved = open || (!answered && isQuestion(t.turns[at].text));
  return unresolved ? [{ turn: at, ...whole(t, at), item: item.id, reason: reason("resolution", lang) }] : [];
}

/** Facts from a rubric item: inline, or a CSV file `entity,value[,aliases separated by |]` (header optional). */
export function loadFacts(facts: KbFact[] | string | undefined, baseDir: string): KbFact[] {
  if (facts === undefined) return [];
  if (typeof facts !== "string") return facts;
  const file = facts.startsWith("/") ? facts : `${baseDir}/${facts}`;
  const out: KbFact[] = [];
  for (const row of csvRows(readFileSync(file, "utf8").replace(/^\uFEFF/, ""))) {
    const [entity, value, aliases] = row.cells.map((c) => c.trim());
    const v = Number(value);
    if (!entity || value === undefined || !Number.isFinite(v)) {
      if (row.line === 1) continue; // the header
      throw new Error(`${file}:${row.line}: expected entity,value[,aliases] with a number value (got ${JSON.stringify(row.cells.join(","))})`);
    }
    out.push({ entity, value: v, aliases: aliases ? aliases.split("|").map((a) => a.trim()).filter(Boolean) : undefined });
  }
  return out;
}

const PRICE = /(?:[¥￥$]\s*(\d+(?:\.\d+)?))|(\d+(?:\.\d+)?)\s*(?:元|块钱|块|yuan|rmb|dollars?)|(免费|free(?: of charge)?)(?![\p{L}])/giu;
const TICKET_WORD = /门票|票价|免费|ticket|admission|entry|entrance/iu;
const PRICE_WORD = /门票|票价|票|收费|价格|价钱|多少钱|免费|ticket|admission|entry|entrance|price|costs?|fee|free/iu;

/** Finds entity names (longest first) in text. */
export class FactIndex {
  private readonly re: RegExp | null;
  private readonly byName = new Map<string, KbFact>();
  constructor(facts: readonly KbFact[]) {
    for (const f of facts) for (const name of [f.entity, ...(f.aliases ?? [])]) if (name.trim()) this.byName.set(name.toLowerCase(), f);
    const names = [...this.byName.keys()].sort((a, b) => b.length - a.length);
    this.re = names.length > 0 ? new RegExp(names.map((n) => n.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|"), "giu") : null;
  }
  mentions(text: string): { fact: KbFact; name: string; start: number; end: number }[] {
    if (!this.re) return [];
    return [...text.matchAll(this.re)].map((m) => ({ fact: this.byName.get(m[0].toLowerCase())!, name: m[0], start: m.index!, end: m.index! + m[0].length }));
  }
}

function kbMarks(item: RubricItem, t: Transcript, lang: Lang, facts: FactIndex): Mark[] {
  const tolerance = item.tolerance ?? 0;
  const out: Mark[] = [];
  t.turns.forEach((turn, i) => {
    if (!judged(item, turn)) return;
    for (const s of sentences(turn.text)) {
      const names = facts.mentions(s.text);
      if (names.length === 0) continue;
      for (const p of s.text.matchAll(PRICE)) {
        const stated = p[3] ? 0 : Number(p[1] ?? p[2]);
        const at = p.index!;
        // The claim's entity: the nearest mention before the price, with a price word between or right after.
        const before = names.filter((n) => n.end <= at);
        if (before.length === 0) continue;
        const e = before[before.length - 1];
        const between = s.text.slice(e.end, at);
        const after = s.text.slice(at + p[0].length, at + p[0].length + 4);
        if (!PRICE_WORD.test(between) && !PRICE_WORD.test(p[0]) && !PRICE_WORD.test(after)) continue;
        // Not this entity's price: a longer name that starts with it (大栅栏店, 故宫餐厅), a clause break without a
        // ticket word, an average spend or a room rate, a negated "free".
        if (/^[店馆厅楼酒宾饭餐(（]/u.test(s.text.slice(e.end))) continue;
        if (/[，,;；]/u.test(between) && !TICKET_WORD.test(between)) continue;
        if (/人均|均价|每晚|一晚|per night|per person/iu.test(between)) continue;
        if (p[3] && /(?:不|非|not\s*)$/iu.test(s.text.slice(0, at))) continue;
        const known = e.fact.value;
        const off = known === 0 ? stated > 0 : Math.abs(stated - known) > tolerance * known;
        if (!off) continue;
        const unit = lang === "zh" ? "元" : " yuan";
        out.push({ turn: i, start: s.start + e.start, end: s.start + at + p[0].length, item: item.id,
          reason: reason("kb_contradiction", lang, { entity: e.fact.entity, stated: stated === 0 ? (lang === "zh" ? "免费" : "free") : `${stated}${unit}`,
            known: known === 0 ? (lang === "zh" ? "免费" : "free") : `${known}${unit}` }) });
      }
    }
  });
  return out;
}

/** The marks of one model item on a transcript. */
export function modelMarks(item: RubricItem, t: Transcript, lang: Lang, scorer: EmotionScorer, facts: FactIndex | null): Mark[] {
  switch (item.type) {
    case "rudeness": return rudenessMarks(item, t, lang, scorer);
    case "sentiment_trajectory": return trajectoryMarks(item, t, lang, scorer);
    case "resolution": return resolutionMarks(item, t, lang, scorer);
    case "kb_contradiction": return facts ? kbMarks(item, t, lang, facts) : [];
    default: throw new Error(`inspection: "${item.type}" is not a model item (rules.ts judges it)`);
  }
}

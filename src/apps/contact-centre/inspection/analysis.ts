// Agent analysis (座席分析) and bot analysis over inspected conversations. Definitions (docs/inspection.md):
//   start of handling  the first hand-off event, else the first customer turn
//   first response     first agent turn at or after the start − start (seconds)
//   handle time        last turn − start (seconds)
//   resolved           the transcript's recorded outcome, else "no mark of the rubric's resolution item"
//   hand-back/transfer share of handled conversations with such an event (a transfer made by the agent)
//   sentiment change   last − first customer sentiment (recorded per turn, else the scorer's), conversations with ≥ 2
//   day / hour         of the first turn, shifted by the rubric's utc_offset_hours
// Rows per agent, per team, per day and per hour-of-day; workload = conversations per agent per hour-of-day;
// coaching notes cite the marked spans behind them. Bot: containment = conversations with a bot turn that never
// reached a human (no agent turn, no hand-off) / conversations with a bot turn; out-of-scope customer questions
// (intent "oos") grouped by normalised text are the FAQ candidates.
// Leaves out: time zones with daylight saving (a fixed offset), percentiles (averages only).
import type { InspectionReport } from "./engine.js";
import type { RubricConfig } from "./rubric.js";
import type { Mark } from "./rules.js";
import { transcriptLanguage, type Transcript } from "./transcript.js";

export interface Analysed {
  transcript: Transcript;
  report?: Pick<InspectionReport, "score" | "marks">;
}

export interface GroupRow {
  key: string;
  handled: number;
  firstResponseS: number | null;
  handleTimeS: number | null;
  resolutionRate: number | null;
  handBackRate: number;
  transferRate: number;
  qualityScore: number | null;
  topMarks: { item: string; count: number }[];
  sentimentChange: number | null;
}

export interface CoachingNote {
  agent: string;
  item: string;
  count: number;
  note: string;
  citations: { conversation: string; turn: number; start: number; end: number; quote: string }[];
}

export interface BotAnalysis {
  conversations: number;
  contained: number;
  containmentRate: number | null;
  /** Contained and resolved: solved without a human. */
  solvedWithoutHuman: number;
  faqCandidates: { question: string; count: number; conversations: string[] }[];
}

export interface Analysis {
  agents: GroupRow[];
  teams: GroupRow[];
  days: GroupRow[];
  hours: GroupRow[];
  workload: { agent: string; byHour: number[] }[];
  coaching: CoachingNote[];
  bot: BotAnalysis;
}

export interface AnalysisOptions {
  rubric: RubricConfig;
  /** Sentiment of a customer turn when the transcript has none recorded (optional). */
  sentiment?: (text: string) => number;
}

/** The agent who handled a conversation: the transcript's, else the author of its first agent turn. */
export function agentOf(t: Transcript): string | null {
  return t.agent ?? t.turns.find((x) => x.role === "agent")?.author ?? (t.turns.some((x) => x.role === "agent") ? "unknown" : null);
}

function teamOf(t: Transcript, agent: string, rubric: RubricConfig): string {
  if (t.team) return t.team;
  for (const [team, members] of Object.entries(rubric.teams ?? {})) if (members.includes(agent)) return team;
  return "—";
}

function handlingStart(t: Transcript): number | undefined {
  return t.events?.find((e) => e.type === "handoff" && e.ts !== undefined)?.ts ?? t.turns.find((x) => x.role === "customer" && x.ts !== undefined)?.ts;
}

interface Facts {
  id: string;
  agent: string;
  team: string;
  day: string;
  hour: number | null;
  frt: number | null;
  aht: number | null;
  resolved: boolean | null;
  handBack: boolean;
  transfer: boolean;
  score: number | null;
  marks: Mark[];
  sentimentChange: number | null;
}

function resolvedOf(a: Analysed, rubric: RubricConfig): boolean | null {
  if (a.transcript.resolved !== undefined) return a.transcript.resolved;
  const item = rubric.items.find((i) => i.type === "resolution");
  if (!item || !a.report) return null;
  return !a.report.marks.some((m) => m.item === item.id);
}

function factsOf(a: Analysed, agent: string, o: AnalysisOptions): Facts {
  const t = a.transcript;
  const offsetMs = (o.rubric.utc_offset_hours ?? 0) * 3600_000;
  const firstTs = t.turns.find((x) => x.ts !== undefined)?.ts;
  const start = handlingStart(t);
  const firstAgent = start === undefined ? undefined : t.turns.find((x) => x.role === "agent" && x.ts !== undefined && x.ts >= start)?.ts;
  const lastTs = [...t.turns].reverse().find((x) => x.ts !== undefined)?.ts;
  const customers = t.turns.filter((x) => x.role === "customer");
  const sentimentOf = (i: number) => customers[i].sentiment ?? o.sentiment?.(customers[i].text) ?? null;
  let change: number | null = null;
  if (customers.length >= 2) {
    const first = sentimentOf(0);
    const last = sentimentOf(customers.length - 1);
    if (first !== null && last !== null) change = last - first;
  }
  const local = firstTs === undefined ? null : new Date(firstTs + offsetMs);
  return {
    id: t.id, agent, team: teamOf(t, agent, o.rubric),
    day: local ? local.toISOString().slice(0, 10) : "unknown", hour: local ? local.getUTCHours() : null,
    frt: start !== undefined && firstAgent !== undefined ? (firstAgent - start) / 1000 : null,
    aht: start !== undefined && lastTs !== undefined ? (lastTs - start) / 1000 : null,
    resolved: resolvedOf(a, o.rubric),
    handBack: t.events?.some((e) => e.type === "handback") ?? false,
    // Transferred away by this agent (an event without `from` is the conversation's agent's).
    transfer: t.events?.some((e) => e.type === "transfer" && (e.from === undefined || e.from === agent)) ?? false,
    score: a.report?.score ?? null, marks: a.report?.marks ?? [], sentimentChange: change,
  };
}

function mean(values: (number | null)[]): number | null {
  const v = values.filter((x): x is number => x !== null);
  return v.length > 0 ? v.reduce((s, x) => s + x, 0) / v.length : null;
}

function topMarks(marks: Mark[], n = 3): { item: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const m of marks) counts.set(m.item, (counts.get(m.item) ?? 0) + 1);
  return [...counts].map(([item, count]) => ({ item, count })).sort((a, b) => b.count - a.count || a.item.localeCompare(b.item)).slice(0, n);
}

function groupRows(facts: Facts[], key: (f: Facts) => string): GroupRow[] {
  const groups = new Map<string, Facts[]>();
  for (const f of facts) {
    const k = key(f);
    if (!groups.has(k)) groups.set(k, []);
    groups.get(k)!.push(f);
  }
  return [...groups].map(([k, fs]) => {
    const judged = fs.filter((f) => f.resolved !== null);
    return {
      key: k, handled: fs.length, firstResponseS: mean(fs.map((f) => f.frt)), handleTimeS: mean(fs.map((f) => f.aht)),
      resolutionRate: judged.length > 0 ? judged.filter((f) => f.resolved).length / judged.length : null,
      handBackRate: fs.filter((f) => f.handBack).length / fs.length, transferRate: fs.filter((f) => f.transfer).length / fs.length,
      qualityScore: mean(fs.map((f) => f.score)), topMarks: topMarks(fs.flatMap((f) => f.marks)), sentimentChange: mean(fs.map((f) => f.sentimentChange)),
    };
  }).sort((a, b) => a.key.localeCompare(b.key, "en", { numeric: true }));
}

const ADVICE: Record<string, Record<"zh" | "en", string>> = {
  greeting: { zh: "开场先问候并自报身份", en: "open with a greeting and your name" },
  closing: { zh: "结束前确认是否还有其他问题并道别", en: "check for anything else and say goodbye before closing" },
  forbidden_phrases: { zh: "避免推诿的说法，改为说明能做什么", en: "avoid deflecting phrases; say what you can do instead" },
  policy_promise: { zh: "只承诺政策范围内的事项", en: "only promise what the policy allows" },
  pii_readout: { zh: "核对个人信息时只读后四位", en: "read back only the last four digits of personal data" },
  response_sla: { zh: "注意回复时效，必要时先告知客户稍等", en: "reply within the time limit, or tell the customer you are checking" },
  unanswered_question: { zh: "逐条回应客户的问题", en: "answer every question the customer asks" },
  rudeness: { zh: "保持耐心和礼貌的语气", en: "keep a patient, polite tone" },
  sentiment_trajectory: { zh: "客户情绪变差时先安抚再处理", en: "acknowledge the customer's frustration before solving" },
  resolution: { zh: "结束前确认问题已经解决", en: "confirm the issue is solved before closing" },
  kb_contradiction: { zh: "报价前先查知识库", en: "check the knowledge base before quoting a price" },
};

function coaching(analysed: Analysed[], facts: Facts[], rubric: RubricConfig): CoachingNote[] {
  const typeOf = new Map(rubric.items.map((i) => [i.id, i.type]));
  const byId = new Map(analysed.map((a) => [a.transcript.id, a.transcript]));
  const notes: CoachingNote[] = [];
  for (const agent of [...new Set(facts.map((f) => f.agent))].sort()) {
    const mine = facts.filter((f) => f.agent === agent);
    const zh = mine.filter((f) => transcriptLanguage(byId.get(f.id)!) === "zh").length * 2 >= mine.length;
    for (const { item, count } of topMarks(mine.flatMap((f) => f.marks))) {
      const citations = mine.flatMap((f) => f.marks.filter((m) => m.item === item).map((m) => ({
        conversation: f.id, turn: m.turn, start: m.start, end: m.end, quote: byId.get(f.id)!.turns[m.turn].text.slice(m.start, m.end).slice(0, 80),
      }))).slice(0, 3);
      const c = citations[0];
      const advice = ADVICE[typeOf.get(item) ?? ""]?.[zh ? "zh" : "en"] ?? "";
      const note = zh
        ? `「${item}」被标记${count}次，例如会话 ${c.conversation} 第${c.turn + 1}轮：“${c.quote}”。建议：${advice}。`
        : `"${item}" was marked ${count} times, e.g. conversation ${c.conversation}, turn ${c.turn + 1}: "${c.quote}". Advice: ${advice}.`;
      notes.push({ agent, item, count, note, citations });
    }
  }
  return notes;
}

const normalise = (s: string) => s.toLowerCase().replace(/[\s\p{P}\p{S}]+/gu, "");

function botAnalysis(analysed: Analysed[], rubric: RubricConfig): BotAnalysis {
  const withBot = analysed.filter((a) => a.transcript.turns.some((x) => x.role === "bot"));
  const contained = withBot.filter((a) => !a.transcript.turns.some((x) => x.role === "agent") && !(a.transcript.events ?? []).some((e) => e.type === "handoff"));
  const solved = contained.filter((a) => resolvedOf(a, rubric) === true).length;
  const groups = new Map<string, { question: string; count: number; conversations: string[] }>();
  for (const a of withBot) {
    for (const turn of a.transcript.turns) {
      if (turn.role !== "customer" || turn.intent !== "oos") continue;
      const key = normalise(turn.text);
      if (!key) continue;
      const g = groups.get(key) ?? { question: turn.text.trim(), count: 0, conversations: [] };
      g.count++;
      if (!g.conversations.includes(a.transcript.id)) g.conversations.push(a.transcript.id);
      groups.set(key, g);
    }
  }
  return {
    conversations: withBot.length, contained: contained.length, containmentRate: withBot.length > 0 ? contained.length / withBot.length : null,
    solvedWithoutHuman: solved, faqCandidates: [...groups.values()].sort((a, b) => b.count - a.count || a.question.localeCompare(b.question)).slice(0, 20),
  };
}

export function analyse(analysed: readonly Analysed[], o: AnalysisOptions): Analysis {
  const list = [...analysed];
  const facts: Facts[] = [];
  for (const a of list) {
    const agent = agentOf(a.transcript);
    if (agent !== null) facts.push(factsOf(a, agent, o));
  }
  const workload = [...new Set(facts.map((f) => f.agent))].sort().map((agent) => {
    const byHour = new Array<number>(24).fill(0);
    for (const f of facts) if (f.agent === agent && f.hour !== null) byHour[f.hour]++;
    return { agent, byHour };
  });
  return {
    agents: groupRows(facts, (f) => f.agent), teams: groupRows(facts, (f) => f.team), days: groupRows(facts, (f) => f.day),
    hours: groupRows(facts.filter((f) => f.hour !== null), (f) => String(f.hour).padStart(2, "0")),
    workload, coaching: coaching(list, facts, o.rubric), bot: botAnalysis(list, o.rubric),
  };
}

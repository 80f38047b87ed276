// Agent and bot analysis against values computed here by hand from a fixture with known timestamps, outcomes,
// sentiments and marks (the expected numbers are written out from the fixture's times, not produced by the code).
import { test } from "node:test";
import assert from "node:assert/strict";
import { analyse, type Analysed } from "../../../../src/apps/contact-centre/inspection/analysis.js";
import type { RubricConfig } from "../../../../src/apps/contact-centre/inspection/rubric.js";

const T = (hhmmss: string, day = "2026-12-01") => Date.parse(`${day}T${hhmmss}Z`);
const mark = (turn: number, item: string, start = 0, end = 2) => ({ turn, start, end, item, reason: item });

const rubric: RubricConfig = {
  items: [{ id: "greeting", type: "greeting", weight: 1, phrases: { zh: ["您好"] } }, { id: "resolution", type: "resolution", weight: 1 }, { id: "pii", type: "pii_readout", weight: 1 }],
  teams: { north: ["li", "wang"], south: ["zhao"] },
  utc_offset_hours: 8,
};

const fixture: Analysed[] = [
  // li, 09:00 UTC (17h Beijing): customer 09:00:00, agent 09:00:30, last 09:05:00 → FRT 30 s, AHT 300 s; resolved.
  { transcript: { id: "a", agent: "li", resolved: true, turns: [
    { role: "customer", text: "订单没出票？", ts: T("09:00:00"), sentiment: -0.5 },
    { role: "agent", text: "您好，马上查。", ts: T("09:00:30") },
    { role: "customer", text: "好的谢谢", ts: T("09:04:00"), sentiment: 0.5 },
    { role: "agent", text: "再见", ts: T("09:05:00") }] },
    report: { score: 80, marks: [mark(3, "pii", 0, 2)] } },
  // li, bot first then hand-off at 10:00:10; agent at 10:01:00 → FRT 50 s; last 10:11:10 → AHT 660 s; handed back; unresolved.
  { transcript: { id: "b", agent: "li", resolved: false, events: [{ type: "handoff", ts: T("10:00:10") }, { type: "handback", ts: T("10:11:00") }], turns: [
    { role: "customer", text: "我要投诉", ts: T("10:00:00"), sentiment: -0.2 },
    { role: "bot", text: "正在转接人工", ts: T("10:00:05") },
    { role: "agent", text: "请讲", ts: T("10:01:00") },
    { role: "customer", text: "太差了", ts: T("10:10:00"), sentiment: -0.9 },
    { role: "system", text: "已转回", ts: T("10:11:10") }] },
    report: { score: 50, marks: [mark(2, "greeting", 0, 2), mark(3, "resolution", 0, 3)] } },
  // wang, next day 01:30 UTC (09h Beijing, 2026-12-02): FRT 20 s, AHT 120 s, transferred; resolved not recorded →
  // from the report: no resolution mark → resolved.
  { transcript: { id: "c", agent: "wang", events: [{ type: "transfer", ts: T("01:31:00", "2026-12-02"), to: "zhao" }], turns: [
    { role: "customer", text: "发票怎么开", ts: T("01:30:00", "2026-12-02") },
    { role: "agent", text: "您好，可以开。", ts: T("01:30:20", "2026-12-02") },
    { role: "agent", text: "请提供邮箱", ts: T("01:32:00", "2026-12-02") }] },
    report: { score: 100, marks: [] } },
  // zhao (team south), 23:00 UTC on 12-01 → 07h Beijing on 12-02: FRT 10 s, AHT 40 s, resolved from report mark → unresolved.
  { transcript: { id: "d", agent: "zhao", turns: [
    { role: "customer", text: "Where is my order?", ts: T("23:00:00"), sentiment: 0.1 },
    { role: "agent", text: "Checking.", ts: T("23:00:10") },
    { role: "customer", text: "Still nothing?!", ts: T("23:00:40"), sentiment: -0.7 }] },
    report: { score: 33.3, marks: [mark(0, "greeting", 0, 9), mark(2, "resolution", 0, 15)] } },
  // Bot only, contained and resolved (no resolution mark); two out-of-scope questions, one repeated elsewhere.
  { transcript: { id: "e", turns: [
    { role: "customer", text: "你们有宠物寄养吗？", ts: T("12:00:00"), intent: "oos" },
    { role: "bot", text: "抱歉", ts: T("12:00:01") },
    { role: "customer", text: "可以带狗吗", ts: T("12:00:30"), intent: "oos" }] },
    report: { score: 100, marks: [] } },
  // Bot, then handed off (not contained); its oos question is the same as e's after normalisation.
  { transcript: { id: "f", agent: "wang", events: [{ type: "handoff", ts: T("13:00:05") }], turns: [
    { role: "customer", text: "你们有宠物寄养吗", ts: T("13:00:00"), intent: "oos" },
    { role: "bot", text: "为您转人工", ts: T("13:00:02") },
    { role: "agent", text: "您好", ts: T("13:00:35") }] },
    report: { score: 100, marks: [] } },
];

test("per-agent, team, day and hour figures equal the hand-computed values", () => {
  const a = analyse(fixture, { rubric });
  const li = a.agents.find((r) => r.key === "li")!;
  assert.equal(li.handled, 2);
  assert.equal(li.firstResponseS, (30 + 50) / 2);
  assert.equal(li.handleTimeS, (300 + 660) / 2);
  assert.equal(li.resolutionRate, 1 / 2);
  assert.equal(li.handBackRate, 1 / 2);
  assert.equal(li.transferRate, 0);
  assert.equal(li.qualityScore, (80 + 50) / 2);
  assert.ok(Math.abs(li.sentimentChange! - ((0.5 - -0.5) + (-0.9 - -0.2)) / 2) < 1e-12);
  assert.deepEqual(li.topMarks, [{ item: "greeting", count: 1 }, { item: "pii", count: 1 }, { item: "resolution", count: 1 }]);
  const wang = a.agents.find((r) => r.key === "wang")!;
  assert.equal(wang.handled, 2);
  assert.equal(wang.firstResponseS, (20 + 30) / 2, "c: 20 s; f: from the hand-off 13:00:05 to 13:00:35");
  assert.equal(wang.handleTimeS, (120 + 30) / 2);
  assert.equal(wang.transferRate, 1 / 2);
  assert.equal(wang.resolutionRate, 1, "c and f have no resolution mark");
  assert.equal(wang.sentimentChange, null, "no recorded sentiments and no scorer");
  const zhao = a.agents.find((r) => r.key === "zhao")!;
  assert.deepEqual([zhao.firstResponseS, zhao.handleTimeS, zhao.resolutionRate, zhao.qualityScore], [10, 40, 0, 33.3]);
  assert.ok(Math.abs(zhao.sentimentChange! - (-0.7 - 0.1)) < 1e-12);
  // Teams from the rubric's map.
  const north = a.teams.find((r) => r.key === "north")!;
  assert.equal(north.handled, 4);
  assert.equal(north.firstResponseS, (30 + 50 + 20 + 30) / 4);
  assert.equal(a.teams.find((r) => r.key === "south")!.handled, 1);
  // Days and hours in UTC+8: a 17h, b 18h on 12-01; c 09h, d 07h (its UTC day is 12-01), f 21h on 12-01.
  assert.deepEqual(a.days.map((r) => [r.key, r.handled]), [["2026-12-01", 3], ["2026-12-02", 2]]);
  assert.deepEqual(a.hours.map((r) => [r.key, r.handled]), [["07", 1], ["09", 1], ["17", 1], ["18", 1], ["21", 1]]);
  const workload = Object.fromEntries(a.workload.map((w) => [w.agent, w.byHour]));
  assert.equal(workload.li[17] + workload.li[18], 2);
  assert.equal(workload.wang[9] + workload.wang[21], 2);
  assert.equal(workload.li.reduce((s, x) => s + x, 0), 2);
});

test("coaching notes cite the marked spans; bot containment and FAQ candidates", () => {
  const a = analyse(fixture, { rubric });
  const zhaoNotes = a.coaching.filter((n) => n.agent === "zhao");
  assert.deepEqual(zhaoNotes.map((n) => n.item), ["greeting", "resolution"]);
  assert.deepEqual(zhaoNotes[0].citations, [{ conversation: "d", turn: 0, start: 0, end: 9, quote: "Where is " }]);
  assert.match(zhaoNotes[0].note, /conversation d, turn 1/);
  const liPii = a.coaching.find((n) => n.agent === "li" && n.item === "pii")!;
  assert.equal(liPii.citations[0].quote, "再见");
  assert.match(liPii.note, /会话 a 第4轮/);
  // Bot: e and b and f have bot turns; only e never reached a human.
  assert.equal(a.bot.conversations, 3);
  assert.equal(a.bot.contained, 1);
  assert.equal(a.bot.containmentRate, 1 / 3);
  assert.equal(a.bot.solvedWithoutHuman, 1);
  assert.deepEqual(a.bot.faqCandidates.map((q) => [q.count, q.conversations]), [[2, ["e", "f"]], [1, ["e"]]]);
});

// Each rubric item on small hand-made transcripts: the exact span it marks, the reason's language, and the cases
// it must leave alone (a Latin phrase inside a longer word, a masked number, a reply inside the SLA, an answered
// question, the bot's turns when the item judges agents only). Scores follow 100 × (1 − failed / judged weight).
import { test } from "node:test";
import assert from "node:assert/strict";
import { Inspector } from "../../../../src/apps/contact-centre/inspection/engine.js";
import type { EmotionScorer } from "../../../../src/apps/contact-centre/inspection/model-checks.js";
import type { RubricConfig } from "../../../../src/apps/contact-centre/inspection/rubric.js";
import type { Transcript } from "../../../../src/apps/contact-centre/inspection/transcript.js";

const at = (s: number) => Date.UTC(2026, 11, 1, 9, 0, s);
const spans = (t: Transcript, marks: { turn: number; start: number; end: number; item: string }[]) => marks.map((m) => [m.item, m.turn, t.turns[m.turn].text.slice(m.start, m.end)]);

test("promises outside policy, unanswered questions, SLA and personal data: exact spans, both languages", () => {
  const rubric: RubricConfig = { items: [
    { id: "promise", type: "policy_promise", weight: 10, phrases: { zh: ["保证全额退款"], en: ["i guarantee"] }, patterns: ["包您?满意"] },
    { id: "unanswered", type: "unanswered_question", weight: 10 },
    { id: "sla", type: "response_sla", weight: 10, max_seconds: 30 },
    { id: "pii", type: "pii_readout", weight: 10, kinds: ["id_card", "mobile"] },
    { id: "hello", type: "greeting", weight: 10, phrases: { en: ["hi"] }, roles: ["agent"] },
  ] };
  const zh: Transcript = { id: "zh", language: "zh", turns: [
    { role: "customer", text: "能退款吗？", ts: at(0) },
    { role: "bot", text: "请稍等。", ts: at(10) },
    { role: "customer", text: "我等了很久。", ts: at(12) },
    { role: "agent", text: "hi，我保证全额退款，包您满意！身份证11010519491231002X已登记，手机138****5678。", ts: at(50) },
    { role: "customer", text: "那什么时候到账呢", ts: at(55) },
  ] };
  const r = new Inspector(rubric, null).inspect(zh);
  assert.deepEqual(spans(zh, r.marks), [
    ["sla", 3, zh.turns[3].text], ["promise", 3, "保证全额退款"], ["promise", 3, "包您满意"], ["pii", 3, "11010519491231002X"], ["unanswered", 4, "那什么时候到账呢"],
  ]);
  assert.match(r.marks[0].reason, /回复用时38秒，超过30秒/, "the wait counts from the first unanswered customer turn (12 s → 50 s)");
  assert.match(r.marks.find((m) => m.item === "pii")!.reason, /身份证号/);
  assert.equal(r.score, 20, "greeting passes (hi as a word); four items of weight 10 fail out of 50");
  const en: Transcript = { id: "en", turns: [
    { role: "customer", text: "Can you refund me?", ts: at(0) },
    { role: "agent", text: "This is fine, I guarantee a refund by Friday. Your number is 13912345678.", ts: at(20) },
    { role: "customer", text: "Thanks.", ts: at(30) },
  ] };
  const e = new Inspector(rubric, null).inspect(en);
  assert.deepEqual(spans(en, e.marks), [["hello", 1, en.turns[1].text], ["promise", 1, "I guarantee"], ["pii", 1, "13912345678"]]);
  assert.equal(e.marks[0].reason, "The agent's opening turn has no greeting", "\"hi\" inside \"This\" is not a greeting");
  assert.equal(e.marks[2].reason, "Personal data read out in full (mobile number)");
});

test("model items with a stand-in scorer: rude sentence span, sentiment trajectory, resolution, KB price", () => {
  // A scorer with known outputs, so the item logic is tested apart from the classifiers.
  const scorer: EmotionScorer = {
    hostility: (s) => (s.includes("烦") || /stop/i.test(s) ? 0.95 : 0.05),
    sentiment: (s) => (s.includes("谢谢") ? 0.8 : s.includes("失望") ? -0.9 : 0),
  };
  const rubric: RubricConfig = { items: [
    { id: "rude", type: "rudeness", weight: 1, threshold: 0.8 },
    { id: "mood", type: "sentiment_trajectory", weight: 1, min_drop: 0.5 },
    { id: "resolution", type: "resolution", weight: 1, threshold: 0.3 },
    { id: "kb", type: "kb_contradiction", weight: 1, facts: [{ entity: "故宫", value: 60, aliases: ["紫禁城"] }, { entity: "天坛", value: 15 }] },
  ] };
  const t: Transcript = { id: "m", language: "zh", turns: [
    { role: "customer", text: "谢谢，请问门票多少？" },
    { role: "agent", text: "您好。你烦不烦啊！紫禁城的门票是80元，天坛门票15元，故宫餐厅人均100元。" },
    { role: "customer", text: "太失望了" },
  ] };
  const r = new Inspector(rubric, scorer).inspect(t);
  assert.deepEqual(spans(t, r.marks), [["rude", 1, "你烦不烦啊！"], ["kb", 1, "紫禁城的门票是80元"], ["mood", 2, "太失望了"], ["resolution", 2, "太失望了"]]);
  assert.match(r.marks[1].reason, /称「故宫」价格为80元，知识库为60元/);
  assert.equal(r.score, 0);
  // Rules only: the classifier items are not judged, the version says so, KB still is.
  const rules = new Inspector(rubric, null).inspect(t);
  assert.deepEqual(rules.marks.map((m) => m.item), ["kb"]);
  assert.match(rules.rubric_version, /\+rules$/);
  assert.equal(rules.score, 0);
});

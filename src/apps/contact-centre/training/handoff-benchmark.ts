// The hand-off test set and its scoring (`zhiyu desk eval --set handoff`). A seeded derivation from the data sets —
// never from the configuration's own examples — of short conversations labelled "should be handed to a human"
// or not, run through an Understander turn by turn (a conversation counts as handed off when any turn is):
//   positives: explicit requests (zh/en, generated from phrase parts the configuration does not list verbatim);
//     two out-of-scope turns in a row (clinc150 oos_test pairs in English; smp2017 non-travel domains in Chinese);
//     sensitive intents (clinc150 test report_fraud and cancel_reservation; hand-written Chinese complaints, fraud
//     reports and cancellations, held out from the configuration); strong negative emotion (customer messages of
//     anger written here, held out from the emotion seed set).
//   negatives: in-scope travel questions (kdconv-travel test-split user turns whose answer used the 门票/开放时间/地址
//     triple; the dev split may be borrowed for training);
//     a single out-of-scope turn after an in-scope one; negated requests (不用转人工); calm emotional posts
//     (clue-emotion test happiness/like); Chinese and English small talk.
// Reports precision and recall overall and the per-category rate (recall for positives, specificity for
// negatives). Licences: clinc150 CC BY 3.0, kdconv Apache-2.0; smp2017 and clue-emotion (no licence) are used here
// for testing only, as allowed.
// Leaves out: grounding failures (they need a KB answer; the KB tests cover them).
import { Rng } from "../../../core/rng.js";
import { initialDialogueState, type Understander } from "../understanding/types.js";
import { kdconvQuestions, loadClinc150, loadClueEmotion, loadSmp2017 } from "./datasets.js";

export interface HandoffCase {
  category: string;
  turns: string[];
  handoff: boolean;
}

function pick<T>(rng: Rng, items: readonly T[], n: number): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < n && pool.length > 0) out.push(pool.splice(rng.nextU32() % pool.length, 1)[0]);
  return out;
}

function combos(rng: Rng, parts: string[][], n: number, join = ""): string[] {
  const seen = new Set<string>();
  for (let tries = 0; seen.size < n && tries < n * 50; tries++) {
    seen.add(parts.map((p) => p[rng.nextU32() % p.length]).join(join).replace(/\s+/g, " ").trim());
  }
  return [...seen];
}

const ZH_SENSITIVE = [
  "你们的导游全程甩脸色，我要投诉他", "酒店跟图片完全不一样，我要投诉", "我要向你们领导反映这个问题", "这次服务太让人失望了，我要投诉",
  "有人打电话说是你们客服，让我转账退款", "我的账户被别人登录了还下了单", "我收到一条短信说我的订单异常要我点链接", "信用卡被盗刷买了你们的门票",
  "帮我把明天的订单取消掉", "行程有变，酒店订单不要了，取消吧", "我要取消刚刚下的那个订单", "取消我的一日游预订",
  "司机绕路还多收钱，必须给我个说法", "投诉一下你们的客服，态度很差", "有个自称客服的人要我的验证码", "订单我不要了，请帮我取消",
];
const ZH_ANGER = ["你们到底还管不管！等了两个小时了！", "气死我了，钱扣了票没出，骗子吧！", "这什么垃圾服务，简直是在耍我！", "我真的火大了，马上给我处理！！",
  "三次了！三次都没解决，你们是干什么吃的", "再不给我退钱我就去曝光你们！", "别再发这种模板回复了，烦死了！", "太气人了，导游把我们扔在半路就走了！",
  "what the hell, i've been waiting for two hours!", "this is outrageous, fix it right now!", "i'm absolutely furious, you charged me twice!",
  "stop sending me useless replies, i'm sick of this!"];
const CHAT_ZH = ["你好呀", "谢谢你啦", "你是机器人吗", "今天心情不错", "再见啦", "早上好"];
const CHAT_EN = ["hi there", "thanks a lot", "are you a bot?", "good morning", "bye for now", "have a nice day"];
const SMP_OOS = new Set(["cookbook", "poetry", "stock", "music", "riddle", "lottery", "novel", "calc", "translation", "video", "news", "health"]);

/** The seeded hand-off test set (same cases for the same data and seed). */
export function buildHandoffSet(dataRoot: string, seed = 1717): HandoffCase[] {
  const rng = new Rng(seed);
  const cases: HandoffCase[] = [];
  const add = (category: string, handoff: boolean, list: string[][]) => list.forEach((turns) => cases.push({ category, turns, handoff }));
  // Explicit requests, from parts (not the configuration's phrases verbatim).
  const zhReq = combos(rng, [["", "麻烦", "请", "能不能", "我想", "帮我", "快点"], ["转", "转接", "找", "换成", "接通"], ["人工", "人工客服", "真人客服", "人工服务", "你们的客服人员"],
    ["", "吧", "，谢谢", "！", "，机器人说不清楚", "，我不想跟机器聊"]], 80);
  const enReq = combos(rng, [["", "please", "can i", "i want to", "i'd like to", "let me", "could you let me"], ["talk to", "speak with", "speak to", "be transferred to", "chat with"],
    ["a human", "a real person", "an agent", "a live agent", "a representative", "a human being"], ["", " please", " now", ", this bot is useless", "?"]], 80, " ");
  add("explicit_request", true, [...zhReq, ...enReq].map((t) => [t]));
  // Two out-of-scope turns in a row (positive) and a single one after an in-scope turn (negative).
  const clinc = loadClinc150(dataRoot);
  const oosEn = pick(rng, clinc.oosTest.map((e) => e.text), 300);
  const smp = loadSmp2017(dataRoot);
  const oosZh = pick(rng, [...smp.train, ...smp.val, ...smp.test].filter((e) => SMP_OOS.has(e.label)).map((e) => e.text), 300);
  const inScope = kdconvQuestions(dataRoot, "test.json").map((e) => e.text);
  const inZh = pick(rng, inScope, 240);
  const pairs = (xs: string[]) => Array.from({ length: Math.floor(xs.length / 2) }, (_, i) => [xs[2 * i], xs[2 * i + 1]]);
  add("out_of_scope_twice", true, [...pairs(oosEn.slice(0, 160)), ...pairs(oosZh.slice(0, 160))]);
  add("out_of_scope_once", false, [...oosEn.slice(160, 220).map((t, i) => [inZh[i], t]), ...oosZh.slice(160, 220).map((t, i) => [inZh[60 + i], t])]);
  // Sensitive intents.
  const sensitiveEn = clinc.test.filter((e) => e.label === "report_fraud" || e.label === "cancel_reservation").map((e) => e.text);
  add("sensitive_intent", true, [...sensitiveEn, ...ZH_SENSITIVE].map((t) => [t]));
  // Strong negative emotion.
  add("strong_emotion", true, ZH_ANGER.map((t) => [t]));
  // Negatives: in-scope questions, negated requests, calm posts, small talk.
  add("in_scope", false, inZh.slice(120, 240).map((t) => [t]));
  add("negated_request", false, combos(rng, [["不用", "不需要", "先不用", "暂时不用"], ["转人工", "找人工客服", "转接人工"], ["", "，我自己看看", "，谢谢"]], 20).map((t) => [t])
    .concat(["no need for a human, thanks", "i don't need an agent, just the opening hours", "don't need a representative"].map((t) => [t])));
  const clue = loadClueEmotion(dataRoot);
  add("calm_emotion", false, pick(rng, clue.test.filter((e) => e.label === "happiness" || e.label === "like").map((e) => e.text), 80).map((t) => [t]));
  add("small_talk", false, [...CHAT_ZH, ...CHAT_EN].map((t) => [t]));
  return cases;
}

export interface HandoffResult {
  set: "handoff";
  precision: number;
  recall: number;
  accuracy: number;
  test_size: number;
  /** Share of each category's conversations decided as labelled. */
  categories: Record<string, { n: number; correct: number }>;
}

export function runHandoffBenchmark(brain: Understander, dataRoot: string): HandoffResult {
  const cases = buildHandoffSet(dataRoot);
  let tp = 0, fp = 0, fn = 0, tn = 0;
  const categories: Record<string, { n: number; correct: number }> = {};
  for (const c of cases) {
    let state = initialDialogueState();
    let handed = false;
    for (const text of c.turns) {
      const u = brain.understandTurn({ text, history: [] }, state);
      state = u.nextState;
      handed ||= u.handoff;
    }
    if (handed && c.handoff) tp++;
    else if (handed) fp++;
    else if (c.handoff) fn++;
    else tn++;
    const cat = (categories[c.category] ??= { n: 0, correct: 0 });
    cat.n++;
    if (handed === c.handoff) cat.correct++;
  }
  const r = (x: number) => Math.round(x * 10000) / 10000;
  return {
    set: "handoff", precision: r(tp / Math.max(1, tp + fp)), recall: r(tp / Math.max(1, tp + fn)), accuracy: r((tp + tn) / cases.length),
    test_size: cases.length, categories,
  };
}

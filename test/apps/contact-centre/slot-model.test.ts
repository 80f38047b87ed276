// The desk's learned slot tagging (understanding/slot-tagger.ts, understanding.slot_model): the word split and the
// BIO → character-span reading on hand cases; the CrossWOZ set's alignment rule on a hand-made dialogue (gold from
// the rule as written: spans, absent and ambiguous values); then through the desk's understanding with the default
// configuration and the shipped models/zhiyu-slots-crosswoz, on real turns of CrossWOZ's test split (gold values
// from their dialog acts, Apache-2.0): the model adds the slots the configured matchers miss, and the configuration
// wins where both fill a slot; a configuration without slot_model, or naming a missing folder, uses the matchers only.
// Named entities for the KB check: a name the turn writes (read by the BIO-constrained decoding as one span), not a
// carried-over one.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { loadConfig } from "../../../src/apps/contact-centre/config.js";
import { slotSentences } from "../../../src/apps/contact-centre/training/crosswoz-slots.js";
import { slotWords, spansFromTags } from "../../../src/apps/contact-centre/understanding/slot-tagger.js";
import { loadUnderstander } from "../../../src/apps/contact-centre/understanding/understand.js";
import { namedEntities } from "../../../src/apps/contact-centre/understanding/slots.js";
import { initialDialogueState } from "../../../src/apps/contact-centre/understanding/types.js";

test("slotWords: Han characters one by one, Latin and digit runs whole, punctuation alone, spaces dropped", () => {
  const w = slotWords("评分4.5分以上, 有wifi的酒店");
  assert.deepEqual(w.words, ["评", "分", "4", ".", "5", "分", "以", "上", ",", "有", "wifi", "的", "酒", "店"]);
  assert.equal(w.starts[10], 11);
  assert.equal(w.ends[10], 15);
});

test("spansFromTags: BIO over words back to character spans (an I- that starts a new type opens a span)", () => {
  const text = "从北京饭店到故宫";
  const w = slotWords(text);
  const tags = ["O", "B-departure", "I-departure", "I-departure", "I-departure", "O", "I-destination", "I-destination"];
  assert.deepEqual(spansFromTags(text, w, tags), [
    { type: "departure", start: 1, end: 5, value: "北京饭店" },
    { type: "destination", start: 6, end: 8, value: "故宫" },
  ]);
});

test("the CrossWOZ alignment rule: values found once become spans, absent ones are counted, an ambiguous one drops the turn", () => {
  const { sentences, counts } = slotSentences({
    d1: { messages: [
      { role: "usr", content: "我想找评分4.5分以上的餐馆，人均消费不要太贵。", dialog_act: [["Inform", "餐馆", "评分", "4.5分以上"], ["Inform", "餐馆", "人均消费", "50-100元"], ["Request", "餐馆", "名称", ""]] },
      { role: "sys", content: "推荐全聚德。", dialog_act: [["Recommend", "餐馆", "名称", "全聚德"]] },
      { role: "usr", content: "故宫和故宫附近的酒店", dialog_act: [["Inform", "景点", "名称", "故宫"]] },
    ] },
  });
  assert.equal(sentences.length, 1);
  assert.deepEqual(sentences[0]!.tags.slice(3, 11), ["O", "O", "B-rating", "I-rating", "I-rating", "I-rating", "I-rating", "I-rating"]);
  assert.deepEqual(counts.skipped, { absent: 1, ambiguous: 1, cutsWord: 0, overlap: 0 });
  assert.equal(counts.droppedTurns, 1);
  assert.deepEqual(counts.spans, { rating: 1 });
});

test("through the desk: the shipped slot model adds the slots the configuration misses, and the configuration wins", () => {
  const brain = loadUnderstander(loadConfig());
  const turn = (text: string) => brain.understandTurn({ text, history: [] }, initialDialogueState());
  // A user turn of CrossWOZ's test split and its Inform acts (景点/名称 国家大剧院 — not among the configured
  // attractions —, 餐馆/推荐菜 糖醋排骨, 餐馆/评分 4.5分以上); the model's figure on a whole slice is the shipped-models test's.
  const u = turn(REAL_TURN.text);
  for (const [slot, value] of Object.entries(REAL_TURN.gold)) assert.equal(u.slots[slot], value, `${slot} in ${JSON.stringify(u.slots)}`);
  assert.ok(u.taggedSlots.includes("attraction"));
  // 紫禁城 is a configured synonym of 故宫: the configuration's canonical value stays, the model adds the rest.
  const v = turn("紫禁城周边有评分4.5分以上的餐馆吗？");
  assert.equal(v.slots.attraction, "故宫");
  assert.ok(!v.taggedSlots.includes("attraction"));
  assert.equal(v.slots.rating, "4.5分以上");
  // The tagger knows Chinese only: an English turn gets the matchers alone.
  assert.deepEqual(turn("how much is a ticket to the summer palace").taggedSlots, []);
});

test("without understanding.slot_model, or with a missing folder, slots come from the configured matchers only", () => {
  const config = loadConfig();
  const text = REAL_TURN.text;
  const off = loadUnderstander({ ...config, understanding: { ...config.understanding, slot_model: undefined } });
  assert.deepEqual(off.understandTurn({ text, history: [] }, initialDialogueState()).taggedSlots, []);
  const notes: string[] = [];
  const missing = loadUnderstander({ ...config, understanding: { ...config.understanding, slot_model: path.resolve("no-such-model") } }, { onNote: (n) => notes.push(n) });
  assert.deepEqual(missing.understandTurn({ text, history: [] }, initialDialogueState()).taggedSlots, []);
  assert.match(notes.join("\n"), /no slot-tagging model at .*no-such-model/);
});

const REAL_TURN = {
  text: "请在国家大剧院周边的餐馆里给我推荐一评分4.5分以上的有糖醋排骨这道菜的餐馆用餐。",
  gold: { attraction: "国家大剧院", dish: "糖醋排骨", rating: "4.5分以上" } as Record<string, string>,
};

test("a place the turn names reaches the KB check whole and not carried; a carried one does not", () => {
  const config = loadConfig();
  const brain = loadUnderstander(config);
  const first = brain.understandTurn({ text: "故宫门票多少钱？", history: [] }, initialDialogueState());
  const u = brain.understandTurn({ text: "我想去北京欢乐谷，从天安门出发怎么走？", history: [] }, first.nextState);
  // The tagger's per-word argmax read "北" / "京欢" / "乐谷" of changing types; the BIO-constrained reading gives one name.
  const named = namedEntities(u.slots, u.carriedSlots, config.knowledge_base.entity_slots, config.slots, null);
  assert.ok(named.some((s) => s.includes("北京欢乐谷")), JSON.stringify({ slots: u.slots, named }));
  assert.ok(!named.some((s) => s.includes("故宫")), "the carried-over 故宫 is not a name of this turn");
  const follow = brain.understandTurn({ text: "那它几点关门？", history: [] }, first.nextState);
  assert.deepEqual(namedEntities(follow.slots, follow.carriedSlots, config.knowledge_base.entity_slots, config.slots, null), []);
  const own = brain.understandTurn({ text: "紫禁城几点关门？", history: [] }, initialDialogueState());
  assert.deepEqual(namedEntities(own.slots, own.carriedSlots, ["attraction"], config.slots, ["attraction", "date"])[0]?.slice(0, 3), ["故宫", "故宫博物院", "紫禁城"]);
  // An intent that does not use the configured slot (hotel booking: "near 故宫") does not make it the subject.
  assert.deepEqual(namedEntities(own.slots, own.carriedSlots, ["attraction"], config.slots, []), []);
});

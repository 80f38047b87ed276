// The slot gazetteer beside the learned tagger (understanding/slot-gazetteer.ts): longest match first from each word
// start, on word boundaries; the join with the model's spans (the gazetteer answers for its types only, the overlap
// rule's winner first); a bad gazetteer.json is refused naming the file and the field. Hand cases: the expected
// spans follow from the rules as written.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { SlotGazetteer, type GazetteerDoc } from "../../../src/apps/contact-centre/understanding/slot-gazetteer.js";

const doc = (types: string[], modelWins: boolean): GazetteerDoc => ({
  format: "zhiyu-slot-gazetteer", version: 1, types, model_wins_overlaps: modelWins,
  entries: [["故宫", "attraction"], ["故宫博物院", "attraction"], ["北京饭店", "hotel"], ["北京", "destination"], ["wifi", "dish"], ["wi", "dish"]],
});

test("match: longest entry first from each word start, only on word boundaries, left to right", () => {
  const g = new SlotGazetteer(doc([], true));
  const text = "从北京饭店到故宫博物院, 有wifi吗";
  assert.deepEqual(g.match(text).map((s) => [s.type, s.value, s.start, s.end]),
    [["hotel", "北京饭店", 1, 5], ["attraction", "故宫博物院", 6, 11], ["dish", "wifi", 14, 18]]);
  // "wi" would cut the Latin word "wifis": no match there.
  assert.deepEqual(g.match("wifis").map((s) => s.value), []);
});

test("join: the gazetteer's types from it, the rest from the model; the overlap rule decides conflicts", () => {
  const text = "从北京饭店到故宫";
  const model = [
    { type: "departure", value: "北京饭店", start: 1, end: 5 },
    { type: "attraction", value: "故", start: 6, end: 7 }, // an attraction from the model is dropped: the gazetteer answers for it
  ];
  const modelWins = new SlotGazetteer(doc(["attraction", "hotel"], true)).join(text, model);
  assert.deepEqual(modelWins.map((s) => [s.type, s.value]), [["departure", "北京饭店"], ["attraction", "故宫"]]);
  const gazetteerWins = new SlotGazetteer(doc(["attraction", "hotel"], false)).join(text, model);
  assert.deepEqual(gazetteerWins.map((s) => [s.type, s.value]), [["hotel", "北京饭店"], ["attraction", "故宫"]]);
  // No gazetteer types: the model's spans unchanged.
  assert.deepEqual(new SlotGazetteer(doc([], true)).join(text, model), model);
});

test("load: a bad gazetteer.json names the file and the field", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "slot-gazetteer-"));
  try {
    const file = path.join(dir, "gazetteer.json");
    const put = (x: unknown) => { writeFileSync(file, typeof x === "string" ? x : JSON.stringify(x)); return file; };
    assert.equal(SlotGazetteer.load(put(doc(["hotel"], true))).types.has("hotel"), true);
    assert.throws(() => SlotGazetteer.load(put("{")), /gazetteer\.json: not valid JSON/);
    assert.throws(() => SlotGazetteer.load(put({ ...doc([], true), version: 2 })), /gazetteer\.json: unsupported format zhiyu-slot-gazetteer v2/);
    assert.throws(() => SlotGazetteer.load(put({ ...doc([], true), model_wins_overlaps: "yes" })), /field model_wins_overlaps must be true or false/);
    assert.throws(() => SlotGazetteer.load(put({ ...doc([], true), entries: [["故宫"]] })), /entries\[0\] must be \[value, type\] strings/);
    assert.throws(() => SlotGazetteer.load(path.join(dir, "none.json")), /none\.json: not found/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

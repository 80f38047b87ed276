// Per-turn understanding with the default configuration and the models it ships: Chinese and English task turns,
// a follow-up that omits the entity (那它几点关门? after a question about 故宫), an elliptical follow-up that keeps the
// intent, small talk, explicit requests for a person (转人工, "talk to a person") and their negation, a sensitive
// intent, two out-of-scope turns in a row; and `zhiyu desk route --json` end to end on JSONL with history.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { loadConfig } from "../../../src/apps/contact-centre/config.js";
import { loadUnderstander } from "../../../src/apps/contact-centre/understanding/understand.js";
import { initialDialogueState, type DialogueState, type Understanding } from "../../../src/apps/contact-centre/understanding/types.js";

const config = loadConfig();
const notes: string[] = [];
const brain = loadUnderstander(config, { onNote: (n) => notes.push(n) });

function conversation(texts: string[]): Understanding[] {
  let state: DialogueState = initialDialogueState();
  return texts.map((text) => {
    const u = brain.understandTurn({ text, history: [] }, state);
    state = u.nextState;
    return u;
  });
}

test("the shipped models match the default configuration (no in-memory retraining)", () => {
  assert.deepEqual(notes, []);
});

test("a Chinese follow-up that omits the entity resolves against the dialogue state", () => {
  const [first, second, third] = conversation(["故宫门票多少钱?", "那它几点关门?", "那颐和园呢?"]);
  assert.equal(first.intent, "ticket_price");
  assert.deepEqual(first.slots, { attraction: "故宫" });
  assert.equal(second.intent, "opening_hours");
  assert.deepEqual(second.slots, { attraction: "故宫" });
  assert.deepEqual(second.carriedSlots, ["attraction"]);
  assert.equal(third.intent, "opening_hours", "an entity-only follow-up keeps the last intent");
  assert.equal(third.slots.attraction, "颐和园");
  assert.equal(second.handoff || third.handoff, false);
});

test("English turns, with carried-over entities", () => {
  const [a, b] = conversation(["how much is a ticket to the summer palace", "when does it close?"]);
  assert.equal(a.intent, "ticket_price");
  assert.equal(a.language, "en");
  assert.equal(b.intent, "opening_hours");
  assert.equal(b.slots.attraction, "颐和园");
});

test("explicit requests for a person hand off; a negated one does not", () => {
  for (const text of ["转人工", "帮我转人工客服", "I want to talk to a person", "can I speak to a human agent please"]) {
    const [u] = conversation([text]);
    assert.equal(u.handoff, true, text);
    assert.equal(u.handoffReason, "explicit_request", text);
    assert.equal(u.handoffPriority, "high");
  }
  const [u] = conversation(["不用转人工，我自己看看"]);
  assert.equal(u.explicitRequest, false);
});

test("small talk is its own route; sensitive intents and two out-of-scope turns hand off", () => {
  const [hi] = conversation(["你好"]);
  assert.equal(hi.smallTalk, "greeting");
  assert.equal(hi.handoff, false);
  const [complaint] = conversation(["我要投诉你们的导游"]);
  assert.equal(complaint.intent, "complaint");
  assert.equal(complaint.handoffReason, "intent");
  const [o1, o2] = conversation(["帮我解一道微积分题", "what is the capital of peru"]);
  assert.equal(o1.outOfScope, true);
  assert.equal(o1.handoff, false, "one out-of-scope turn is not enough");
  assert.equal(o2.outOfScope, true);
  assert.equal(o2.handoffReason, "low_confidence");
});

test("zhiyu desk route --json reads JSONL with history and writes one object per line", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "desk-route-"));
  try {
    const input = path.join(dir, "turns.jsonl");
    writeFileSync(input, [
      { text: "那它几点关门?", history: [{ role: "user", content: "故宫门票多少钱?" }, { role: "assistant", content: "成人60元。" }] },
      { text: "转人工" },
      { text: "I want to talk to a person" },
    ].map((o) => JSON.stringify(o)).join("\n") + "\n{bad json\n");
    const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "desk", "route", "--input-jsonl", input, "--json"], { encoding: "utf8" });
    assert.equal(r.status, 1, "a bad line makes the exit code 1");
    assert.match(r.stderr, /turns\.jsonl:4: /);
    const lines = r.stdout.trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.equal(lines.length, 3);
    for (const l of lines) for (const k of ["intent", "confidence", "out_of_scope", "emotion", "handoff", "handoff_reason"]) assert.ok(k in l, k);
    assert.equal(lines[0].intent, "opening_hours");
    assert.deepEqual(lines[0].slots, { attraction: "故宫" });
    assert.equal(lines[1].handoff, true);
    assert.equal(lines[1].handoff_reason, "explicit_request");
    assert.equal(lines[2].handoff_reason, "explicit_request");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

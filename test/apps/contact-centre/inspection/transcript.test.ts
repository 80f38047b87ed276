// Reading transcripts: ../shared/data/abcd-sample loads as-is (the ABCD shape), JSONL and CSV in the documented
// format, and malformed records (not JSON, not UTF-8, missing or unknown role, timestamps out of order) reported
// with their line numbers while the rest of the file is still read.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { readTranscripts, transcriptLanguage } from "../../../../src/apps/contact-centre/inspection/transcript.js";

test("the ABCD sample's dialogues load as-is, with agent/customer/action roles", () => {
  const file = "../shared/data/abcd-sample/abcd_sample.json";
  const raw = JSON.parse(readFileSync(file, "utf8")) as { convo_id: number; original: [string, string][] }[];
  const { transcripts, problems } = readTranscripts(readFileSync(file), file);
  assert.deepEqual(problems, []);
  assert.equal(transcripts.length, raw.length);
  transcripts.forEach(({ transcript: t }, i) => {
    assert.equal(t.id, String(raw[i].convo_id));
    assert.equal(t.turns.length, raw[i].original.length);
    assert.deepEqual(t.turns.map((x) => x.text), raw[i].original.map((p) => p[1]));
    const expectRole = (s: string) => (s === "action" ? "system" : s);
    assert.deepEqual(t.turns.map((x) => x.role), raw[i].original.map((p) => expectRole(p[0])));
    assert.equal(transcriptLanguage(t), "en");
  });
});

test("JSONL: bad lines are reported with their line numbers, the rest is read", () => {
  const good = (id: string) => JSON.stringify({ id, agent: "li", turns: [{ role: "customer", text: "故宫门票多少钱？", ts: "2026-12-01T10:00:00Z" }, { role: "agent", text: "您好，60元。", ts: "2026-12-01T10:00:20Z" }] });
  const lines = [
    good("a"),
    "{not json",
    JSON.stringify({ id: "c", turns: [{ text: "no role" }] }),
    JSON.stringify({ id: "d", turns: [{ role: "customer", text: "x", ts: "2026-12-01T10:00:20Z" }, { role: "agent", text: "y", ts: "2026-12-01T10:00:00Z" }] }),
    JSON.stringify({ id: "e", turns: [{ role: "robot", text: "x" }] }),
    "",
    good("g"),
  ];
  const bytes = Buffer.concat([Buffer.from(lines.join("\n") + "\n", "utf8"), Buffer.from([0xff, 0xfe, 0x7b, 0x0a]), Buffer.from(good("i") + "\n")]);
  const { transcripts, problems } = readTranscripts(bytes, "t.jsonl");
  assert.deepEqual(transcripts.map((t) => [t.transcript.id, t.line]), [["a", 1], ["g", 7], ["i", 9]]);
  assert.deepEqual(problems.map((p) => p.line), [2, 3, 4, 5, 8]);
  assert.match(problems[0].error, /not valid JSON/);
  assert.match(problems[1].error, /turns\[0\]\.role: missing role/);
  assert.match(problems[2].error, /turns\[1\]\.ts .* out of order/);
  assert.match(problems[3].error, /unknown role "robot"/);
  assert.match(problems[4].error, /not UTF-8/);
  assert.equal(transcripts[0].transcript.turns[1].ts, Date.parse("2026-12-01T10:00:20Z"));
});

test("CSV: one turn per row, quoted fields across lines, a bad row skips its conversation with the line number", () => {
  const csv = [
    "conversation_id,role,text,ts,agent,team",
    'c1,customer,"你好，""故宫""门票",2026-12-01T10:00:00Z,li,a',
    'c1,agent,"您好，',
    '60元。",2026-12-01T10:00:10Z,li,a',
    "c2,customer,hi,2026-12-01T11:00:00Z,wang,b",
    "c2,,hello,2026-12-01T11:00:05Z,wang,b",
    "c3,customer,where is my order?,2026-12-01T12:00:00Z,wang,b",
  ].join("\n");
  const { transcripts, problems } = readTranscripts(Buffer.from(csv), "t.csv");
  assert.deepEqual(transcripts.map((t) => t.transcript.id), ["c1", "c3"]);
  const c1 = transcripts[0].transcript;
  assert.equal(c1.turns[0].text, '你好，"故宫"门票');
  assert.equal(c1.turns[1].text, "您好，\n60元。");
  assert.equal(c1.agent, "li");
  assert.equal(c1.team, "a");
  assert.deepEqual(problems.map((p) => p.line), [5, 6]);
  assert.match(problems.find((p) => p.line === 6)!.error, /missing role/);
  assert.match(problems.find((p) => p.line === 5)!.error, /conversation c2 skipped/);
});

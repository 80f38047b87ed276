// Document search: BM25 over a temp folder of Chinese and English files, with known answers — 上海交通大学 finds only
// the text about the university (not texts that merely mention 上海, 交通 and 大学 apart), user-dictionary words
// stay whole in the Intl fallback too, incremental re-indexing by mtime and hash, and the index persisting in SQLite.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, utimesSync, writeFileSync, unlinkSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { DocumentIndex, splitPassages } from "../../src/tools/search.js";
import { createSegmenter } from "../../src/tools/segmenter.js";

let dir: string;
let docs: string;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-search-"));
  docs = path.join(dir, "docs");
  const files: Record<string, string> = {
    "university.md": "# 学校介绍\n\n上海交通大学是一所位于上海的著名大学，创建于1896年。",
    "traffic.md": "上海的交通很拥堵，很多大学生每天坐地铁上学。交通部门正在想办法。",
    "service/hours.txt": "客服工作时间是每天九点到十八点。\n\n发货通常在下单后48小时内完成，节假日顺延。",
    "refund.txt": "Refunds are processed within 7 days after we receive the returned item.",
    "notes/ignored.bin": "not a text file",
  };
  for (const [name, text] of Object.entries(files)) {
    const p = path.join(docs, name);
    mkdirSync(path.dirname(p), { recursive: true });
    writeFileSync(p, text);
  }
});
after(() => rmSync(dir, { recursive: true, force: true }));

test("passages: one per paragraph, short ones attach to the next, long ones cut at sentence ends", () => {
  assert.deepEqual(splitPassages("# Title\n\nFirst paragraph here.\n\nSecond paragraph here."),
    ["# Title\nFirst paragraph here.", "Second paragraph here."]);
  const long = "句子。".repeat(300);
  const parts = splitPassages(`a\n\n${long}`);
  assert.ok(parts[0].startsWith("a\n句子。"));
  assert.ok(parts.every((p) => p.length <= 400));
  assert.equal(parts.join("").replace(/\n/g, ""), "a" + long);
});

test("Chinese queries find the right passages (jieba + user dictionary)", () => {
  const index = new DocumentIndex({ dbPath: ":memory:", userWords: ["客服", "发货"] });
  const r = index.indexFolder(docs);
  assert.deepEqual(r, { added: 4, updated: 0, unchanged: 0, removed: 0, passages: 5 });
  const uni = index.search("上海交通大学");
  assert.deepEqual(uni.map((h) => h.path), ["university.md"], "only the university, not texts with 上海/交通/大学 apart");
  assert.equal(index.search("什么时候发货")[0].path, "service/hours.txt");
  assert.equal(index.search("什么时候发货")[0].passage, 1);
  assert.equal(index.search("客服几点上班")[0].path, "service/hours.txt");
  assert.equal(index.search("交通拥堵")[0].path, "traffic.md");
  assert.equal(index.search("refunds processed")[0].path, "refund.txt");
  assert.deepEqual(index.search("量子计算"), []);
  index.close();
});

test("Intl.Segmenter fallback keeps user-dictionary words whole", () => {
  const seg = createSegmenter({ forceIntl: true, userWords: ["客服", "发货"] });
  assert.equal(seg.kind, "intl");
  assert.ok(seg.cut("帮我转人工客服").includes("客服"));
  assert.ok(seg.cut("这个订单什么时候发货").includes("发货"));
  const index = new DocumentIndex({ dbPath: ":memory:", userWords: ["客服", "发货"], forceIntlSegmenter: true });
  index.indexFolder(docs);
  assert.equal(index.search("客服")[0].path, "service/hours.txt");
  assert.equal(index.search("发货")[0].passage, 1);
  index.close();
});

test("incremental re-indexing by mtime and content hash; the index persists", () => {
  const db = path.join(dir, "index.sqlite");
  let index = new DocumentIndex({ dbPath: db, userWords: ["客服"] });
  assert.equal(index.indexFolder(docs).added, 4);
  index.close();
  index = new DocumentIndex({ dbPath: db, userWords: ["客服"] });
  assert.deepEqual(index.indexFolder(docs), { added: 0, updated: 0, unchanged: 4, removed: 0, passages: 0 });
  assert.equal(index.search("上海交通大学")[0].path, "university.md");
  // Same content, new mtime: only the hash is compared, nothing re-indexed.
  const future = new Date(Date.now() + 60_000);
  utimesSync(path.join(docs, "refund.txt"), future, future);
  assert.deepEqual(index.indexFolder(docs), { added: 0, updated: 0, unchanged: 4, removed: 0, passages: 0 });
  // New content: re-indexed; a deleted file leaves the index; a new file is added.
  writeFileSync(path.join(docs, "refund.txt"), "退款会在七个工作日内原路退回。");
  unlinkSync(path.join(docs, "traffic.md"));
  writeFileSync(path.join(docs, "new.md"), "会员卡积分可以兑换礼品。");
  const r = index.indexFolder(docs);
  assert.deepEqual({ ...r, passages: undefined }, { added: 1, updated: 1, unchanged: 2, removed: 1, passages: undefined });
  assert.equal(index.search("退款")[0].path, "refund.txt");
  assert.deepEqual(index.search("refunds"), []);
  assert.ok(!index.search("交通拥堵").some((h) => h.path === "traffic.md"));
  assert.equal(index.search("积分兑换")[0].path, "new.md");
  index.close();
  // A different user dictionary invalidates the terms: everything is indexed again.
  index = new DocumentIndex({ dbPath: db, userWords: ["客服", "积分兑换"] });
  assert.equal(index.indexFolder(docs).added, 4);
  index.close();
});

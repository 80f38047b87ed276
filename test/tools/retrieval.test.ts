// Retrieval mode (src/tools/retrieval.ts, `zhiyu chat --docs DIR` without --tools): the best BM25 passages for
// the newest user message go into that message only, in the question's language; and the CLI says which passages
// it used.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { DocumentIndex } from "../../src/tools/search.js";
import { withRetrievedPassages } from "../../src/tools/retrieval.js";

function faqFolder(): string {
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-faq-"));
  mkdirSync(dir, { recursive: true });
  writeFileSync(path.join(dir, "退货.md"), "# 退货政策\n\n收到商品后七天内可以无理由退货，运费由买家承担。\n");
  writeFileSync(path.join(dir, "配送.md"), "# 配送说明\n\n上海市内订单当天发货，一般次日送达。\n");
  return dir;
}

test("withRetrievedPassages: the newest question carries the best passage; earlier turns stay as typed", () => {
  const dir = faqFolder();
  const index = new DocumentIndex({ dbPath: ":memory:" });
  try {
    index.indexFolder(dir);
    const messages = [{ role: "system", content: "你是客服。" }, { role: "user", content: "你好" }, { role: "assistant", content: "您好" },
      { role: "user", content: "怎么退货？" }];
    const r = withRetrievedPassages(index, messages);
    assert.equal(r.hits[0]!.path, "退货.md");
    assert.deepEqual(r.messages.slice(0, 3), messages.slice(0, 3));
    const last = r.messages[3]!.content!;
    assert.match(last, /^根据以下资料回答问题。/);
    assert.match(last, /\[1\] \(退货\.md\) [^\n]*七天内可以无理由退货/);
    assert.match(last, /问题：怎么退货？$/);
    assert.equal(messages[3]!.content, "怎么退货？", "the caller's history is not changed");
  } finally {
    index.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("chat --docs DIR without --tools: retrieval mode, says which passages it used", () => {
  const dir = faqFolder();
  try {
    const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "chat", "--docs", dir, "--max-tokens", "8", "--temperature", "0"],
      { input: "怎么退货？\n", encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /retrieval over .* \(\d+ passages; 2 files added/);
    assert.match(r.stderr, /passages: 退货\.md §1/);
    assert.doesNotMatch(r.stderr, /not trained to call tools/, "no tools, so no tools warning");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

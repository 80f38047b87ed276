// The contact-centre knowledge base: import of every file type (Markdown, text, HTML, PDF, DOCX, FAQ CSV and JSONL —
// the PDF and DOCX built as real files by make-files.ts), answers with citations, a follow-up completed from the
// dialogue's slots, the not-confident path that offers a human, bad input (oversized, non-UTF-8, corrupt PDF/DOCX,
// a malformed FAQ row) reported by file name with nothing already indexed lost, incremental re-import and removal,
// hybrid ranking with an injected embedder, and the grounding check on generated replies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { KnowledgeBase } from "../../../src/apps/contact-centre/kb/knowledge-base.js";
import { checkGrounding, chineseNumeral } from "../../../src/apps/contact-centre/kb/grounding.js";
import type { Embedder } from "../../../src/apps/contact-centre/kb/types.js";
import type { KnowledgeBaseConfig } from "../../../src/apps/contact-centre/config.js";
import { makeDocx, makePdf } from "./make-files.js";

const CONFIG: KnowledgeBaseConfig = {
  folders: [], user_words: ["故宫", "转人工"], max_file_bytes: 64 * 1024, chunk_chars: 200, confidence_threshold: 0.3, dense_weight: 0.4, top_k: 3, entity_slots: [],
};

function folderWithEveryType(): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), "desk-kb-"));
  const kb = path.join(dir, "kb");
  mkdirSync(kb);
  writeFileSync(path.join(kb, "hours.md"), "# 开放时间\n\n故宫旺季8:30-17:00开放，周一闭馆。\n\n## 门票\n\n故宫旺季门票60元，淡季40元。\n");
  writeFileSync(path.join(kb, "parking.txt"), "停车场每小时收费15元，24小时营业。\n");
  writeFileSync(path.join(kb, "wifi.html"), "<html><body><h1>Wi-Fi</h1><p>The free Wi-Fi network is <b>ZhiyuGuest</b>, password travel2024.</p><script>var x=1</script></body></html>");
  writeFileSync(path.join(kb, "luggage.pdf"), makePdf(["Luggage storage costs 20 yuan per bag per day.", "Bags are kept for at most 7 days."]));
  writeFileSync(path.join(kb, "pets.docx"), makeDocx(["宠物政策：导盲犬可以进入景区。", "其他宠物不能入内。"]));
  writeFileSync(path.join(kb, "faq.csv"), 'question,answer\n发票怎么开？,"订单完成后在我的订单里申请电子发票，3个工作日内发到邮箱。"\n退款多久到账？,退款1-7个工作日原路退回。\n');
  writeFileSync(path.join(kb, "faq-en.jsonl"), '{"question": "Do you accept credit cards?", "answer": "Yes, we accept Visa and Mastercard."}\n');
  return dir;
}

test("imports Markdown, text, HTML, PDF, DOCX and FAQ CSV/JSONL and answers with citations", async () => {
  const dir = folderWithEveryType();
  const kb = await KnowledgeBase.open({ config: CONFIG });
  try {
    const report = await kb.importFolder(path.join(dir, "kb"));
    assert.deepEqual(report.errors, []);
    assert.equal(report.added, 7);
    assert.deepEqual(kb.documents(), ["kb/faq-en.jsonl", "kb/faq.csv", "kb/hours.md", "kb/luggage.pdf", "kb/parking.txt", "kb/pets.docx", "kb/wifi.html"]);
    const cases: [string, string, RegExp][] = [
      ["故宫门票多少钱", "kb/hours.md", /60元/],
      ["停车怎么收费", "kb/parking.txt", /15元/],
      ["what is the wifi password", "kb/wifi.html", /travel2024/],
      ["how much is luggage storage", "kb/luggage.pdf", /20 yuan per bag/],
      ["可以带宠物吗", "kb/pets.docx", /导盲犬/],
      ["发票怎么开", "kb/faq.csv", /^订单完成后/],
      ["do you take credit cards", "kb/faq-en.jsonl", /^Yes, we accept Visa/],
    ];
    for (const [q, doc, text] of cases) {
      const a = await kb.answer(q);
      assert.equal(a.confident, true, q);
      assert.equal(a.citations[0].doc, doc, q);
      assert.match(a.text, text, q);
      assert.ok(a.citations[0].score > 0 && a.citations[0].score <= 1);
    }
    assert.doesNotMatch((await kb.answer("what is the wifi password")).citations[0].text, /var x/, "scripts are stripped");
  } finally {
    kb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a follow-up that omits the entity is completed from the slots; nothing relevant → not confident, offers a human", async () => {
  const dir = folderWithEveryType();
  const kb = await KnowledgeBase.open({ config: CONFIG });
  try {
    await kb.importFolder(path.join(dir, "kb"));
    const a = await kb.answer("那它几点关门?", { slots: { attraction: "故宫" }, language: "zh" });
    assert.equal(a.query, "那它几点关门? 故宫");
    assert.equal(a.citations[0].doc, "kb/hours.md");
    const none = await kb.answer("火星上的天气怎么样", { language: "zh" });
    assert.equal(none.confident, false);
    assert.equal(none.handoff, true);
    assert.match(none.text, /人工/);
    const en = await kb.answer("quantum chromodynamics lecture notes", { language: "en" });
    assert.match(en.text, /talk to a person/);
  } finally {
    kb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("an entity the turn names must be in the answering passage: another entity's passage that shares the words is not an answer", async () => {
  const dir = folderWithEveryType();
  const kb = await KnowledgeBase.open({ config: CONFIG });
  try {
    await kb.importFolder(path.join(dir, "kb"));
    // 故宫's hours share 开放/几点 with the question, and 故宫 is still carried over from the last turn.
    const q = "欢乐谷旺季开放时间，周一闭馆吗？";
    const unchecked = await kb.answer(q, { slots: { attraction: "故宫" }, language: "zh" });
    assert.equal(unchecked.confident, true, "without the names, the carried-over entity's passage answers");
    const checked = await kb.answer(q, { slots: { attraction: "故宫" }, language: "zh", named: [["欢乐谷"]] });
    assert.equal(checked.confident, false);
    assert.equal(checked.handoff, true);
    assert.deepEqual(checked.citations, []);
    // A name the passage has in one of its spellings (a synonym) answers as before.
    const synonym = await kb.answer("紫禁城旺季开放时间，周一闭馆吗？", { language: "zh", named: [["紫禁城", "故宫", "palace museum"]] });
    assert.equal(synonym.confident, true);
    assert.equal(synonym.citations[0]!.doc, "kb/hours.md");
  } finally {
    kb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("bad files are reported by name and nothing already indexed is lost; re-import is incremental", async () => {
  const dir = folderWithEveryType();
  const kbDir = path.join(dir, "kb");
  const store = path.join(dir, "index");
  let kb = await KnowledgeBase.open({ config: CONFIG, dir: store });
  try {
    await kb.importFolder(kbDir);
    // Corrupt the PDF and the DOCX, make the text non-UTF-8, add an oversized file and a bad FAQ row.
    writeFileSync(path.join(kbDir, "luggage.pdf"), Buffer.from("%PDF-1.4\n1 0 obj garbage"));
    writeFileSync(path.join(kbDir, "pets.docx"), Buffer.from("PK not really a zip"));
    writeFileSync(path.join(kbDir, "parking.txt"), Buffer.from([0xcd, 0xa3, 0xb3, 0xb5, 0x0a])); // GBK 停车
    writeFileSync(path.join(kbDir, "huge.md"), "x".repeat(CONFIG.max_file_bytes + 1));
    writeFileSync(path.join(kbDir, "bad.jsonl"), '{"question": "q"}\n');
    const report = await kb.importFolder(kbDir);
    const byFile = Object.fromEntries(report.errors.map((e) => [e.file, e.error]));
    assert.match(byFile["kb/luggage.pdf"], /^kb\/luggage\.pdf: not a readable PDF/);
    assert.match(byFile["kb/pets.docx"], /^kb\/pets\.docx: not a readable DOCX/);
    assert.match(byFile["kb/parking.txt"], /not UTF-8/);
    assert.match(byFile["kb/huge.md"], /more than knowledge_base\.max_file_bytes/);
    assert.match(byFile["kb/bad.jsonl"], /line 1: expected \{"question"/);
    assert.equal(report.unchanged, 4);
    // The earlier versions are still answered from, also after reopening the stored index.
    kb.close();
    kb = await KnowledgeBase.open({ config: CONFIG, dir: store });
    assert.equal((await kb.answer("how much is luggage storage")).citations[0].doc, "kb/luggage.pdf");
    assert.equal((await kb.answer("停车怎么收费")).citations[0].doc, "kb/parking.txt");
    await assert.rejects(kb.importUpload("uploads/broken.pdf", Buffer.from("%PDF-1.7 nope")), /uploads\/broken\.pdf: not a readable PDF/);
    await assert.rejects(kb.importUpload("uploads/a.exe", Buffer.from("MZ")), /uploads\/a\.exe: unsupported file type/);
    // Deleting a file removes it; unchanged files are not re-read.
    unlinkSync(path.join(kbDir, "wifi.html"));
    const again = await kb.importFolder(kbDir);
    assert.equal(again.removed, 1);
    assert.ok(!kb.documents().includes("kb/wifi.html"));
    const upload = await kb.importUpload("uploads/shuttle.md", Buffer.from("Shuttle bus leaves every 30 minutes from Gate 2."));
    assert.equal(upload.added, 1);
    assert.equal((await kb.answer("when does the shuttle bus leave")).citations[0].doc, "uploads/shuttle.md");
  } finally {
    kb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("hybrid ranking: an injected embedder lifts a passage BM25 cannot find", async () => {
  // A toy embedder with a known synonym map: "automobile" and "car" share a dimension, so the dense side must
  // bring in the passage about cars for a query that shares no word with it.
  const vocab = ["car", "park", "ticket", "museum", "hour"];
  const syn: Record<string, string> = { automobile: "car", vehicle: "car", parking: "park", tickets: "ticket" };
  const embedder: Embedder = {
    id: "toy-synonyms",
    async embed(texts) {
      return texts.map((t) => {
        const v = new Float32Array(vocab.length);
        for (const w of t.toLowerCase().match(/[a-z]+/g) ?? []) {
          const i = vocab.indexOf(syn[w] ?? w);
          if (i >= 0) v[i] += 1;
        }
        return v;
      });
    },
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), "desk-kb-dense-"));
  mkdirSync(path.join(dir, "kb"));
  writeFileSync(path.join(dir, "kb", "a.txt"), "Car park: 15 yuan per hour.");
  writeFileSync(path.join(dir, "kb", "b.txt"), "Museum tickets are sold at the east gate.");
  const bm25Only = await KnowledgeBase.open({ config: { ...CONFIG, confidence_threshold: 0.2 } });
  const hybrid = await KnowledgeBase.open({ config: { ...CONFIG, confidence_threshold: 0.2, dense_weight: 0.6 }, embedder });
  try {
    await bm25Only.importFolder(path.join(dir, "kb"));
    await hybrid.importFolder(path.join(dir, "kb"));
    assert.equal((await bm25Only.search("automobile")).length, 0);
    const hits = await hybrid.search("automobile");
    assert.equal(hits[0].doc, "kb/a.txt");
    assert.equal(hits[0].bm25, 0);
    assert.ok(hits[0].dense > 0.5);
  } finally {
    bm25Only.close();
    hybrid.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("hybrid ranking: the dense side is centred, so a common direction in every vector does not make an unrelated question confident", async () => {
  // Decoder embeddings share one large direction (raw cosines of unrelated texts 0.4–0.7 for the default model). A
  // toy embedder with that shape: a constant 3 in dimension 0 plus one dimension per topic ("topicN" and its synonym
  // "themeN"). Raw, an unrelated question has cosine 0.95 with every passage, which at weight 0.4 is over the
  // confidence threshold 0.3; centred on the passages' mean it is 0, and a synonym still finds its passage.
  const topics = 20;
  const embedder: Embedder = {
    id: "toy-common-direction",
    async embed(texts) {
      return texts.map((t) => {
        const v = new Float32Array(topics + 1);
        v[0] = 3;
        for (const m of t.toLowerCase().matchAll(/(?:topic|theme)(\d+)/g)) v[1 + Number(m[1])] += 1;
        return v;
      });
    },
  };
  const dir = mkdtempSync(path.join(os.tmpdir(), "desk-kb-centre-"));
  mkdirSync(path.join(dir, "kb"));
  const rows = Array.from({ length: topics }, (_, i) => `"What about topic${i}?","Answer number ${i}."`);
  writeFileSync(path.join(dir, "kb", "faq.csv"), `question,answer\n${rows.join("\n")}\n`);
  const config = { ...CONFIG, confidence_threshold: 0.3, dense_weight: 0.4 };
  const raw = await KnowledgeBase.open({ config, embedder, centerDense: false });
  const centred = await KnowledgeBase.open({ config, embedder });
  try {
    await raw.importFolder(path.join(dir, "kb"));
    await centred.importFolder(path.join(dir, "kb"));
    assert.equal((await raw.answer("Is it going to rain tomorrow?", { language: "en" })).confident, true, "raw cosines lift an unrelated question over the threshold");
    const unrelated = await centred.answer("Is it going to rain tomorrow?", { language: "en" });
    assert.equal(unrelated.confident, false, `centred: not confident (${unrelated.text})`);
    const hits = await centred.search("theme7");
    assert.equal(hits[0]?.text, "What about topic7?\nAnswer number 7.");
    assert.equal(hits[0]?.bm25, 0, "found by the dense side alone");
  } finally {
    raw.close();
    centred.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("grounding: numbers, prices, times and policies must appear in a cited passage", async () => {
  const passage = "故宫旺季门票60元，淡季40元。开放时间8:30-17:00。未使用门票游玩日前一天可免费退票，当天不可退票。";
  assert.equal(checkGrounding("故宫旺季门票是60元。", [passage]).grounded, true);
  assert.deepEqual(checkGrounding("故宫门票80元。", [passage]).unsupported, ["80"]);
  assert.equal(checkGrounding("开放时间是早上8:30到下午5点。", [passage]).grounded, false, "5点 is not in the passage");
  assert.equal(checkGrounding("开放时间是8点30分到17:00。", [passage]).grounded, true);
  assert.equal(checkGrounding("门票六十元。", [passage]).grounded, true, "Chinese numerals are compared as digits");
  assert.equal(chineseNumeral("三十五"), 35);
  assert.equal(chineseNumeral("两百"), 200);
  assert.ok(checkGrounding("购买后可以享受赔偿。", [passage]).unsupported.includes("+赔偿"), "a policy the passage does not state");
  assert.ok(checkGrounding("Tickets are non-refundable.", ["Tickets are refundable until the day before."]).unsupported.includes("-refundable"));
  assert.equal(checkGrounding("Tickets are refundable until the day before.", ["Unused tickets are refundable until the day before."]).grounded, true);

  const dir = folderWithEveryType();
  const kb = await KnowledgeBase.open({ config: CONFIG });
  try {
    await kb.importFolder(path.join(dir, "kb"));
    const good = await kb.answer("故宫门票多少钱", { language: "zh" }, { generate: async () => "您好，故宫旺季门票60元，淡季40元。" });
    assert.equal(good.grounded, true);
    assert.equal(good.text, "您好，故宫旺季门票60元，淡季40元。");
    const prompts: string[] = [];
    const bad = await kb.answer("故宫门票多少钱", { language: "zh" }, {
      generate: async (p) => {
        prompts.push(p.user);
        return "故宫门票只要30元，还可以随时免费退款！";
      },
    });
    assert.match(prompts[0], /60元/, "the cited passages are in the prompt");
    assert.equal(bad.grounded, false);
    assert.match(bad.text, /60元，淡季40元/, "falls back to the passage itself");
    assert.equal(bad.handoff, true);
  } finally {
    kb.close();
    rmSync(dir, { recursive: true, force: true });
  }
});

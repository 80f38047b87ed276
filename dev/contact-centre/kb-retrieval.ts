// KB top-1 retrieval accuracy on FAQ sets built from kdconv-travel and crosswoz (both Apache-2.0), through the
// contact-centre KnowledgeBase exactly as the desk uses it (FAQ JSONL import, jieba BM25, hybrid ranking when an
// embedder is given).
//   kdconv-travel: one FAQ entry per (sight, relation) of kb_travel.json for the relations 门票, 开放时间, 地址, 电话,
//     建议游玩时间 ("故宫的门票是多少？" → the triple's value); queries are the test-split user questions whose answer
//     used such a triple, with the dialogue's entity appended when the question does not name it (what slot
//     carry-over does in the desk); gold = the (entity, relation) entry.
//   crosswoz: one FAQ entry per (entity, attribute) of the attraction/restaurant/hotel databases for 地址, 电话,
//     营业时间, 门票, 价格, 评分, 地铁, 游玩时间, 人均消费; queries are test-split user turns that Request one of
//     these attributes, with the entity last named in the dialogue appended when the turn does not name it.
// BM25 alone and the hybrid ranking (BM25 + dense) in one run: the dense weight (and whether the dense side is
// centred, KnowledgeBaseOptions.centerDense) is chosen on the validation dialogues (kdconv dev.json, crosswoz
// val.json.zip; the FAQ sets are the same), then the test dialogues are scored once with BM25 alone (w = 0), with
// the chosen setting and with the configuration's dense_weight.
// The embedder is what `zhiyu desk` uses by default (a sentence encoder shipped under models/, else the default chat
// model's mean-pooled hidden states, as /v1/embeddings gives them), or --embedder PATH (an encoder) /
// --embedder decoder:PATH (a chat model).
// usage: node --import tsx dev/contact-centre/kb-retrieval.ts [--data ../shared/data] [--limit N] [--no-user-dictionary]
//   [--embedder PATH | decoder:PATH] [--weights 0,0.05,0.1,0.2,0.3,0.4,0.5] [--sets kdconv-travel,crosswoz] [--no-raw]
//   [--cache DIR]
// (by default the entity names join the jieba user dictionary, as a deployment lists its place and product names)
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { readSingleEntryZip } from "../../src/io/zip.js";
import { KnowledgeBase, type KnowledgeBaseOptions } from "../../src/apps/contact-centre/kb/knowledge-base.js";
import type { TextEmbedder as Embedder } from "../../src/infer/text-embedder.js";
import { loadConfig } from "../../src/apps/contact-centre/config.js";
import { loadModel } from "../../src/infer/load.js";
import { loadTextEmbedder } from "../../src/infer/text-embedder.js";
import { decoderTextEmbedder } from "../../src/infer/decoder-embedder.js";
import { shippedEncoderDir } from "../../src/cli/commands/desk/default-embedder.js";
import { DEFAULT_MODEL_DIR } from "../../src/cli/default-model.js";

const { values } = parseArgs({ options: { data: { type: "string" }, limit: { type: "string" }, "no-user-dictionary": { type: "boolean" },
  embedder: { type: "string" }, weights: { type: "string" }, sets: { type: "string" }, "no-raw": { type: "boolean" }, cache: { type: "string" } } });
const sets = (values.sets ?? "kdconv-travel,crosswoz").split(",");
const userDictionary = !values["no-user-dictionary"];
const data = path.resolve(values.data ?? "../shared/data");
const limit = Number(values.limit ?? 1000);
const weights = (values.weights ?? "0,0.05,0.1,0.2,0.3,0.4,0.5").split(",").map(Number);

async function makeEmbedder(): Promise<Embedder> {
  const spec = values.embedder ?? (shippedEncoderDir() ?? `decoder:${DEFAULT_MODEL_DIR}`);
  if (!spec.startsWith("decoder:")) return loadTextEmbedder(spec);
  return decoderTextEmbedder(await loadModel(spec.slice("decoder:".length)));
}

/** Remembers query vectors: the same query is embedded once for every weight tried. */
function caching(inner: Embedder): Embedder {
  const memo = new Map<string, Float32Array>();
  return {
    id: inner.id, dim: inner.dim,
    async embed(texts) {
      if (texts.length !== 1) return inner.embed(texts);
      const hit = memo.get(texts[0]);
      if (hit) return [hit];
      const [v] = await inner.embed(texts);
      memo.set(texts[0], v);
      return [v];
    },
  };
}

interface Query { text: string; gold: string }

function faqKey(entity: string, attr: string): string {
  return `${entity}\u0001${attr}`;
}

interface FaqSet { faq: { question: string; answer: string; key: string }[]; queries: Query[]; entities: string[] }

function kdconv(split: "val" | "test"): FaqSet {
  const RELATIONS = ["门票", "开放时间", "地址", "电话", "建议游玩时间"];
  const kb = JSON.parse(readFileSync(path.join(data, "kdconv-travel", "kb_travel.json"), "utf8")) as Record<string, [string, string, string][]>;
  const faq = new Map<string, { question: string; answer: string; key: string }>();
  for (const [entity, triples] of Object.entries(kb)) {
    for (const [, rel, value] of triples) {
      if (!RELATIONS.includes(rel) || faq.has(faqKey(entity, rel))) continue;
      faq.set(faqKey(entity, rel), { question: `${entity}的${rel}是什么？`, answer: `${entity}的${rel}：${value}`, key: faqKey(entity, rel) });
    }
  }
  const queries: Query[] = [];
  const dialogues = JSON.parse(readFileSync(path.join(data, "kdconv-travel", split === "val" ? "dev.json" : "test.json"), "utf8")) as
    { name: string; messages: { message: string; attrs?: { name: string; attrname: string }[] }[] }[];
  for (const d of dialogues) {
    d.messages.forEach((m, i) => {
      const attr = d.messages[i + 1]?.attrs?.find((a) => RELATIONS.includes(a.attrname));
      if (i % 2 !== 0 || !attr || !faq.has(faqKey(attr.name, attr.attrname))) return;
      const text = m.message.includes(attr.name) ? m.message : `${m.message} ${attr.name}`;
      queries.push({ text, gold: faqKey(attr.name, attr.attrname) });
    });
  }
  return { faq: [...faq.values()], queries, entities: Object.keys(kb) };
}

function crosswoz(split: "val" | "test"): FaqSet {
  const ATTRS = ["地址", "电话", "营业时间", "门票", "价格", "评分", "地铁", "游玩时间", "人均消费"];
  const faq = new Map<string, { question: string; answer: string; key: string }>();
  for (const db of ["attraction_db.json", "restaurant_db.json", "hotel_db.json"]) {
    const rows = JSON.parse(readFileSync(path.join(data, "crosswoz", "database", db), "utf8")) as [string, Record<string, unknown>][];
    for (const [name, attrs] of rows) {
      for (const a of ATTRS) {
        if (attrs[a] === undefined || attrs[a] === null || attrs[a] === "") continue;
        faq.set(faqKey(name, a), { question: `${name}的${a}是什么？`, answer: `${name}的${a}：${String(attrs[a])}`, key: faqKey(name, a) });
      }
    }
  }
  const entities = [...new Set([...faq.values()].map((f) => f.key.split("\u0001")[0]))];
  const file = path.join(data, "crosswoz", split === "val" ? "val.json.zip" : "test.json.zip");
  const dialogues = JSON.parse(readSingleEntryZip(readFileSync(file), file).toString("utf8")) as
    Record<string, { messages: { role: string; content: string; dialog_act: [string, string, string, string][] }[] }>;
  const queries: Query[] = [];
  for (const d of Object.values(dialogues)) {
    const lastNamed = new Map<string, string>();
    for (const m of d.messages) {
      for (const [act, domain, slot, value] of m.dialog_act) if (act === "Inform" && slot === "名称" && value) lastNamed.set(domain, value);
      if (m.role !== "usr") continue;
      for (const [act, domain, slot] of m.dialog_act) {
        const entity = lastNamed.get(domain);
        if (act !== "Request" || !ATTRS.includes(slot) || !entity || !faq.has(faqKey(entity, slot))) continue;
        queries.push({ text: m.content.includes(entity) ? m.content : `${m.content} ${entity}`, gold: faqKey(entity, slot) });
      }
    }
  }
  return { faq: [...faq.values()], queries, entities };
}

const config = loadConfig().knowledge_base;
const embedder = caching(await makeEmbedder());
console.error(`embedder ${embedder.id} (${embedder.dim} dims)`);
const dir = mkdtempSync(path.join(os.tmpdir(), "kb-retrieval-"));
try {
  for (const [name, build] of ([["kdconv-travel", kdconv], ["crosswoz", crosswoz]] as const).filter(([n]) => sets.includes(n))) {
    const val = build("val");
    const test = build("test");
    const { faq, entities } = test;
    const folder = path.join(dir, name);
    mkdirSync(folder);
    writeFileSync(path.join(folder, "faq.jsonl"), faq.map((f) => JSON.stringify({ question: f.question, answer: f.answer })).join("\n") + "\n");
    // The entity names go into the user dictionary, as a deployment lists its product and place names.
    const userWords = userDictionary ? [...config.user_words, ...entities] : config.user_words;
    // One KB, embedded once; the weight and the centring are read at every search, so each setting is scored on the
    // same index (w = 0 ranks exactly as BM25 alone: a passage with no BM25 score scores 0 and is left out).
    const options: KnowledgeBaseOptions = { config: { ...config, user_words: userWords, max_file_bytes: 64 * 1024 * 1024, top_k: 3 }, embedder, centerDense: true };
    // --cache DIR keeps each set's KB (passages and their vectors, by embedder id) between runs: embedding a set takes
    // minutes; a rerun with the same embedder imports nothing.
    if (values.cache) options.dir = path.join(path.resolve(values.cache), name);
    const kb = await KnowledgeBase.open(options);
    const t0 = performance.now();
    const report = await kb.importFolder(folder);
    const importSeconds = (performance.now() - t0) / 1000;
    const score = async (queries: readonly Query[], w: number, centre: boolean) => {
      (options.config as { dense_weight: number }).dense_weight = w;
      options.centerDense = centre;
      let top1 = 0;
      let top3 = 0;
      for (const q of queries) {
        const hits = await kb.search(q.text, 3);
        const keys = hits.map((h) => faq[h.passage]?.key);
        if (keys[0] === q.gold) top1++;
        if (keys.includes(q.gold)) top3++;
      }
      return { top1: Math.round((top1 / queries.length) * 10000) / 10000, top3: Math.round((top3 / queries.length) * 10000) / 10000 };
    };
    const valSample = val.queries.slice(0, limit);
    let best = { w: 0, centre: true, top1: -1, top3: -1 };
    for (const centre of values["no-raw"] ? [true] : [true, false]) {
      for (const w of weights) {
        if (w === 0 && !centre) continue;
        const r = await score(valSample, w, centre);
        console.log(JSON.stringify({ set: `kb-${name}`, split: "val", queries: valSample.length, dense_weight: w, centred: centre, ...r }));
        // Ties keep the smaller weight (BM25 alone when dense adds nothing).
        if (r.top1 > best.top1 || (r.top1 === best.top1 && r.top3 > best.top3)) best = { w, centre, ...r };
      }
    }
    const sample = test.queries.slice(0, limit);
    const common = { set: `kb-${name}`, split: "test", embedder: embedder.id, user_dictionary: userDictionary, faq_entries: report.passages, queries: sample.length, import_seconds: Math.round(importSeconds) };
    console.log(JSON.stringify({ ...common, ranking: "bm25", ...(await score(sample, 0, true)) }));
    console.log(JSON.stringify({ ...common, ranking: "hybrid (chosen on val)", dense_weight: best.w, centred: best.centre, ...(await score(sample, best.w, best.centre)) }));
    console.log(JSON.stringify({ ...common, ranking: "hybrid (configuration)", dense_weight: config.dense_weight, centred: true, ...(await score(sample, config.dense_weight, true)) }));
    kb.close();
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

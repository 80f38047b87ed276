// Lead capture parsing and validation (mainland mobile formats, e-mail shape, names in Chinese and English, a
// decline), and recommendations from the CrossWOZ demo catalogue (../shared/data/crosswoz/database, Apache-2.0):
// at most `max`, near the dialogue's attraction or in the area named (in Chinese or English), each with a reason;
// a budget read from the text; a CSV catalogue; English names for English conversations (a catalogue's own `name_en`, else glossary + pinyin).
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { extractContact, isDecline } from "../../../src/apps/contact-centre/leads/capture.js";
import { loadCatalogue, readBudget, recommend } from "../../../src/apps/contact-centre/recommend/catalogue.js";
import { EnglishNamer, englishName, placeNamesInChinese } from "../../../src/apps/contact-centre/recommend/english-names.js";

const CROSSWOZ = path.resolve("../shared/data/crosswoz/database");

test("contact details: mainland mobiles in their usual spellings, e-mail, name, need", () => {
  for (const [text, phone] of [["手机13812345678", "13812345678"], ["+86 138 1234 5678", "13812345678"], ["电话：138-1234-5678", "13812345678"], ["8613812345678", "13812345678"]]) {
    assert.equal(extractContact(text, "zh").phone, phone, text);
  }
  const zh = extractContact("我叫张三，手机13812345678，想订两晚故宫附近的酒店", "zh");
  assert.equal(zh.name, "张三");
  assert.match(zh.need ?? "", /订两晚故宫附近的酒店/);
  const en = extractContact("My name is John Smith, email john.smith@example.com", "en");
  assert.deepEqual([en.name, en.email, en.phone], ["John Smith", "john.smith@example.com", null]);
  assert.match(extractContact("手机 1281234567", "zh").problems[0], /不是有效的大陆手机号/);
  assert.match(extractContact("phone 1381234", "en").problems[0], /not a valid mainland mobile number/);
  assert.match(extractContact("mail me at john@", "en").problems[0], /not a valid e-mail/);
  assert.equal(extractContact("订单号 2023123456789 还没出票", "zh").phone, null, "a longer number is not a mobile");
  assert.ok(isDecline("不用了，谢谢") && isDecline("No thanks") && !isDecline("好的"));
});

test("budget from text", () => {
  assert.equal(readBudget("人均一百左右的饭店"), 100);
  assert.equal(readBudget("500元以内的酒店"), 500);
  assert.equal(readBudget("a hotel under 800 yuan"), 800);
  assert.equal(readBudget("故宫附近的酒店"), null);
});

test("recommendations from the CrossWOZ catalogue: near the attraction, at most three, each with a reason", { skip: existsSync(CROSSWOZ) ? false : `${CROSSWOZ} not found` }, () => {
  const items = loadCatalogue(CROSSWOZ);
  assert.ok(items.some((i) => i.kind === "hotel") && items.some((i) => i.kind === "restaurant") && items.some((i) => i.kind === "attraction"));
  const hotels = recommend(items, { kind: "hotel", text: "我想订故宫附近的酒店", slots: { attraction: "故宫" }, language: "zh", max: 3 });
  assert.equal(hotels.length, 3);
  for (const h of hotels) {
    assert.equal(items.find((i) => i.name === h.name)?.near.includes("故宫"), true, `${h.name} lists 故宫 nearby`);
    assert.match(h.reason, /靠近故宫；评分/);
  }
  const cheap = recommend(items, { kind: "restaurant", text: "故宫附近人均一百左右的烤鸭店", slots: { attraction: "故宫" }, language: "zh", max: 2 });
  assert.equal(cheap.length, 2);
  for (const r of cheap) assert.ok((r.price ?? 1e9) <= 120, `${r.name} ${r.price} within budget`);
  // An area the catalogue knows only as addresses and metro stations: suggestions located there (read from the raw
  // database), not places that merely list a 王府井 restaurant among their neighbours.
  const raw = new Map((JSON.parse(readFileSync(path.join(CROSSWOZ, "restaurant_db.json"), "utf8")) as [string, Record<string, string>][]));
  const area = recommend(items, { kind: "restaurant", text: "推荐一家王府井附近的餐厅", slots: {}, language: "zh", max: 3 });
  assert.equal(area.length, 3);
  for (const r of area) assert.match(`${raw.get(r.item)?.["地址"]} ${raw.get(r.item)?.["地铁"]}`, /王府井/, `${r.item} is at 王府井`);
  // The same asked in English: the place is read back into Chinese to match the catalogue.
  const areaEn = recommend(items, { kind: "restaurant", text: "Recommend a restaurant near Wangfujing", slots: {}, language: "en", max: 3, namer: new EnglishNamer() });
  assert.equal(areaEn.length, 3);
  for (const r of areaEn) assert.match(`${raw.get(r.item)?.["地址"]} ${raw.get(r.item)?.["地铁"]}`, /王府井/, `${r.item} is at 王府井`);
  const en = recommend(items, { kind: "hotel", text: "hotel near the forbidden city", slots: { attraction: "故宫" }, language: "en", max: 3, namer: new EnglishNamer() });
  assert.equal(en.length, 3);
  for (const h of en) {
    // English conversations get English names and reasons: no Chinese left in what the customer reads.
    assert.doesNotMatch(`${h.name} ${h.reason}`, /\p{Script=Han}/u, `English name and reason: ${h.name} — ${h.reason}`);
    assert.match(h.reason, /^near Forbidden City; rated/);
    assert.equal(items.find((i) => i.name === h.item)?.near.includes("故宫"), true, `${h.item} (shown as ${h.name}) lists 故宫 nearby`);
    assert.match(h.name, /Hotel|Inn|Apartments/, h.name);
  }
});

test("English names of Chinese catalogue items: glossary, toneless pinyin, branches; a catalogue's own name_en wins", () => {
  assert.deepEqual(placeNamesInChinese("Recommend a restaurant near Wangfujing"), ["王府井"]);
  assert.deepEqual(placeNamesInChinese("a hotel by Beijing South Railway Station or the forbidden city"), ["北京南站", "故宫"]);
  assert.deepEqual(placeNamesInChinese("the capital of China, any airport"), []);
  // Expected strings written from the pinyin of each word (天伦 tiānlún, 王朝 wángcháo) and Beijing's signage usage.
  assert.equal(englishName("北京天伦王朝酒店", "hotel"), "Beijing Tianlun Wangchao Hotel");
  assert.equal(englishName("北京全聚德(王府井店)", "restaurant"), "Beijing Quanjude (Wangfujing branch)");
  assert.equal(englishName("北京贵都大酒店", "hotel"), "Beijing Guidu Grand Hotel", "都 reads dū in names");
  assert.equal(englishName("北京饭店", "hotel"), "Beijing Hotel");
  assert.equal(englishName("北京饭店", "restaurant"), "Beijing Restaurant");
  assert.equal(englishName("故宫", "attraction"), "Forbidden City");
  assert.equal(englishName("中国国家博物馆", "attraction"), "China National Museum");
  assert.equal(englishName("锦江之星(北京南站店)(原北京南站酒店)", "hotel"), "Jinjiang Inn (Beijing South Railway Station branch)");
  assert.equal(englishName("SPACELAB", "restaurant"), "SPACELAB");
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-cat-en-"));
  try {
    const file = path.join(dir, "cat.json");
    writeFileSync(file, JSON.stringify([{ name: "长城一日游", name_en: "Great Wall day tour", kind: "attraction", price: 199 }, { name: "颐和园半日游", kind: "attraction", price: 99 }]));
    const items = loadCatalogue(file);
    const en = recommend(items, { kind: "attraction", text: "a day tour", slots: {}, language: "en", max: 2 });
    assert.deepEqual(en.map((s) => [s.item, s.name]).sort(), [["长城一日游", "Great Wall day tour"], ["颐和园半日游", "Summer Palace Half-day Tour"]]);
    const zh = recommend(items, { kind: "attraction", text: "一日游", slots: {}, language: "zh", max: 2 });
    assert.deepEqual(zh.map((s) => s.name).sort(), ["长城一日游", "颐和园半日游"]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("a CSV catalogue, and clear errors for a bad one", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-cat-"));
  try {
    const csv = path.join(dir, "cat.csv");
    writeFileSync(csv, 'name,kind,price,rating,features\n"Day tour, Great Wall",attraction,199,4.8,guide;lunch\nCity walk,attraction,99,4.1,guide\n');
    const items = loadCatalogue(csv);
    assert.deepEqual(items.map((i) => [i.name, i.price, i.rating]), [["Day tour, Great Wall", 199, 4.8], ["City walk", 99, 4.1]]);
    const bad = path.join(dir, "bad.csv");
    writeFileSync(bad, "title,price\nx,1\n");
    assert.throws(() => loadCatalogue(bad), /bad\.csv: the header needs a "name"/);
    assert.throws(() => loadCatalogue(path.join(dir, "missing.json")), /missing\.json: not found \(products\.catalogue/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

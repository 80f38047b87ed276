// The product catalogue for recommendations (产品推介) and the matcher. A catalogue is a JSON array of objects
// with a name, a CSV file with a header (a `name` or `名称` column), or a folder of CrossWOZ-style databases
// (*_db.json: [[name, {领域, 名称, 评分, 价格|人均消费|门票, 周边景点, 推荐菜|酒店设施, …}], …]; CrossWOZ is
// Apache-2.0, ../shared/data/crosswoz/database is the demo catalogue). Matching: an intent maps to a kind (hotel,
// restaurant, attraction); candidates near the dialogue's attraction slot are preferred; each is scored by
// rating, by the words the customer used that appear in its attributes (a character-bigram cosine over the
// attribute text: a lexical similarity, not a neural embedding) and by a budget read from the text; at most
// `max` suggestions, each with the reasons that made it rank, in the customer's language — in an English conversation
// under the item's English name (a `name_en`/`英文名` attribute, else english-names.ts makes one).
// Leaves out: neural embeddings of items (the KB's Embedder could be injected here later), stock/availability.
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { englishName, placeNamesInChinese, type EnglishNamer } from "./english-names.js";

export type ItemKind = "hotel" | "restaurant" | "attraction" | "product";

export interface CatalogueItem {
  name: string;
  /** The catalogue's own English name, when it gives one. */
  nameEn: string | null;
  kind: ItemKind;
  rating: number | null;
  /** Price per night, per person or per ticket, in yuan. */
  price: number | null;
  near: string[];
  features: string[];
  address: string | null;
  /** All attribute text, for the lexical match. */
  text: string;
}

export interface Suggestion {
  /** The name shown to the customer, in the conversation's language. */
  name: string;
  /** The item's name as the catalogue writes it (what acceptance is tracked by). */
  item: string;
  kind: ItemKind;
  reason: string;
  score: number;
  rating: number | null;
  price: number | null;
  address: string | null;
}

const KIND_OF_DOMAIN: Record<string, ItemKind> = { 酒店: "hotel", 餐馆: "restaurant", 景点: "attraction" };
const NEIGHBOUR_LISTS = new Set(["周边餐馆", "周边酒店"]);
const FILE_KIND: Record<string, ItemKind> = { hotel: "hotel", restaurant: "restaurant", attraction: "attraction" };

function fromAttributes(name: string, a: Record<string, unknown>, fallbackKind: ItemKind): CatalogueItem {
  const n = (v: unknown) => (typeof v === "number" && Number.isFinite(v) ? v : typeof v === "string" && v.trim() && !Number.isNaN(Number(v)) ? Number(v) : null);
  const list = (v: unknown) => (Array.isArray(v) ? v.map(String) : typeof v === "string" && v ? v.split(/[;；|]/).map((s) => s.trim()).filter(Boolean) : []);
  const kind = KIND_OF_DOMAIN[String(a["领域"] ?? "")] ?? (FILE_KIND[String(a.kind ?? "")] as ItemKind | undefined) ?? fallbackKind;
  const en = a.name_en ?? a.english_name ?? a["英文名"];
  return {
    name, nameEn: typeof en === "string" && en.trim() ? en.trim() : null, kind, rating: n(a["评分"] ?? a.rating), price: n(a["价格"] ?? a["人均消费"] ?? a["门票"] ?? a.price),
    near: list(a["周边景点"] ?? a.near), features: [...list(a["推荐菜"]), ...list(a["酒店设施"]), ...list(a["酒店类型"]), ...list(a.features)],
    address: typeof (a["地址"] ?? a.address) === "string" ? String(a["地址"] ?? a.address) : null,
    // The lexical match reads the item's own attributes: its lists of neighbouring restaurants and hotels name other
    // places ("北京全聚德(王府井店)" next to a restaurant on 东四十条 is not a reason to suggest it for 王府井).
    text: Object.entries(a).filter(([k]) => !NEIGHBOUR_LISTS.has(k)).map(([, v]) => (Array.isArray(v) ? v.join(" ") : String(v))).join(" "),
  };
}

function parseCsvLine(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === '"' && line[i + 1] === '"') { cur += '"'; i++; } else if (ch === '"') q = false; else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === ",") { out.push(cur); cur = ""; } else cur += ch;
  }
  out.push(cur);
  return out;
}

/** Loads a catalogue file or CrossWOZ database folder; errors name the file and the fix. */
export function loadCatalogue(file: string, maxItems = 100_000): CatalogueItem[] {
  if (!existsSync(file)) throw new Error(`catalogue ${file}: not found (products.catalogue in the configuration)`);
  const items: CatalogueItem[] = [];
  const push = (it: CatalogueItem) => {
    if (items.length >= maxItems) throw new Error(`catalogue ${file}: more than ${maxItems} items`);
    items.push(it);
  };
  if (statSync(file).isDirectory()) {
    for (const name of readdirSync(file).filter((f) => /_db\.json$/.test(f)).sort()) {
      const kind = FILE_KIND[name.replace(/_db\.json$/, "")];
      if (!kind) continue;
      const rows = JSON.parse(readFileSync(path.join(file, name), "utf8")) as unknown;
      if (!Array.isArray(rows)) throw new Error(`catalogue ${path.join(file, name)}: expected an array of [name, attributes] pairs`);
      for (const row of rows) if (Array.isArray(row) && typeof row[0] === "string" && row[1] && typeof row[1] === "object") push(fromAttributes(row[0], row[1] as Record<string, unknown>, kind));
    }
  } else if (file.endsWith(".json")) {
    const rows = JSON.parse(readFileSync(file, "utf8")) as unknown;
    if (!Array.isArray(rows)) throw new Error(`catalogue ${file}: expected a JSON array of objects with a "name"`);
    rows.forEach((r, i) => {
      const o = r as Record<string, unknown>;
      const name = o?.name ?? o?.["名称"];
      if (typeof name !== "string") throw new Error(`catalogue ${file}: item ${i} has no "name"`);
      push(fromAttributes(name, o, "product"));
    });
  } else if (file.endsWith(".csv")) {
    const lines = readFileSync(file, "utf8").split(/\r?\n/).filter((l) => l.trim());
    const header = parseCsvLine(lines[0] ?? "");
    const nameAt = header.findIndex((h) => h === "name" || h === "名称");
    if (nameAt < 0) throw new Error(`catalogue ${file}: the header needs a "name" (or "名称") column`);
    lines.slice(1).forEach((l) => {
      const cells = parseCsvLine(l);
      push(fromAttributes(cells[nameAt], Object.fromEntries(header.map((h, i) => [h, cells[i] ?? ""])), "product"));
    });
  } else {
    throw new Error(`catalogue ${file}: expected a .json or .csv file or a folder of *_db.json files`);
  }
  return items;
}

function bigrams(text: string): Map<string, number> {
  const m = new Map<string, number>();
  const t = text.toLowerCase().replace(/\s+/g, "");
  for (let i = 0; i + 1 < t.length; i++) m.set(t.slice(i, i + 2), (m.get(t.slice(i, i + 2)) ?? 0) + 1);
  return m;
}

function overlap(query: Map<string, number>, text: string): number {
  if (query.size === 0) return 0;
  let hit = 0;
  for (const g of query.keys()) if (text.includes(g)) hit++;
  return hit / query.size;
}

/** A budget in the text: "人均一百左右", "100元以内", "under 500 yuan". */
export function readBudget(text: string): number | null {
  const cn: Record<string, number> = { 一百: 100, 两百: 200, 二百: 200, 三百: 300, 五百: 500, 一千: 1000, 五十: 50 };
  for (const [w, v] of Object.entries(cn)) if (text.includes(w)) return v;
  const m = text.match(/(\d{2,5})\s*(元|块|yuan|rmb|¥)?/i);
  return m && (m[2] || /人均|预算|以内|以下|under|budget|below/i.test(text)) ? Number(m[1]) : null;
}

const STOP = /我想|我要|帮我|推荐|一下|一家|一个|附近|有没有|什么|酒店|餐厅|饭店|餐馆|景点|的|好|吗|呢|\b(?:please|recommend|hotels?|restaurants?|near|the|an?|i want|book|me|to)\b/gi;

/** Up to `max` suggestions of `kind` for the dialogue, best first, each with its reason. */
export function recommend(items: readonly CatalogueItem[], q: { kind: ItemKind; text: string; slots: Record<string, string>; language: "zh" | "en"; max: number; namer?: EnglishNamer }): Suggestion[] {
  const near = q.slots.attraction;
  const budget = readBudget(q.text);
  // An English request names places in English, the catalogue writes them in Chinese: match on the places it names
  // (English letter pairs against Chinese attributes only add noise).
  const places = q.language === "en" ? placeNamesInChinese(q.text) : [];
  const text = places.length > 0 ? places.join(" ") : q.text;
  const words = bigrams(text.replace(STOP, " ").replace(near ?? "\u0000", " "));
  const scored = items.filter((it) => it.kind === q.kind).map((it) => {
    const isNear = near ? it.near.includes(near) || it.address?.includes(near) === true : false;
    const lexical = overlap(words, it.text.toLowerCase());
    const inBudget = budget !== null && it.price !== null ? it.price <= budget * 1.2 : null;
    const score = (it.rating ?? 3.5) / 5 + (isNear ? 1 : 0) + lexical + (inBudget === true ? 0.5 : inBudget === false ? -0.5 : 0);
    return { it, score, isNear, lexical, inBudget };
  });
  scored.sort((a, b) => b.score - a.score || a.it.name.localeCompare(b.it.name));
  const english = (name: string, kind: ItemKind) => (q.namer ? q.namer.name(name, kind) : englishName(name, kind));
  return scored.slice(0, q.max).map(({ it, score, isNear, lexical, inBudget }) => {
    const reasons: string[] = [];
    const zh = q.language === "zh";
    if (isNear) reasons.push(zh ? `靠近${near}` : `near ${english(near!, "attraction")}`);
    if (it.rating !== null) reasons.push(zh ? `评分 ${it.rating}` : `rated ${it.rating}/5`);
    if (it.price !== null) {
      const unit = it.kind === "hotel" ? (zh ? "元/晚" : " yuan a night") : it.kind === "restaurant" ? (zh ? "元/人" : " yuan per person") : zh ? "元" : " yuan";
      reasons.push(zh ? `${inBudget ? "符合预算，" : ""}约 ${it.price}${unit}` : `${inBudget ? "within budget, " : ""}about ${it.price}${unit}`);
    }
    if (lexical > 0.2 && it.features.length > 0) {
      const matched = it.features.filter((f) => [...words.keys()].some((g) => f.includes(g))).slice(0, 2);
      if (matched.length > 0) reasons.push(zh ? `有${matched.join("、")}` : `offers ${matched.join(", ")}`);
    }
    const name = zh ? it.name : (it.nameEn ?? english(it.name, it.kind));
    return { name, item: it.name, kind: it.kind, reason: reasons.join(zh ? "；" : "; "), score: Math.round(score * 1000) / 1000, rating: it.rating, price: it.price, address: it.address };
  });
}

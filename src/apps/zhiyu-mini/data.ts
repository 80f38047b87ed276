// The zhiyu-mini recipe's text, from ../shared/data only and only from the sets whose licence allows
// redistributing a model trained on them (LICENSED_SETS; MODEL_CARD.md lists the same): the pretraining documents
// (training splits; test splits stay unseen) and the instruction-tuning conversations (OpenAI messages).
// Leaves out: downloading anything; data sets without a licence or with a non-commercial one (model-card.ts lists
// the excluded ones and why).
import { readFileSync, readdirSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { Rng } from "../../core/rng.js";
import { readSingleEntryZip } from "../../io/zip.js";

/** The sets used, with their licences (MODEL_CARD.md lists the same). */
export const LICENSED_SETS: { name: string; licence: string; lang: "zh" | "en"; use: string }[] = [
  { name: "tinystories-val-sample", licence: "CDLA-Sharing-1.0", lang: "en", use: "pretraining" },
  { name: "tinyshakespeare", licence: "MIT (text public domain)", lang: "en", use: "pretraining" },
  { name: "banking77", licence: "CC BY 4.0", lang: "en", use: "pretraining (train split), SFT (intent → short reply)" },
  { name: "clinc150", licence: "CC BY 3.0", lang: "en", use: "pretraining (train/val), SFT (intent → short reply)" },
  { name: "hh-rlhf-harmless-test", licence: "MIT", lang: "en", use: "pretraining only (not used as reply templates)" },
  { name: "crosswoz", licence: "Apache-2.0", lang: "zh", use: "pretraining + SFT (val split dialogues)" },
  { name: "kdconv-travel", licence: "Apache-2.0", lang: "zh", use: "pretraining + SFT (dev split dialogues)" },
  { name: "lccc-toy", licence: "MIT", lang: "zh", use: "pretraining + SFT (train split chit-chat)" },
  { name: "chinese-poetry-subset", licence: "MIT (texts public domain)", lang: "zh", use: "pretraining (capped)" },
  { name: "llamafactory-demo/identity.json", licence: "Apache-2.0", lang: "en", use: "SFT (self-introduction, placeholders filled)" },
];

interface Doc {
  set: string;
  lang: "zh" | "en";
  text: string;
}


function readJson(file: string): unknown {
  const raw = readFileSync(file);
  if (file.endsWith(".zip")) return JSON.parse(readSingleEntryZip(raw, file).toString("utf8"));
  return JSON.parse(raw.toString("utf8"));
}

function stringLeaves(v: unknown, out: string[]): void {
  if (typeof v === "string") { if (v.trim()) out.push(v.trim()); } else if (Array.isArray(v)) for (const x of v) stringLeaves(x, out);
  else if (v && typeof v === "object") for (const x of Object.values(v)) stringLeaves(x, out);
}

/** LCCC separates every character by a space; join CJK characters back. */
export function joinLccc(s: string): string {
  return s.replace(/(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])/g, "").replace(/(?<=[^\x00-\x7f]) (?=[\x00-\x7f])|(?<=[\x00-\x7f]) (?=[^\x00-\x7f])/g, "").trim();
}

function groups<T>(xs: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += size) out.push(xs.slice(i, i + size));
  return out;
}

/** The (text, label) rows of a two-column CSV file with a header line; a quoted first column may hold commas. */
function csvRows(file: string): [string, string][] {
  const lines = readFileSync(file, "utf8").split("\n").slice(1).filter((l) => l.trim());
  return lines.map((l) => {
    const m = /^"((?:[^"]|"")*)",(.*)$/.exec(l);
    const cols = m ? [m[1]!.replace(/""/g, '"'), m[2]!] : [l.slice(0, l.lastIndexOf(",")), l.slice(l.lastIndexOf(",") + 1)];
    return [cols[0]!.trim(), cols[1]!.trim()];
  });
}

/** The pretraining documents of the licensed sets (training splits only; test splits stay unseen). */
export function pretrainingDocuments(dataRoot: string, poetryMaxChars: number): Doc[] {
  const docs: Doc[] = [];
  const add = (set: string, lang: "zh" | "en", text: string) => { if (text.trim()) docs.push({ set, lang, text: text.trim() }); };
  const d = (p: string) => path.join(dataRoot, p);
  // English
  const paragraphs = readFileSync(d("tinystories-val-sample/tinystories_val.txt"), "utf8").split(/\n\s*\n/).map((p) => p.trim()).filter(Boolean);
  let story: string[] = [];
  for (const p of paragraphs) {
    if (/^(Once upon a time|One day|Once there)/.test(p) && story.length > 0) { add("tinystories-val-sample", "en", story.join("\n")); story = []; }
    story.push(p);
  }
  if (story.length) add("tinystories-val-sample", "en", story.join("\n"));
  const speeches = readFileSync(d("tinyshakespeare/input.txt"), "utf8").split(/\n\s*\n/).filter((s) => s.trim());
  for (const g of groups(speeches, 8)) add("tinyshakespeare", "en", g.join("\n"));
  for (const g of groups(csvRows(d("banking77/train.csv")).map((r) => r[0]), 20)) add("banking77", "en", g.join("\n"));
  const clinc = readJson(d("clinc150/data_full.json")) as Record<string, [string, string][]>;
  for (const split of ["train", "val", "oos_train", "oos_val"]) for (const g of groups(clinc[split]!.map((r) => r[0]), 20)) add("clinc150", "en", g.join("\n"));
  for (const line of gunzipSync(readFileSync(d("hh-rlhf-harmless-test/test.jsonl.gz"))).toString("utf8").split("\n")) {
    if (line.trim()) add("hh-rlhf-harmless-test", "en", String((JSON.parse(line) as { chosen: string }).chosen).replace(/^\s+/, ""));
  }
  // Chinese
  const crosswoz = readJson(d("crosswoz/val.json.zip")) as Record<string, { messages: { content: string }[] }>;
  for (const k of Object.keys(crosswoz)) add("crosswoz", "zh", crosswoz[k]!.messages.map((m) => m.content).join("\n"));
  for (const dlg of readJson(d("kdconv-travel/dev.json")) as { messages: { message: string }[] }[]) {
    add("kdconv-travel", "zh", dlg.messages.map((m) => m.message).join("\n"));
  }
  const lccc = readJson(d("lccc-toy/toy_data.json")) as { train: string[][] };
  for (const dlg of lccc.train) add("lccc-toy", "zh", dlg.map(joinLccc).join("\n"));
  const single = readFileSync(d("lccc-toy/toy_train.txt"), "utf8").split("\n").filter((l) => l.trim()).map((l) => l.split("\t").map(joinLccc).join("\n"));
  for (const g of groups(single, 10)) add("lccc-toy", "zh", g.join("\n"));
  let poetry = 0;
  const poetryFiles = ["全唐诗/唐诗三百首.json", "宋词/宋词三百首.json", "论语/lunyu.json", "诗经/shijing.json",
    ...readdirSync(d("chinese-poetry-subset/蒙学")).sort().map((f) => `蒙学/${f}`)];
  for (const f of poetryFiles) {
    const value = readJson(d(`chinese-poetry-subset/${f}`));
    const records = Array.isArray(value) ? value : [value];
    for (const r of records) {
      const leaves: string[] = [];
      stringLeaves(r, leaves);
      const text = leaves.join("\n");
      if (poetry + text.length > poetryMaxChars) break;
      poetry += text.length;
      add("chinese-poetry-subset", "zh", text);
    }
  }
  return docs;
}

interface Message { role: string; content: string }

const IDENTITY_EXTRA: [string, string][] = [
  ["你是谁？", "我是智语（Zhiyu），一个由智语项目从零训练的小型中英文对话模型。"],
  ["你叫什么名字？", "我叫智语，是一个小型的中英文助手。"],
  ["你能做什么？", "我可以用简短的中文或英文和你聊天，回答一些简单的问题。"],
  ["你好", "你好！我是智语，有什么可以帮你的吗？"],
  ["谢谢", "不客气！"],
  ["再见", "再见，祝你愉快！"],
  ["Who are you?", "I am Zhiyu, a small Chinese and English assistant trained from scratch by the Zhiyu project."],
  ["What can you do?", "I can chat briefly in Chinese or English and answer simple questions."],
  ["Hello", "Hello! I am Zhiyu. How can I help you?"],
  ["Thanks!", "You're welcome!"],
  ["Goodbye", "Goodbye, have a nice day!"],
  ["Are you a large model?", "No, I am a very small model, so my answers are short and often imperfect."],
];

function humanize(label: string): string {
  return label.replace(/_/g, " ").replace(/\?$/, "");
}

/** Instruction-tuning conversations (OpenAI messages) from the licensed sets' training splits. */
export function sftConversations(dataRoot: string, seed: number): { messages: Message[]; lang: "zh" | "en" }[] {
  const d = (p: string) => path.join(dataRoot, p);
  const out: { messages: Message[]; lang: "zh" | "en" }[] = [];
  const pair = (lang: "zh" | "en", q: string, a: string) => out.push({ lang, messages: [{ role: "user", content: q }, { role: "assistant", content: a }] });
  const cjk = /[\u4e00-\u9fff]/;
  for (let rep = 0; rep < 3; rep++) {
    for (const r of readJson(d("llamafactory-demo/identity.json")) as { instruction: string; input: string; output: string }[]) {
      const zh = cjk.test(r.output);
      const a = r.output.replace(/\{\{name\}\}/g, zh ? "智语" : "Zhiyu").replace(/\{\{author\}\}/g, zh ? "智语项目" : "the Zhiyu project");
      pair(zh ? "zh" : "en", r.input ? `${r.instruction}\n${r.input}` : r.instruction, a);
    }
    for (const [q, a] of IDENTITY_EXTRA) pair(cjk.test(q) ? "zh" : "en", q, a);
  }
  // Multi-turn Chinese dialogues: user/assistant alternate, at most 6 turns, ending on an assistant turn.
  const dialogue = (turns: string[], lang: "zh" | "en") => {
    const t = turns.slice(0, 6).filter((s) => s.length > 0 && s.length <= 160);
    if (t.length < 2) return;
    const even = t.length - (t.length % 2);
    out.push({ lang, messages: t.slice(0, even).map((content, i) => ({ role: i % 2 === 0 ? "user" : "assistant", content })) });
  };
  const crosswoz = readJson(d("crosswoz/val.json.zip")) as Record<string, { messages: { content: string }[] }>;
  for (const k of Object.keys(crosswoz)) dialogue(crosswoz[k]!.messages.map((m) => m.content), "zh");
  for (const dlg of readJson(d("kdconv-travel/dev.json")) as { messages: { message: string }[] }[]) dialogue(dlg.messages.map((m) => m.message), "zh");
  for (const dlg of (readJson(d("lccc-toy/toy_data.json")) as { train: string[][] }).train) dialogue(dlg.map(joinLccc), "zh");
  const single = readFileSync(d("lccc-toy/toy_train.txt"), "utf8").split("\n").filter((l) => l.includes("\t"));
  for (const l of single.slice(0, 4000)) {
    const [q, a] = l.split("\t").map(joinLccc);
    if (q && a) pair("zh", q, a);
  }
  // English intents → short replies.
  const rng = new Rng(seed);
  const banking = csvRows(d("banking77/train.csv"));
  for (let i = 0; i < 2500; i++) {
    const [q, label] = banking[rng.int(banking.length)]!;
    pair("en", q, `It sounds like your question is about ${humanize(label)}. I can help you with that.`);
  }
  const clinc = readJson(d("clinc150/data_full.json")) as Record<string, [string, string][]>;
  const clincTrain = [...clinc.train!, ...clinc.oos_train!];
  for (let i = 0; i < 2500; i++) {
    const [q, intent] = clincTrain[rng.int(clincTrain.length)]!;
    pair("en", q, intent === "oos" ? "Sorry, I can't help with that request." : `This is a ${humanize(intent)} request. I'll take care of it.`);
  }
  // A seeded shuffle so packing mixes sources and languages.
  for (let i = out.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

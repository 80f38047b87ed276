// The three-route experiment's data, all from ../shared/data: the pretraining text (the licensed sets of the
// zhiyu-mini recipe, training splits only, a seeded sample of corpusChars characters), the intent sets for (a)/(c)/(d)
// (smp2017-ecdt: a seeded stratified 80/20 split — it has no split of its own and no licence, so it is used for
// evaluation and fine-tuning experiments only, never for a shipped model; banking77: its train/test files), and
// dialogue context → reply pairs (held out: lccc-toy's test split and crosswoz's test split, neither of which is in
// the pretraining text; for multi-task training: lccc-toy train and crosswoz val dialogues).
// Leaves out: tokenization (stages.ts) and any downloading.
import { readFileSync } from "node:fs";
import path from "node:path";
import { Rng } from "../../core/rng.js";
import { readSingleEntryZip } from "../../io/zip.js";
import { joinLccc, pretrainingDocuments } from "../zhiyu-mini/data.js";

export interface IntentSet {
  name: "smp2017" | "banking77";
  lang: "zh" | "en";
  /** Label ids index these; `names` are the label names used for zero-shot prompts and text-to-text targets. */
  labels: string[];
  names: string[];
  train: { text: string; label: number }[];
  test: { text: string; label: number }[];
}

export interface ReplyPair {
  set: string;
  context: string;
  reply: string;
}

function shuffle<T>(xs: T[], rng: Rng): T[] {
  for (let i = xs.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [xs[i], xs[j]] = [xs[j]!, xs[i]!];
  }
  return xs;
}

/** The pretraining documents: a seeded shuffle of the licensed training text, cut to `maxChars` characters. */
export function corpusDocuments(dataRoot: string, maxChars: number, poetryMaxChars: number, seed: number): { text: string; lang: string; set: string }[] {
  const docs = shuffle(pretrainingDocuments(dataRoot, poetryMaxChars), new Rng(seed));
  const out: { text: string; lang: string; set: string }[] = [];
  let chars = 0;
  for (const d of docs) {
    if (chars >= maxChars) break;
    out.push(d);
    chars += d.text.length;
  }
  return out;
}

/** smp2017-ecdt's 31 intents in Chinese words (the zero-shot prompts and text-to-text targets of a Chinese task). */
const SMP_NAMES: Record<string, string> = {
  app: "应用", bus: "公交", calc: "计算", chat: "闲聊", cinemas: "影院", contacts: "联系人", cookbook: "菜谱", datetime: "日期",
  email: "邮件", epg: "节目", flight: "航班", health: "健康", lottery: "彩票", map: "地图", match: "比赛", message: "短信",
  music: "音乐", news: "新闻", novel: "小说", poetry: "诗词", radio: "电台", riddle: "谜语", schedule: "日程", stock: "股票",
  telephone: "电话", train: "火车", translation: "翻译", tvchannel: "电视", video: "视频", weather: "天气", website: "网站",
};

/** A two-column CSV file with a header line (a quoted first column may hold commas). */
function csvRows(file: string): [string, string][] {
  return readFileSync(file, "utf8").split("\n").slice(1).filter((l) => l.trim()).map((l) => {
    const m = /^"((?:[^"]|"")*)",(.*)$/.exec(l);
    const cols = m ? [m[1]!.replace(/""/g, '"'), m[2]!] : [l.slice(0, l.lastIndexOf(",")), l.slice(l.lastIndexOf(",") + 1)];
    return [cols[0]!.trim(), cols[1]!.trim()];
  });
}

/** A seeded sample of at most `limit` items (kept in their original order). */
export function sample<T>(xs: readonly T[], limit: number, seed: number): T[] {
  if (xs.length <= limit) return [...xs];
  const idx = shuffle([...xs.keys()], new Rng(seed)).slice(0, limit).sort((a, b) => a - b);
  return idx.map((i) => xs[i]!);
}

export function intentSets(dataRoot: string, seed: number, evalLimit: number): IntentSet[] {
  // smp2017: TAB-separated despite the name; a stratified split (every 5th example of each label, after a shuffle).
  const rows = readFileSync(path.join(dataRoot, "smp2017-ecdt-intent/Chinese_data.csv"), "utf8").split("\n").slice(1)
    .map((l) => l.split("\t")).filter((c) => c.length === 2 && c[0]!.trim() && c[1]!.trim()).map((c) => [c[0]!.trim(), c[1]!.trim()] as const);
  const smpLabels = [...new Set(rows.map((r) => r[1]))].sort();
  for (const l of smpLabels) if (!SMP_NAMES[l]) throw new Error(`smp2017-ecdt: label '${l}' has no Chinese name in data.ts`);
  const byLabel = new Map<string, (readonly [string, string])[]>();
  for (const r of shuffle([...rows], new Rng(seed ^ 0x5a17))) byLabel.set(r[1], [...(byLabel.get(r[1]) ?? []), r]);
  const smpTrain: { text: string; label: number }[] = [], smpTest: { text: string; label: number }[] = [];
  for (const [label, list] of [...byLabel.entries()].sort((a, b) => a[0].localeCompare(b[0]))) {
    list.forEach(([text], i) => (i % 5 === 4 ? smpTest : smpTrain).push({ text, label: smpLabels.indexOf(label) }));
  }
  const bankTrainRows = csvRows(path.join(dataRoot, "banking77/train.csv"));
  const bankTestRows = csvRows(path.join(dataRoot, "banking77/test.csv"));
  const bankLabels = [...new Set(bankTrainRows.map((r) => r[1]))].sort();
  const toBank = (r: [string, string]) => {
    const label = bankLabels.indexOf(r[1]);
    if (label < 0) throw new Error(`banking77: test label '${r[1]}' is not in the training file`);
    return { text: r[0], label };
  };
  return [
    { name: "smp2017", lang: "zh", labels: smpLabels, names: smpLabels.map((l) => SMP_NAMES[l]!), train: shuffle(smpTrain, new Rng(seed + 1)),
      test: sample(smpTest, evalLimit, seed + 2) },
    { name: "banking77", lang: "en", labels: bankLabels, names: bankLabels.map((l) => l.replace(/_/g, " ").replace(/\?$/, "")),
      train: shuffle(bankTrainRows.map(toBank), new Rng(seed + 3)), test: sample(bankTestRows.map(toBank), evalLimit, seed + 4) },
  ];
}

function crosswozDialogues(dataRoot: string, file: string): string[][] {
  const raw = readFileSync(path.join(dataRoot, "crosswoz", file));
  const json = JSON.parse(readSingleEntryZip(raw, file).toString("utf8")) as Record<string, { messages: { content: string }[] }>;
  return Object.keys(json).map((k) => json[k]!.messages.map((m) => m.content.trim()));
}

/** One context → reply pair per dialogue: a seeded turn ≥ 1 is the reply, up to three turns before it the context. */
function pairsOf(set: string, dialogues: string[][], rng: Rng): ReplyPair[] {
  const out: ReplyPair[] = [];
  for (const d of dialogues) {
    const turns = d.filter((t) => t.length > 0);
    if (turns.length < 2) continue;
    const at = 1 + rng.int(turns.length - 1);
    out.push({ set, context: turns.slice(Math.max(0, at - 3), at).join("\n"), reply: turns[at]! });
  }
  return out;
}

/** Held-out pairs for bits per byte (b): lccc-toy test and crosswoz test, `perSet` each. */
export function heldOutReplies(dataRoot: string, seed: number, perSet: number): ReplyPair[] {
  const lccc = (JSON.parse(readFileSync(path.join(dataRoot, "lccc-toy/toy_data.json"), "utf8")) as { test: string[][] }).test;
  return [
    ...sample(pairsOf("lccc-toy", lccc.map((d) => d.map(joinLccc)), new Rng(seed + 5)), perSet, seed + 6),
    ...sample(pairsOf("crosswoz", crosswozDialogues(dataRoot, "test.json.zip"), new Rng(seed + 7)), perSet, seed + 8),
  ];
}

/** Training pairs for the multi-task mixture's reply task: lccc-toy train and crosswoz val (several pairs each). */
export function trainingReplies(dataRoot: string, seed: number): ReplyPair[] {
  const lccc = (JSON.parse(readFileSync(path.join(dataRoot, "lccc-toy/toy_data.json"), "utf8")) as { train: string[][] }).train;
  const cw = crosswozDialogues(dataRoot, "val.json.zip");
  const rng = new Rng(seed + 9);
  const out: ReplyPair[] = [];
  for (let rep = 0; rep < 3; rep++) out.push(...pairsOf("lccc-toy", lccc.map((d) => d.map(joinLccc)), rng), ...pairsOf("crosswoz", cw, rng));
  return shuffle(out, rng);
}

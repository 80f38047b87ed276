// Readers for the intent and emotion data sets in ../shared/data that the contact-centre models train and are
// evaluated on, each returning labelled {text, label} splits exactly as the benchmarks define them: banking77
// (official train/test), clinc150 (train/val/test plus the oos splits), smp2017-ecdt (a seeded stratified 25% test
// split), clue-emotion (valid for training, test for testing). Licence of each set (for what may ship in a model):
// banking77 CC BY 4.0, clinc150 CC BY 3.0, lccc MIT, crosswoz/kdconv Apache-2.0; smp2017 and clue-emotion have none
// (tests and benchmarks only).
// Leaves out: downloading (the sets are local), the crosswoz/kdconv dialogue readers (kb-benchmark.ts).
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { Rng } from "../../../core/rng.js";

export interface Example {
  text: string;
  label: string;
}

export interface LabelledSplits {
  train: Example[];
  /** Held out from train for calibration (may be empty). */
  val: Example[];
  test: Example[];
}

function readText(file: string): string {
  if (!existsSync(file)) {
    throw new Error(`[datasets] ${file} not found: the benchmark data live in ../shared/data (see ../shared/data/README.md)`);
  }
  return readFileSync(file, "utf8");
}

/** A minimal RFC 4180 CSV parser (quoted fields, doubled quotes, embedded newlines). */
export function parseCsv(text: string, delimiter = ","): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field.length === 0) quoted = true;
    else if (ch === delimiter) {
      row.push(field);
      field = "";
    } else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = "";
    } else field += ch;
  }
  if (field.length > 0 || row.length > 0) {
    row.push(field);
    rows.push(row);
  }
  return rows.filter((r) => !(r.length === 1 && r[0] === ""));
}

/** Splits off a seeded stratified share of each label (at least one per label when the label has two or more). */
export function stratifiedSplit(examples: readonly Example[], share: number, seed: number): { kept: Example[]; held: Example[] } {
  const byLabel = new Map<string, Example[]>();
  for (const e of examples) byLabel.set(e.label, [...(byLabel.get(e.label) ?? []), e]);
  const rng = new Rng(seed);
  const kept: Example[] = [];
  const held: Example[] = [];
  for (const label of [...byLabel.keys()].sort()) {
    const items = byLabel.get(label)!;
    for (let i = items.length - 1; i > 0; i--) {
      const j = rng.nextU32() % (i + 1);
      [items[i], items[j]] = [items[j], items[i]];
    }
    const n = items.length >= 2 ? Math.max(1, Math.round(items.length * share)) : 0;
    held.push(...items.slice(0, n));
    kept.push(...items.slice(n));
  }
  return { kept, held };
}

export function loadBanking77(dataRoot: string, seed = 7): LabelledSplits {
  const read = (name: string) => parseCsv(readText(path.join(dataRoot, "banking77", name))).slice(1)
    .map(([text, label]) => ({ text, label }));
  const { kept, held } = stratifiedSplit(read("train.csv"), 0.1, seed);
  return { train: kept, val: held, test: read("test.csv") };
}

export interface Clinc150 extends LabelledSplits {
  oosTrain: Example[];
  oosVal: Example[];
  oosTest: Example[];
}

export function loadClinc150(dataRoot: string): Clinc150 {
  const raw = JSON.parse(readText(path.join(dataRoot, "clinc150", "data_full.json"))) as Record<string, [string, string][]>;
  const pick = (k: string) => (raw[k] ?? []).map(([text, label]) => ({ text, label }));
  return {
    train: pick("train"), val: pick("val"), test: pick("test"),
    oosTrain: pick("oos_train"), oosVal: pick("oos_val"), oosTest: pick("oos_test"),
  };
}

/** smp2017-ecdt: the 3,069 rows split 75/25 per label with a fixed seed (the benchmark's test split). */
export function loadSmp2017(dataRoot: string, seed = 2017): LabelledSplits {
  const rows = parseCsv(readText(path.join(dataRoot, "smp2017-ecdt-intent", "Chinese_data.csv")), "\t").slice(1);
  const all = rows.filter((r) => r.length >= 2 && r[0].trim()).map(([text, label]) => ({ text: text.trim(), label: label.trim() }));
  const { kept, held } = stratifiedSplit(all, 0.25, seed);
  const inner = stratifiedSplit(kept, 0.1, seed + 1);
  return { train: inner.kept, val: inner.held, test: held };
}

/** clue-emotion: train on valid.txt (a tenth held out for calibration), test on test.txt. */
export function loadClueEmotion(dataRoot: string, seed = 2020): LabelledSplits {
  const read = (name: string) => readText(path.join(dataRoot, "clue-emotion", name)).split("\n").filter((l) => l.trim())
    .map((l) => JSON.parse(l) as { content: string; label: string }).map((o) => ({ text: o.content, label: o.label }));
  const { kept, held } = stratifiedSplit(read("valid.txt"), 0.1, seed);
  return { train: kept, val: held, test: read("test.txt") };
}

/** lccc-toy single-turn posts (MIT): chit-chat examples for the small-talk route. */
export function loadLcccPosts(dataRoot: string, limit: number, seed = 5): string[] {
  const lines = readText(path.join(dataRoot, "lccc-toy", "toy_train.txt")).split("\n").filter((l) => l.includes("\t"));
  const rng = new Rng(seed);
  const out: string[] = [];
  for (let i = 0; i < limit && lines.length > 0; i++) {
    const post = lines.splice(rng.nextU32() % lines.length, 1)[0].split("\t")[0].replace(/ /g, "");
    if (post.length >= 2 && post.length <= 30) out.push(post);
  }
  return out;
}

/** kdconv-travel (Apache-2.0) user questions whose answer used a triple of one of `relations` (default 门票, 开放时间,
 *  地址), labelled with the relation; a pronoun (它/这里/那里) is replaced by the triple's entity so that each
 *  question stands alone. */
export function kdconvQuestions(dataRoot: string, split: "dev.json" | "test.json", relations = ["门票", "开放时间", "地址"]): Example[] {
  const out: Example[] = [];
  const dialogues = JSON.parse(readText(path.join(dataRoot, "kdconv-travel", split))) as
    { name: string; messages: { message: string; attrs?: { name: string; attrname: string }[] }[] }[];
  for (const d of dialogues) {
    d.messages.forEach((m, i) => {
      const attr = d.messages[i + 1]?.attrs?.find((a) => relations.includes(a.attrname));
      if (i % 2 === 0 && attr && /[？?]$/.test(m.message.trim())) out.push({ text: m.message.replace(/它|这里|那里/, attr.name), label: attr.attrname });
    });
  }
  return out;
}

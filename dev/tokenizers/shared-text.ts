// The text of ../shared/data as lines, per data set, with its language and whether its licence allows training
// a tokenizer on it (see ../shared/data/README.md). Used by the tokenizer tests (GGUF vs tokenizer.json parity,
// chars-per-token) and the dev scripts (full-data parity, training on all licensed text).
// JSON files contribute every string leaf, CSV/TXT files every line, .jsonl.gz and single-file .zip archives are
// unpacked in memory. Leaves out: stories260K (a binary model) and README/LICENSE files.
import { readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";
import { readSingleEntryZip } from "../../src/io/zip.js";

export interface TextSet {
  name: string;
  lang: "zh" | "en" | "mixed";
  /** The licence allows training on it (MIT, Apache-2.0, CC BY, CDLA-Sharing, public domain). */
  trainable: boolean;
  files: string[];
}

const SETS: { name: string; lang: TextSet["lang"]; trainable: boolean; exclude?: RegExp; trainExclude?: RegExp }[] = [
  { name: "abcd-sample", lang: "en", trainable: true },
  { name: "banking77", lang: "en", trainable: true },
  { name: "clinc150", lang: "en", trainable: true },
  { name: "hh-rlhf-harmless-test", lang: "en", trainable: true },
  { name: "tinyshakespeare", lang: "en", trainable: true },
  { name: "tinystories-val-sample", lang: "en", trainable: true },
  { name: "crosswoz", lang: "zh", trainable: true },
  { name: "kdconv-travel", lang: "zh", trainable: true },
  { name: "lccc-toy", lang: "zh", trainable: true },
  { name: "chinese-poetry-subset", lang: "zh", trainable: true },
  // Only the Apache-2.0 parts (glaive tool calls, identity); alpaca_en is CC BY-NC, the rest "research/demo use".
  { name: "llamafactory-demo", lang: "mixed", trainable: true, trainExclude: /alpaca|dpo|kto|dataset_info/ },
  { name: "zh-sentiment-reviews", lang: "zh", trainable: false },
  { name: "clue-emotion", lang: "zh", trainable: false },
  { name: "smp2017-ecdt-intent", lang: "zh", trainable: false },
];

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else if (/\.(json|jsonl\.gz|csv|txt|zip)$/.test(name)) out.push(p);
  }
  return out;
}

/** Every text set, with its files; `forTraining` keeps only the files whose licence allows training. */
export function textSets(root = path.resolve("../shared/data"), forTraining = false): TextSet[] {
  return SETS.filter((s) => !forTraining || s.trainable).map((s) => ({
    name: s.name,
    lang: s.lang,
    trainable: s.trainable,
    files: listFiles(path.join(root, s.name)).filter((f) => !(forTraining && s.trainExclude?.test(path.basename(f)))),
  }));
}


function stringLeaves(v: unknown, out: string[]): void {
  if (typeof v === "string") {
    if (v.trim().length > 0) out.push(v);
  } else if (Array.isArray(v)) {
    for (const x of v) stringLeaves(x, out);
  } else if (v !== null && typeof v === "object") {
    for (const x of Object.values(v)) stringLeaves(x, out);
  }
}

/** The text of one file as lines (JSON: string leaves, which may themselves hold newlines). */
export function fileLines(file: string): string[] {
  const raw = readFileSync(file);
  const out: string[] = [];
  if (file.endsWith(".zip")) {
    stringLeaves(JSON.parse(readSingleEntryZip(raw, file).toString("utf8")), out);
  } else if (file.endsWith(".jsonl.gz")) {
    for (const line of gunzipSync(raw).toString("utf8").split("\n")) if (line.trim()) stringLeaves(JSON.parse(line), out);
  } else if (file.endsWith(".json")) {
    stringLeaves(JSON.parse(raw.toString("utf8")), out);
  } else {
    for (const line of raw.toString("utf8").split("\n")) if (line.trim()) out.push(line);
  }
  // lccc-toy separates every character with a space; join them back into natural text.
  if (file.includes("lccc-toy")) return out.map((l) => l.replace(/(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])/g, ""));
  return out;
}

/** Every `stride`-th line of a set (offset 0), for fast deterministic samples. */
export function sampleLines(set: TextSet, stride: number, offset = 0): string[] {
  const out: string[] = [];
  let i = 0;
  for (const f of set.files) {
    for (const line of fileLines(f)) {
      if (i % stride === offset) out.push(line);
      i++;
    }
  }
  return out;
}

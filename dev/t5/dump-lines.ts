// Writes every line of ../shared/data (shared-text.ts's reading: per data set, JSON string leaves, CSV/TXT lines) as
// one JSON string per line to OUT/<set>.jsonl, plus OUT/train.txt with the licensed sets' text, so the Python dev
// script (train-unigram.py) trains on and encodes exactly the lines the Zhiyu test reads.
// usage: node --import tsx dev/t5/dump-lines.ts [OUT]   (default /tmp/zhiyu-t5-lines)
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileLines, textSets } from "../tokenizers/shared-text.js";

const out = process.argv[2] ?? "/tmp/zhiyu-t5-lines";
mkdirSync(out, { recursive: true });
const train: string[] = [];
for (const set of textSets()) {
  const lines = set.files.flatMap((f) => fileLines(f));
  writeFileSync(path.join(out, `${set.name}.jsonl`), lines.map((l) => JSON.stringify(l)).join("\n") + "\n");
  if (set.trainable) for (const l of lines) train.push(...l.split("\n").filter((x) => x.trim()));
  console.log(`${set.name}: ${lines.length} lines`);
}
writeFileSync(path.join(out, "train.txt"), train.join("\n") + "\n");

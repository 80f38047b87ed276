// Writes the licensed text of ../shared/data (see shared-text.ts) as plain UTF-8 files, one per data set, for
// `zhiyu tokenizer train --input ...`.
// usage: node --import tsx dev/tokenizers/extract-training-text.ts [OUT_DIR]   (default /tmp/zhiyu-train-text)
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { fileLines, textSets } from "./shared-text.js";

const outDir = process.argv[2] ?? "/tmp/zhiyu-train-text";
mkdirSync(outDir, { recursive: true });
for (const set of textSets(undefined, true)) {
  const lines = set.files.flatMap((f) => fileLines(f)).flatMap((l) => l.split("\n")).filter((l) => l.trim());
  const file = path.join(outDir, `${set.name}.txt`);
  writeFileSync(file, lines.join("\n") + "\n");
  console.log(file);
}

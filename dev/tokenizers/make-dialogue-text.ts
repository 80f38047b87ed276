// Writes the benchmark text for `zhiyu bench tokenize`: mixed Chinese/English dialogue, one utterance per line,
// interleaving KdConv travel dialogues and LCCC chit-chat (Chinese) with HH-RLHF conversations (English).
// usage: node --import tsx dev/tokenizers/make-dialogue-text.ts [OUT] [MAX_BYTES]   (default /tmp/zhiyu-zh-en-dialogue.txt, 2 MB)
import { writeFileSync } from "node:fs";
import path from "node:path";
import { fileLines } from "./shared-text.js";

const out = process.argv[2] ?? "/tmp/zhiyu-zh-en-dialogue.txt";
const maxBytes = Number(process.argv[3] ?? 2_000_000);
const data = path.resolve("../shared/data");
const zh = [...fileLines(`${data}/kdconv-travel/dev.json`).filter((l) => l.length < 300), ...fileLines(`${data}/lccc-toy/toy_valid.txt`)];
const en = fileLines(`${data}/hh-rlhf-harmless-test/test.jsonl.gz`).flatMap((d) => d.split("\n")).filter((l) => l.trim());
const lines: string[] = [];
let bytes = 0;
for (let i = 0; bytes < maxBytes && (i < zh.length || i < en.length); i++) {
  for (const l of [zh[i % zh.length], en[i % en.length]]) {
    lines.push(l);
    bytes += Buffer.byteLength(l) + 1;
  }
}
writeFileSync(out, lines.join("\n") + "\n");
console.log(`${out}: ${lines.length} lines, ${bytes} bytes`);

// Lists the lines of one data set where Zhiyu's Unigram tokenizer and the Rust `tokenizers` library disagree (when
// test/tokenizers/unigram.test.ts reports a set's SHA-256 mismatch), and times both encoders side by side.
// usage: node --import tsx dev/t5/unigram-parity.ts SET [PYTHON]   (after dev/t5/dump-lines.ts; PYTHON with `tokenizers`)
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadTokenizer } from "../../src/tokenizers/load.js";

const set = process.argv[2];
if (!set) throw new Error("usage: dev/t5/unigram-parity.ts SET [PYTHON]");
const dir = path.resolve("test/tokenizers/data/unigram");
const linesFile = `/tmp/zhiyu-t5-lines/${set}.jsonl`;
const theirs = execFileSync(process.argv[3] ?? "python3", ["dev/t5/unigram-ids.py", path.join(dir, "tokenizer.json"), linesFile],
  { maxBuffer: 1 << 30 }).toString().trim().split("\n").map((l) => JSON.parse(l) as number[]);
const lines = readFileSync(linesFile, "utf8").trim().split("\n").map((l) => JSON.parse(l) as string);
const tok = loadTokenizer(dir);
let bad = 0;
lines.forEach((line, i) => {
  const ours = tok.encode(line, { addSpecialTokens: false });
  if (ours.join() !== theirs[i]!.join() && bad++ < 10) console.log(`line ${i} ${JSON.stringify(line.slice(0, 100))}\n  ours   ${ours}\n  theirs ${theirs[i]}`);
});
console.log(`${set}: ${lines.length} lines, ${bad} mismatches`);

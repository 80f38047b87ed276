// Seeded train/held-out split of a preference-pair file (JSONL or .jsonl.gz, one pair per line) for the reward-model
// runs in docs/alignment.md, e.g. hh-rlhf-harmless-test: a seeded Fisher–Yates shuffle of the line indices, the
// first share held out; both files keep the lines verbatim and in their original order. Pairs whose chosen or
// rejected reply is empty (HH-RLHF has some: nothing after the last "\n\nAssistant:"), or whose two full texts do
// not share the dialogue before the last assistant turn, are dropped and counted, since zhiyu rm/dpo refuse them.
// Leaves out: JSON-array files (llamafactory's form) and de-duplication.
// Usage: node dev/alignment/split-pairs.mjs IN OUT_DIR [seed (7)] [held-out share (0.1)]
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { gunzipSync } from "node:zlib";

const [input, out, seedArg, shareArg] = process.argv.slice(2);
if (!input || !out) throw new Error("usage: node dev/alignment/split-pairs.mjs IN OUT_DIR [seed] [held-out share]");
const share = Number(shareArg ?? 0.1);
if (!(share > 0 && share < 1)) throw new Error(`split-pairs: held-out share must be in (0, 1), got ${shareArg}`);
let s = Number(seedArg ?? 7) >>> 0;
const rand = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
const raw = readFileSync(input);
const text = (input.endsWith(".gz") ? gunzipSync(raw) : raw).toString("utf8");
const reply = (v) => (typeof v === "string" ? v.slice(v.lastIndexOf("\n\nAssistant:") + 1).replace(/^\nAssistant:/, "") : JSON.stringify(v ?? ""));
const dialogue = (v) => (typeof v === "string" ? v.slice(0, v.lastIndexOf("\n\nAssistant:")) : "");
const nonEmpty = (l) => {
  const pair = JSON.parse(l);
  return dialogue(pair.chosen) === dialogue(pair.rejected) && reply(pair.chosen).trim() !== "" && reply(pair.rejected).trim() !== "" && reply(pair.chosen) !== '""' && reply(pair.rejected) !== '""';
};
const all = text.split("\n").filter((l) => l.trim() !== "");
const lines = all.filter(nonEmpty);
const order = lines.map((_, i) => i);
for (let i = order.length - 1; i > 0; i--) {
  const j = Math.floor(rand() * (i + 1));
  [order[i], order[j]] = [order[j], order[i]];
}
const held = new Set(order.slice(0, Math.round(lines.length * share)));
mkdirSync(out, { recursive: true });
const write = (name, keep) => writeFileSync(path.join(out, name), lines.filter((_, i) => keep(i)).join("\n") + "\n");
write("train.jsonl", (i) => !held.has(i));
write("heldout.jsonl", (i) => held.has(i));
console.log(`${lines.length} pairs from ${input} (${all.length - lines.length} with an empty reply or different dialogues dropped): ${lines.length - held.size} train, ${held.size} held out (seed ${seedArg ?? 7}) in ${out}`);

// Seeded arithmetic data for the GRPO experiment (docs/alignment.md "Runs"): SFT chats "a + b = ?" → "c" and
// GRPO prompt records {"prompt": [user message], "answer": c} for two- and three-digit additions and subtractions,
// with disjoint held-out prompts. Usage: node dev/alignment/make-arithmetic.mjs OUT_DIR [seed]
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

const out = process.argv[2] ?? "runs/arith-data";
let s = Number(process.argv[3] ?? 7) >>> 0;
const rand = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const seen = new Set();
function problem() {
  for (;;) {
    const digits = rand() < 0.5 ? 2 : 3;
    const lo = digits === 2 ? 10 : 100, hi = digits === 2 ? 99 : 999;
    let a = int(lo, hi), b = int(lo, hi);
    const op = rand() < 0.7 ? "+" : "-";
    if (op === "-" && b > a) [a, b] = [b, a];
    const q = `${a} ${op} ${b} = ?`;
    if (seen.has(q)) continue;
    seen.add(q);
    return { q, answer: op === "+" ? a + b : a - b };
  }
}
mkdirSync(out, { recursive: true });
const lines = (rows) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
const sft = Array.from({ length: 4000 }, () => problem()).map((p) => ({ messages: [{ role: "user", content: p.q }, { role: "assistant", content: String(p.answer) }] }));
const rl = Array.from({ length: 600 }, () => problem()).map((p) => ({ prompt: [{ role: "user", content: p.q }], answer: p.answer }));
writeFileSync(path.join(out, "sft.jsonl"), lines(sft));
writeFileSync(path.join(out, "prompts.jsonl"), lines(rl)); // zhiyu grpo --val-every 6 holds out every 6th (100 prompts)
console.log(`wrote ${sft.length} SFT chats and ${rl.length} prompts to ${out}`);

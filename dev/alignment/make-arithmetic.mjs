// Seeded arithmetic data for the GRPO experiment (docs/alignment.md "Runs"): SFT chats "a + b = ?" → "c" and
// GRPO prompt records {"prompt": [user message], "answer": c} for two- and three-digit additions and subtractions,
// with disjoint held-out prompts. With --reversed the question asks for the result with its digits reversed
// (least significant digit first: "457 + 168 = ? reversed" → "526", i.e. 625) — the order in which a left-to-right
// decoder can carry; the record's answer is the reversed digit string, so the `arithmetic` reward still checks the
// exact value. With --scratchpad the answer works the columns right to left before the result, one short step
// per column with its carry or borrow ("457 + 168 = ?" → "7+8+0=15, 5+6+1=12, 4+1+1=6 → 625"; subtraction borrows
// by writing the column's minuend with a leading 1: "452 - 168 = ?" → "12-8-0=4, 15-6-1=8, 4-1-1=2 → 284"), and
// the prompt records carry an `expression` ("457+168") so the `arithmetic` reward's truth comes from Zhiyu's
// calculator. Leaves out: multiplication, division, more than two operands.
// Usage: node dev/alignment/make-arithmetic.mjs OUT_DIR [seed] [--sft N (4000)] [--prompts N (600)]
//        [--reversed | --scratchpad]
import { mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";

const args = process.argv.slice(2);
function flag(name, fallback) {
  const at = args.indexOf(name);
  if (at < 0) return fallback;
  const value = Number(args[at + 1]);
  if (!Number.isInteger(value) || value <= 0) throw new Error(`make-arithmetic: ${name} needs a positive integer, got ${args[at + 1]}`);
  args.splice(at, 2);
  return value;
}
const sftCount = flag("--sft", 4000);
const promptCount = flag("--prompts", 600);
const reversed = args.includes("--reversed");
const scratchpad = args.includes("--scratchpad");
if (reversed && scratchpad) throw new Error("make-arithmetic: --reversed and --scratchpad are two answer formats; pick one");
const positional = args.filter((a) => a !== "--reversed" && a !== "--scratchpad");
const out = positional[0] ?? "runs/arith-data";
let s = Number(positional[1] ?? 7) >>> 0;
const rand = () => ((s = (Math.imul(s ^ (s >>> 15), 0x2c1b3c6d) + 0x6d2b79f5) >>> 0) / 2 ** 32);
const int = (lo, hi) => lo + Math.floor(rand() * (hi - lo + 1));
const seen = new Set();
/** Column-by-column working of a ± b (same digit count, a ≥ b for −), then "→ result". */
function worked(a, b, op) {
  const da = [...String(a)].reverse().map(Number), db = [...String(b)].reverse().map(Number);
  const steps = [];
  let carry = 0;
  for (let i = 0; i < da.length; i++) {
    if (op === "+") {
      const sum = da[i] + db[i] + carry;
      steps.push(`${da[i]}+${db[i]}+${carry}=${sum}`);
      carry = sum >= 10 ? 1 : 0;
    } else {
      const borrow = da[i] - db[i] - carry < 0 ? 1 : 0;
      const top = da[i] + 10 * borrow;
      steps.push(`${top}-${db[i]}-${carry}=${top - db[i] - carry}`);
      carry = borrow;
    }
  }
  return `${steps.join(", ")} → ${op === "+" ? a + b : a - b}`;
}
function problem() {
  for (;;) {
    const digits = rand() < 0.5 ? 2 : 3;
    const lo = digits === 2 ? 10 : 100, hi = digits === 2 ? 99 : 999;
    let a = int(lo, hi), b = int(lo, hi);
    const op = rand() < 0.7 ? "+" : "-";
    if (op === "-" && b > a) [a, b] = [b, a];
    const q = `${a} ${op} ${b} = ?${reversed ? " reversed" : ""}`;
    if (seen.has(q)) continue;
    seen.add(q);
    const value = op === "+" ? a + b : a - b;
    if (scratchpad) return { q, answer: worked(a, b, op), expression: `${a}${op}${b}` };
    return { q, answer: reversed ? [...String(value)].reverse().join("") : String(value) };
  }
}
mkdirSync(out, { recursive: true });
const lines = (rows) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
const sft = Array.from({ length: sftCount }, () => problem()).map((p) => ({ messages: [{ role: "user", content: p.q }, { role: "assistant", content: p.answer }] }));
// answers as strings: a reversed result may start with 0 ("021"); the reward compares exact values (21 = 021)
const rl = Array.from({ length: promptCount }, () => problem()).map((p) =>
  p.expression ? { prompt: [{ role: "user", content: p.q }], expression: p.expression } : { prompt: [{ role: "user", content: p.q }], answer: p.answer });
writeFileSync(path.join(out, "sft.jsonl"), lines(sft));
writeFileSync(path.join(out, "prompts.jsonl"), lines(rl)); // zhiyu grpo --val-every 6 holds out every 6th
console.log(`wrote ${sft.length} SFT chats and ${rl.length} prompts to ${out}${reversed ? " (reversed answers)" : scratchpad ? " (worked answers)" : ""}`);

// A/B of two (or more) checkouts of Zhiyu end to end, e.g. main before a kernel change and the branch with it: one
// process per side (dev/perf/checkout-ab-pass.ts, each loading its own src/ and native addon), passes alternating
// side by side, the order reversed every round, so that load drifting on a busy machine slows all sides alike.
// Prints per side the median and min wall time and process CPU time per pass (CPU time is the steadier figure on a
// loaded machine), and each side's speed relative to the first.
// usage: node dev/perf/checkout-ab.mjs [--rounds 9] 'LABEL=ROOT|MODEL|THREADS|embed|BATCH|TOKENS' 'LABEL2=…' …
//   e.g. git archive main | tar -x -C /tmp/base; ln -s $PWD/node_modules /tmp/base/; cp -r build /tmp/base/ (the
//   addon built from main), then
//   node dev/perf/checkout-ab.mjs --rounds 15 "main=/tmp/base|F.gguf|2|embed|1|128" "new=$PWD|F.gguf|2|embed|1|128"
// Leaves out: statistics beyond medians; decode (prefill and embed only).
import { spawn } from "node:child_process";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";

const args = process.argv.slice(2);
const at = args.indexOf("--rounds");
const rounds = at >= 0 ? Number(args[at + 1]) : 9;
const here = path.dirname(fileURLToPath(import.meta.url));
const sides = args.filter((a) => a.includes("=")).map((spec) => {
  const [label, rest] = spec.split("=");
  const [root, model, threads, kind, batch = "1", tokens = "128"] = rest.split("|");
  const child = spawn(path.join(root, "node_modules/.bin/tsx"), [path.join(here, "checkout-ab-pass.ts"), path.resolve(root), model, threads, kind, batch, tokens],
    { cwd: root, stdio: ["pipe", "pipe", "inherit"] });
  const waiting = [], lines = [];
  readline.createInterface({ input: child.stdout }).on("line", (l) => (waiting.length ? waiting.shift()(l) : lines.push(l)));
  const next = () => (lines.length ? Promise.resolve(lines.shift()) : new Promise((r) => waiting.push(r)));
  return { label, child, next, wall: [], cpu: [] };
});
if (sides.length < 2) throw new Error("give at least two sides: 'LABEL=ROOT|MODEL|THREADS|embed|BATCH|TOKENS'");
for (const s of sides) { const l = await s.next(); if (l !== "ready") throw new Error(`${s.label}: ${l}`); }
for (let r = 0; r < rounds; r++)
  for (const s of r % 2 ? [...sides].reverse() : sides) {
    s.child.stdin.write("go\n");
    const t = JSON.parse(await s.next());
    s.wall.push(t.wall); s.cpu.push(t.cpu);
  }
const med = (a) => [...a].sort((x, y) => x - y)[a.length >> 1];
const first = sides[0];
for (const s of sides)
  console.log(`${s.label.padEnd(10)} wall median ${med(s.wall).toFixed(1)} ms (min ${Math.min(...s.wall).toFixed(1)}), CPU median ` +
    `${med(s.cpu).toFixed(1)} ms (min ${Math.min(...s.cpu).toFixed(1)}); speed vs ${first.label}: wall ${(med(first.wall) / med(s.wall)).toFixed(3)}×, ` +
    `CPU ${(med(first.cpu) / med(s.cpu)).toFixed(3)}×`);
for (const s of sides) s.child.stdin.write("quit\n");

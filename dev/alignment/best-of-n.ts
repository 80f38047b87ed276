// Best-of-n headroom of one policy under a reward model, from K sampled eval-policies.ts runs over the same prompts
// (--temperature T --seed 1…K --out FILE): per prompt the best of the first n samples, n = 1…K, its mean gain over
// the mean sample in units of the samples' sd, and the analytic KL bound of best-of-n sampling (log n − (n − 1)/n
// nats per sequence, Stiennon et al. 2020 / Beirami et al. 2024) — what a policy that moved that far from the
// sampler could gain at most by picking among its own samples. Also the split of the reward variance into
// between-prompt and within-prompt parts: a policy change can only act on the second directly.
// Leaves out: unbiased best-of-n estimators over all subsets (the first n seeds are taken).
// Usage: node --import tsx dev/alignment/best-of-n.ts EVAL1.json EVAL2.json …   (each from eval-policies.ts, one policy)
import { readFileSync } from "node:fs";

const files = process.argv.slice(2);
if (files.length < 2) throw new Error("usage: best-of-n.ts EVAL1.json EVAL2.json … (sampled eval-policies.ts runs of one policy, different seeds)");
const runs = files.map((f) => {
  const e = JSON.parse(readFileSync(f, "utf8")) as { replies: { name: string; scores: number[] }[] };
  if (e.replies.length !== 1) throw new Error(`${f}: ${e.replies.length} policies; give runs of one policy`);
  return e.replies[0]!.scores;
});
const P = runs[0]!.length;
for (const [i, r] of runs.entries()) if (r.length !== P) throw new Error(`${files[i]}: ${r.length} scores, ${files[0]} has ${P}`);
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => { const m = mean(xs); return Math.sqrt(xs.reduce((a, x) => a + (x - m) ** 2, 0) / Math.max(1, xs.length - 1)); };
const all = runs.flat();
const [m, s] = [mean(all), sd(all)];
const within = mean(Array.from({ length: P }, (_, i) => { const v = sd(runs.map((r) => r[i]!)); return v * v; }));
const between = sd(Array.from({ length: P }, (_, i) => mean(runs.map((r) => r[i]!))));
console.log(`${runs.length} samples × ${P} prompts: mean ${m.toFixed(3)}, sd ${s.toFixed(3)}; within-prompt sd ${Math.sqrt(within).toFixed(3)}, sd of the prompt means ${between.toFixed(3)}`);
console.log("| n | best-of-n mean | gain (sd) | KL bound (nats/seq) |\n|---|---|---|---|");
for (let n = 1; n <= runs.length; n++) {
  const best = mean(Array.from({ length: P }, (_, i) => Math.max(...runs.slice(0, n).map((r) => r[i]!))));
  console.log(`| ${n} | ${best.toFixed(3)} | ${((best - m) / s).toFixed(2)} | ${(Math.log(n) - (n - 1) / n).toFixed(2)} |`);
}

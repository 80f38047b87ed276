// One run, side by side: the TF-IDF + logistic-regression baseline (dev/contact-centre/baseline.py, scikit-learn) and
// the BERT route's own command, `zhiyu finetune --task classify --features sparse+encoder` on the shipped
// models/zhiyu-encoder, then `zhiyu classify --model OUT/model --json` on the test rows — both through bin/zhiyu.mjs,
// as a user runs them — on banking77, clinc150, smp2017-ecdt and clue-emotion, with the splits of `zhiyu desk eval`
// (src/apps/contact-centre/training/datasets.ts, written here as JSONL). Each set's flags are the desk's recipe for it
// (training/benchmarks.ts SET_RECIPES, chosen on validation data in session 8/9): banking77 and smp2017 with the
// k-NN vote and a refit on train + val; clinc150 with `oos` as a class and a threshold, stems and word weight 1.5;
// clue-emotion with balanced class weights, w chosen by validation macro-F1, and a refit.
// With --seeds a,b,… each set's model is trained once per seed (--seed: the sparse model's and the dense head's
// shuffles) and the table shows the mean over seeds (min–max beside it); the baseline (L-BFGS) has no seed.
// Prints a Markdown table and the raw JSON lines. Work files go to --work (default /work/runs/classify/compare).
// usage: node --import tsx dev/contact-centre/compare-finetune.ts [--data ../shared/data] [--sets a,b] [--python P]
//        [--work DIR] [--cache-dir DIR (PREFIX=<dir>/<set> for --encoder-cache)] [--seeds 42,…] [--baseline-from LOG]
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadBanking77, loadClinc150, loadClueEmotion, loadSmp2017, type Example } from "../../src/apps/contact-centre/training/datasets.js";
import { macroF1 } from "../../src/apps/contact-centre/training/benchmarks.js";

const { values } = parseArgs({ options: { data: { type: "string" }, sets: { type: "string" }, python: { type: "string" }, work: { type: "string" }, "cache-dir": { type: "string" }, seeds: { type: "string" }, "baseline-from": { type: "string" } } });
// --baseline-from LOG: the baseline's lines of an earlier run's output (scikit-learn's L-BFGS fit is deterministic;
// on the loaded machine it costs 1–7 minutes a set).
const earlier = values["baseline-from"] ? new Map(readFileSync(values["baseline-from"], "utf8").split("\n").filter((l) => l.includes('"baseline"'))
  .map((l) => JSON.parse(l) as { set: string; baseline: Record<string, number> }).map((r) => [r.set, r.baseline])) : null;
const seeds = (values.seeds ?? "42").split(",").map(Number);
const data = path.resolve(values.data ?? "../shared/data");
const work = values.work ?? "/work/runs/classify/compare";
const sets = (values.sets ?? "banking77,clinc150,smp2017,clue-emotion").split(",");

function run(cmd: string, args: string[]): string {
  const t0 = Date.now();
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  console.error(`  ${path.basename(cmd)} ${args.slice(0, 2).join(" ")}: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  return r.stdout;
}
const jsonl = (file: string, rows: readonly Example[]) => writeFileSync(file, rows.map((e) => JSON.stringify({ text: e.text, label: e.label })).join("\n") + "\n");

const RECIPE_FLAGS: Record<string, string[]> = {
  banking77: ["--refit", "--neighbours"],
  smp2017: ["--refit", "--neighbours"],
  "clue-emotion": ["--refit", "--class-weights", "--select-by", "macro-f1"],
  clinc150: ["--oos-label", "oos", "--sparse-stem", "--sparse-word-weight", "1.5", "--sparse-epochs", "20", "--sparse-lr", "1", "--sparse-l2", "3e-6"],
};

const rows: string[] = [];
const raw: string[] = [];
const f = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(3));
for (const set of sets) {
  const dir = path.join(work, set);
  mkdirSync(dir, { recursive: true });
  let train: Example[], val: Example[], test: Example[];
  if (set === "clinc150") {
    const d = loadClinc150(data);
    [train, val, test] = [[...d.train, ...d.oosTrain], [...d.val, ...d.oosVal], [...d.test, ...d.oosTest]];
  } else {
    const d = set === "banking77" ? loadBanking77(data) : set === "smp2017" ? loadSmp2017(data) : loadClueEmotion(data);
    [train, val, test] = [d.train, d.val, d.test];
  }
  jsonl(path.join(dir, "train.jsonl"), train);
  jsonl(path.join(dir, "val.jsonl"), val);
  jsonl(path.join(dir, "test.jsonl"), test);
  // The baseline reads the sets itself (same splits); smp2017's seeded split is handed over as desk compare does.
  if (set === "smp2017") writeFileSync(path.join(dir, "smp2017.json"), JSON.stringify({ train: [...train, ...val], test }));
  const base = earlier?.get(set) ?? JSON.parse(run(values.python ?? "/work/venv/bin/python", ["dev/contact-centre/baseline.py", "--data", data, "--splits", dir, "--sets", set])) as Record<string, number>;
  const cache = values["cache-dir"] ? ["--encoder-cache", path.join(values["cache-dir"], set)] : [];
  const runs: Record<string, number>[] = [];
  for (const seed of seeds) {
    const runDir = path.join(dir, seeds.length === 1 && seed === 42 ? "run" : `run-seed${seed}`);
    const trained = run(process.execPath, ["bin/zhiyu.mjs", "finetune", "--task", "classify", "--features", "sparse+encoder", "--model", "models/zhiyu-encoder",
      "--train", path.join(dir, "train.jsonl"), "--val", path.join(dir, "val.jsonl"), "--out", runDir, "--name", set, "--seed", String(seed), ...cache, ...RECIPE_FLAGS[set]]);
    const report = JSON.parse(trained.trim().split("\n").pop()!) as Record<string, number>;
    const out = run(process.execPath, ["bin/zhiyu.mjs", "classify", "--model", path.join(runDir, "model"), "--input-jsonl", path.join(dir, "test.jsonl"), "--json"]);
    writeFileSync(path.join(runDir, "test-predictions.jsonl"), out);
    const preds = out.trim().split("\n").map((l) => JSON.parse(l) as { label: string; logits: number[]; in_scope?: boolean });
    const gold = test.map((e) => e.label);
    const ours: Record<string, number> = { seed, fusion_weight: report.fusion_weight };
    if (set === "clinc150") {
      const labels = (JSON.parse(readFileSync(path.join(runDir, "model", "zhiyu_fused.json"), "utf8")) as { labels: string[] }).labels;
      const argmaxLabel = (z: number[]) => labels[z.indexOf(Math.max(...z))];
      const ins = preds.map((p, i) => ({ p, g: gold[i] })).filter((r) => r.g !== "oos"), oos = preds.filter((_, i) => gold[i] === "oos");
      ours.accuracy = ins.filter((r) => r.p.label === r.g).length / ins.length;
      ours.oos_recall = oos.filter((p) => p.in_scope === false).length / oos.length;
      ours.accuracy_class_only = ins.filter((r) => argmaxLabel(r.p.logits) === r.g).length / ins.length;
      ours.oos_recall_class_only = oos.filter((p) => argmaxLabel(p.logits) === "oos").length / oos.length;
    } else {
      const pred = preds.map((p) => p.label);
      ours.accuracy = pred.filter((p, i) => p === gold[i]).length / gold.length;
      if (set === "clue-emotion") ours.macro_f1 = macroF1(gold, pred);
    }
    runs.push(ours);
    raw.push(JSON.stringify({ set, zhiyu: ours, finetune_report: report }));
  }
  const m = (k: string) => {
    const xs = runs.map((r) => r[k]!);
    const mean = xs.reduce((a, x) => a + x, 0) / xs.length;
    return xs.length === 1 ? f(mean) : `${f(mean)} (${f(Math.min(...xs))}–${f(Math.max(...xs))})`;
  };
  if (set === "clinc150") {
    rows.push(`| clinc150 in-scope accuracy (oos class only) | ${f(base.accuracy)} | ${m("accuracy_class_only")} |`);
    rows.push(`| clinc150 OOS recall (oos class only) | ${f(base.oos_recall)} | ${m("oos_recall_class_only")} |`);
    rows.push(`| clinc150 in-scope accuracy (class + threshold, ≤ 0.5 pt val drop) | ${f(base.accuracy_threshold)} | ${m("accuracy")} |`);
    rows.push(`| clinc150 OOS recall (class + threshold, ≤ 0.5 pt val drop) | ${f(base.oos_recall_threshold)} | ${m("oos_recall")} |`);
  } else {
    if (set === "clue-emotion") rows.push(`| clue-emotion macro-F1 | ${f(base.macro_f1)} | ${m("macro_f1")} |`);
    rows.push(`| ${set} accuracy | ${f(base.accuracy)} | ${m("accuracy")} |`);
  }
  rows.push(`| ${set} encoder weight w (chosen on val) | — | ${runs.map((r) => r.fusion_weight).join(", ")} |`);
  raw.push(JSON.stringify({ set, baseline: base }));
  console.error(`done: ${set}`);
}
console.log([`| set · metric | baseline (sklearn TF-IDF + LR) | \`zhiyu finetune --features sparse+encoder\` (seeds ${seeds.join(", ")}) |`, "|---|---|---|", ...rows].join("\n"));
console.log("\n" + raw.join("\n"));

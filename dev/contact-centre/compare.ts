// One run, side by side: the practitioner's baseline (dev/contact-centre/baseline.py, scikit-learn TF-IDF + logistic
// regression) and Zhiyu (`zhiyu desk eval`, the same trainer as the shipped models) on banking77, clinc150,
// smp2017-ecdt and clue-emotion, on identical splits (the smp2017 split is Zhiyu's seeded one, written to a temporary
// folder for the baseline to read), plus the hand-off set (Zhiyu only: the baseline has no hand-off policy).
// Zhiyu's column is `desk eval` as shipped: the sparse model joined by the shipped encoder's dense head (late fusion,
// weight chosen on validation data); the third column is the same run's sparse model alone (weight 0).
// Prints a Markdown table and the raw JSON lines.
// usage: node --import tsx dev/contact-centre/compare.ts [--data ../shared/data] [--sets banking77,clinc150,...] [--python python3]
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadSmp2017 } from "../../src/apps/contact-centre/training/datasets.js";

const { values } = parseArgs({ options: { data: { type: "string" }, sets: { type: "string" }, python: { type: "string" } } });
const data = path.resolve(values.data ?? "../shared/data");
const sets = (values.sets ?? "banking77,clinc150,smp2017,clue-emotion").split(",");
const splits = mkdtempSync(path.join(os.tmpdir(), "desk-compare-"));

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
  return r.stdout;
}

try {
  const smp = loadSmp2017(data);
  writeFileSync(path.join(splits, "smp2017.json"), JSON.stringify({ train: [...smp.train, ...smp.val], test: smp.test }));
  const rows: string[] = [];
  const raw: string[] = [];
  for (const set of sets) {
    const base = JSON.parse(run(values.python ?? "python3", ["dev/contact-centre/baseline.py", "--data", data, "--splits", splits, "--sets", set])) as Record<string, number>;
    const ours = JSON.parse(run(process.execPath, ["bin/zhiyu.mjs", "desk", "eval", "--set", set, "--data", data, "--json"])) as Record<string, number> & {
      fusion?: { weight: number; sparse_only: Record<string, number> };
    };
    const alone = ours.fusion?.sparse_only ?? {};
    raw.push(JSON.stringify({ baseline: base }), JSON.stringify({ zhiyu: ours }));
    const f = (x: number | undefined) => (x === undefined ? "—" : x.toFixed(3));
    if (set === "clinc150") {
      rows.push(`| clinc150 in-scope accuracy (oos class only) | ${f(base.accuracy)} | ${f(ours.accuracy_class_only)} | ${f(alone.accuracy_class_only)} |`);
      rows.push(`| clinc150 OOS recall (oos class only) | ${f(base.oos_recall)} | ${f(ours.oos_recall_class_only)} | ${f(alone.oos_recall_class_only)} |`);
      rows.push(`| clinc150 in-scope accuracy (class + threshold, ≤ 0.5 pt val drop) | ${f(base.accuracy_threshold)} | ${f(ours.accuracy)} | ${f(alone.accuracy)} |`);
      rows.push(`| clinc150 OOS recall (class + threshold, ≤ 0.5 pt val drop) | ${f(base.oos_recall_threshold)} | ${f(ours.oos_recall)} | ${f(alone.oos_recall)} |`);
      rows.push(`| clinc150 in-scope accuracy (class + threshold, ≤ 1 pt val drop) | ${f(base.accuracy_threshold_1pt)} | ${f(ours.accuracy_1pt)} | ${f(alone.accuracy_1pt)} |`);
      rows.push(`| clinc150 OOS recall (class + threshold, ≤ 1 pt val drop) | ${f(base.oos_recall_threshold_1pt)} | ${f(ours.oos_recall_1pt)} | ${f(alone.oos_recall_1pt)} |`);
    } else if (set === "clue-emotion") {
      rows.push(`| clue-emotion macro-F1 | ${f(base.macro_f1)} | ${f(ours.macro_f1)} | ${f(alone.macro_f1)} |`);
      rows.push(`| clue-emotion accuracy | ${f(base.accuracy)} | ${f(ours.accuracy)} | ${f(alone.accuracy)} |`);
    } else {
      rows.push(`| ${set} accuracy | ${f(base.accuracy)} | ${f(ours.accuracy)} | ${f(alone.accuracy)} |`);
    }
    rows.push(`| ${set} encoder weight (chosen on val) | — | ${ours.fusion ? ours.fusion.weight : "no encoder"} | 0 |`);
    console.error(`done: ${set}`);
  }
  const handoff = JSON.parse(run(process.execPath, ["bin/zhiyu.mjs", "desk", "eval", "--set", "handoff", "--data", data, "--json"])) as Record<string, number>;
  raw.push(JSON.stringify({ zhiyu: handoff }));
  rows.push(`| hand-off precision / recall (${handoff.test_size} conversations) | — | ${handoff.precision.toFixed(3)} / ${handoff.recall.toFixed(3)} | |`);
  console.log(["| set · metric | baseline (sklearn TF-IDF + LR) | Zhiyu (sparse + encoder) | Zhiyu sparse alone |", "|---|---|---|---|", ...rows].join("\n"));
  console.log("\n" + raw.join("\n"));
} finally {
  rmSync(splits, { recursive: true, force: true });
}

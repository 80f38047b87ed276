// One run, both sides: Zhiyu's own pretrained encoder fine-tuned with `zhiyu finetune --task classify` against the
// contact-centre baseline (dev/contact-centre/baseline.py: scikit-learn TF-IDF word 1–2 + char_wb 1–5 grams, logistic
// regression) on the same splits as BENCHMARKS.md's contact-centre section: banking77 official test (Zhiyu trains on
// train minus a seeded 10% validation split used for calibration); clinc150 test with `oos` trained as a class, and
// with a threshold on the calibrated confidence chosen on val (≤ 0.5 pt in-scope accuracy drop); smp2017-ecdt the
// contact-centre's seeded stratified 25% test split (exported for the baseline).
// usage: nice -n 10 node --import tsx dev/bert/intent-compare.ts --set banking77 --model runs/encoder/pretrain-h128/checkpoints/step-… \
//          --work runs/encoder/ft [--epochs 2] [--batch 32] [--max-len 48] [--lr 3e-4] [--threads 2] [--python python3]
// Prints one JSON line per side and a Markdown row. smp2017-ecdt has no licence: its model is for this figure only.
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { parseArgs } from "node:util";
import { loadBanking77, loadClinc150, loadSmp2017, type Example } from "../../src/apps/contact-centre/training/datasets.js";
import { loadEncoder } from "../../src/infer/encoder.js";
import { classifierMetrics } from "../../src/train/objectives/classify.js";

const { values } = parseArgs({ options: {
  set: { type: "string" }, model: { type: "string" }, work: { type: "string" }, data: { type: "string" }, epochs: { type: "string" },
  batch: { type: "string" }, "max-len": { type: "string" }, lr: { type: "string" }, threads: { type: "string" }, python: { type: "string" },
  "skip-train": { type: "boolean" },
} });
const set = values.set ?? "banking77";
const data = path.resolve(values.data ?? "../shared/data");
const work = path.resolve(values.work ?? "runs/encoder/ft", set);
const maxLen = Number(values["max-len"] ?? 48);
mkdirSync(work, { recursive: true });

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, stdio: ["ignore", "pipe", "inherit"] });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status})`);
  return r.stdout;
}
const jsonl = (file: string, rows: Example[]) => writeFileSync(file, rows.map((e) => JSON.stringify(e)).join("\n") + "\n");

// Splits: train / val for Zhiyu; test with out-of-scope rows labelled "oos".
let train: Example[], val: Example[], test: Example[];
if (set === "banking77") ({ train, val, test } = loadBanking77(data));
else if (set === "smp2017") {
  const s = loadSmp2017(data);
  ({ train, val, test } = s);
  writeFileSync(path.join(work, "smp2017.json"), JSON.stringify({ train: [...s.train, ...s.val], test: s.test }));
} else if (set === "clinc150") {
  const c = loadClinc150(data);
  const oos = (rows: Example[]) => rows.map((e) => ({ text: e.text, label: "oos" }));
  train = [...c.train, ...oos(c.oosTrain)]; val = [...c.val, ...oos(c.oosVal)]; test = [...c.test, ...oos(c.oosTest)];
} else throw new Error(`--set ${set}: banking77, clinc150 or smp2017`);
jsonl(path.join(work, "train.jsonl"), train);
jsonl(path.join(work, "val.jsonl"), val);

const out = path.join(work, "run");
if (!values["skip-train"]) {
  if (!values.model) throw new Error("--model DIR (the pretrained encoder checkpoint) is required");
  run(process.execPath, ["bin/zhiyu.mjs", "finetune", "--task", "classify", "--model", values.model, "--train", path.join(work, "train.jsonl"),
    "--val", path.join(work, "val.jsonl"), "--out", out, "--epochs", values.epochs ?? "2", "--batch", values.batch ?? "32", "--max-len", String(maxLen),
    "--lr", values.lr ?? "3e-4", "--log-every", "50", "--checkpoint-every", "300", ...(set === "clinc150" ? ["--oos-label", "oos"] : []),
    ...(values.threads ? ["--threads", values.threads] : [])]);
}
const report = JSON.parse(readFileSync(path.join(out, "model", "finetune_report.json"), "utf8")) as { temperature: number; oos_threshold: number };
const enc = loadEncoder(path.join(out, "model"));
const labels = enc.config.labels;
const oosClass = labels.indexOf("oos") >= 0 ? labels.indexOf("oos") : null;
const logits: Float32Array[] = [];
for (let i = 0; i < test.length; i += 64) {
  const seqs = test.slice(i, i + 64).map((e) => {
    const ids = enc.tokenizer.encode(e.text, { addSpecialTokens: true });
    return { ids: ids.length <= maxLen ? ids : [...ids.slice(0, maxLen - 1), ids[ids.length - 1]!] };
  });
  for (const c of enc.classify(seqs)) logits.push(c.logits);
}
const gold = test.map((e) => (e.label === "oos" ? (oosClass ?? -1) : labels.indexOf(e.label)));
if (gold.some((g, i) => g < 0 && test[i]!.label !== "oos")) throw new Error("a test label is missing from the trained labels");
const classOnly = classifierMetrics(logits, gold, 1, 0, oosClass);
const ours: Record<string, unknown> = { side: "zhiyu-encoder", set, accuracy: classOnly.accuracy, oos_recall: classOnly.oosRecall, test: test.length,
  temperature: report.temperature, params: [...enc.model.params.values()].reduce((n, p) => n + ("size" in p ? (p as { size: number }).size : 0), 0) };
if (set === "clinc150") {
  const t = classifierMetrics(logits, gold, report.temperature, report.oos_threshold, oosClass);
  Object.assign(ours, { accuracy_threshold: t.accuracy, oos_recall_threshold: t.oosRecall, threshold: report.oos_threshold });
}
enc.dispose();
const base = JSON.parse(run(values.python ?? "python3", ["dev/contact-centre/baseline.py", "--data", data, "--splits", work, "--sets", set]).trim().split("\n").pop()!) as Record<string, number>;
console.log(JSON.stringify({ side: "baseline", ...base }));
console.log(JSON.stringify(ours));
const f = (x: unknown) => (typeof x === "number" ? x.toFixed(3) : "—");
if (set === "clinc150") {
  console.log(`| clinc150 in-scope accuracy / OOS recall (oos class only) | ${f(base.accuracy)} / ${f(base.oos_recall)} | ${f(ours.accuracy)} / ${f(ours.oos_recall)} |`);
  console.log(`| clinc150 in-scope accuracy / OOS recall (class + threshold, ≤ 0.5 pt val drop) | ${f(base.accuracy_threshold)} / ${f(base.oos_recall_threshold)} | ${f(ours.accuracy_threshold)} / ${f(ours.oos_recall_threshold)} |`);
} else console.log(`| ${set} accuracy | ${f(base.accuracy)} | ${f(ours.accuracy)} |`);

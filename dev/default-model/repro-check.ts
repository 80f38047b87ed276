// Reproducibility check of the recipe: re-runs the extract and tokenizer stages into a temporary folder and
// compares tokenizer.json byte for byte with the recipe's, then re-runs the first 100 pretraining steps with the
// recipe's exact options (same seed, same thread count) and compares every loss with WORK/pretrain/metrics.jsonl.
// usage: node --import tsx dev/default-model/repro-check.ts [RECIPE] [WORK] [--steps 100]
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { readMetrics } from "../../src/train/metrics.js";
import { readRecipeConfig } from "../../src/apps/zhiyu-mini/config.js";
import { pretrainOptions, stageExtract, stageTokenizer, type RecipeContext } from "../../src/apps/zhiyu-mini/stages.js";
import { runTraining } from "../../src/train/trainer.js";

const args = process.argv.slice(2);
const si = args.indexOf("--steps");
const steps = si >= 0 ? Number(args.splice(si, 2)[1]) : 100;
const recipe = args[0] ?? "recipes/zhiyu-mini.json";
const config = readRecipeConfig(recipe);
const work = path.resolve(args[1] ?? `runs/recipe-${config.name}`);
const backend = createBackend({ threads: config.threads });
const quiet = { isTTY: false, write: () => {} };
const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-repro-"));
const ctx = (w: string): RecipeContext => ({
  config, work: w, dataRoot: path.resolve("../shared/data"), repoRoot: process.cwd(), backend, log: () => {}, stdout: quiet,
});
try {
  await stageExtract(ctx(tmp));
  await stageTokenizer(ctx(tmp));
  const same = readFileSync(path.join(tmp, "tokenizer", "tokenizer.json")).equals(readFileSync(path.join(work, "tokenizer", "tokenizer.json")));
  console.log(`tokenizer.json rebuilt from ../shared/data: ${same ? "identical" : "DIFFERENT"}`);
  // The recipe's own pretraining options, with a fresh run folder, stopped after `steps` steps.
  const o = { ...pretrainOptions(ctx(work)), out: path.join(tmp, "pretrain") };
  let n = 0;
  const r = await runTraining({ options: o, backend, stdout: quiet, stderr: quiet, shouldStop: () => ++n >= steps });
  const recorded = readMetrics(path.join(work, "pretrain", "metrics.jsonl"))
    .filter((x): x is { step: number; loss: number } & typeof x => "loss" in x && typeof (x as { loss?: unknown }).loss === "number")
    .slice(0, steps).map((x) => x.loss);
  const k = Math.min(recorded.length, r.losses.length);
  const mismatches = [...Array(k).keys()].filter((i) => r.losses[i] !== recorded[i]);
  console.log(`first ${k} pretraining losses (threads ${config.threads}, seed ${config.seed}): ` +
    (mismatches.length === 0 ? "identical" : `${mismatches.length} differ, first at step ${mismatches[0]} (${r.losses[mismatches[0]!]} vs ${recorded[mismatches[0]!]})`));
  process.exitCode = same && mismatches.length === 0 && k === steps ? 0 : 1;
} finally {
  rmSync(tmp, { recursive: true, force: true });
}

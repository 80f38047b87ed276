// The reproducible recipe of Zhiyu's default model (`zhiyu recipe recipes/zhiyu-mini.json`): from ../shared/data
// only, and only its sets whose licence allows redistributing a model trained on them, it runs
//   extract → tokenizer → prepare → sweep → fit → pretrain → sft → eval (stages.ts) → export (here, with
//   export.ts and model-card.ts)
// into a work folder. Each stage writes <work>/<stage>.done.json when its output is complete and is skipped when
// that file exists, so a killed recipe continues where it stopped (pretraining and SFT also resume from their
// newest checkpoint).
// Leaves out: the stages themselves (stages.ts), the data (data.ts), the recipe file's format (config.ts).
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from "node:fs";
import path from "node:path";
import { setDefaultBackend } from "../../tensor/index.js";
import { readMetrics } from "../../train/metrics.js";
import { plotDataFromMetrics, renderSvg } from "../../train/plot.js";
import { readRuns, renderFitSvg } from "../../train/scaling.js";
import { exportModel } from "./export.js";
import { renderModelCard } from "./model-card.js";
import {
  doneFile, fittedRuns, markDone, readDone, readPrediction, STAGES, stageEval, stageExtract, stageFit, stagePrepare, stagePretrain,
  stageSft, stageSweep, stageTokenizer, type RecipeContext, type StageName,
} from "./stages.js";

async function stageExport(ctx: RecipeContext): Promise<Record<string, unknown>> {
  const sft = readDone<{ checkpoint: string }>(ctx.work, "sft")!;
  const out = path.resolve(ctx.repoRoot, ctx.config.exportDir);
  const { bytes } = exportModel(sft.checkpoint, path.join(ctx.work, "tokenizer"), out);
  // Pictures for the model card: training curves and the scaling fit with the measured result.
  for (const [name, run] of [["pretrain-curve.svg", "pretrain"], ["sft-curve.svg", "sft"]]) {
    const records = readMetrics(path.join(ctx.work, run!, "metrics.jsonl"));
    writeFileSync(path.join(out, name!), renderSvg(plotDataFromMetrics(records), `${ctx.config.name} ${run}`));
  }
  const p = readPrediction(ctx);
  const pre = readDone<{ valLoss: number }>(ctx.work, "pretrain")!;
  const runs = fittedRuns(ctx).map((r) => ({ N: r.params, D: r.tokens, loss: r.valLoss }));
  writeFileSync(path.join(out, "scaling-fit.svg"), renderFitSvg({
    runs, constants: p.constants, target: { N: p.N, D: p.D, predicted: p.predictedValLoss, actual: pre.valLoss },
  }));
  for (const f of ["prediction.json", "eval.json"]) copyFileSync(path.join(ctx.work, f), path.join(out, f));
  const sweepSummary = readRuns(path.join(ctx.work, "sweep"));
  writeFileSync(path.join(out, "sweep-runs.json"), JSON.stringify(sweepSummary, null, 1) + "\n");
  writeFileSync(path.join(out, "MODEL_CARD.md"), renderModelCard(ctx, bytes));
  ctx.log(`export: ${out} (${(bytes / 1e6).toFixed(1)} MB of model files)`);
  return { dir: out, bytes };
}

const RUNNERS: Record<StageName, (ctx: RecipeContext) => Promise<Record<string, unknown>>> = {
  extract: stageExtract, tokenizer: stageTokenizer, prepare: stagePrepare, sweep: stageSweep, fit: stageFit,
  pretrain: stagePretrain, sft: stageSft, eval: stageEval, export: stageExport,
};

/** Runs the stages in order, skipping finished ones; `until` stops after that stage. */
export async function runRecipe(ctx: RecipeContext, until: StageName | null = null): Promise<void> {
  mkdirSync(ctx.work, { recursive: true });
  setDefaultBackend(ctx.backend);
  for (const stage of STAGES) {
    if (existsSync(doneFile(ctx, stage))) {
      ctx.log(`stage ${stage}: done already (${doneFile(ctx, stage)})`);
    } else {
      const t0 = performance.now();
      ctx.log(`stage ${stage}: starting at ${new Date().toISOString()}`);
      const info = await RUNNERS[stage](ctx);
      markDone(ctx, stage, { ...info, seconds: (performance.now() - t0) / 1000, finishedAt: new Date().toISOString() });
      ctx.log(`stage ${stage}: done in ${((performance.now() - t0) / 1000).toFixed(0)} s`);
    }
    if (stage === until) return;
  }
}

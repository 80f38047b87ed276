// `zhiyu scaling sweep --config FILE [--runs DIR]` trains a grid of small LLaMA-style models (shapes × token
// budgets) and writes one JSON per run; `zhiyu scaling fit RUNS_DIR [--predict N,D] [--flops C] [--plot FILE.svg]`
// fits L(N, D) = E + A/N^α + B/D^β with bootstrap uncertainty, predicts, and gives the compute-optimal split.
// See src/train/scaling.ts. Leaves out: plotting the sweep's training curves (use `zhiyu plot`).
import { readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../backend/index.js";
import {
  bootstrapFit, computeOptimal, fitLaw, formatCount, predictionInterval, predictLoss, readRuns, renderFitSvg, runSweep,
  type SweepConfig,
} from "../../train/scaling.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";

const HELP = `usage: zhiyu scaling sweep --config FILE [--runs DIR] [--threads N]
       zhiyu scaling fit RUNS_DIR [--predict N,D] [--flops C] [--plot FILE.svg] [--bootstrap K] [--seed S] [--delta δ] [--json]

sweep config (JSON): {"data": DIR, "valData"?: FILE, "vocabSize": V, "shapes": [{"layers","hidden","heads","kvHeads","ffn"}],
  "tokens": [D…], "batch": B, "seq": T, "lr": LR, "evalBatches": K, "seed": S, "runsDir"?: DIR,
  "minTokensPerParam"?: M (runs below M tokens per parameter are not trained)}
fit: N = parameters, D = training tokens; --predict 3e6,2e6 prints L(N, D) with a 90% bootstrap interval;
  --flops C prints the compute-optimal N and D for C = 6·N·D; --delta is the Huber δ on log-loss residuals
  (default 1e-3 as in Chinchilla, meant for hundreds of runs; 1 = least squares, better for a dozen).`;

function parseNumber(flag: string, raw: string): number {
  const n = Number(raw);
  if (!(n > 0)) throw new UsageError(`--${flag} ${raw} must be a positive number (e.g. 3e6)`);
  return n;
}

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === "--help" || sub === "-h") {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  if (sub === "sweep") {
    const { values } = parseFlags({ args: rest, options: { config: { type: "string" }, runs: { type: "string" }, threads: { type: "string" } } }, HELP);
    if (!values.config) throw new UsageError(`--config FILE is required\n\n${HELP}`);
    const cfg = JSON.parse(readFileSync(values.config, "utf8")) as SweepConfig & { runsDir?: string };
    const runsDir = values.runs ?? cfg.runsDir ?? path.join("runs", "scaling");
    const threads = values.threads !== undefined ? Number(values.threads) : cfg.threads ?? undefined;
    const runs = await runSweep({ ...cfg, threads: threads ?? null }, runsDir, createBackend(threads ? { threads } : {}), (l) => console.log(l));
    console.log(`${runs.length} runs in ${runsDir}`);
    return 0;
  }
  if (sub !== "fit") throw new UsageError(`unknown sub-command 'scaling ${sub}'\n\n${HELP}`);
  const { values, positionals } = parseFlags({
    args: rest, allowPositionals: true,
    options: {
      predict: { type: "string" }, flops: { type: "string" }, plot: { type: "string" }, bootstrap: { type: "string" },
      seed: { type: "string" }, json: { type: "boolean" }, delta: { type: "string" },
    },
  }, HELP);
  if (positionals.length !== 1) throw new UsageError(`give the runs folder\n\n${HELP}`);
  const runs = readRuns(positionals[0]!);
  const pts = runs.map((r) => ({ N: r.params, D: r.tokens, loss: r.valLoss }));
  const delta = values.delta !== undefined ? parseNumber("delta", values.delta) : 1e-3;
  const fit = fitLaw(pts, { delta });
  const boot = bootstrapFit(pts, fit.constants, values.bootstrap !== undefined ? Number(values.bootstrap) : 100, Number(values.seed ?? 1), delta);
  const c = fit.constants;
  const out: Record<string, unknown> = { runs: runs.length, constants: c, std: boot.std, bootstrapSamples: boot.samples.length };
  let target: { N: number; D: number; predicted: number } | null = null;
  if (values.predict) {
    const [N, D] = values.predict.split(",").map((s) => parseNumber("predict", s));
    if (N === undefined || D === undefined) throw new UsageError(`--predict N,D (e.g. 3e6,2e6), got ${values.predict}`);
    target = { N, D, predicted: predictLoss(c, N, D) };
    out.prediction = { ...target, interval90: predictionInterval(boot.samples, N, D) };
  }
  if (values.flops) out.computeOptimal = computeOptimal(c, parseNumber("flops", values.flops));
  if (values.plot) {
    writeFileSync(values.plot, renderFitSvg({ runs: pts, constants: c, target }));
    out.plot = values.plot;
  }
  if (values.json) {
    console.log(JSON.stringify(out, null, 2));
    return 0;
  }
  const s = boot.std;
  console.log(`fit of L(N, D) = E + A/N^α + B/D^β to ${runs.length} runs (± bootstrap std over ${boot.samples.length} resamples):`);
  console.log(`  E = ${c.E.toFixed(4)} ± ${s.E.toFixed(4)}`);
  console.log(`  A = ${c.A.toPrecision(4)} ± ${s.A.toPrecision(3)}   α = ${c.alpha.toFixed(4)} ± ${s.alpha.toFixed(4)}`);
  console.log(`  B = ${c.B.toPrecision(4)} ± ${s.B.toPrecision(3)}   β = ${c.beta.toFixed(4)} ± ${s.beta.toFixed(4)}`);
  if (out.prediction) {
    const p = out.prediction as { N: number; D: number; predicted: number; interval90: [number, number] };
    console.log(`predicted loss at N = ${formatCount(p.N)}, D = ${formatCount(p.D)}: ${p.predicted.toFixed(4)} ` +
      `(90% bootstrap interval ${p.interval90[0].toFixed(4)} … ${p.interval90[1].toFixed(4)})`);
  }
  if (out.computeOptimal) {
    const o = out.computeOptimal as { N: number; D: number; loss: number };
    console.log(`compute-optimal for C = ${values.flops} FLOPs: N = ${formatCount(o.N)}, D = ${formatCount(o.D)}, loss ${o.loss.toFixed(4)}`);
  }
  if (values.plot) console.log(`wrote ${values.plot}`);
  return 0;
}

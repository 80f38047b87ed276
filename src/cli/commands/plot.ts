// `zhiyu plot METRICS.jsonl --out FILE.svg|.html`: draws the training/validation loss and learning-rate curves
// of a training run's metrics file (src/train/plot.ts does the drawing).
import { existsSync, statSync } from "node:fs";
import path from "node:path";
import { UsageError } from "../errors.js";
import { readMetrics } from "../../train/metrics.js";
import { plotDataFromMetrics, renderHtml, renderSvg } from "../../train/plot.js";
import { writeFileAtomic } from "../../train/atomic.js";
import { parseFlags } from "../flags.js";

const HELP = `usage: zhiyu plot METRICS.jsonl --out FILE.svg|FILE.html [--title TEXT] [--metric NAME]

  METRICS.jsonl may also be a run folder (its metrics.jsonl is used).
  --metric NAME   plot that per-step metric instead of the loss (e.g. score, kl, reward, reward_accuracy)`;

export async function run(argv: string[]): Promise<number> {
  const parsed = parseFlags({
    args: argv, allowPositionals: true,
    options: { out: { type: "string" }, title: { type: "string" }, metric: { type: "string" }, help: { type: "boolean", short: "h" } },
  }, HELP);
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`plot: give exactly one METRICS.jsonl\n\n${HELP}`);
  if (!values.out) throw new UsageError("plot: --out FILE.svg or FILE.html is required");
  let input = positionals[0]!;
  if (existsSync(input) && statSync(input).isDirectory()) input = path.join(input, "metrics.jsonl");
  if (!existsSync(input)) throw new UsageError(`plot: ${input} does not exist`);
  const ext = path.extname(values.out).toLowerCase();
  if (ext !== ".svg" && ext !== ".html" && ext !== ".htm") {
    throw new UsageError(`plot: --out ${values.out} must end in .svg or .html`);
  }
  const records = readMetrics(input);
  const data = plotDataFromMetrics(records, values.metric);
  if (data.loss[0]!.points.length === 0) {
    throw new Error(`plot: ${input} holds no step records with ${values.metric ? `a numeric "${values.metric}" (--metric)` : "a loss"}`);
  }
  const title = values.title ?? path.basename(path.dirname(path.resolve(input)));
  writeFileAtomic(values.out, ext === ".svg" ? renderSvg(data, title) : renderHtml(data, title));
  console.log(`wrote ${values.out} (${data.loss[0]!.points.length} steps)`);
  return 0;
}

// `zhiyu recipe FILE [--work DIR] [--budget-minutes M] [--until STAGE] [--threads N]`: runs the reproducible
// default-model recipe of src/apps/zhiyu-mini/ (extract → tokenizer → prepare → sweep → fit → pretrain → sft →
// eval → export). Finished stages are skipped, so running the same command again continues a killed recipe.
// A recipe file with "experiment": "routes" (recipes/routes.json) runs the three-route experiment of
// src/apps/routes/ instead (GPT, BERT and T5 pretrained on the same text, then evaluated; docs/routes.md).
// Leaves out: editing the recipe file (flags override its budget and threads only).
import { parseFlags } from "../flags.js";
import path from "node:path";
import { createBackend } from "../../backend/index.js";
import { readRecipeConfig } from "../../apps/zhiyu-mini/config.js";
import { runRecipe } from "../../apps/zhiyu-mini/recipe.js";
import { STAGES, type StageName } from "../../apps/zhiyu-mini/stages.js";
import { UsageError } from "../errors.js";
import { readFileSync } from "node:fs";
import { isRoutesRecipe, readRoutesConfig } from "../../apps/routes/config.js";
import { runRoutes } from "../../apps/routes/stages.js";

const HELP = `usage: zhiyu recipe FILE [options]

  --work DIR            work folder for intermediate files and checkpoints (default runs/recipe-<name>)
  --budget-minutes M    override the recipe's time budget (sizes the final model and SFT)
  --threads N           override the recipe's thread count (results are deterministic per thread count)
  --until STAGE         stop after STAGE (${STAGES.join(", ")}; routes: extract, tokenizer, prepare, pretrain-MODEL, …, report)

A file with "experiment": "routes" runs the three-route experiment (docs/routes.md) into --work (default runs/routes);
--only STAGE,STAGE… runs just those stages (e.g. one model's pretrain-M,eval-M,finetune-M,multitask-M per process).
Stages already finished (WORK/<stage>.done.json) are skipped; pretraining and SFT resume from checkpoints.`;

export async function run(argv: string[]): Promise<number> {
  const { values, positionals } = parseFlags({
    args: argv, allowPositionals: true,
    options: {
      work: { type: "string" }, only: { type: "string" }, "budget-minutes": { type: "string" }, threads: { type: "string" }, until: { type: "string" },
      help: { type: "boolean", short: "h" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length !== 1) throw new UsageError(`give exactly one recipe file\n\n${HELP}`);
  const log = (line: string) => console.log(`[recipe ${new Date().toISOString().slice(11, 19)}] ${line}`);
  let head: unknown = null;
  try {
    head = JSON.parse(readFileSync(positionals[0]!, "utf8"));
  } catch {
    // readRecipeConfig reports the file's problem below
  }
  if (isRoutesRecipe(head)) {
    const config = readRoutesConfig(positionals[0]!);
    if (values.threads !== undefined) {
      const t = Number(values.threads);
      if (!Number.isInteger(t) || t < 1) throw new UsageError(`--threads ${values.threads} must be a positive integer`);
      config.threads = t;
    }
    await runRoutes({
      config, work: path.resolve(values.work ?? path.join("runs", config.name)), dataRoot: path.resolve("../shared/data"),
      backend: createBackend({ threads: config.threads }), log, stdout: process.stdout,
    }, values.until ?? null, values.only ? values.only.split(",").map((x) => x.trim()).filter(Boolean) : null);
    return 0;
  }
  const config = readRecipeConfig(positionals[0]!);
  if (values["budget-minutes"] !== undefined) {
    const m = Number(values["budget-minutes"]);
    if (!(m > 0)) throw new UsageError(`--budget-minutes ${values["budget-minutes"]} must be a positive number`);
    config.budgetMinutes = m;
  }
  if (values.threads !== undefined) {
    const t = Number(values.threads);
    if (!Number.isInteger(t) || t < 1) throw new UsageError(`--threads ${values.threads} must be a positive integer`);
    config.threads = t;
  }
  const until = (values.until ?? null) as StageName | null;
  if (until !== null && !STAGES.includes(until)) throw new UsageError(`--until ${until}: stages are ${STAGES.join(", ")}`);
  const backend = createBackend({ threads: config.threads });
  await runRecipe({
    config, work: path.resolve(values.work ?? path.join("runs", `recipe-${config.name}`)), dataRoot: path.resolve("../shared/data"),
    repoRoot: process.cwd(), backend, log, stdout: process.stdout,
  }, until);
  return 0;
}

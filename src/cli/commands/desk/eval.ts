// `zhiyu desk eval --set banking77|clinc150|smp2017|clue-emotion|handoff [--model DIR] [--data DIR] --json`: one
// JSON object with the set's figures (accuracy, oos_recall, macro_f1, precision, recall as they apply). The
// intent/emotion sets train the set's model with the shipped models' trainer on the set's training split (or load
// DIR/<set>.zdcm; --save writes it there); `handoff` runs the default configuration's understanding (the models
// `npm start` ships, or --config's) over the seeded hand-off test set. The intent/emotion sets join the sparse
// model with a dense head on the shipped encoder (models/zhiyu-encoder, frozen; late fusion chosen on validation
// data, benchmarks.ts) unless --encoder none.
import { existsSync } from "node:fs";
import path from "node:path";
import { intFlag, parseFlags } from "../../flags.js";
import { UsageError } from "../../errors.js";
import { BENCHMARK_SETS, runBenchmark, type BenchmarkSet } from "../../../apps/contact-centre/training/benchmarks.js";
import { runHandoffBenchmark } from "../../../apps/contact-centre/training/handoff-benchmark.js";
import { loadUnderstander } from "../../../apps/contact-centre/understanding/understand.js";
import { loadEncoder } from "../../../infer/encoder.js";
import { DEFAULT_MODEL_DIR } from "../../default-model.js";
import { configFromFlag, dataRootFromFlag } from "./common.js";

/** The encoder the desk ships (its knowledge base's default embedder too). */
export const SHIPPED_ENCODER_DIR = path.join(path.dirname(DEFAULT_MODEL_DIR), "zhiyu-encoder");

const HELP = `usage: zhiyu desk eval --set banking77|clinc150|smp2017|clue-emotion|handoff [--model DIR] [--save] [--encoder PATH|none] [--config FILE] [--data DIR] [--json]

  --set NAME      the benchmark (splits: src/apps/contact-centre/training/benchmarks.ts)
  --model DIR     load DIR/<set>.zdcm instead of training the set's model now
  --save          train now and save the model as DIR/<set>.zdcm (with --model DIR)
  --encoder PATH  the frozen encoder whose dense head joins the sparse model (default: models/zhiyu-encoder when
                  present); none: the sparse model alone
  --threads N     encoder threads
  --config FILE   configuration for --set handoff (default: the one npm start uses)
  --data DIR      ../shared/data
  --json          one JSON object (default: a readable line)`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv, strict: true,
    options: {
      set: { type: "string" }, model: { type: "string" }, save: { type: "boolean" }, config: { type: "string" }, data: { type: "string" }, encoder: { type: "string" }, threads: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const set = values.set;
  if (!set || !([...BENCHMARK_SETS, "handoff"] as string[]).includes(set)) {
    throw new UsageError(`desk eval: --set must be one of ${[...BENCHMARK_SETS, "handoff"].join(", ")}${set ? ` (got "${set}")` : ""}\n\n${HELP}`);
  }
  if (values.save && !values.model) throw new UsageError("desk eval: --save needs --model DIR (where to save)");
  const dataRoot = dataRootFromFlag(values.data);
  let result: object;
  if (set === "handoff") {
    const config = configFromFlag(values.config);
    result = runHandoffBenchmark(loadUnderstander(config, { dataRoot, onNote: (n) => console.error(`desk eval: ${n}`) }), dataRoot);
  } else {
    const encoderPath = values.encoder ?? (existsSync(SHIPPED_ENCODER_DIR) ? SHIPPED_ENCODER_DIR : "none");
    const encoder = encoderPath === "none" ? undefined : loadEncoder(encoderPath, { threads: intFlag("threads", values.threads, 1) });
    result = runBenchmark(set as BenchmarkSet, { dataRoot, modelDir: values.model, save: values.save, encoder });
  }
  if (values.json) console.log(JSON.stringify(result));
  else console.log(Object.entries(result).map(([k, v]) => `${k}=${typeof v === "object" ? JSON.stringify(v) : v}`).join(" "));
  return 0;
}

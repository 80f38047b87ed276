// `zhiyu desk train --config FILE [--data DIR] [--out DIR]`: trains the intent and emotion models of a configuration
// (its examples, small-talk routes and the licensed extra sets it names) and saves them in the configuration's
// understanding.model_dir (or --out DIR), where `zhiyu desk`, `desk route` and `npm start` load them.
import path from "node:path";
import { parseFlags } from "../../flags.js";
import { trainConfigModels } from "../../../apps/contact-centre/training/train-models.js";
import { configFromFlag, dataRootFromFlag } from "./common.js";

const HELP = `usage: zhiyu desk train [--config FILE] [--data DIR] [--out DIR] [--json]

  --config FILE   contact-centre configuration (default: the one npm start uses)
  --data DIR      ../shared/data (for the extra training sets the configuration names)
  --out DIR       where intent.zdcm and emotion.zdcm go (default: the configuration's understanding.model_dir)
  --json          print the summary as JSON`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv, strict: true,
    options: { config: { type: "string" }, data: { type: "string" }, out: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" } },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const config = configFromFlag(values.config);
  const out = values.out ? path.resolve(values.out) : config.understanding.model_dir;
  const t0 = performance.now();
  const models = trainConfigModels(config, dataRootFromFlag(values.data), out);
  const summary = {
    out, seconds: Math.round((performance.now() - t0) / 100) / 10,
    intent: { labels: models.intent.header.labels.length, examples: models.intent.header.meta.examples, temperature: models.intent.header.temperature },
    emotion: { labels: models.emotion.header.labels.length, examples: models.emotion.header.meta.examples, temperature: models.emotion.header.temperature },
  };
  if (values.json) console.log(JSON.stringify(summary));
  else console.log(`desk train: intent (${summary.intent.labels} labels, ${summary.intent.examples} examples) and emotion ` +
    `(${summary.emotion.labels} labels, ${summary.emotion.examples} examples) saved in ${out} in ${summary.seconds} s`);
  return 0;
}

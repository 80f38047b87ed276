// `zhiyu data prepare --tokenizer PATH --input FILE... --out DIR [--val-fraction F]`: tokenizes text / JSON /
// JSONL files into Zhiyu token shards for `zhiyu train --data DIR`, and prints the stats. The work itself is in
// src/train/data-prepare.ts; this file parses flags and loads the tokenizer.
import { UsageError } from "../errors.js";
import { prepareData, type TextSplit } from "../../train/data-prepare.js";
import { loadTokenizer } from "../../tokenizers/load.js";
import { parseFlags } from "../flags.js";

const HELP = `usage: zhiyu data prepare --tokenizer PATH --input FILE [--input FILE ...] --out DIR [options]

  --tokenizer PATH      tokenizer.json, a model folder, or a .gguf file
  --input FILE          text (.txt), JSON (.json) or JSON Lines (.jsonl) file; .gz works too; repeatable
  --out DIR             where train_*.bin / val_*.bin shards go
  --val-fraction F      share of documents held out for validation (default 0)
  --split MODE          how a text file splits into documents: none (whole file), blank-line, line (default none)
  --field NAME          JSON field holding the text (default: text, content, or all string fields)
  --shard-tokens N      tokens per shard (default 100000000)
  --json                print the stats as JSON`;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === "--help" || sub === "-h") {
    console.log(HELP);
    return sub ? 0 : 2;
  }
  if (sub !== "prepare") throw new UsageError(`unknown data sub-command '${sub}'; available: prepare`);
  const { values } = parseFlags({
    args: rest,
    options: {
      tokenizer: { type: "string" }, input: { type: "string", multiple: true }, out: { type: "string" },
      "val-fraction": { type: "string" }, split: { type: "string" }, field: { type: "string" },
      "shard-tokens": { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.tokenizer) throw new UsageError("data prepare: --tokenizer PATH is required");
  if (!values.input || values.input.length === 0) throw new UsageError("data prepare: at least one --input FILE is required");
  if (!values.out) throw new UsageError("data prepare: --out DIR is required");
  const valFraction = values["val-fraction"] === undefined ? 0 : Number(values["val-fraction"]);
  if (!(valFraction >= 0 && valFraction < 1)) {
    throw new UsageError(`data prepare: --val-fraction ${values["val-fraction"]} must be a number in [0, 1)`);
  }
  const split = (values.split ?? "none") as TextSplit;
  if (!["none", "blank-line", "line"].includes(split)) {
    throw new UsageError(`data prepare: --split ${values.split} must be none, blank-line or line`);
  }
  const shardTokens = values["shard-tokens"] === undefined ? undefined : Number(values["shard-tokens"]);
  if (shardTokens !== undefined && !(Number.isInteger(shardTokens) && shardTokens > 0)) {
    throw new UsageError(`data prepare: --shard-tokens ${values["shard-tokens"]} must be a positive integer`);
  }
  const tokenizer = loadTokenizer(values.tokenizer);
  const stats = prepareData(tokenizer, {
    inputs: values.input, outDir: values.out, valFraction, split, field: values.field, shardTokens,
    onFile: values.json ? undefined : (file, docs) => console.error(`read ${file}: ${docs} documents`),
  });
  if (values.json) {
    console.log(JSON.stringify(stats));
  } else {
    const line = (name: string, s: typeof stats.train) =>
      `  ${name.padEnd(5)} ${String(s.documents).padStart(9)} documents ${String(s.tokens).padStart(12)} tokens ` +
      `${String(s.shards.length).padStart(4)} shards`;
    console.log(`wrote ${values.out} (vocabulary ${stats.vocabSize}, uint${stats.bytesPerToken * 8} ids, documents ` +
      `delimited by id ${stats.delimiterId ?? "none"})`);
    console.log(line("train", stats.train));
    console.log(line("val", stats.val));
    console.log(`  chars per token ${stats.charsPerToken.toFixed(3)}`);
  }
  return 0;
}

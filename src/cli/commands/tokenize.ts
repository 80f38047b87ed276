// `zhiyu tokenize --tokenizer PATH (--text TEXT | --input-jsonl FILE) [--no-bos] [--parse-special] [--json]`:
// text → token ids with the tokenizer at PATH (a .gguf file, a tokenizer.json or a model folder). The
// tokenizer's own BOS/EOS rule applies unless --no-bos. --input-jsonl reads one JSON string per line and writes
// one {"ids":[...]} line per input, in order; --text prints the ids (one {"ids":[...]} line with --json).
// Leaves out: batching across processes and offsets.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { loadTokenizer } from "../../tokenizers/load.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";

const USAGE = "usage: zhiyu tokenize --tokenizer PATH (--text TEXT | --input-jsonl FILE) [--no-bos] [--parse-special] [--json]";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      tokenizer: { type: "string" },
      text: { type: "string" },
      "input-jsonl": { type: "string" },
      "no-bos": { type: "boolean", default: false },
      "parse-special": { type: "boolean", default: false },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.tokenizer) throw new UsageError(`--tokenizer is required\n${USAGE}`);
  if ((values.text === undefined) === (values["input-jsonl"] === undefined)) throw new UsageError(`give exactly one of --text and --input-jsonl\n${USAGE}`);
  const tok = loadTokenizer(values.tokenizer);
  const options = { addSpecialTokens: !values["no-bos"], parseSpecial: values["parse-special"] };
  if (values.text !== undefined) {
    const ids = tok.encode(values.text, options);
    console.log(values.json ? JSON.stringify({ ids }) : ids.join(" "));
    return 0;
  }
  const lines = createInterface({ input: createReadStream(values["input-jsonl"]!, "utf8"), crlfDelay: Infinity });
  let n = 0;
  const out: string[] = [];
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    let text: unknown;
    try {
      text = JSON.parse(line);
    } catch (err) {
      throw new UsageError(`${values["input-jsonl"]}:${n}: not valid JSON (${(err as Error).message})`);
    }
    if (typeof text !== "string") throw new UsageError(`${values["input-jsonl"]}:${n}: expected a JSON string, got ${line.slice(0, 40)}`);
    out.push(JSON.stringify({ ids: tok.encode(text, options) }));
    if (out.length >= 1024) {
      process.stdout.write(out.join("\n") + "\n");
      out.length = 0;
    }
  }
  if (out.length > 0) process.stdout.write(out.join("\n") + "\n");
  return 0;
}

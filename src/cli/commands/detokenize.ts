// `zhiyu detokenize --tokenizer PATH --ids 1,2,3 [--skip-special]`: token ids → text with the tokenizer at PATH
// (a .gguf file, a tokenizer.json or a model folder). Special tokens print as their text unless --skip-special.
// Leaves out: streaming from stdin.
import { loadTokenizer } from "../../tokenizers/load.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";

const USAGE = "usage: zhiyu detokenize --tokenizer PATH --ids 1,2,3 [--skip-special]";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      tokenizer: { type: "string" },
      ids: { type: "string" },
      "skip-special": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.tokenizer || values.ids === undefined) throw new UsageError(`--tokenizer and --ids are required\n${USAGE}`);
  const ids = values.ids.split(/[\s,]+/).filter((s) => s.length > 0).map((s) => {
    const id = Number(s);
    if (!Number.isInteger(id) || id < 0) throw new UsageError(`--ids: ${JSON.stringify(s)} is not a token id (expected comma-separated non-negative integers)`);
    return id;
  });
  const tok = loadTokenizer(values.tokenizer);
  for (const id of ids) {
    if (id >= tok.vocabSize) throw new UsageError(`--ids: ${id} is outside the vocabulary (size ${tok.vocabSize})`);
  }
  process.stdout.write(tok.decode(ids, { skipSpecialTokens: values["skip-special"] }) + "\n");
  return 0;
}

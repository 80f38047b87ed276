// `zhiyu embed --model PATH --input-jsonl FILE [--pooling none|mean|cls] [--normalize] [--batch N] [--json]`: a
// BERT-family encoder (HF folder or GGUF `bert` file) over one input per line — {"text": …, "text_pair"?: …} or
// {"ids": [...], "token_type_ids"?: [...]} — writing one line per input, in order: {"embedding": [...]} (pooled),
// or {"hidden": [[...], ...]} (one row per token) with --pooling none. Pooling defaults to the model's own
// (sentence-transformers 1_Pooling, GGUF pooling_type), else mean; --normalize L2-normalises (the default when
// the model's modules.json has a Normalize step).
// Leaves out: truncation (an over-long input is an error naming its line), prompts that some models prepend.
import { createReadStream } from "node:fs";
import { createInterface } from "node:readline";
import { parseFlags, intFlagOr } from "../flags.js";
import { UsageError } from "../errors.js";
import { loadTokenizer } from "../../tokenizers/load.js";
import { loadEncoder, type BertEncoder } from "../../infer/encoder.js";
import type { EncoderSequence } from "../../models/bert/model.js";

const HELP = `usage: zhiyu embed --model PATH --input-jsonl FILE [options]

  --model PATH          a BERT-family encoder: Hugging Face folder or .gguf (bert)
  --input-jsonl FILE    one {"text": …} or {"ids": [...], "token_type_ids": [...]} per line
  --pooling MODE        none (every token's hidden state), mean or cls (default: the model's, else mean)
  --normalize           L2-normalise pooled embeddings (default: the model's sentence-transformers setting)
  --tokenizer PATH      a tokenizer to use instead of the model's own (folder, tokenizer.json, vocab.txt, .gguf)
  --batch N             inputs per forward pass (default 32)
  --threads N           compute threads
  --json                one JSON object per line: {"embedding": [...]} or {"hidden": [[...], ...]}`;

/** Reads the JSONL file into sequences, naming FILE:LINE in errors. */
export async function readEncoderInputs(file: string, encoder: BertEncoder): Promise<EncoderSequence[]> {
  const lines = createInterface({ input: createReadStream(file, "utf8"), crlfDelay: Infinity });
  const out: EncoderSequence[] = [];
  let n = 0;
  for await (const line of lines) {
    n++;
    if (line.trim() === "") continue;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new UsageError(`${file}:${n}: not valid JSON (${(err as Error).message})`);
    }
    out.push(encoder.sequenceFromJson(value, `${file}:${n}`));
  }
  if (out.length === 0) throw new UsageError(`${file}: no inputs (expected one JSON object per line)`);
  return out;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      model: { type: "string" }, "input-jsonl": { type: "string" }, pooling: { type: "string" }, normalize: { type: "boolean" },
      batch: { type: "string" }, tokenizer: { type: "string" }, threads: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.model || !values["input-jsonl"]) throw new UsageError(`--model and --input-jsonl are required\n\n${HELP}`);
  const pooling = values.pooling;
  if (pooling !== undefined && pooling !== "none" && pooling !== "mean" && pooling !== "cls") {
    throw new UsageError(`--pooling ${pooling}: expected none, mean or cls`);
  }
  const batch = intFlagOr("batch", values.batch, 32);
  const encoder = loadEncoder(values.model, {
    threads: intFlagOr("threads", values.threads, 0, 0) || undefined,
    tokenizer: values.tokenizer ? loadTokenizer(values.tokenizer) : undefined,
  });
  const seqs = await readEncoderInputs(values["input-jsonl"], encoder);
  const mode = pooling ?? (encoder.defaultPooling === "none" ? "none" : encoder.defaultPooling);
  const normalize = values.normalize ?? encoder.normalizeByDefault;
  for (let i = 0; i < seqs.length; i += batch) {
    const chunk = seqs.slice(i, i + batch);
    const lines = mode === "none"
      ? encoder.hidden(chunk).map((h, k) => {
        const d = encoder.config.hiddenSize;
        const rows = Array.from({ length: chunk[k].ids.length }, (_, t) => Array.from(h.subarray(t * d, (t + 1) * d)));
        return values.json ? JSON.stringify({ hidden: rows }) : `${i + k}\t${rows.length} × ${d}`;
      })
      : encoder.embedSequences(chunk, mode, normalize).map((v, k) =>
        values.json ? JSON.stringify({ embedding: Array.from(v) }) : `${i + k}\t${Array.from(v.subarray(0, 4), (x) => x.toFixed(4)).join(" ")} …`);
    process.stdout.write(lines.join("\n") + "\n");
  }
  encoder.dispose();
  return 0;
}

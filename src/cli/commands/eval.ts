// `zhiyu eval --model DIR --data FILE... [--bigram TOKENS] [--seq T] [--json]`: validation loss, perplexity and
// bits per byte of a model on held-out text, one report per file (e.g. a Chinese and an English file); with
// --bigram, the add-k bigram baseline fitted on those training tokens (a `zhiyu data prepare` folder or token
// file) on the same text, and how much lower the model's bits per byte are. See src/train/eval.ts.
// Leaves out: GGUF models (the evaluator runs the trainer's model code over a Hugging Face folder).
import { createBackend } from "../../backend/index.js";
import { setDefaultBackend } from "../../tensor/index.js";
import { loadTokenizer } from "../../tokenizers/load.js";
import { bestBigram, evaluateModel, fitBigram, readEvalDocuments, scoredStream } from "../../train/eval.js";
import { TrainModel } from "../../train/model.js";
import { openTokenStream, resolveTokenPaths } from "../../train/token-file.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";

const HELP = `usage: zhiyu eval --model DIR --data FILE... [--bigram TOKENS] [--seq T] [--threads N] [--json]

  --model DIR       Hugging Face folder (config.json, model.safetensors, tokenizer.json)
  --data FILE       held-out text: .txt (documents separated by blank lines) or .jsonl with {"text"} or chat
                    {"messages": [{"role", "content"}]} records; repeatable
  --bigram TOKENS   also fit an add-k bigram on these training tokens (folder from \`zhiyu data prepare\` or a
                    token file) and report it on the same text (k: the best of 1 … 0.001, the strongest baseline)
  --seq T           evaluation window (default: the model's context, at most 256)`;

/** "12.3% lower than the bigram's" for a reduction > 0, "57.5% higher …" for a model worse than the bigram. */
export function reductionSentence(reduction: number): string {
  const pct = (100 * Math.abs(reduction)).toFixed(1);
  return reduction >= 0 ? `the model's bits per byte are ${pct}% lower than the bigram's`
    : `the model's bits per byte are ${pct}% higher than the bigram's (the model is worse than the baseline)`;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      model: { type: "string" }, data: { type: "string", multiple: true }, bigram: { type: "string" }, seq: { type: "string" },
      threads: { type: "string" }, json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.model || !values.data?.length) throw new UsageError(`--model and --data are required\n\n${HELP}`);
  const threads = values.threads !== undefined ? Number(values.threads) : undefined;
  setDefaultBackend(createBackend(threads ? { threads } : {}));
  const model = TrainModel.fromHfFolder(values.model, "f32");
  const tok = loadTokenizer(values.model);
  const seq = values.seq !== undefined ? Number(values.seq) : Math.min(256, model.contextLength);
  if (!Number.isInteger(seq) || seq < 1 || seq > model.contextLength) {
    throw new UsageError(`--seq ${values.seq} must be an integer in 1…${model.contextLength} (the model's context)`);
  }
  let bigram = null;
  if (values.bigram) {
    const stream = openTokenStream(resolveTokenPaths(values.bigram, "train"));
    const ids = new Int32Array(stream.length);
    stream.copyTo(0, stream.length, ids);
    bigram = fitBigram(ids, Math.max(tok.vocabSize, stream.vocabSize ?? 0));
  }
  const reports = [];
  for (const file of values.data) {
    const s = scoredStream(tok, readEvalDocuments(file));
    const m = evaluateModel(model, s, seq);
    const b = bigram ? bestBigram(bigram, s) : null;
    reports.push({
      file, documents: s.documents, bytes: s.bytes, tokens: m.tokens, loss: m.loss, perplexity: m.perplexity, bitsPerByte: m.bitsPerByte,
      ...(b ? { bigram: { k: b.k, loss: b.figures.loss, bitsPerByte: b.figures.bitsPerByte }, reduction: 1 - m.bitsPerByte / b.figures.bitsPerByte } : {}),
    });
  }
  if (values.json) {
    console.log(JSON.stringify(reports, null, 2));
    return 0;
  }
  for (const r of reports) {
    console.log(`${r.file}: ${r.documents} documents, ${r.bytes} bytes, ${r.tokens} tokens`);
    console.log(`  model:  loss ${r.loss.toFixed(4)} nats/token, perplexity ${r.perplexity.toFixed(2)}, ${r.bitsPerByte.toFixed(4)} bits/byte`);
    if (r.bigram) {
      console.log(`  bigram: loss ${r.bigram.loss.toFixed(4)} nats/token, ${r.bigram.bitsPerByte.toFixed(4)} bits/byte (add-k, k = ${r.bigram.k})`);
      console.log(`  ${reductionSentence(r.reduction!)}`);
    }
  }
  return 0;
}

// `zhiyu eval --model DIR --data FILE... [--bigram TOKENS] [--seq T] [--json]`: validation loss, perplexity and
// bits per byte of a model on held-out text, one report per file (e.g. a Chinese and an English file); with
// --bigram, the add-k bigram baseline fitted on those training tokens (a `zhiyu data prepare` folder or token
// file) on the same text, and how much lower the model's bits per byte are. See src/train/eval.ts.
// `zhiyu eval --model PATH --qa FILE [--few-shot K] [--cot] [--self-consistency N]`: question answering on a JSONL
// of {"question", "answer"[, "reasoning"]} items with the prompting techniques of src/prompting (qa-eval.ts),
// exact-match accuracy after normalisation; --json gives every prompt, reply and extracted answer.
// Leaves out: GGUF models for the loss report (it runs the trainer's model code over a Hugging Face folder).
import { readFileSync } from "node:fs";
import { createBackend } from "../../backend/index.js";
import { encodeChat } from "../../infer/chat-template.js";
import { generate } from "../../infer/generate.js";
import { loadModel } from "../../infer/load.js";
import { evaluateQa, parseQaJsonl, type QaItemResult } from "../../prompting/qa-eval.js";
import { setDefaultBackend } from "../../tensor/index.js";
import { loadTokenizer } from "../../tokenizers/load.js";
import { bestBigram, evaluateModel, fitBigram, readEvalDocuments, scoredStream } from "../../train/eval.js";
import { TrainModel } from "../../train/model.js";
import { openTokenStream, resolveTokenPaths } from "../../train/token-file.js";
import { UsageError } from "../errors.js";
import { intFlag, intFlagOr, parseFlags } from "../flags.js";

const HELP = `usage: zhiyu eval --model DIR --data FILE... [--bigram TOKENS] [--seq T] [--threads N] [--json]
       zhiyu eval --model PATH --qa FILE [--few-shot K] [--cot] [--self-consistency N] [options] [--json]

Language-model loss:
  --model DIR       Hugging Face folder (config.json, model.safetensors, tokenizer.json)
  --data FILE       held-out text: .txt (documents separated by blank lines) or .jsonl with {"text"} or chat
                    {"messages": [{"role", "content"}]} records; repeatable
  --bigram TOKENS   also fit an add-k bigram on these training tokens (folder from \`zhiyu data prepare\` or a
                    token file) and report it on the same text (k: the best of 1 … 0.001, the strongest baseline)
  --seq T           evaluation window (default: the model's context, at most 256)

Question answering (--qa):
  --model PATH      a .gguf file or a Hugging Face folder; prompts use its chat template (else ChatML)
  --qa FILE         JSONL, one item per line: {"question": "...", "answer": "...", "reasoning": "..."}
                    ("reasoning", the worked steps, is needed only for items shown as --cot examples)
  --few-shot K      show the K items most similar to each question as examples (never the question itself;
                    default 0)
  --examples FILE   take the examples from this JSONL instead of from the --qa items
  --cot             chain of thought: ask for reasoning ending in "Answer: ..." and read the answer from that line
                    (without it the reply's first line is the answer)
  --self-consistency N   sample N replies per question and count the majority answer (default 1: one reply)
  --language L      en (default) or zh: the language of the instructions
  --max-tokens N    most tokens per reply (default 256 with --cot, else 32)
  --temperature T   default 0 (greedy) for one reply, 0.7 with --self-consistency
  --top-p P         default 0.95
  --seed S          RNG seed of reply i is S + i (default 0)
  --ctx N           override the context length from the model file
An item counts as correct when its answer equals the reference after normalisation (numbers by value,
text case- and space-insensitive).`;

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
      qa: { type: "string" }, "few-shot": { type: "string" }, examples: { type: "string" }, cot: { type: "boolean" },
      "self-consistency": { type: "string" }, language: { type: "string" }, "max-tokens": { type: "string" },
      temperature: { type: "string" }, "top-p": { type: "string" }, seed: { type: "string" }, ctx: { type: "string" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (values.qa !== undefined) {
    if (values.data?.length || values.bigram || values.seq) throw new UsageError(`--qa cannot be combined with --data, --bigram or --seq\n\n${HELP}`);
    return runQa(values);
  }
  const qaOnly = ["few-shot", "examples", "cot", "self-consistency", "language", "max-tokens", "temperature", "top-p", "seed", "ctx"] as const;
  const stray = qaOnly.find((k) => values[k] !== undefined);
  if (stray) throw new UsageError(`--${stray} applies to question answering: give --qa FILE\n\n${HELP}`);
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

interface QaFlags {
  model?: string; qa?: string; "few-shot"?: string; examples?: string; cot?: boolean; "self-consistency"?: string;
  language?: string; "max-tokens"?: string; temperature?: string; "top-p"?: string; seed?: string; ctx?: string; threads?: string;
  json?: boolean;
}

function readQa(file: string) {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new UsageError(`cannot read ${file}: ${(err as Error).message}`);
  }
  try {
    return parseQaJsonl(text, file);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
}

function realFlag(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n) || n < 0 || n > max) throw new UsageError(`--${name} ${value}: expected a number in 0…${max}`);
  return n;
}

async function runQa(values: QaFlags): Promise<number> {
  if (!values.model) throw new UsageError(`--model is required\n\n${HELP}`);
  const language = values.language ?? "en";
  if (language !== "en" && language !== "zh") throw new UsageError(`--language ${language}: expected en or zh`);
  const items = readQa(values.qa!);
  const examples = values.examples ? readQa(values.examples) : undefined;
  const fewShot = intFlagOr("few-shot", values["few-shot"], 0, 0);
  const samples = intFlagOr("self-consistency", values["self-consistency"], 1, 1);
  const cot = values.cot === true;
  const maxTokens = intFlagOr("max-tokens", values["max-tokens"], cot ? 256 : 32, 1);
  const temperature = realFlag("temperature", values.temperature, samples > 1 ? 0.7 : 0, 100);
  const topP = realFlag("top-p", values["top-p"], 0.95, 1);
  const seed = intFlagOr("seed", values.seed, 0, 0);
  const threads = values.threads !== undefined ? intFlagOr("threads", values.threads, 1, 1) : undefined;
  const model = await loadModel(values.model, { threads, contextLength: intFlag("ctx", values.ctx, 1) });
  // ChatML and most templates end a turn with a special token; stop on its text too in case it is not one id.
  const stop = model.chatTemplate === null || model.chatTemplate.includes("<|im_end|>") ? ["<|im_end|>"] : [];
  try {
    const report = await evaluateQa({
      items, examples, fewShot, cot, samples, language,
      generate: async (messages, i) => {
        // The template's markers are special tokens; the questions and examples are plain text, so a marker inside
        // one ("<|im_start|>") stays text, as serving encodes content (src/tokenizers/special-text.ts).
        const ids = encodeChat(model, messages, { addGenerationPrompt: true });
        if (ids.length + maxTokens > model.contextLength) {
          throw new UsageError(`a prompt of ${ids.length} tokens plus --max-tokens ${maxTokens} exceeds the model's context of ` +
            `${model.contextLength} tokens: use a smaller --few-shot or --max-tokens (or --ctx, if the model was trained longer)`);
        }
        return generate(model, ids, { maxTokens, stop, temperature, topP, seed: seed + i }).text;
      },
      onItem: values.json ? undefined : (r, i) => console.log(line(r, i)),
    });
    if (values.json) {
      console.log(JSON.stringify({ model: values.model, fewShot, cot, samples, temperature, ...report }, null, 2));
    } else {
      console.log(`accuracy ${report.correct}/${report.items.length} = ${(100 * report.accuracy).toFixed(1)}%` +
        ` (${fewShot}-shot${cot ? ", chain of thought" : ""}${samples > 1 ? `, self-consistency over ${samples} samples` : ""})`);
    }
    return 0;
  } finally {
    model.dispose();
  }
}

function line(r: QaItemResult, i: number): string {
  const q = r.question.length > 60 ? `${r.question.slice(0, 57)}...` : r.question;
  const votes = r.samples.length > 1 ? ` (${Math.round(100 * r.agreement)}% of ${r.samples.length} samples)` : "";
  return `${r.correct ? "✓" : "✗"} ${i + 1}. ${q} → ${r.predicted ?? "(no answer)"}${votes}; reference ${r.reference}`;
}

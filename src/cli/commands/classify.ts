// `zhiyu classify --model PATH --input-jsonl FILE [--batch N] [--json]`: a BERT-family classifier over one input per
// line ({"text": …, "text_pair"?: …} or {"ids": [...], "token_type_ids"?: [...]}), writing one line per input:
// {"logits": [...], "label": "…", "confidence": p} for sequence classification (confidence = softmax probability
// of the label; a one-logit model, e.g. a cross-encoder, gives its sigmoid; a model from `zhiyu finetune --task
// classify` divides the logits by its fitted temperature and, with an out-of-scope threshold, adds "in_scope" and
// answers its out-of-scope label below the threshold), and for token classification
// {"logits": [[...], ...], "label": ["…", ...], "confidence": [...]} with one entry per token.
// A folder from `zhiyu finetune --task classify --features sparse+encoder` (zhiyu_fused.json) answers the same
// lines from its fused probabilities ("logits" are their logarithms); its inputs must be {"text": …}.
// Leaves out: truncation.
import { readFileSync } from "node:fs";
import { isFusedClassifier, loadFusedClassifier, predictFused } from "../../apps/contact-centre/training/fused-classifier.js";
import { encoderFeatures } from "../../apps/contact-centre/understanding/dense-head.js";
import { parseFlags, intFlagOr } from "../flags.js";
import { UsageError } from "../errors.js";
import { loadTokenizer } from "../../tokenizers/load.js";
import { loadEncoder } from "../../infer/encoder.js";
import { readEncoderInputs } from "./embed.js";

const HELP = `usage: zhiyu classify --model PATH --input-jsonl FILE [options]

  --model PATH          a BERT-family classifier (…ForSequenceClassification / …ForTokenClassification): HF folder or .gguf,
                        or a folder of "zhiyu finetune --task classify --features sparse+encoder" (inputs {"text": …})
  --input-jsonl FILE    one {"text": …, "text_pair": …} or {"ids": [...], "token_type_ids": [...]} per line
  --tokenizer PATH      a tokenizer to use instead of the model's own (folder, tokenizer.json, vocab.txt, .gguf)
  --batch N             inputs per forward pass (default 32)
  --threads N           compute threads
  --json                one JSON object per line: {"logits": [...], "label": "…", "confidence": p}`;

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      model: { type: "string" }, "input-jsonl": { type: "string" }, batch: { type: "string" }, tokenizer: { type: "string" }, threads: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" },
    },
    strict: true,
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.model || !values["input-jsonl"]) throw new UsageError(`--model and --input-jsonl are required\n\n${HELP}`);
  const batch = intFlagOr("batch", values.batch, 32);
  if (isFusedClassifier(values.model)) return classifyFused(values.model, values["input-jsonl"], batch, intFlagOr("threads", values.threads, 0, 0) || undefined, values.json === true);
  const encoder = loadEncoder(values.model, {
    threads: intFlagOr("threads", values.threads, 0, 0) || undefined,
    tokenizer: values.tokenizer ? loadTokenizer(values.tokenizer) : undefined,
  });
  const head = encoder.config.head;
  if (head !== "sequence-classification" && head !== "token-classification") {
    throw new UsageError(`--model ${values.model}: the model has no classification head (head: ${head}); ` +
      "use a …ForSequenceClassification or …ForTokenClassification checkpoint, or zhiyu embed for embeddings");
  }
  const seqs = await readEncoderInputs(values["input-jsonl"], encoder);
  for (let i = 0; i < seqs.length; i += batch) {
    const chunk = seqs.slice(i, i + batch);
    const lines = head === "sequence-classification"
      ? encoder.classify(chunk).map((r, k) => values.json
        ? JSON.stringify({ logits: Array.from(r.logits), label: r.label, confidence: r.confidence, ...(r.inScope !== undefined ? { in_scope: r.inScope } : {}) })
        : `${i + k}\t${r.label}\t${r.confidence.toFixed(4)}`)
      : encoder.tagTokens(chunk).map((tags, k) => values.json
        ? JSON.stringify({ logits: tags.map((t) => Array.from(t.logits)), label: tags.map((t) => t.label), confidence: tags.map((t) => t.confidence) })
        : `${i + k}\t${tags.map((t) => t.label).join(" ")}`);
    process.stdout.write(lines.join("\n") + "\n");
  }
  encoder.dispose();
  return 0;
}

function classifyFused(dir: string, inputFile: string, batch: number, threads: number | undefined, json: boolean): number {
  const { model, encoder } = loadFusedClassifier(dir, (folder) => loadEncoder(folder, threads !== undefined ? { threads } : {}));
  const texts = readFileSync(inputFile, "utf8").split("\n").map((line, i) => [line.trim(), i] as const).filter(([line]) => line !== "").map(([line, i]) => {
    let row: unknown;
    try {
      row = JSON.parse(line);
    } catch {
      throw new UsageError(`${inputFile}:${i + 1}: not valid JSON`);
    }
    const text = (row as { text?: unknown }).text;
    if (typeof text !== "string") throw new UsageError(`${inputFile}:${i + 1}: a sparse+encoder classifier (${dir}) reads {"text": …}; this line has no string "text"`);
    return text;
  });
  for (let i = 0; i < texts.length; i += batch) {
    const lines = predictFused(model, texts.slice(i, i + batch), (t) => encoderFeatures(encoder, t)).map((r, k) => json
      ? JSON.stringify({ logits: Array.from(r.probs, (p) => Math.log(Math.max(p, 1e-30))), label: r.label, confidence: r.confidence, ...(r.inScope !== undefined ? { in_scope: r.inScope } : {}) })
      : `${i + k}\t${r.label}\t${r.confidence.toFixed(4)}`);
    process.stdout.write(lines.join("\n") + "\n");
  }
  encoder.dispose();
  return 0;
}

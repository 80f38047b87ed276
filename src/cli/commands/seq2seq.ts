// `zhiyu seq2seq --model DIR --out DIR (--span-corruption TEXT… | --data JSONL… | --mixture FILE)`: trains an
// encoder-decoder model (T5) on the shared loop — T5 span-corruption pretraining on plain text, fine-tuning on
// input/target JSONL, or a multi-task mixture with task prefixes and sampling rates. See src/train/seq2seq-run.ts.
// Leaves out: LoRA and data-parallel runs for seq2seq models.
import { createBackend } from "../../backend/index.js";
import { DEFAULT_SEQ2SEQ_OPTIONS as D, runSeq2Seq, type Seq2SeqRunOptions } from "../../train/seq2seq-run.js";
import { UsageError } from "../errors.js";
import { withStopSignals } from "../stop-signal.js";
import { parseFlags } from "../flags.js";

const HELP = `usage: zhiyu seq2seq --model DIR --out DIR (--span-corruption FILE... | --data FILE... | --mixture FILE) [options]

  --model DIR              a T5 / mT5 Hugging Face folder with its tokenizer (zhiyu init --arch t5 makes one)
  --span-corruption FILE   plain text (documents separated by blank lines): T5 span corruption (repeatable)
  --data FILE              {"input": …, "target": …} JSONL: seq2seq fine-tuning (repeatable)
  --mixture FILE           {"tasks": [{"name", "prefix", "data": "x.jsonl", "rate"}]}: a multi-task mixture
  --out DIR                run folder (checkpoints/, metrics.jsonl); an existing run resumes
  --seq T (${D.seq})  --batch B (${D.batch})  --grad-accum N (${D.gradAccum})  --steps N (${D.steps})
  --lr LR (${D.lr})  --min-lr (${D.minLr})  --warmup N (${D.warmup})  --weight-decay (${D.weightDecay})  --grad-clip (${D.gradClip})
  --noise-density P (${D.noiseDensity})  --mean-span L (${D.meanSpanLength})  --val-every K (${D.valEvery}; 0 = none)
  --seed S (${D.seed})  --threads N  --checkpoint-every K (${D.checkpointEvery})  --keep-last N (${D.keepLast})`;

export async function run(argv: string[]): Promise<number> {
  const s = { type: "string" } as const;
  const { values } = parseFlags({
    args: argv,
    options: {
      model: s, out: s, "span-corruption": { type: "string", multiple: true }, data: { type: "string", multiple: true }, mixture: s,
      seq: s, batch: s, "grad-accum": s, steps: s, lr: s, "min-lr": s, warmup: s, "weight-decay": s, "grad-clip": s,
      "noise-density": s, "mean-span": s, "val-every": s, seed: s, threads: s, "checkpoint-every": s, "keep-last": s,
      help: { type: "boolean", short: "h" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (!values.model || !values.out) throw new UsageError(`--model and --out are required\n\n${HELP}`);
  const num = (flag: string, fallback: number, integer: boolean): number => {
    const raw = (values as Record<string, unknown>)[flag] as string | undefined;
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isFinite(n) || (integer && !Number.isInteger(n)) || n < 0) throw new UsageError(`--${flag} expects a non-negative ${integer ? "integer" : "number"}, got ${raw}`);
    return n;
  };
  const options: Seq2SeqRunOptions = {
    model: values.model, out: values.out, spanCorruption: values["span-corruption"] ?? [], data: values.data ?? [], mixture: values.mixture ?? null,
    seq: num("seq", D.seq, true), batch: num("batch", D.batch, true), gradAccum: num("grad-accum", D.gradAccum, true), steps: num("steps", D.steps, true),
    lr: num("lr", D.lr, false), minLr: num("min-lr", D.minLr, false), warmup: num("warmup", D.warmup, true),
    weightDecay: num("weight-decay", D.weightDecay, false), gradClip: num("grad-clip", D.gradClip, false), seed: num("seed", D.seed, true),
    noiseDensity: num("noise-density", D.noiseDensity, false), meanSpanLength: num("mean-span", D.meanSpanLength, false),
    valEvery: num("val-every", D.valEvery, true), checkpointEvery: num("checkpoint-every", D.checkpointEvery, true),
    keepLast: num("keep-last", D.keepLast, true), logEvery: 10,
  };
  const backend = createBackend({ threads: num("threads", 0, true) || undefined });
  const r = await withStopSignals("seq2seq", (shouldStop) => runSeq2Seq({ options, backend, stdout: process.stdout, shouldStop }));
  console.log(`zhiyu seq2seq: ${r.objective} finished at step ${r.finalStep}` + (r.valLoss !== null ? `, validation loss ${r.valLoss.toFixed(4)}` : ""));
  return 0;
}

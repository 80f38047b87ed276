// `zhiyu bench embed --model PATH [--batch B] [--tokens T] [--rounds N] [--threads N] [--json]`: sentence-embedding
// throughput of a BERT-family encoder (HF folder or GGUF): B sequences of T tokens ([CLS] + T − 2 ids drawn with a
// fixed seed from the vocabulary's ordinary tokens + [SEP]) pooled per the model's files, one warm-up pass, then the
// median of N timed passes: sentences/s and tokens/s. The matching llama.cpp measurement is
//   llama-embedding -m MODEL.gguf -f FILE (B lines of the same length) --batch-size B·T --ubatch-size B·T -t THREADS
// timed end to end (docs/bert.md, "Speed").
// Leaves out: the llama.cpp side itself (never run from Zhiyu), mixed-length batches.
import { loadEncoder } from "../../infer/encoder.js";
import { Rng } from "../../core/rng.js";
import { median } from "../bench-stats.js";
import { intFlagOr, parseFlags } from "../flags.js";
import { UsageError } from "../errors.js";

const USAGE = "usage: zhiyu bench embed --model PATH [--batch B (1)] [--tokens T (128)] [--rounds N (5)] [--threads N] [--json]";

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: { model: { type: "string" }, batch: { type: "string" }, tokens: { type: "string" }, rounds: { type: "string" },
      threads: { type: "string" }, json: { type: "boolean", default: false }, help: { type: "boolean", default: false } },
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.model) throw new UsageError(`--model is required\n${USAGE}`);
  const batch = intFlagOr("batch", values.batch, 1, 1, 4096);
  const tokens = intFlagOr("tokens", values.tokens, 128, 3, 1 << 16);
  const rounds = intFlagOr("rounds", values.rounds, 5, 1, 1000);
  const threads = values.threads !== undefined ? intFlagOr("threads", values.threads, 1, 1, 1024) : undefined;
  const enc = loadEncoder(values.model, { threads });
  try {
    if (tokens > enc.contextLength) throw new UsageError(`--tokens ${tokens} exceeds the model's ${enc.contextLength} positions`);
    const tok = enc.tokenizer;
    const frame = (names: string[]) => names.map((n) => tok.tokenToId(n)).find((x) => x !== undefined);
    const cls = frame(["[CLS]", "<s>"]) ?? 0, sep = frame(["[SEP]", "</s>"]) ?? 0;
    const ordinary: number[] = [];
    for (let id = 0; id < Math.min(tok.vocabSize, enc.vocabSize); id++) if (!tok.isSpecial(id) && !/^\[unused|^\[/.test(tok.idToToken(id) ?? "[")) ordinary.push(id);
    if (ordinary.length === 0) throw new UsageError(`${values.model}: the vocabulary has no ordinary tokens to build inputs from`);
    const rng = new Rng(16);
    const seqs = Array.from({ length: batch }, () => ({ ids: [cls, ...Array.from({ length: tokens - 2 }, () => ordinary[rng.int(ordinary.length)]!), sep] }));
    enc.embedSequences(seqs); // warm-up (weight repacking, allocator)
    const times: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      enc.embedSequences(seqs);
      times.push(Number(process.hrtime.bigint() - t0) / 1e9);
    }
    const s = median(times);
    const result = { model: values.model, batch, tokens, rounds, seconds_per_batch: s, sentences_per_s: batch / s, tokens_per_s: (batch * tokens) / s,
      pooling: enc.defaultPooling, threads: threads ?? null };
    if (values.json) console.log(JSON.stringify(result));
    else console.log(`${values.model}: batch ${batch} × ${tokens} tokens: ${result.sentences_per_s.toFixed(1)} sentences/s, ${result.tokens_per_s.toFixed(0)} tokens/s (median of ${rounds})`);
    return 0;
  } finally {
    enc.dispose();
  }
}

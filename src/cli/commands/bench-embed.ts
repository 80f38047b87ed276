// `zhiyu bench embed --model PATH [--batch B] [--tokens T] [--rounds N] [--threads N] [--llama-embedding PATH] [--json]`:
// sentence-embedding throughput of a BERT-family encoder (HF folder or GGUF): B sequences of T tokens ([CLS] + T − 2
// ids drawn with a fixed seed from the vocabulary's ordinary tokens + [SEP]) pooled per the model's files, one
// warm-up pass, then the median of N timed passes: sentences/s and tokens/s.
// --llama-embedding PATH: the same measurement side by side with llama.cpp on the same GGUF. The B sequences are then
// lines of whole-word tokens (each word one token for both tokenizers; the token count is checked on Zhiyu's side
// and llama.cpp's log), and llama-embedding runs them as one batch (-b = -ub = -c = B·T); its time per batch is the
// wall time of the run minus the wall time of the same command on a one-word input (load + warm-up), median of N
// rounds interleaved with Zhiyu's.
// Leaves out: mixed-length batches; llama.cpp's own timers (llama-embedding prints none for the batch).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { loadEncoder } from "../../infer/encoder.js";
import type { EncoderSequence } from "../../models/bert/model.js";
import { Rng } from "../../core/rng.js";
import { median } from "../bench-stats.js";
import { intFlagOr, parseFlags } from "../flags.js";
import { UsageError } from "../errors.js";

const USAGE = "usage: zhiyu bench embed --model PATH [--batch B (1)] [--tokens T (128)] [--rounds N (5)] [--threads N] " +
  "[--llama-embedding PATH] [--json]";

/** Wall seconds of one llama-embedding run over `file`; checks the batch it reports when `expectTokens` is given. */
function llamaEmbeddingSeconds(bin: string, model: string, file: string, tokens: number, threads: number, pooling: string,
  expectTokens?: number): number {
  const size = String(Math.max(512, tokens)); // llama-embedding aborts on a one-line batch that fills a context of its length
  const argv = ["-m", model, "-f", file, "-b", size, "-ub", size, "-c", size, "-t", String(threads),
    "--pooling", pooling, "--embd-output-format", "array"];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(bin, argv, { encoding: "utf8", maxBuffer: 1 << 28, timeout: 600_000 });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new UsageError(`llama-embedding ${argv.join(" ")} exited with ${r.status ?? r.signal}: ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`);
  if (expectTokens !== undefined) {
    const m = /batch_decode: n_tokens = (\d+)/.exec(r.stderr ?? "");
    if (!m || Number(m[1]) !== expectTokens) {
      throw new UsageError(`llama-embedding tokenised the input to ${m ? m[1] : "an unknown number of"} tokens, not ${expectTokens}: the comparison would be unfair`);
    }
  }
  return seconds;
}

/** B lines of T − 2 whole words that are one token each for WordPiece (no "##" piece, no special), seeded. */
function wordLines(enc: ReturnType<typeof loadEncoder>, batch: number, tokens: number): { lines: string[]; seqs: EncoderSequence[] } {
  const tok = enc.tokenizer;
  const words: string[] = [];
  for (let id = 0; id < Math.min(tok.vocabSize, enc.vocabSize); id++) {
    if (tok.isSpecial(id)) continue;
    const w = (tok.idToToken(id) ?? "").replace(/^\u2581/, "");
    if (/^[a-z]{3,}$/.test(w) && tok.encode(w, { addSpecialTokens: false }).length === 1) words.push(w);
  }
  if (words.length === 0) throw new UsageError("--llama-embedding: the vocabulary has no whole lower-case words to build text inputs from");
  const rng = new Rng(16);
  const lines = Array.from({ length: batch }, () => Array.from({ length: tokens - 2 }, () => words[rng.int(words.length)]!).join(" "));
  const seqs = lines.map((line) => enc.tokenize(line));
  for (const q of seqs) if (q.ids.length !== tokens) throw new UsageError(`--llama-embedding: a line tokenised to ${q.ids.length} tokens, not ${tokens}`);
  return { lines, seqs };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: { model: { type: "string" }, batch: { type: "string" }, tokens: { type: "string" }, rounds: { type: "string" },
      threads: { type: "string" }, "llama-embedding": { type: "string" }, json: { type: "boolean", default: false },
      help: { type: "boolean", default: false } },
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
    const llama = values["llama-embedding"];
    if (llama !== undefined) {
      if (!existsSync(llama)) throw new UsageError(`--llama-embedding ${llama} does not exist (build llama.cpp's llama-embedding)`);
      if (!values.model.endsWith(".gguf")) throw new UsageError("--llama-embedding needs --model FILE.gguf (llama.cpp reads GGUF only)");
      return sideBySide(enc, values.model, llama, batch, tokens, rounds, threads ?? 2, values.json === true);
    }
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

/** Zhiyu and llama-embedding on the same B × T text batch, rounds interleaved; prints both and the ratio. */
function sideBySide(enc: ReturnType<typeof loadEncoder>, model: string, llama: string, batch: number, tokens: number, rounds: number,
  threads: number, json: boolean): number {
  const { lines, seqs } = wordLines(enc, batch, tokens);
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-bench-embed-"));
  try {
    const batchFile = path.join(dir, "batch.txt"), oneFile = path.join(dir, "one.txt");
    writeFileSync(batchFile, lines.join("\n") + "\n");
    writeFileSync(oneFile, lines[0]!.split(" ")[0] + "\n");
    const pooling = enc.defaultPooling === "none" ? "mean" : enc.defaultPooling; // what embedSequences pools with
    enc.embedSequences(seqs); // warm-up
    const zhiyu: number[] = [], llamaCpp: number[] = [];
    for (let r = 0; r < rounds; r++) {
      const t0 = process.hrtime.bigint();
      enc.embedSequences(seqs);
      zhiyu.push(Number(process.hrtime.bigint() - t0) / 1e9);
      const full = llamaEmbeddingSeconds(llama, model, batchFile, batch * tokens, threads, pooling, batch * tokens);
      const fixed = llamaEmbeddingSeconds(llama, model, oneFile, batch * tokens, threads, pooling);
      llamaCpp.push(Math.max(1e-9, full - fixed));
    }
    const z = median(zhiyu), l = median(llamaCpp);
    const result = { model, batch, tokens, rounds, threads, pooling, zhiyu_sentences_per_s: batch / z, llama_cpp_sentences_per_s: batch / l, ratio: l / z,
      zhiyu_seconds: zhiyu, llama_cpp_seconds: llamaCpp };
    if (json) console.log(JSON.stringify(result));
    else {
      console.log(`${model}: batch ${batch} × ${tokens} tokens, ${threads} threads, median of ${rounds}: Zhiyu ${result.zhiyu_sentences_per_s.toFixed(2)} ` +
        `sentences/s, llama.cpp ${result.llama_cpp_sentences_per_s.toFixed(2)} sentences/s: ${result.ratio.toFixed(2)}×`);
    }
    return 0;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

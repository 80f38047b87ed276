// `zhiyu bench embed --model PATH [--batch B] [--tokens T] [--rounds N] [--threads N] [--llama-bench PATH | --llama-embedding PATH] [--json]`:
// sentence-embedding throughput of a BERT-family encoder (HF folder or GGUF): B sequences of T tokens ([CLS] + T − 2
// ids drawn with a fixed seed from the vocabulary's ordinary tokens + [SEP]) pooled per the model's files, one
// warm-up pass, then the median of N timed passes: sentences/s and tokens/s. Tokenisation is never timed.
// --llama-bench PATH (batch 1): the same measurement side by side with llama.cpp's `llama-bench -m F -p T -n 0 -embd 1
// -t N -r 1 -o json` on the same GGUF, rounds interleaved, llama.cpp's time per pass read from its own timer
// (samples_ns); each round both sides run a warm-up pass right before the timed one. Like for like: llama-bench feeds T ids (random, no tokeniser), runs the encoder, pools in its graph
// with the GGUF's bert.pooling_type (without one: no pooling, all T final rows copied out) and never normalises;
// Zhiyu's side embeds its T ids (no tokeniser) with the model's pooling (mean without one: ~0.1 ms of a ~100 ms
// pass either way) and without normalising. llama-bench runs one sequence per pass, so batches above 1 need
// --llama-embedding.
// --llama-embedding PATH (any batch; meant for batch ≥ 2): the B sequences are lines of whole-word tokens (each word
// one token for both tokenizers; the token count is checked on Zhiyu's side and llama.cpp's log), and
// llama-embedding runs them as one batch (-b = -ub = -c = B·T); its time per batch is the wall time of the run minus
// the wall time of the same command on a one-word input (load + warm-up), median of N rounds interleaved with
// Zhiyu's. At batch 1 that difference is start-up noise (rounds of 0.000 s were seen): use --llama-bench there.
// Leaves out: mixed-length batches; llama-embedding's own timers (it prints none for the batch).
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { loadEncoder } from "../../infer/encoder.js";
import type { EncoderSequence } from "../../models/bert/model.js";
import { Rng } from "../../core/rng.js";
import { median } from "../bench-stats.js";
import { intFlagOr, parseFlags } from "../flags.js";
import { UsageError } from "../errors.js";

const USAGE = "usage: zhiyu bench embed --model PATH [--batch B (1)] [--tokens T (128)] [--rounds N (5)] [--threads N] " +
  "[--llama-bench PATH (batch 1) | --llama-embedding PATH] [--json]";

/** One llama-bench run's JSON output (`-o json`): llama.cpp's seconds per pass of `tokens` ids with embeddings on,
 *  one per repetition (samples_ns). Refuses output that is not such a run, naming what differs. */
export function llamaBenchPassSeconds(stdout: string, tokens: number): number[] {
  const at = stdout.indexOf("[");
  let rows: unknown;
  try {
    rows = JSON.parse(at >= 0 ? stdout.slice(at) : stdout);
  } catch (err) {
    throw new UsageError(`llama-bench: its output is not the JSON of -o json (${(err as Error).message})`);
  }
  if (!Array.isArray(rows) || rows.length !== 1) throw new UsageError(`llama-bench: expected one test in its JSON, got ${Array.isArray(rows) ? rows.length : typeof rows}`);
  const t = rows[0] as Record<string, unknown>;
  if (t.embeddings !== true) throw new UsageError("llama-bench: the test ran without embeddings (-embd 1): not an encoder pass");
  if (t.n_prompt !== tokens || t.n_gen !== 0 || (t.n_depth ?? 0) !== 0) {
    throw new UsageError(`llama-bench: the test is n_prompt ${String(t.n_prompt)}, n_gen ${String(t.n_gen)}, n_depth ${String(t.n_depth)}; expected ${tokens}, 0, 0`);
  }
  if (typeof t.n_ubatch === "number" && t.n_ubatch < tokens) throw new UsageError(`llama-bench: n_ubatch ${t.n_ubatch} splits the ${tokens}-token pass`);
  const samples = t.samples_ns;
  if (!Array.isArray(samples) || samples.length === 0 || !samples.every((x) => typeof x === "number" && x > 0)) {
    throw new UsageError("llama-bench: samples_ns is missing or not a list of positive nanosecond counts");
  }
  return samples.map((ns) => (ns as number) / 1e9);
}

/** llama-bench's own seconds per T-token embedding pass on `model`, one warm-up and `reps` timed repetitions. */
function llamaBenchSeconds(bin: string, model: string, tokens: number, threads: number, reps: number): number[] {
  const argv = ["-m", model, "-p", String(tokens), "-n", "0", "-embd", "1", "-t", String(threads), "-r", String(reps), "-o", "json"];
  const r = spawnSync(bin, argv, { encoding: "utf8", maxBuffer: 1 << 24, timeout: 600_000 });
  if (r.status !== 0) throw new UsageError(`llama-bench ${argv.join(" ")} exited with ${r.status ?? r.signal}: ${(r.stderr ?? "").trim().split("\n").slice(-3).join(" | ")}`);
  return llamaBenchPassSeconds(r.stdout, tokens);
}

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

/** B sequences of [CLS] + T − 2 ordinary token ids (seeded) + [SEP]. */
function randomSequences(enc: ReturnType<typeof loadEncoder>, model: string, batch: number, tokens: number): EncoderSequence[] {
  const tok = enc.tokenizer;
  const frame = (names: string[]) => names.map((n) => tok.tokenToId(n)).find((x) => x !== undefined);
  const cls = frame(["[CLS]", "<s>"]) ?? 0, sep = frame(["[SEP]", "</s>"]) ?? 0;
  const ordinary: number[] = [];
  for (let id = 0; id < Math.min(tok.vocabSize, enc.vocabSize); id++) if (!tok.isSpecial(id) && !/^\[unused|^\[/.test(tok.idToToken(id) ?? "[")) ordinary.push(id);
  if (ordinary.length === 0) throw new UsageError(`${model}: the vocabulary has no ordinary tokens to build inputs from`);
  const rng = new Rng(16);
  return Array.from({ length: batch }, () => ({ ids: [cls, ...Array.from({ length: tokens - 2 }, () => ordinary[rng.int(ordinary.length)]!), sep] }));
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
      threads: { type: "string" }, "llama-embedding": { type: "string" }, "llama-bench": { type: "string" }, json: { type: "boolean", default: false },
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
    const llama = values["llama-embedding"], bench = values["llama-bench"];
    if (llama !== undefined && bench !== undefined) throw new UsageError("give --llama-bench (batch 1) or --llama-embedding, not both");
    if (bench !== undefined) {
      if (!existsSync(bench)) throw new UsageError(`--llama-bench ${bench} does not exist (build llama.cpp's llama-bench)`);
      if (!values.model.endsWith(".gguf")) throw new UsageError("--llama-bench needs --model FILE.gguf (llama.cpp reads GGUF only)");
      if (batch !== 1) throw new UsageError(`--llama-bench times one sequence per pass; --batch ${batch} needs --llama-embedding PATH instead`);
      return besideLlamaBench(enc, values.model, bench, tokens, rounds, threads ?? 2, values.json === true);
    }
    if (llama !== undefined) {
      if (!existsSync(llama)) throw new UsageError(`--llama-embedding ${llama} does not exist (build llama.cpp's llama-embedding)`);
      if (!values.model.endsWith(".gguf")) throw new UsageError("--llama-embedding needs --model FILE.gguf (llama.cpp reads GGUF only)");
      return sideBySide(enc, values.model, llama, batch, tokens, rounds, threads ?? 2, values.json === true);
    }
    const seqs = randomSequences(enc, values.model, batch, tokens);
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

/** Zhiyu and llama-bench, one T-token sequence per pass, rounds interleaved (Zhiyu: a warm-up pass and a timed one;
 *  then one llama-bench process: its warm-up pass and one timed repetition); prints both, the ratio, and every
 *  round's seconds. */
function besideLlamaBench(enc: ReturnType<typeof loadEncoder>, model: string, bin: string, tokens: number, rounds: number,
  threads: number, json: boolean): number {
  const seqs = randomSequences(enc, model, 1, tokens);
  const pooling = enc.defaultPooling === "none" ? "mean" : enc.defaultPooling;
  enc.embedSequences(seqs, pooling, false); // warm-up (weight packing, allocator)
  const zhiyu: number[] = [], llamaCpp: number[] = [];
  const load0 = os.loadavg()[0];
  for (let r = 0; r < rounds; r++) {
    // Each side warms up right before its timed pass: llama-bench runs a pass before its timed repetition, and Zhiyu's
    // caches and pool threads have just sat through llama-bench's process.
    enc.embedSequences(seqs, pooling, false);
    const t0 = process.hrtime.bigint();
    enc.embedSequences(seqs, pooling, false);
    zhiyu.push(Number(process.hrtime.bigint() - t0) / 1e9);
    llamaCpp.push(...llamaBenchSeconds(bin, model, tokens, threads, 1));
  }
  const z = median(zhiyu), l = median(llamaCpp);
  const result = { model, batch: 1, tokens, rounds, threads, pooling, peer: "llama-bench", zhiyu_sentences_per_s: 1 / z, llama_cpp_sentences_per_s: 1 / l,
    ratio: l / z, zhiyu_seconds: zhiyu, llama_cpp_seconds: llamaCpp, load_start: load0, load_end: os.loadavg()[0] };
  if (json) console.log(JSON.stringify(result));
  else {
    console.log(`${model}: batch 1 × ${tokens} tokens, ${threads} threads, median of ${rounds}: Zhiyu ${result.zhiyu_sentences_per_s.toFixed(2)} ` +
      `sentences/s, llama.cpp (llama-bench's timer) ${result.llama_cpp_sentences_per_s.toFixed(2)} sentences/s: ${result.ratio.toFixed(2)}× ` +
      `(load average ${load0.toFixed(1)} → ${result.load_end.toFixed(1)})`);
  }
  return 0;
}

// `zhiyu bench seq2seq --model PATH [--tokens N] [--beams B] [--rounds R] [--threads T] [--llama-server PATH] [--json]`:
// generation speed of an encoder-decoder (T5; HF folder or GGUF): a fixed 33-id source (32 ids + EOS, the ids of
// dev/t5/speed.py), N new tokens with EOS ignored, greedy and beam search of width B; each timing covers the whole
// call (encoder once, then the decoder steps), median of R rounds after a warm-up.
// --llama-server PATH: llama.cpp side by side on the same GGUF, rounds interleaved. llama-bench cannot run an
// encoder-decoder (it decodes without llama_encode), so this starts llama-server on a free local port, posts the
// source as token ids to /completion (greedy, ignore_eos, no prompt cache) and times each request; the server's own
// timings are reported too.
// Leaves out: beam search on llama.cpp's side (its server has none), sampling, the Python side (dev/t5/speed.py).
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { createServer } from "node:net";
import { loadAnyModel } from "../../infer/load.js";
import { requireKind, type Seq2SeqModel } from "../../infer/model-api.js";
import { generate } from "../../infer/generate.js";
import { beamSearch } from "../../infer/beam-search.js";
import { median } from "../bench-stats.js";
import { intFlagOr, parseFlags } from "../flags.js";
import { UsageError } from "../errors.js";

const USAGE = "usage: zhiyu bench seq2seq --model PATH [--tokens N (32)] [--beams B (4)] [--rounds R (3)] [--threads T] " +
  "[--llama-server PATH] [--json]";

function seconds(fn: () => unknown): number {
  const t0 = process.hrtime.bigint();
  fn();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** A llama-server on a free local port, up and healthy; stop() ends it. */
async function startLlamaServer(bin: string, model: string, threads: number): Promise<{ url: string; stop(): void }> {
  const port = await new Promise<number>((resolve, reject) => {
    const s = createServer().once("error", reject).listen(0, "127.0.0.1", () => {
      const p = (s.address() as { port: number }).port;
      s.close(() => resolve(p));
    });
  });
  const child = spawn(bin, ["-m", model, "-t", String(threads), "-tb", String(threads), "-np", "1", "-c", "1024", "--port", String(port),
    "--host", "127.0.0.1", "--no-webui"], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d: Buffer) => { log = (log + d.toString()).slice(-4000); });
  const url = `http://127.0.0.1:${port}`;
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new UsageError(`--llama-server: ${bin} exited with ${child.exitCode}: ${log.trim().split("\n").slice(-3).join(" | ")}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch { /* not listening yet */ }
    if (i >= 1200) {
      child.kill("SIGTERM");
      throw new UsageError(`--llama-server: ${bin} did not answer /health within 120 s`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return { url, stop: () => { child.kill("SIGTERM"); } };
}

/** One greedy request: wall seconds, and the server's own prompt (encoder) and decode timings. */
async function llamaGreedy(url: string, source: number[], tokens: number): Promise<{ seconds: number; serverSeconds: number; decodePerS: number }> {
  const t0 = process.hrtime.bigint();
  const res = await fetch(`${url}/completion`, {
    method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ prompt: source, n_predict: tokens, temperature: 0, top_k: 1, samplers: ["top_k"], ignore_eos: true, cache_prompt: false }),
  });
  const body = (await res.json()) as { timings?: { prompt_ms: number; predicted_ms: number; predicted_n: number; predicted_per_second: number } };
  const wall = Number(process.hrtime.bigint() - t0) / 1e9;
  const t = body.timings;
  if (!res.ok || !t) throw new UsageError(`--llama-server: /completion answered ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  if (t.predicted_n !== tokens) throw new UsageError(`--llama-server generated ${t.predicted_n} tokens, not ${tokens}: the comparison would be unfair`);
  return { seconds: wall, serverSeconds: (t.prompt_ms + t.predicted_ms) / 1000, decodePerS: t.predicted_per_second };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: { model: { type: "string" }, tokens: { type: "string" }, beams: { type: "string" }, rounds: { type: "string" },
      threads: { type: "string" }, "llama-server": { type: "string" }, json: { type: "boolean", default: false },
      help: { type: "boolean", default: false } },
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  if (!values.model) throw new UsageError(`--model is required\n${USAGE}`);
  const tokens = intFlagOr("tokens", values.tokens, 32, 1, 1 << 16);
  const beams = intFlagOr("beams", values.beams, 4, 1, 64);
  const rounds = intFlagOr("rounds", values.rounds, 3, 1, 1000);
  const threads = values.threads !== undefined ? intFlagOr("threads", values.threads, 1, 1, 1024) : undefined;
  const llama = values["llama-server"];
  if (llama !== undefined) {
    if (!existsSync(llama)) throw new UsageError(`--llama-server ${llama} does not exist (build llama.cpp's llama-server)`);
    if (!values.model.endsWith(".gguf")) throw new UsageError("--llama-server needs --model FILE.gguf (llama.cpp reads GGUF only)");
  }
  const model = requireKind(await loadAnyModel(values.model, { threads }), ["seq2seq"], "bench seq2seq") as Seq2SeqModel;
  let server: { url: string; stop(): void } | null = null;
  try {
    if (tokens + 1 > model.contextLength) throw new UsageError(`--tokens ${tokens} exceeds the model's ${model.contextLength - 1} target positions`);
    const eos = model.stopTokenIds[0] ?? 1;
    const span = Math.max(1, Math.min(30000, model.vocabSize - 5));
    const source = [...Array.from({ length: 32 }, (_, i) => ((i * 37) % span) + 5), eos];
    const greedy = () => generate(model, source, { temperature: 0, maxTokens: tokens, stopTokenIds: [] });
    const beam = () => beamSearch(model, source, { numBeams: beams, maxTokens: tokens, stopTokenIds: [] });
    if (llama !== undefined) server = await startLlamaServer(llama, values.model, threads ?? 2);
    greedy(); // warm-up
    beam();
    if (server) await llamaGreedy(server.url, source, tokens);
    const g: number[] = [], b: number[] = [], l: Array<{ seconds: number; serverSeconds: number; decodePerS: number }> = [];
    for (let r = 0; r < rounds; r++) {
      g.push(seconds(greedy));
      b.push(seconds(beam));
      if (server) l.push(await llamaGreedy(server.url, source, tokens));
    }
    const gs = median(g), bs = median(b), ls = median(l.map((x) => x.seconds));
    const llamaCpp = server ? { greedy_seconds: ls, greedy_tokens_per_s: tokens / ls, server_seconds: median(l.map((x) => x.serverSeconds)),
      decode_tokens_per_s: median(l.map((x) => x.decodePerS)) } : null;
    const result = {
      model: values.model, threads: threads ?? null, source_tokens: source.length, new_tokens: tokens, beams, rounds,
      zhiyu: { greedy_seconds: gs, greedy_tokens_per_s: tokens / gs, beam_seconds: bs, beam_tokens_per_s: tokens / bs, beam_cost: bs / gs },
      ...(llamaCpp ? { llama_cpp: llamaCpp, greedy_ratio: ls / gs } : {}),
    };
    if (values.json) console.log(JSON.stringify(result));
    else {
      console.log(`${values.model}: ${source.length} source ids, ${tokens} new tokens, median of ${rounds}: greedy ${result.zhiyu.greedy_tokens_per_s.toFixed(1)} ` +
        `tokens/s, beam ${beams} ${result.zhiyu.beam_tokens_per_s.toFixed(1)} tokens/s (${result.zhiyu.beam_cost.toFixed(2)}× greedy)`);
      if (llamaCpp) console.log(`llama.cpp (llama-server) greedy ${llamaCpp.greedy_tokens_per_s.toFixed(1)} tokens/s: Zhiyu ${(ls / gs).toFixed(2)}×`);
    }
    return 0;
  } finally {
    server?.stop();
    model.dispose();
  }
}

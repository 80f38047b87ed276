// `zhiyu bench serve`: serving throughput under concurrency. Starts `zhiyu serve` in process on the model (or targets
// any OpenAI-compatible server with --url, e.g. llama.cpp's `llama-server -np 8`, for a side-by-side run), then
//   1. one streaming client alone (the single-client baseline, after a warm-up request),
//   2. N streaming clients at once,
// each asking /v1/chat/completions for exactly --tokens tokens (ignore_eos, temperature 0). Reports aggregate and
// per-client tokens/s, time to first token (p50/p99), lost requests, and the speed-up of N clients over one.
// tokens/s per client = completion tokens / (last chunk − request start); aggregate = all tokens / phase wall time.
// --chaos runs the overload-and-faults test instead (src/cli/chaos-load.ts): 8× the slots in bursts with
// disconnects and slow bodies, /health sampled, 429 + Retry-After before any 200, nothing accepted lost, memory.
// Leaves out: prompt-length sweeps and latency-under-load curves (one fixed prompt, one concurrency per run).
import { monitorEventLoopDelay } from "node:perf_hooks";
import { Worker } from "node:worker_threads";
import { loadModel } from "../../infer/load.js";
import { startServer } from "../../serve/server.js";
import { UsageError } from "../errors.js";
import { intFlag, intFlagOr, parseFlags } from "../flags.js";
import { chaosViolations, runChaos } from "../chaos-load.js";

const HELP = `usage: zhiyu bench serve (--model PATH | --url URL --model-name NAME) [options] [--json]

  --model PATH        model to serve in process (.gguf or Hugging Face folder)
  --url URL           benchmark an already running OpenAI-compatible server instead (its /v1 base URL)
  --model-name NAME   'model' field to send (default: the served model's id)
  --clients N         concurrent streaming clients (default 8)
  --tokens N          completion tokens per request (default 128)
  --parallel N        server decode slots when serving in process (default: --clients)
  --prompt TEXT       user message (default: a short story request)
  --threads N         compute threads for the in-process server
  --ctx N             context length to load the model with (e.g. 512 for stories260K, whose GGUF says 128)
  --chaos             overload and faults instead: bursts of 8 × --parallel requests (default --parallel 2) with
                      disconnects and slow bodies, /health sampled; fails unless every rejection is 429 +
                      Retry-After before any 200, nothing accepted is lost and /health p99 < --health-p99 ms (100)
  --bursts N          chaos waves (default 6)
  --json              print one JSON object instead of a table`;

interface ClientResult {
  ok: boolean;
  tokens: number;
  ttftMs: number;
  seconds: number;
  error?: string;
}

/** The load generator, as plain JavaScript run in a worker thread: when the server runs in this process, its forward
 *  passes block this event loop, and clients sharing it would only connect between steps (an artefact no real
 *  client has). The worker streams requests and posts back one ClientResult per request. */
const CLIENT_WORKER = `
const { parentPort, workerData } = require("node:worker_threads");
async function streamOnce(base, model, prompt, tokens) {
  const start = performance.now();
  let first = -1, last = start, usageTokens = -1, chunks = 0;
  try {
    const r = await fetch(base + "/chat/completions", {
      method: "POST",
      headers: { "content-type": "application/json", authorization: "Bearer bench" },
      body: JSON.stringify({ model, messages: [{ role: "user", content: prompt }], stream: true, stream_options: { include_usage: true },
        max_tokens: tokens, temperature: 0, ignore_eos: true }),
    });
    if (!r.ok || !r.body) return { ok: false, tokens: 0, ttftMs: 0, seconds: 0, error: "HTTP " + r.status + ": " + (await r.text()).slice(0, 200) };
    const decoder = new TextDecoder();
    let buffer = "";
    for await (const part of r.body) {
      buffer += decoder.decode(part, { stream: true });
      let cut;
      while ((cut = buffer.indexOf("\\n\\n")) >= 0) {
        const event = buffer.slice(0, cut).trim();
        buffer = buffer.slice(cut + 2);
        if (!event.startsWith("data:")) continue;
        const data = event.slice(5).trim();
        if (data === "[DONE]") continue;
        const j = JSON.parse(data);
        if (j.error) return { ok: false, tokens: 0, ttftMs: 0, seconds: 0, error: j.error.message };
        if (j.usage) usageTokens = j.usage.completion_tokens;
        const content = j.choices && j.choices[0] && j.choices[0].delta && j.choices[0].delta.content;
        if (content) {
          chunks++;
          if (first < 0) first = performance.now();
          last = performance.now();
        }
      }
    }
  } catch (err) {
    return { ok: false, tokens: 0, ttftMs: 0, seconds: 0, error: String(err && err.message || err) };
  }
  const n = usageTokens >= 0 ? usageTokens : chunks;
  return { ok: n > 0, tokens: n, ttftMs: first < 0 ? 0 : first - start, seconds: (last - start) / 1000 };
}
parentPort.on("message", async ({ count, tokens }) => {
  const { base, model, prompt } = workerData;
  const t0 = performance.now();
  const results = await Promise.all(Array.from({ length: count }, () => streamOnce(base, model, prompt, tokens)));
  parentPort.postMessage({ results, wall: (performance.now() - t0) / 1000 });
});
`;

class LoadGenerator {
  private readonly worker: Worker;
  constructor(base: string, model: string, prompt: string) {
    this.worker = new Worker(CLIENT_WORKER, { eval: true, workerData: { base, model, prompt } });
  }
  /** Runs `count` concurrent streaming requests; resolves with their results and the phase's wall time. */
  run(count: number, tokens: number): Promise<{ results: ClientResult[]; wall: number }> {
    return new Promise((resolve, reject) => {
      this.worker.once("message", resolve);
      this.worker.once("error", reject);
      this.worker.postMessage({ count, tokens });
    });
  }
  close(): Promise<number> {
    return this.worker.terminate();
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const s = [...values].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

const round = (x: number, d = 2) => Math.round(x * 10 ** d) / 10 ** d;

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseFlags({
    args: argv,
    options: {
      model: { type: "string" }, url: { type: "string" }, "model-name": { type: "string" }, clients: { type: "string" },
      tokens: { type: "string" }, parallel: { type: "string" }, prompt: { type: "string" }, threads: { type: "string" }, ctx: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" }, chaos: { type: "boolean" }, bursts: { type: "string" },
      "health-p99": { type: "string" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const clients = intFlagOr("clients", values.clients, 8);
  const tokens = intFlagOr("tokens", values.tokens, 128);
  const prompt = values.prompt ?? "Tell me a story about a little girl who finds a cat.";
  if (!values.model && !values.url) throw new UsageError(`bench serve needs --model PATH or --url URL\n\n${HELP}`);
  if (values.chaos) return chaos(values);

  let base: string;
  let modelName: string;
  let stop = async () => {};
  let label: string;
  if (values.url) {
    base = values.url.replace(/\/+$/, "");
    modelName = values["model-name"] ?? "default";
    label = `${base} (external)`;
  } else {
    const model = await loadModel(values.model!, { threads: intFlag("threads", values.threads),
      contextLength: intFlag("ctx", values.ctx, 16) });
    const parallel = intFlagOr("parallel", values.parallel, clients);
    const server = await startServer({ model, port: 0, parallel, maxQueue: clients * 2 });
    base = `${server.url}/v1`;
    modelName = values["model-name"] ?? model.id;
    label = `zhiyu serve --parallel ${parallel}`;
    stop = async () => {
      await server.close();
      model.dispose();
    };
  }
  const load = new LoadGenerator(base, modelName, prompt);
  try {
    await load.run(1, Math.min(8, tokens)); // warm-up
    const single = (await load.run(1, tokens)).results[0];
    if (!single.ok) throw new Error(`[bench serve] the single-client request failed: ${single.error}`);
    const { results, wall } = await load.run(clients, tokens);
    const ok = results.filter((r) => r.ok);
    const total = ok.reduce((s, r) => s + r.tokens, 0);
    const singleTps = single.tokens / single.seconds;
    const aggregate = total / wall;
    const report = {
      server: label,
      model: modelName,
      clients,
      tokensPerRequest: tokens,
      single: { tokens: single.tokens, tokensPerSecond: round(singleTps), ttftMs: round(single.ttftMs, 1) },
      concurrent: {
        aggregateTokensPerSecond: round(aggregate),
        wallSeconds: round(wall, 3),
        completed: ok.length,
        lost: clients - ok.length,
        ttftP50Ms: round(percentile(ok.map((r) => r.ttftMs), 50), 1),
        ttftP99Ms: round(percentile(ok.map((r) => r.ttftMs), 99), 1),
        perClient: results.map((r) => ({ tokens: r.tokens, tokensPerSecond: r.seconds > 0 ? round(r.tokens / r.seconds) : 0,
          ttftMs: round(r.ttftMs, 1), ...(r.error ? { error: r.error } : {}) })),
      },
      speedup: round(aggregate / singleTps),
    };
    if (values.json) console.log(JSON.stringify(report, null, 2));
    else {
      console.log(`bench serve: ${label}, model ${modelName}, ${tokens} tokens per request`);
      console.log(`  1 client        ${report.single.tokensPerSecond} tok/s, TTFT ${report.single.ttftMs} ms`);
      console.log(`  ${clients} clients${" ".repeat(Math.max(1, 8 - String(clients).length))}${report.concurrent.aggregateTokensPerSecond} tok/s aggregate ` +
        `(${report.speedup}× one client), TTFT p50 ${report.concurrent.ttftP50Ms} ms, p99 ${report.concurrent.ttftP99Ms} ms, ` +
        `${report.concurrent.lost} lost`);
      report.concurrent.perClient.forEach((c, i) => console.log(`    client ${i}: ${c.tokens} tokens, ${c.tokensPerSecond} tok/s, TTFT ${c.ttftMs} ms${c.error ? `, ${c.error}` : ""}`));
    }
    return report.concurrent.lost > 0 ? 1 : 0;
  } finally {
    await load.close();
    await stop();
  }
}

async function chaos(values: Record<string, string | boolean | undefined>): Promise<number> {
  const slots = intFlagOr("parallel", values.parallel as string | undefined, 2);
  const tokens = intFlagOr("tokens", values.tokens as string | undefined, 32);
  const bound = intFlagOr("health-p99", values["health-p99"] as string | undefined, 100);
  let base: string;
  let modelName: string;
  let stop = async () => {};
  const settle = async () => {
    await new Promise((r) => setTimeout(r, 1000));
    (globalThis as { gc?: () => void }).gc?.();
    return Math.round(process.memoryUsage().rss / 2 ** 20);
  };
  let before = 0;
  if (values.url) {
    base = String(values.url).replace(/\/+$/, "");
    modelName = String(values["model-name"] ?? "default");
  } else {
    const model = await loadModel(String(values.model), { threads: intFlag("threads", values.threads as string | undefined),
      contextLength: intFlag("ctx", values.ctx as string | undefined, 16) });
    const server = await startServer({ model, port: 0, parallel: slots, maxQueue: slots * 2, requestBodyTimeoutMs: 10_000 });
    base = `${server.url}/v1`;
    modelName = String(values["model-name"] ?? model.id);
    stop = async () => {
      await server.close();
      model.dispose();
    };
  }
  try {
    // Warm up (first-request costs), then the baseline memory.
    await fetch(`${base}/chat/completions`, { method: "POST", headers: { "content-type": "application/json" },
      body: JSON.stringify({ model: modelName, max_tokens: 4, messages: [{ role: "user", content: "hi" }] }) }).then((r) => r.text());
    before = await settle();
    // The server's own event-loop delay (in process only): tells a blocked loop from a starved machine.
    const loopDelay = monitorEventLoopDelay({ resolution: 10 });
    loopDelay.enable();
    const report = await runChaos({ base, model: modelName, slots, bursts: intFlagOr("bursts", values.bursts as string | undefined, 6), tokens });
    loopDelay.disable();
    const serverLoopDelayMs = values.url ? null : { p99: Math.round(loopDelay.percentile(99) / 1e6), max: Math.round(loopDelay.max / 1e6) };
    const after = values.url ? 0 : await settle();
    const violations = chaosViolations(report, bound);
    const full = { ...report, serverLoopDelayMs, slots, concurrency: 8 * slots, memoryMiB: values.url ? null : { before, after }, violations };
    if (values.json) console.log(JSON.stringify(full, null, 2));
    else {
      console.log(`bench serve --chaos: ${slots} slots, bursts of ${8 * slots} requests, ${report.requests} requests in ${report.seconds} s`);
      console.log(`  accepted ${report.accepted} (${report.disconnectedOnPurpose} disconnected on purpose), 429 ${report.rejected429} ` +
        `(${report.rejectedWithoutRetryAfter} without Retry-After), in-stream errors after 200: ${report.streamErrorsAfter200}, ` +
        `accepted lost: ${report.acceptedLost}, slow bodies ${report.slowBodies.answered}/${report.slowBodies.sent} answered`);
      console.log(`  /health: ${report.health.samples} samples, p50 ${report.health.p50Ms} ms, p99 ${report.health.p99Ms} ms, ` +
        `max ${report.health.maxMs} ms, ${report.health.failures} failed`);
      if (!values.url) {
        console.log(`  server event-loop delay: p99 ${serverLoopDelayMs!.p99} ms, max ${serverLoopDelayMs!.max} ms`);
        console.log(`  memory (RSS): ${before} MiB before, ${after} MiB after`);
      }
      console.log(violations.length === 0 ? "  verdict: all checks hold" : `  verdict: ${violations.join("; ")}`);
    }
    return violations.length === 0 ? 0 : 1;
  } finally {
    await stop();
  }
}

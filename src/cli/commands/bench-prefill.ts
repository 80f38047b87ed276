// `zhiyu bench prefill --model PATH --threads N [--tokens N] [--json]`: tokens per second reading a prompt of N
// tokens (default 128) in one forward pass. Also hosts the shared decode benchmark (bench-decode.ts), whose
// --depth N first reads an N-token prompt (not timed) so the timed tokens attend to a long cache (llama-bench -d N);
// decode sizes the sequence's cache for the prompt and the timed tokens before the prompt (SequenceState.reserve, as
// generation does and as llama-bench allocates its n_ctx before timing), so no cache growth falls in the timed loop.
// For an MoE model, decode also reports the weight bytes read per token against the active parameters' size.
// Reports the median of several runs, resident memory (now and peak), the KV cache bytes, and the weight bytes.
// --kv-type f16 / q8_0 keeps the KV cache in f16 / q8_0 (llama.cpp's -ctk/-ctv f16 / q8_0). --no-tune runs the fixed decode kernels instead of the tuned ones. --no-repack keeps every weight matrix in the file's layout (LoadModelOptions.repack), to measure what the
// backend's repacked layout gains. --bandwidth (decode): also measures the machine's read bandwidth (bench-bandwidth.ts)
// right before and right after the timed runs and prints the weight bytes a token reads (every matrix but lookup-only
// embedding tables; for MoE the experts that ran) × tokens/s as a share of the higher probe (on a shared host the
// bandwidth moves by tens of per cent within minutes; the higher one does not flatter the share).
import { kvTypeFlag, parseFlags } from "../flags.js";
import { NO_TUNE_OPTION, tuningOptions } from "../tuning-flags.js";
import { readFileSync } from "node:fs";
import { UsageError } from "../errors.js";
import { loadModel, weightBytes } from "../../infer/load.js";
import type { LoadedModel } from "../../infer/load.js";
import { DecoderModel } from "../../models/decoder/model.js";
import type { MoeTrace } from "../../models/moe.js";
import { argmax } from "../../infer/sampler.js";
import { median } from "../bench-stats.js";
import { measureReadBandwidth } from "./bench-bandwidth.js";
import { paramSpecs } from "../../models/presets.js";
import type { ModelConfig } from "../../infer/export.js";

/** Peak resident set of this process (Linux VmHWM), or NaN elsewhere. */
function peakRssMb(): number {
  try {
    const kb = /VmHWM:\s+(\d+)/.exec(readFileSync("/proc/self/status", "utf8"));
    return kb ? Number((Number(kb[1]) / 1024).toFixed(1)) : NaN;
  } catch {
    return NaN;
  }
}


function usage(kind: "decode" | "prefill"): string {
  return `usage: zhiyu bench ${kind} --model PATH --threads N [--tokens N]${kind === "decode" ? " [--depth N]" : ""} ` +
    `[--kv-type f32|f16|q8_0] [--repeat R] [--no-repack] [--no-tune]${kind === "decode" ? " [--bandwidth]" : ""} [--json]`;
}

export async function runDecodeOrPrefill(kind: "decode" | "prefill", argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      model: { type: "string" }, threads: { type: "string" }, tokens: { type: "string" }, repeat: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean", short: "h" }, "no-repack": { type: "boolean" },
      depth: { type: "string" }, "kv-type": { type: "string" }, bandwidth: { type: "boolean" }, ...NO_TUNE_OPTION,
    },
    strict: true,
  }, usage(kind));
  if (values.help) {
    console.log(usage(kind));
    return 0;
  }
  if (!values.model) throw new UsageError(`bench ${kind}: --model is required`);
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && (!Number.isInteger(threads) || threads < 1)) throw new UsageError(`--threads ${values.threads}: expected an integer ≥ 1`);
  const tokens = Number(values.tokens ?? (kind === "decode" ? 64 : 128));
  if (!Number.isInteger(tokens) || tokens < 1) throw new UsageError(`--tokens ${values.tokens}: expected an integer ≥ 1`);
  const repeat = Number(values.repeat ?? 3);
  const depth = Number(values.depth ?? 0);
  if (!Number.isInteger(depth) || depth < 0) throw new UsageError(`--depth ${values.depth}: expected an integer ≥ 0`);
  if (depth > 0 && kind !== "decode") throw new UsageError("--depth applies to bench decode only");
  if (values.bandwidth && kind !== "decode") throw new UsageError("--bandwidth applies to bench decode only");
  const kvType = kvTypeFlag(values["kv-type"]) ?? "f32";
  // At depth, the context is sized to the run (as llama-bench sizes its n_ctx), so --depth 2048 works on a 2k model.
  const model = await loadModel(values.model, { threads, repack: !values["no-repack"], kvCacheType: kvType,
    tuning: tuningOptions(values["no-tune"]),
    ...(depth > 0 ? { contextLength: depth + tokens + 1 } : {}) });
  const vocab = model.vocabSize;
  // Deterministic pseudo-random prompt ids (content does not change the cost).
  const promptLength = kind === "decode" ? Math.max(4, depth) : tokens;
  if (kind === "decode" && promptLength + tokens > model.contextLength) {
    throw new UsageError(`--depth ${depth} + --tokens ${tokens} exceeds the model's context length ${model.contextLength}`);
  }
  const ids = Array.from({ length: Math.min(promptLength, model.contextLength - 1) }, (_, i) => (i * 7919 + 13) % vocab);
  const rates: number[] = [];
  const probeBefore = values.bandwidth ? measureReadBandwidth(model.backend, 1024, 3).gbPerS : NaN;
  let kvBytes = 0;
  for (let r = 0; r < repeat + 1; r++) {
    const seq = model.createSequence();
    let rate: number;
    if (kind === "prefill") {
      const t0 = performance.now();
      model.forward([{ seq, tokens: ids }]);
      rate = ids.length / ((performance.now() - t0) / 1000);
    } else {
      // one logits buffer for every step, as the generation and the server's scheduler do (ForwardOptions.into); the
      // cache sized for the run before it (as generation does, and as llama-bench allocates its n_ctx before timing)
      const into = new Float32Array(vocab);
      const n = Math.min(tokens, model.contextLength - ids.length);
      seq.reserve?.(ids.length + n);
      let logits = model.forward([{ seq, tokens: ids }], { into })[0];
      const t0 = performance.now();
      for (let i = 0; i < n; i++) {
        logits = model.forward([{ seq, tokens: [argmax(logits)] }], { into })[0];
      }
      rate = n / ((performance.now() - t0) / 1000);
    }
    kvBytes = (seq as { cache?: { bytes?: number } }).cache?.bytes ?? NaN;
    seq.dispose();
    if (r > 0) rates.push(rate); // the first run warms up caches and the pool
  }
  const result = {
    bench: kind, model: model.id, threads: model.backend.info().threads, backend: model.backend.info().name,
    tokens, ...(kind === "decode" ? { depth } : {}), kv_type: kvType, tokens_per_s: Number(median(rates).toFixed(2)), runs: rates.map((x) => Number(x.toFixed(2))),
    rss_mb: Number((process.memoryUsage().rss / 2 ** 20).toFixed(1)), peak_rss_mb: peakRssMb(),
    kv_mb: Number((kvBytes / 2 ** 20).toFixed(2)), weight_mb: Number((model.weightBytes / 2 ** 20).toFixed(1)),
  };
  const moe = kind === "decode" ? moeTraffic(model, ids, Math.min(tokens, model.contextLength - ids.length)) : null;
  const bandwidth = values.bandwidth ? bandwidthShare(model, result.tokens_per_s, probeBefore, moe?.bytes_per_token) : null;
  if (values.json) console.log(JSON.stringify({ ...result, ...(moe ? { moe } : {}), ...(bandwidth ? { bandwidth } : {}) }));
  else {
    console.log(`${kind}: ${result.tokens_per_s} tokens/s (${result.backend}, ${result.threads} threads; runs ${result.runs.join(", ")}); RSS ${result.rss_mb} MB, weights ${result.weight_mb} MB`);
    if (moe) {
      console.log(`  MoE: ${(moe.bytes_per_token / 2 ** 20).toFixed(1)} MiB of weights read per decoded token (experts ${(moe.expert_bytes_per_token / 2 ** 20).toFixed(1)} MiB), ` +
        `active parameters ${(moe.active_bytes / 2 ** 20).toFixed(1)} MiB: ${moe.ratio.toFixed(3)}× (all weights ${result.weight_mb} MB)`);
    }
    if (bandwidth) {
      console.log(`  bandwidth: ${(bandwidth.bytes_per_token / 2 ** 20).toFixed(1)} MiB of weights per token × ${result.tokens_per_s} tokens/s = ` +
        `${bandwidth.achieved_gb_per_s} GB/s, ${(100 * bandwidth.share).toFixed(1)}% of the measured read bandwidth ${bandwidth.read_gb_per_s} GB/s ` +
        `(the higher of ${bandwidth.probes_gb_per_s.join(" and ")} GB/s before and after the runs)`);
    }
  }
  model.dispose();
  return 0;
}

export async function run(argv: string[]): Promise<number | void> {
  return runDecodeOrPrefill("prefill", argv);
}

/** Weight bytes a decoded token streams (all matrices but lookup-only embedding tables; `moeBytes` for MoE, which
 *  counts the experts that ran) × tokens/s against the read bandwidth measured with the model's own backend: the
 *  higher of `probeBefore` (taken before the timed runs) and a probe taken now. */
function bandwidthShare(model: LoadedModel, tokensPerS: number, probeBefore: number, moeBytes?: number) {
  const lookup = new Set(paramSpecs(model.config as ModelConfig).filter((s) => s.lookupOnly).map((s) => s.name));
  const lookupBytes = weightBytes(new Map([...model.model.params].filter(([name]) => lookup.has(name))));
  const bytesPerToken = (moeBytes ?? model.weightBytes) - lookupBytes;
  const probeAfter = measureReadBandwidth(model.backend, 1024, 3).gbPerS;
  const gbPerS = Math.max(probeBefore, probeAfter);
  const achieved = (bytesPerToken * tokensPerS) / 1e9;
  return { bytes_per_token: bytesPerToken, lookup_bytes: lookupBytes, achieved_gb_per_s: Number(achieved.toFixed(2)),
    read_gb_per_s: Number(gbPerS.toFixed(2)), probes_gb_per_s: [probeBefore, probeAfter].map((x) => Number(x.toFixed(2))),
    share: Number((achieved / gbPerS).toFixed(4)) };
}

/** For an MoE model: weight bytes one decoded token reads — every non-expert matrix once, plus the expert matrices
 *  the MoE layers actually ran (counted by the model's trace over `n` greedy steps) — against the active parameters'
 *  size (non-expert matrices + top-k experts per layer). null for a dense model. */
function moeTraffic(model: LoadedModel, prompt: readonly number[], n: number) {
  const net = model.model;
  if (!(net instanceof DecoderModel) || !net.config.moe || n < 1) return null;
  const { numExperts, topK } = net.config.moe;
  const experts = new Map([...net.params].filter(([name]) => /\.experts\.\d+\./.test(name)));
  const expertBytes = weightBytes(experts);
  const denseBytes = weightBytes(net.params) - expertBytes;
  const trace: MoeTrace = { expertRuns: 0, rows: 0, bytesRead: 0 };
  const seq = model.createSequence();
  const into = new Float32Array(model.vocabSize);
  let logits = model.forward([{ seq, tokens: [...prompt] }], { into })[0]!;
  net.moeTrace = trace;
  try {
    for (let i = 0; i < n; i++) logits = model.forward([{ seq, tokens: [argmax(logits)] }], { into })[0]!;
  } finally {
    net.moeTrace = null;
    seq.dispose();
  }
  const expertPerToken = trace.bytesRead / n;
  const active = denseBytes + (expertBytes / numExperts) * topK;
  return { bytes_per_token: denseBytes + expertPerToken, expert_bytes_per_token: expertPerToken, active_bytes: active,
    ratio: (denseBytes + expertPerToken) / active, experts: numExperts, top_k: topK };
}

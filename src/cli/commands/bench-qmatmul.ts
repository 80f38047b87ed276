// `zhiyu bench qmatmul`: times the native quantized matmul (out[m, rows] = x[m, cols] · Wᵀ with W in a GGUF type)
// on random weights, and reports the median time, the weight bytes streamed per second and GFLOP/s. Decoding is
// m = 1 and memory-bound, so GB/s of weights is the number to compare with the machine's bandwidth.
// Leaves out: comparing against llama.cpp (run its test-backend-ops perf mode beside it for that).
import { loadNative, nativeLoadError } from "../../backend/native.js";
import { PACKED_SOURCE, QUANT_BLOCK, isPacked, refQuantize } from "../../backend/ref/quant.js";
import type { WeightType } from "../../backend/backend.js";
import { UsageError } from "../errors.js";
import { intFlag, parseFlags } from "../flags.js";

const TYPES = [...Object.keys(QUANT_BLOCK), ...Object.keys(PACKED_SOURCE)] as WeightType[];

export async function run(argv: string[]): Promise<number | void> {
  const { values } = parseFlags({
    args: argv,
    options: {
      type: { type: "string", default: "q4_0" },
      rows: { type: "string", default: "2048" },
      cols: { type: "string", default: "768" },
      m: { type: "string", default: "1" },
      threads: { type: "string", default: "0" },
      iters: { type: "string", default: "0" },
      json: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  }, `usage: zhiyu bench qmatmul [--type ${TYPES.join("|")}] [--rows R] [--cols C] [--m M] [--threads N] [--iters K] [--json]`);
  if (values.help) {
    console.log(`usage: zhiyu bench qmatmul [--type ${TYPES.join("|")}] [--rows R] [--cols C] [--m M] [--threads N] [--iters K] [--json]`);
    return 0;
  }
  const type = values.type as WeightType;
  if (!TYPES.includes(type)) throw new UsageError(`--type ${values.type}: expected one of ${TYPES.join(", ")}`);
  // A repacked type (q8_0_r16, …): random weights of the type it holds, repacked by the addon.
  const packedFrom = isPacked(type) ? PACKED_SOURCE[type] : undefined;
  const source = packedFrom ?? type;
  const rows = intFlag("rows", values.rows)!, cols = intFlag("cols", values.cols)!, m = intFlag("m", values.m)!;
  const { elements, bytes } = QUANT_BLOCK[source as keyof typeof QUANT_BLOCK];
  if (cols % elements !== 0) throw new UsageError(`--cols ${cols}: must be a multiple of the ${type} block size ${elements}`);
  const addon = loadNative();
  if (!addon || typeof addon.quantMatmul !== "function") throw new Error(`native quant kernels unavailable: ${nativeLoadError() || "rebuild with npm run build:native"}`);
  const threads = addon.setThreads(intFlag("threads", values.threads, 0)!);

  // Random weights: quantized from random floats where a quantizer exists, else random bytes with sane scales.
  let seed = 12345;
  const rnd = () => ((seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0) / 2 ** 32) * 2 - 1;
  const wBytes = (rows * cols / elements) * bytes;
  let w = new Uint8Array(wBytes);
  if (type === "f32") {
    w = new Uint8Array(new Float32Array(rows * cols).map(() => rnd() * 0.1).buffer);
  } else if (source === "q4_k" || source === "q5_k" || source === "q6_k") {
    for (let i = 0; i < wBytes; i++) w[i] = (rnd() * 128 + 128) & 0xff;
    const dOff = source === "q6_k" ? [208] : [0, 2];
    for (let b = 0; b < wBytes / bytes; b++) for (const o of dOff) { w[b * bytes + o] = 0x00; w[b * bytes + o + 1] = 0x1c; } // f16 ≈ 0.004
  } else {
    const chunk = 1 << 20;
    const x = new Float32Array(chunk);
    for (let e = 0; e < rows * cols; e += chunk) {
      const n = Math.min(chunk, rows * cols - e);
      for (let i = 0; i < n; i++) x[i] = rnd() * 0.1;
      refQuantize(x, source as "q8_0", w.subarray((e / elements) * bytes), n);
    }
  }
  if (packedFrom && addon.quantRepack?.(w, packedFrom, rows, cols) !== type) {
    throw new UsageError(`--type ${type}: the addon cannot repack [${rows}, ${cols}] (rows must be a multiple of 16)`);
  }
  const x = new Float32Array(m * cols).map(() => rnd());
  const out = new Float32Array(m * rows);
  const run1 = () => addon.quantMatmul!(w, type, rows, cols, x, out, m);
  run1();
  const iters = Number(values.iters) || Math.max(5, Math.min(500, Math.round(2e9 / (rows * cols * m + wBytes * 8))));
  const times: number[] = [];
  const cpu0 = process.cpuUsage();
  for (let i = 0; i < iters; i++) {
    const t0 = process.hrtime.bigint();
    run1();
    times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const cpu = process.cpuUsage(cpu0);
  // CPU time per call (all threads; includes pool spinning): on a shared machine it moves less than wall time.
  const cpuMs = (cpu.user + cpu.system) / 1e3 / iters;
  times.sort((a, b) => a - b);
  const ms = times[Math.floor(times.length / 2)];
  const result = {
    type, rows, cols, m, threads, iters, impl: typeof addon.quantImpl === "function" ? (addon.quantImpl as () => string)() : "?",
    median_ms: +ms.toFixed(4), min_ms: +times[0].toFixed(4), cpu_ms: +cpuMs.toFixed(4),
    weight_gb_per_s: +(wBytes / (ms / 1e3) / 1e9).toFixed(2),
    gflops: +((2 * rows * cols * m) / (ms / 1e3) / 1e9).toFixed(2),
  };
  if (values.json) console.log(JSON.stringify(result));
  else console.log(`${type} [${rows}×${cols}] m=${m} threads=${threads} (${result.impl}): ${ms.toFixed(3)} ms median, ${times[0].toFixed(3)} min, ${cpuMs.toFixed(3)} CPU-ms, ` +
    `${result.weight_gb_per_s} GB/s of weights, ${result.gflops} GFLOP/s (${iters} runs)`);
}

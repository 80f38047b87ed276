// `zhiyu doctor`: what Zhiyu runs on here — Node version, the backend in use (cpu or ref, and why), ISA level,
// thread count, which native kernel families the addon has — and a one-line self-test: a small matmul and a
// softmax run on both backends and must agree. Then the decode-kernel tuning (src/backend/cpu/tuning.ts): the cache
// file, and for each weight shape the variant chosen on this CPU with every variant's measured time and why;
// `--tune --model F.gguf` measures the shapes of that model now (what the first decode would otherwise do).
// Leaves out: benchmarks (zhiyu bench ...), model checks.

import type { Backend } from "../../backend/backend.js";
import { createBackend, nativeUnavailableReason, tunable } from "../../backend/index.js";
import { loadNative } from "../../backend/native.js";
import { Rng } from "../../core/rng.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";
import { NO_TUNE_OPTION, tuningOptions } from "../tuning-flags.js";
import { loadModel } from "../../infer/load.js";
import { argmax } from "../../infer/sampler.js";
import { setDefaultBackend } from "../../tensor/index.js";

/** The tuning section: the cache file and each shape's choice (after measuring --model's shapes when given). */
async function tuningLines(backend: Backend, noTune: boolean | undefined, model: string | undefined): Promise<string[]> {
  const options = tuningOptions(noTune);
  const tuner = tunable(backend);
  if (!tuner) return ["  tuning    not available (reference backend, or an addon without the tuning kernels)"];
  if (!options.enabled) return ["  tuning    off (--no-tune or ZHIYU_NO_TUNE): every decode product runs the fixed fallback kernels"];
  const lines = [`  tuning    on; cache ${options.cacheFile}`];
  if (model) {
    setDefaultBackend(backend);
    const t0 = performance.now();
    const m = await loadModel(model, { backend, tuning: options });
    const seq = m.createSequence();
    const logits = m.forward([{ seq, tokens: [1, 2, 3, 4] }])[0];
    m.forward([{ seq, tokens: [argmax(logits)] }]); // one decode step: every dense matrix's shape is seen (and measured)
    seq.dispose();
    m.dispose();
    lines.push(`            ${model}: loaded and one token decoded in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  } else {
    tuner.configureTuning(options, 0); // reads the cache (warning when it is corrupt or foreign)
  }
  const choices = tuner.tuningChoices();
  if (choices.length === 0) lines.push("            no shapes tuned on this CPU yet (the first decode of a GGUF model measures its shapes, or doctor --tune --model F.gguf)");
  for (const c of choices) {
    const times = Object.entries(c.timesNs).map(([n, ns]) => `${n} ${(ns / 1000).toFixed(1)}`).join(", ");
    lines.push(`  ${c.key}: ${c.variant} (${c.source}) — µs per matrix: ${times}; ${c.reason}`);
  }
  return lines;
}

const HELP = `usage: zhiyu doctor [--threads N] [--tune --model F.gguf] [--no-tune]

Shows the backend Zhiyu will use (native cpu kernels or the pure-TypeScript reference, and why), the ISA
level, the thread count, runs a small self-test comparing both backends, and lists the decode kernels tuned for
this CPU (cached in $XDG_CACHE_HOME/zhiyu/tuning.json or ~/.cache/zhiyu/tuning.json).

  --threads N     native threads to use (default: all cores)
  --tune          measure the decode kernels for every weight shape of --model now (one decode step) and cache them
  --model F.gguf  the model whose shapes --tune measures
  --no-tune       show the tuning as off (ZHIYU_NO_TUNE=1 does the same): the fixed fallback kernels run`;

/** Max |difference| between the two backends on a 17×33·33×19 matmul and a 5×257 softmax (seeded inputs). */
function selfTest(a: Backend, b: Backend): number {
  const rng = new Rng(12345);
  const rand = () => rng.uniform(-1, 1);
  const x = Float32Array.from({ length: 17 * 33 }, rand), w = Float32Array.from({ length: 33 * 19 }, rand);
  const s = Float32Array.from({ length: 5 * 257 }, () => rand() * 8);
  let worst = 0;
  const outs = [a, b].map((be) => {
    const c = new Float32Array(17 * 19), y = new Float32Array(5 * 257);
    be.matmul(x, w, c, { batch: 1, m: 17, n: 19, k: 33, transA: false, transB: false, strideA: 0, strideB: 0, strideC: 0, alpha: 1, beta: 0 }, "f32");
    be.softmax(s, y, 5, 257);
    return [c, y];
  });
  for (let t = 0; t < 2; t++) {
    for (let i = 0; i < outs[0][t].length; i++) worst = Math.max(worst, Math.abs(outs[0][t][i] - outs[1][t][i]));
  }
  return worst;
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({ args: argv, options: { threads: { type: "string" }, help: { type: "boolean", short: "h" },
    tune: { type: "boolean" }, model: { type: "string" }, ...NO_TUNE_OPTION } }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let threads: number | undefined;
  if (values.threads !== undefined) {
    threads = Number(values.threads);
    if (!Number.isInteger(threads) || threads < 1) throw new UsageError(`doctor: --threads must be a positive integer, got "${values.threads}"`);
  }
  if (values.tune && !values.model) throw new UsageError(`doctor --tune: --model F.gguf is required (the shapes to tune are a model's weight matrices)\n\n${HELP}`);
  if (values.model && !values.tune) throw new UsageError(`doctor: --model goes with --tune\n\n${HELP}`);
  if (values.tune && values["no-tune"]) throw new UsageError("doctor: --tune and --no-tune contradict each other");
  const reason = nativeUnavailableReason();
  const backend = reason ? createBackend({ kind: "ref" }) : createBackend({ threads });
  const info = backend.info();
  const addon = loadNative();
  const families = addon
    ? [["ops", typeof addon.opsSoftmax === "function"], ["gemm", typeof addon.gemmF32 === "function"], ["quant", typeof addon.quantMatmul === "function"]]
      .map(([name, ok]) => `${name} ${ok ? "yes" : "no"}`).join(", ")
    : "none";
  const lines = [
    "zhiyu doctor",
    `  node      ${process.version}`,
    `  backend   ${info.name === "cpu" ? "cpu (native kernels)" : `ref (pure TypeScript): ${reason}`}`,
    `  isa       ${info.isa}`,
    `  threads   ${info.threads}`,
    `  kernels   ${families}`,
  ];
  let ok = true;
  if (info.name === "cpu") {
    const diff = selfTest(backend, createBackend({ kind: "ref" }));
    ok = diff < 1e-4;
    lines.push(`  selftest  ${ok ? "ok" : "FAILED"}: matmul 17×33·33×19 and softmax 5×257 agree on cpu and ref (max |diff| ${diff.toExponential(2)})`);
  } else {
    lines.push("  selftest  skipped: only the reference backend is available");
  }
  lines.push(...(await tuningLines(backend, values["no-tune"], values.tune ? values.model : undefined)));
  console.log(lines.join("\n"));
  return ok ? 0 : 1;
}

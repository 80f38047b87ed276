// `zhiyu bench train --preset gpt2-124m --batch 4 --seq 64 --threads 2 --dtype bf16|f32|f32,bf16 [--steps N]
// [--json] [--profile]`: training throughput of the real trainer loop (forward, backward, clipping, AdamW) on random
// tokens, the same shape llm.c's train_gpt2 runs (B = 4, T = 64). Prints {"tokens_per_s": n} with --json, from
// the median step time after one warm-up step; a list of dtypes runs each in turn (--rounds R times, interleaved)
// and prints each one's median and the ratios. "bf16-emulated" is bf16 with AVX512_BF16 treated as absent (the
// path of AVX-512 CPUs without vdpbf16ps). Each median comes with the process CPU time per step (all threads; on a
// loaded machine it tracks the work done better than wall time). --profile adds the wall and CPU time per backend op.
// Leaves out: data loading from disk (the random tokens sit in a temporary file read once).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { UsageError } from "../errors.js";
import { createBackend } from "../../backend/index.js";
import { loadNative } from "../../backend/native.js";
import type { Backend } from "../../backend/backend.js";
import { Rng } from "../../core/rng.js";
import { DEFAULT_OPTIONS, validateOptions, type TrainOptions } from "../../train/options.js";
import { findPreset } from "../../train/presets.js";
import { runTraining } from "../../train/trainer.js";
import { writeTokenFile } from "../../train/token-file.js";
import { median } from "../bench-stats.js";
import { intFlag, parseFlags } from "../flags.js";

const HELP = `usage: zhiyu bench train [--preset NAME] [--batch B] [--seq T] [--threads N] [--dtype D[,D…]] [--steps N]
                        [--rounds R] [--vocab V] [--backend cpu|ref] [--json] [--profile[-sizes]]
                        [--vs-llmc DIR [--llmc-steps N]]
  defaults: --preset gpt2-124m --batch 4 --seq 64 --dtype f32 --steps 5 (after 1 warm-up step) --rounds 1
  --dtype D       f32, bf16, or bf16-emulated (bf16 with AVX512_BF16 treated as absent: the path of AVX-512 CPUs
                  without vdpbf16ps); a comma list (e.g. f32,bf16) runs each in turn, --rounds R times interleaved,
                  and reports each median and its ratio to the first
  --profile       time per backend op; --profile-sizes splits binary ops and allocations by element count
  --vocab V       train on random ids below V instead of the preset's vocabulary size
  --vs-llmc DIR   first run llm.c's CPU trainer (DIR/train_gpt2, built with OpenMP, inputs from
                  ../shared/tools/make_llmc_inputs.py) with OMP_NUM_THREADS = --threads, and report both
                  (llm.c's shape is fixed at B = 4, T = 64; its step 0 is not timed)`;

/** Runs llm.c's train_gpt2 until it has printed `steps` timed steps after step 0; returns their times in ms. */
async function runLlmc(dir: string, threads: number, steps: number): Promise<number[]> {
  const exe = path.join(dir, "train_gpt2");
  if (!existsSync(exe)) throw new UsageError(`--vs-llmc ${dir}: no train_gpt2 there; build it with \`make train_gpt2\``);
  // llm.c prints with printf: stdbuf makes its stdout line-buffered through the pipe.
  const child = spawn("stdbuf", ["-oL", exe], {
    cwd: dir, env: { ...process.env, OMP_NUM_THREADS: String(threads) }, stdio: ["ignore", "pipe", "pipe"],
  });
  const times: number[] = [];
  let buf = "";
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (c: string) => { stderr += c; });
  return new Promise((resolve, reject) => {
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      buf += chunk;
      for (let i; (i = buf.indexOf("\n")) >= 0;) {
        const m = /^step (\d+): train loss [\d.]+ \(took ([\d.]+) ms\)/.exec(buf.slice(0, i));
        buf = buf.slice(i + 1);
        if (m && Number(m[1]) >= 1) times.push(Number(m[2]));
        if (times.length >= steps) child.kill("SIGKILL");
      }
    });
    child.on("error", (err) => reject(new Error(`--vs-llmc: cannot run ${exe} (${err.message})`)));
    child.on("close", () => {
      if (times.length === 0) reject(new Error(`--vs-llmc: ${exe} printed no timed steps; stderr: ${stderr.slice(-500)}`));
      else resolve(times);
    });
  });
}

interface OpTotals {
  calls: number;
  ms: number;
  /** Process CPU time (all threads) during the calls: on a loaded machine it tracks an op's work better. */
  cpuMs: number;
}

/** The row a backend call is counted under: the op, split by sub-op (and by element count when bySize). */
function profileKey(prop: string, args: unknown[], bySize: boolean): string {
  if (bySize && prop === "binary") return `binary:${String(args[0])}:${(args[6] as number[]).reduce((a, b) => a * b, 1)}`;
  if (bySize && prop === "axpy") return `axpy:${String(args[3])}`;
  if (bySize && prop === "alloc") return `alloc:${String(args[1])}${args[2] === false ? " uninit" : ""}`;
  if (prop === "unary" || prop === "binary" || prop === "unaryBackward") return `${prop}:${String(args[0])}`;
  if (prop === "matmul") return `matmul:${String(args[4])}`;
  return prop;
}

/** Wraps every backend method to accumulate wall and CPU time per op (while `enabled()`). */
function profiled(backend: Backend, totals: Map<string, OpTotals>, enabled: () => boolean, bySize: boolean): Backend {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function" || typeof prop !== "string") return value;
      const fn = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        if (!enabled()) return fn.apply(target, args);
        const t0 = performance.now();
        const c0 = process.cpuUsage();
        try {
          return fn.apply(target, args);
        } finally {
          const c = process.cpuUsage(c0);
          const key = profileKey(prop, args, bySize);
          const t = totals.get(key) ?? { calls: 0, ms: 0, cpuMs: 0 };
          t.calls++;
          t.ms += performance.now() - t0;
          t.cpuMs += (c.user + c.system) / 1000;
          totals.set(key, t);
        }
      };
    },
  });
}


const DTYPES = ["f32", "bf16", "bf16-emulated"] as const;
type BenchDType = (typeof DTYPES)[number];

interface BenchSetup {
  preset: ReturnType<typeof findPreset>;
  data: string;
  batch: number;
  seq: number;
  steps: number;
  threads: number | undefined;
  backendKind: "cpu" | "ref" | undefined;
  profile: boolean;
  bySize: boolean;
  json: boolean;
}

interface BenchRun {
  dtype: BenchDType;
  stepsMs: number[];
  cpuMs: number[];
  totals: Map<string, OpTotals>;
  info: ReturnType<Backend["info"]>;
}

/** One training run of `steps` + 1 steps (the first is a warm-up); the step times in ms after it. */
async function benchOne(s: BenchSetup, dtype: BenchDType): Promise<BenchRun> {
  const options: TrainOptions = validateOptions({
    ...DEFAULT_OPTIONS, preset: s.preset.name, data: s.data, batch: s.batch, seq: s.seq, steps: s.steps + 1,
    dtype: dtype === "f32" ? "f32" : "bf16", threads: s.threads ?? null, shuffle: false, jsonLog: true,
    // The same work per step as llm.c's train_gpt2.c: AdamW(1e-4, 0.9, 0.999, 1e-8, wd 0), no clipping, no guard.
    lr: 1e-4, warmup: 0, schedule: "constant", beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradClip: 0,
    spikeGuard: false,
  });
  const base = createBackend({ kind: s.backendKind ?? "cpu", threads: s.threads });
  const addon = base.info().name === "cpu" ? loadNative() : null;
  if (dtype === "bf16-emulated" && !addon) throw new UsageError("bench train: --dtype bf16-emulated needs the native cpu backend");
  const totals = new Map<string, OpTotals>();
  let stepsSeen = 0;
  const backend = s.profile || s.bySize ? profiled(base, totals, () => stepsSeen >= 1, s.bySize) : base;
  const dts: number[] = [];
  const cpuMs: number[] = []; // process CPU time per step (all threads): steadier than wall time next to other jobs
  let cpuAt = process.cpuUsage();
  const quiet = { write: () => {}, isTTY: false };
  if (dtype === "bf16-emulated") addon!.limitIsa(2, true);
  try {
    await runTraining({
      options, backend,
      stdout: {
        isTTY: false,
        write: (line: string) => {
          const rec = JSON.parse(line) as { step: number; dt?: number };
          if (typeof rec.dt === "number") {
            const used = process.cpuUsage(cpuAt);
            cpuAt = process.cpuUsage();
            if (rec.step >= 1) {
              dts.push(rec.dt * 1000);
              cpuMs.push((used.user + used.system) / 1000);
            }
            stepsSeen++;
          }
        },
      },
      stderr: s.json ? quiet : { write: (t: string) => void process.stderr.write(t), isTTY: false },
    });
    return { dtype, stepsMs: dts, cpuMs, totals, info: base.info() };
  } finally {
    if (dtype === "bf16-emulated") addon!.limitIsa(2);
  }
}

function printProfile(r: BenchRun, json: boolean): void {
  const total = [...r.totals.values()].reduce((a, t) => a + t.ms, 0);
  const stepTotal = r.stepsMs.reduce((a, b) => a + b, 0);
  const cpuTotal = r.cpuMs.reduce((a, b) => a + b, 0);
  const rows = [...r.totals.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const out = json ? process.stderr : process.stdout;
  out.write(`per-op time, ${r.dtype}, over ${r.stepsMs.length} timed steps (${stepTotal.toFixed(0)} ms in steps, ${total.toFixed(0)} ms in backend ops; ` +
    `${cpuTotal.toFixed(0)} ms CPU in steps, all threads):\n`);
  out.write(`  ${"op".padEnd(28)} ${"wall ms".padStart(10)} ${"% wall".padStart(9)} ${"CPU ms".padStart(10)} ${"% CPU".padStart(7)} ${"calls".padStart(8)}\n`);
  for (const [op, t] of rows) {
    out.write(`  ${op.padEnd(28)} ${t.ms.toFixed(1).padStart(10)} ${(100 * t.ms / stepTotal).toFixed(1).padStart(8)}% ` +
      `${t.cpuMs.toFixed(1).padStart(10)} ${(100 * t.cpuMs / cpuTotal).toFixed(1).padStart(6)}% ${String(t.calls).padStart(8)}\n`);
  }
}

function parseDtypes(value: string): BenchDType[] {
  const list = value.split(",").map((d) => d.trim());
  for (const d of list) {
    if (!(DTYPES as readonly string[]).includes(d)) throw new UsageError(`bench train: --dtype ${d} must be one of ${DTYPES.join(", ")} (or a comma list)`);
  }
  if (new Set(list).size !== list.length) throw new UsageError(`bench train: --dtype ${value} names a dtype twice`);
  return list as BenchDType[];
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      preset: { type: "string", default: "gpt2-124m" }, batch: { type: "string", default: "4" },
      seq: { type: "string", default: "64" }, threads: { type: "string" }, dtype: { type: "string", default: "f32" },
      steps: { type: "string", default: "5" }, backend: { type: "string" }, json: { type: "boolean" },
      profile: { type: "boolean" }, "profile-sizes": { type: "boolean" }, help: { type: "boolean" }, "vs-llmc": { type: "string" },
      "llmc-steps": { type: "string", default: "5" }, vocab: { type: "string" }, rounds: { type: "string", default: "1" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const batch = intFlag("batch", values.batch)!;
  const seq = intFlag("seq", values.seq)!;
  const steps = intFlag("steps", values.steps)!;
  const rounds = intFlag("rounds", values.rounds)!;
  const threads = intFlag("threads", values.threads);
  const dtypes = parseDtypes(values.dtype!);
  if (rounds < 1) throw new UsageError(`bench train: --rounds ${rounds} must be at least 1`);
  if (values.backend !== undefined && values.backend !== "cpu" && values.backend !== "ref") {
    throw new UsageError(`bench train: --backend ${values.backend} must be cpu or ref`);
  }
  const preset = findPreset(values.preset!);
  let llmc: { tokens_per_s: number; step_ms: number; steps: number } | null = null;
  if (values["vs-llmc"] !== undefined) {
    if (batch !== 4 || seq !== 64) throw new UsageError("bench train: --vs-llmc needs --batch 4 --seq 64 (llm.c's fixed shape)");
    const times = await runLlmc(values["vs-llmc"], threads ?? 2, intFlag("llmc-steps", values["llmc-steps"])!);
    const ms = median(times);
    llmc = { tokens_per_s: (batch * seq) / (ms / 1000), step_ms: ms, steps: times.length };
    if (!values.json) console.log(`llm.c train_gpt2 (OpenMP, ${threads ?? 2} threads): ${llmc.tokens_per_s.toFixed(1)} tokens/s, median step ${ms.toFixed(0)} ms over ${times.length} steps`);
  }
  const vocab = intFlag("vocab", values.vocab) ?? Number(preset.config.vocab_size);

  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-bench-train-"));
  try {
    // Random ids, enough for every step without wrapping.
    const rng = new Rng(1234);
    const n = (steps + 2) * batch * seq + 1;
    const ids = new Array<number>(n);
    for (let i = 0; i < n; i++) ids[i] = rng.int(vocab);
    const data = path.join(dir, "random.bin");
    writeTokenFile(data, ids, vocab);
    const setup: BenchSetup = {
      preset, data, batch, seq, steps, threads, backendKind: values.backend as "cpu" | "ref" | undefined,
      profile: values.profile === true, bySize: values["profile-sizes"] === true, json: values.json === true,
    };
    const runs = new Map<BenchDType, BenchRun[]>(dtypes.map((d) => [d, []]));
    for (let r = 0; r < rounds; r++) for (const d of dtypes) runs.get(d)!.push(await benchOne(setup, d));
    const results = dtypes.map((d) => {
      const all = runs.get(d)!;
      const stepMs = median(all.flatMap((x) => x.stepsMs));
      const cpuMs = median(all.flatMap((x) => x.cpuMs));
      return { dtype: d, stepMs, cpuMs, steps: all.reduce((a, x) => a + x.stepsMs.length, 0), tokensPerSecond: (batch * seq) / (stepMs / 1000), info: all[0]!.info };
    });
    const info = results[0]!.info;
    const first = results[0]!;
    if (values.json) {
      const one = (x: (typeof results)[number]) => ({
        tokens_per_s: x.tokensPerSecond, step_ms: x.stepMs, cpu_ms_per_step: x.cpuMs, steps: x.steps, dtype: x.dtype,
        ...(llmc ? { speedup_vs_llmc: x.tokensPerSecond / llmc.tokens_per_s } : {}),
      });
      console.log(JSON.stringify({
        ...one(first), preset: preset.name, batch, seq, backend: info.name, isa: info.isa, threads: info.threads,
        ...(llmc ? { llmc } : {}),
        ...(results.length > 1 ? { rounds, runs: results.map((x) => ({ ...one(x), vs_first: x.tokensPerSecond / first.tokensPerSecond })) } : {}),
      }));
    } else {
      for (const x of results) {
        console.log(`bench train ${preset.name} B=${batch} T=${seq} ${x.dtype} on ${info.name} (${info.isa}, ` +
          `${info.threads} threads): ${x.tokensPerSecond.toFixed(1)} tokens/s, median step ${x.stepMs.toFixed(1)} ms ` +
          `(${x.cpuMs.toFixed(0)} ms CPU, all threads) over ${x.steps} steps` +
          (llmc ? ` (${(x.tokensPerSecond / llmc.tokens_per_s).toFixed(2)}× llm.c)` : "") +
          (x !== first ? ` (${(x.tokensPerSecond / first.tokensPerSecond).toFixed(2)}× ${first.dtype})` : ""));
      }
    }
    if (setup.profile || setup.bySize) for (const d of dtypes) for (const r of runs.get(d)!) printProfile(r, setup.json);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

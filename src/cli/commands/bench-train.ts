// `zhiyu bench train --preset gpt2-124m --batch 4 --seq 64 --threads 2 --dtype bf16|f32 [--steps N] [--json]
// [--profile]`: training throughput of the real trainer loop (forward, backward, clipping, AdamW) on random
// tokens, the same shape llm.c's train_gpt2 runs (B = 4, T = 64). Prints {"tokens_per_s": n} with --json, from
// the median step time after one warm-up step. --profile adds the time spent per backend op over the timed steps.
// Leaves out: data loading from disk (the random tokens sit in a temporary file read once).
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { UsageError } from "../errors.js";
import { createBackend } from "../../backend/index.js";
import type { Backend } from "../../backend/backend.js";
import { Rng } from "../../core/rng.js";
import { DEFAULT_OPTIONS, validateOptions, type TrainOptions } from "../../train/options.js";
import { findPreset } from "../../train/presets.js";
import { runTraining } from "../../train/trainer.js";
import { writeTokenFile } from "../../train/token-file.js";
import { median } from "../bench-stats.js";
import { intFlag, parseFlags } from "../flags.js";

const HELP = `usage: zhiyu bench train [--preset NAME] [--batch B] [--seq T] [--threads N] [--dtype f32|bf16] [--steps N]
                        [--vocab V] [--backend cpu|ref] [--json] [--profile[-sizes]] [--vs-llmc DIR [--llmc-steps N]]
  defaults: --preset gpt2-124m --batch 4 --seq 64 --dtype f32 --steps 5 (after 1 warm-up step)
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
}

/** The row a backend call is counted under: the op, split by sub-op (and by element count when bySize). */
function profileKey(prop: string, args: unknown[], bySize: boolean): string {
  if (bySize && prop === "binary") return `binary:${String(args[0])}:${(args[6] as number[]).reduce((a, b) => a * b, 1)}`;
  if (bySize && prop === "alloc") return `alloc:${String(args[1])}${args[2] === false ? " uninit" : ""}`;
  if (prop === "unary" || prop === "binary" || prop === "unaryBackward") return `${prop}:${String(args[0])}`;
  if (prop === "matmul") return `matmul:${String(args[4])}`;
  return prop;
}

/** Wraps every backend method to accumulate wall time per op (while `enabled()`). */
function profiled(backend: Backend, totals: Map<string, OpTotals>, enabled: () => boolean, bySize: boolean): Backend {
  return new Proxy(backend, {
    get(target, prop, receiver) {
      const value = Reflect.get(target, prop, receiver) as unknown;
      if (typeof value !== "function" || typeof prop !== "string") return value;
      const fn = value as (...args: unknown[]) => unknown;
      return (...args: unknown[]) => {
        if (!enabled()) return fn.apply(target, args);
        const t0 = performance.now();
        try {
          return fn.apply(target, args);
        } finally {
          const key = profileKey(prop, args, bySize);
          const t = totals.get(key) ?? { calls: 0, ms: 0 };
          t.calls++;
          t.ms += performance.now() - t0;
          totals.set(key, t);
        }
      };
    },
  });
}


export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: {
      preset: { type: "string", default: "gpt2-124m" }, batch: { type: "string", default: "4" },
      seq: { type: "string", default: "64" }, threads: { type: "string" }, dtype: { type: "string", default: "f32" },
      steps: { type: "string", default: "5" }, backend: { type: "string" }, json: { type: "boolean" },
      profile: { type: "boolean" }, "profile-sizes": { type: "boolean" }, help: { type: "boolean" }, "vs-llmc": { type: "string" },
      "llmc-steps": { type: "string", default: "5" }, vocab: { type: "string" },
    },
  }, HELP);
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const batch = intFlag("batch", values.batch)!;
  const seq = intFlag("seq", values.seq)!;
  const steps = intFlag("steps", values.steps)!;
  const threads = intFlag("threads", values.threads);
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

    const options: TrainOptions = validateOptions({
      ...DEFAULT_OPTIONS, preset: preset.name, data, batch, seq, steps: steps + 1, dtype: values.dtype as TrainOptions["dtype"],
      threads: threads ?? null, shuffle: false, jsonLog: true,
      // The same work per step as llm.c's train_gpt2.c: AdamW(1e-4, 0.9, 0.999, 1e-8, wd 0), no clipping, no guard.
      lr: 1e-4, warmup: 0, schedule: "constant", beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0, gradClip: 0,
      spikeGuard: false,
    });
    const base = createBackend({ kind: (values.backend as "cpu" | "ref" | undefined) ?? "cpu", threads });
    const totals = new Map<string, OpTotals>();
    let stepsSeen = 0;
    const backend = values.profile || values["profile-sizes"] ? profiled(base, totals, () => stepsSeen >= 1, values["profile-sizes"] === true) : base;
    const dts: number[] = [];
    const quiet = { write: () => {}, isTTY: false };
    await runTraining({
      options, backend,
      stdout: {
        isTTY: false,
        write: (line: string) => {
          const rec = JSON.parse(line) as { step: number; dt?: number };
          if (typeof rec.dt === "number") {
            if (rec.step >= 1) dts.push(rec.dt);
            stepsSeen++;
          }
        },
      },
      stderr: values.json ? quiet : { write: (t: string) => void process.stderr.write(t), isTTY: false },
    });
    const stepMs = median(dts) * 1000;
    const tokensPerSecond = (batch * seq) / (stepMs / 1000);
    const info = base.info();
    if (values.json) {
      console.log(JSON.stringify({
        tokens_per_s: tokensPerSecond, step_ms: stepMs, steps: dts.length, preset: preset.name, batch, seq,
        dtype: options.dtype, backend: info.name, isa: info.isa, threads: info.threads,
        ...(llmc ? { llmc, speedup_vs_llmc: tokensPerSecond / llmc.tokens_per_s } : {}),
      }));
    } else {
      console.log(`bench train ${preset.name} B=${batch} T=${seq} ${options.dtype} on ${info.name} (${info.isa}, ` +
        `${info.threads} threads): ${tokensPerSecond.toFixed(1)} tokens/s, median step ${stepMs.toFixed(1)} ms over ${dts.length} steps` +
        (llmc ? ` (${(tokensPerSecond / llmc.tokens_per_s).toFixed(2)}× llm.c)` : ""));
    }
    if (values.profile || values["profile-sizes"]) {
      const total = [...totals.values()].reduce((a, t) => a + t.ms, 0);
      const stepTotal = dts.reduce((a, b) => a + b, 0) * 1000;
      const rows = [...totals.entries()].sort((a, b) => b[1].ms - a[1].ms);
      const out = values.json ? process.stderr : process.stdout;
      out.write(`per-op time over ${dts.length} timed steps (${stepTotal.toFixed(0)} ms in steps, ${total.toFixed(0)} ms in backend ops):\n`);
      for (const [op, t] of rows) {
        out.write(`  ${op.padEnd(28)} ${t.ms.toFixed(1).padStart(10)} ms ${(100 * t.ms / stepTotal).toFixed(1).padStart(6)}% ` +
          `${String(t.calls).padStart(8)} calls\n`);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  return 0;
}

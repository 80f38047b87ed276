// `zhiyu bench gemm --m M --n N --k K --dtype f32|bf16 --threads T [--repeat R] [--trans-b] [--vs numpy] [--json]`:
// GFLOP/s of the native GEMM (gemmF32 / gemmBf16) on one C = A·B, and with --vs numpy the same product in numpy
// (float32 matmul on its OpenBLAS, in a python3 child with OPENBLAS_NUM_THREADS = T) measured in the same run:
// rounds alternate between the two, with a pause between them so neither side's idle spinning threads steal
// the cores, and the medians and their ratio are reported. --json prints one JSON object per line.
// Leaves out: batched shapes, other BLAS libraries, pinning threads to cores.
import { spawn, type ChildProcessWithoutNullStreams } from "node:child_process";
import { availableParallelism } from "node:os";
import { loadNative, nativeLoadError, type NativeAddon } from "../../backend/native.js";
import { f32ArrayToBf16 } from "../../core/dtype.js";
import { Rng } from "../../core/rng.js";
import { UsageError } from "../errors.js";
import { median } from "../bench-stats.js";

const HELP = `usage: zhiyu bench gemm [options]
  --m M, --n N, --k K   C[M,N] = A[M,K]·B[K,N] (default 1024 each)
  --dtype f32|bf16      operand type (f32 output either way; default f32)
  --threads T           threads for Zhiyu and for numpy's OpenBLAS (default: all cores)
  --repeat R            timed rounds per side; medians are reported (default 5)
  --trans-b             B stored [N,K] (the nn.Linear weight layout)
  --vs numpy            also time numpy's float32 matmul, alternating rounds, and report the ratio
  --json                one JSON object per line`;

/** Seconds a timed round should last at least (calls are repeated inside a round to reach it). */
const ROUND_SECONDS = 0.25;
/** Pause between rounds: longer than either library keeps idle worker threads spinning. */
const PAUSE_MS = 300;

interface Options {
  m: number; n: number; k: number; dtype: "f32" | "bf16"; threads: number; repeat: number; transB: boolean;
  vs: "numpy" | null; json: boolean;
}

function positiveInt(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const v = Number(value);
  if (!Number.isInteger(v) || v < 1) throw new UsageError(`--${name} must be a positive integer, got '${value}'`);
  return v;
}

function parse(argv: string[]): Options | null {
  try {
    return parseOptions(argv);
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError(`bench gemm: ${(err as Error).message} (see zhiyu bench gemm --help)`);
  }
}

function parseOptions(argv: string[]): Options | null {
  const { values } = parseFlags({
    args: argv,
    options: {
      m: { type: "string" }, n: { type: "string" }, k: { type: "string" }, dtype: { type: "string" },
      threads: { type: "string" }, repeat: { type: "string" }, "trans-b": { type: "boolean" }, vs: { type: "string" },
      json: { type: "boolean" }, help: { type: "boolean" },
    },
    strict: true,
  }, HELP);
  if (values.help) return null;
  const dtype = values.dtype ?? "f32";
  if (dtype !== "f32" && dtype !== "bf16") throw new UsageError(`--dtype must be f32 or bf16, got '${dtype}'`);
  if (values.vs !== undefined && values.vs !== "numpy") throw new UsageError(`--vs supports only 'numpy', got '${values.vs}'`);
  return {
    m: positiveInt("m", values.m, 1024), n: positiveInt("n", values.n, 1024), k: positiveInt("k", values.k, 1024),
    dtype, threads: positiveInt("threads", values.threads, availableParallelism()),
    repeat: positiveInt("repeat", values.repeat, 5), transB: values["trans-b"] ?? false,
    vs: values.vs === "numpy" ? "numpy" : null, json: values.json ?? false,
  };
}

/** Random operands in [-1, 1) (bf16: rounded to nearest even). */
function operands(o: Options): { a: Float32Array | Uint16Array; b: Float32Array | Uint16Array; c: Float32Array } {
  const rng = new Rng(12345);
  const rand = () => rng.uniform(-1, 1);
  const a = new Float32Array(o.m * o.k).map(rand), b = new Float32Array(o.k * o.n).map(rand);
  const c = new Float32Array(o.m * o.n);
  if (o.dtype === "f32") return { a, b, c };
  const toBf16 = (x: Float32Array) => {
    const h = new Uint16Array(x.length);
    f32ArrayToBf16(x, h, x.length);
    return h;
  };
  return { a: toBf16(a), b: toBf16(b), c };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A timed round of Zhiyu: `iters` products, seconds taken. */
function zhiyuRound(addon: NativeAddon, o: Options, ops: ReturnType<typeof operands>, iters: number): number {
  const gemm = (o.dtype === "f32" ? addon.gemmF32 : addon.gemmBf16) as (a: unknown, ...rest: unknown[]) => void;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < iters; i++)
    gemm(ops.a, ops.b, ops.c, 1, o.m, o.n, o.k, false, o.transB, 0, 0, 0, 1, 0);
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

const NUMPY_SCRIPT = `
import sys, time, numpy as np
m, n, k, tb = map(int, sys.argv[1:5])
rng = np.random.default_rng(0)
a = rng.random((m, k), dtype=np.float32) * 2 - 1
b = rng.random((n, k) if tb else (k, n), dtype=np.float32) * 2 - 1
bb = b.T if tb else b
c = np.empty((m, n), dtype=np.float32)
np.matmul(a, bb, out=c)
print("ready", np.__version__, flush=True)
for line in sys.stdin:
    iters = int(line)
    t = time.perf_counter()
    for _ in range(iters):
        np.matmul(a, bb, out=c)
    print(time.perf_counter() - t, flush=True)
`;
import { parseFlags } from "../flags.js";

/** numpy in a child process that times `iters` products per line written to it. */
class NumpyPeer {
  private buffered = "";
  private waiting: ((line: string) => void)[] = [];
  private lines: string[] = [];
  private exited: string | null = null;
  private constructor(private readonly child: ChildProcessWithoutNullStreams) {
    child.stdout.setEncoding("utf8");
    child.stdout.on("data", (chunk: string) => {
      this.buffered += chunk;
      let nl: number;
      while ((nl = this.buffered.indexOf("\n")) >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        const w = this.waiting.shift();
        if (w) w(line);
        else this.lines.push(line);
      }
    });
    let err = "";
    child.stderr.setEncoding("utf8");
    child.stderr.on("data", (d: string) => (err += d));
    child.on("close", (code) => {
      this.exited = `python3 exited with code ${code}: ${err.trim().split("\n").slice(-3).join(" | ")}`;
      for (const w of this.waiting.splice(0)) w("");
    });
    child.on("error", (e) => {
      this.exited = `could not start python3: ${e.message}`;
      for (const w of this.waiting.splice(0)) w("");
    });
  }

  static async start(o: Options): Promise<{ peer: NumpyPeer; version: string }> {
    const env: NodeJS.ProcessEnv = { ...process.env, OPENBLAS_NUM_THREADS: String(o.threads) };
    delete env.OPENBLAS_CORETYPE; // let OpenBLAS pick its kernel for this CPU
    delete env.OPENBLAS_L2_SIZE;
    const child = spawn("python3", ["-c", NUMPY_SCRIPT, String(o.m), String(o.n), String(o.k), o.transB ? "1" : "0"], { env });
    const peer = new NumpyPeer(child);
    const ready = await peer.readLine();
    if (!ready.startsWith("ready")) throw new Error(`bench gemm --vs numpy: ${peer.exited ?? `unexpected '${ready}'`}`);
    return { peer, version: ready.split(" ")[1] ?? "?" };
  }

  private readLine(): Promise<string> {
    const l = this.lines.shift();
    if (l !== undefined) return Promise.resolve(l);
    if (this.exited) return Promise.resolve("");
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  async round(iters: number): Promise<number> {
    this.child.stdin.write(`${iters}\n`);
    const line = await this.readLine();
    const t = Number(line);
    if (!line || !Number.isFinite(t)) throw new Error(`bench gemm --vs numpy: ${this.exited ?? `unexpected '${line}'`}`);
    return t;
  }

  close(): void {
    this.child.stdin.end();
  }
}

export async function run(argv: string[]): Promise<number | void> {
  const o = parse(argv);
  if (!o) {
    console.log(HELP);
    return 0;
  }
  const addon = loadNative();
  if (!addon?.gemmF32 || !addon.gemmBf16) {
    throw new Error(`bench gemm needs the native addon with gemmF32/gemmBf16: ${nativeLoadError() || "rebuild it with npm run build:native"}`);
  }
  const threads = addon.setThreads(o.threads);
  const kernel = addon.gemmImpl ? addon.gemmImpl(o.dtype === "bf16") : "?";
  const ops = operands(o);
  const flops = 2 * o.m * o.n * o.k;

  zhiyuRound(addon, o, ops, 1); // warm-up: packing buffers, page faults, pool start
  const zIters = Math.max(1, Math.ceil(ROUND_SECONDS / zhiyuRound(addon, o, ops, 1)));
  let numpy: { peer: NumpyPeer; version: string; iters: number } | null = null;
  if (o.vs === "numpy") {
    const started = await NumpyPeer.start(o);
    const once = await started.peer.round(1);
    numpy = { ...started, iters: Math.max(1, Math.ceil(ROUND_SECONDS / once)) };
  }

  const zRates: number[] = [], nRates: number[] = [];
  try {
    for (let r = 0; r < o.repeat; r++) {
      // alternate which side goes first, so a slow drift in machine load hits both equally
      const sides = r % 2 === 0 ? ["zhiyu", "numpy"] : ["numpy", "zhiyu"];
      for (const side of sides) {
        if (side === "zhiyu") {
          zRates.push((flops * zIters) / zhiyuRound(addon, o, ops, zIters) / 1e9);
        } else if (numpy) {
          nRates.push((flops * numpy.iters) / (await numpy.peer.round(numpy.iters)) / 1e9);
        } else continue;
        if (numpy) await sleep(PAUSE_MS);
      }
    }
  } finally {
    numpy?.peer.close();
  }

  const shape = { m: o.m, n: o.n, k: o.k, dtype: o.dtype, threads, trans_b: o.transB };
  const round1 = (x: number) => Math.round(x * 10) / 10;
  const zhiyu = { impl: "zhiyu", kernel, ...shape, gflops: round1(median(zRates)), rounds: zRates.map(round1) };
  const peer = numpy ? { impl: "numpy", version: numpy.version, ...shape, dtype: "f32", gflops: round1(median(nRates)), rounds: nRates.map(round1) } : null;
  const ratio = peer ? Math.round((zhiyu.gflops / peer.gflops) * 1000) / 1000 : null;
  if (o.json) {
    console.log(JSON.stringify(ratio === null ? zhiyu : { ...zhiyu, ratio_vs_numpy: ratio }));
    if (peer) console.log(JSON.stringify(peer));
  } else {
    const t = o.transB ? " (B stored [n,k])" : "";
    console.log(`gemm ${o.m}x${o.n}x${o.k} ${o.dtype}${t}, ${threads} threads, medians of ${o.repeat} rounds`);
    console.log(`  zhiyu (${kernel}): ${zhiyu.gflops} GFLOP/s`);
    if (peer) console.log(`  numpy ${peer.version} (float32): ${peer.gflops} GFLOP/s\n  ratio zhiyu/numpy: ${ratio}`);
  }
}

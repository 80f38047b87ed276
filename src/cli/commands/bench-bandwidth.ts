// `zhiyu bench bandwidth [--threads N] [--mib M] [--rounds R] [--json]`: the machine's memory read bandwidth as the
// backend's kernels see it — the reduce-sum op (AVX-512/AVX2 loads, several accumulators, rows split over the
// thread pool) over a buffer far larger than the caches, median of R passes after one warm-up, in GB/s (10^9 bytes).
// Decode reads every weight once per token, so this is the ceiling `bench decode --bandwidth` compares against.
// Leaves out: write and copy bandwidth, NUMA placement, bandwidth per core (run with --threads 1 for that).
import { createBackend } from "../../backend/index.js";
import type { Backend } from "../../backend/backend.js";
import { median } from "../bench-stats.js";
import { intFlagOr, parseFlags } from "../flags.js";

const USAGE = "usage: zhiyu bench bandwidth [--threads N] [--mib M (1024)] [--rounds R (5)] [--json]";
const ROWS = 256; // enough rows for every thread to get an even share

/** Read bandwidth in GB/s: reduce-sum over `mib` MiB, median of `rounds` timed passes after a warm-up. */
export function measureReadBandwidth(backend: Backend, mib = 1024, rounds = 5): { gbPerS: number; seconds: number[] } {
  const size = Math.floor((mib * 2 ** 20) / 4 / ROWS);
  const x = new Float32Array(ROWS * size).fill(1);
  const out = new Float32Array(ROWS);
  backend.reduceSum(x, out, ROWS, size, 1, false); // warm-up: pages touched, pool started
  if (out[0] !== size) throw new Error(`bench bandwidth: reduceSum gave ${out[0]} for ${size} ones; the kernel is wrong`);
  const seconds: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint();
    backend.reduceSum(x, out, ROWS, size, 1, false);
    seconds.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  return { gbPerS: x.byteLength / median(seconds) / 1e9, seconds };
}

export async function run(argv: string[]): Promise<number> {
  const { values } = parseFlags({
    args: argv,
    options: { threads: { type: "string" }, mib: { type: "string" }, rounds: { type: "string" }, json: { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false } },
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const mib = intFlagOr("mib", values.mib, 1024, 64, 1 << 16);
  const rounds = intFlagOr("rounds", values.rounds, 5, 1, 1000);
  const threads = values.threads !== undefined ? intFlagOr("threads", values.threads, 1, 1, 1024) : undefined;
  const backend = createBackend({ threads });
  const { gbPerS, seconds } = measureReadBandwidth(backend, mib, rounds);
  const info = backend.info();
  const result = { bench: "bandwidth", backend: info.name, threads: info.threads, mib, rounds, read_gb_per_s: Number(gbPerS.toFixed(2)),
    seconds: seconds.map((s) => Number(s.toFixed(5))) };
  if (values.json) console.log(JSON.stringify(result));
  else console.log(`read bandwidth: ${result.read_gb_per_s} GB/s (${info.name}, ${info.threads} threads, ${mib} MiB, median of ${rounds})`);
  return 0;
}

// `zhiyu bench bandwidth [--threads N] [--mib M] [--rounds R] [--json]`: the machine's memory read bandwidth —
// the backend's streaming-read probe (readChecksum: each thread sums its own contiguous share of a buffer far larger
// than the caches with wide loads, in three load variants: plain, software-prefetched, non-temporal), the best pass
// of R rounds × 3 variants after one warm-up, in GB/s (10^9 bytes). Decode reads every weight once per token, front
// to back, so this is the ceiling `bench decode --bandwidth` compares against. A second line times the reduce-sum op
// over the same buffer (what this bench measured before: a float kernel's view, lower than the probe's).
// Leaves out: write and copy bandwidth, NUMA placement, bandwidth per core (run with --threads 1 for that).
import { createBackend } from "../../backend/index.js";
import { type Backend, READ_VARIANTS, type ReadVariant } from "../../backend/backend.js";
import { intFlagOr, parseFlags } from "../flags.js";

const USAGE = "usage: zhiyu bench bandwidth [--threads N] [--mib M (1024)] [--rounds R (5)] [--json]";
const ROWS = 256; // reduce-sum rows: enough for every thread to get an even share
const ONE_BITS = 0x3f800000; // the buffer holds 1.0f everywhere: plain floats for reduce-sum, known words for the checksum

export interface ReadBandwidth {
  /** The best pass of any variant (reduce-sum included), GB/s. */
  gbPerS: number;
  /** The variant of that pass. */
  best: ReadVariant | "reduce-sum";
  /** Seconds of each timed pass, per variant (empty without readChecksum). */
  seconds: Partial<Record<ReadVariant, number[]>>;
  /** The best reduce-sum pass over the same buffer, GB/s, and its passes. */
  reduceSumGbPerS: number;
  reduceSumSeconds: number[];
}

function timed(run: () => void): number {
  const t0 = process.hrtime.bigint();
  run();
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

/** Read bandwidth over `mib` MiB: `rounds` timed passes of each readChecksum variant (interleaved) and of reduce-sum,
 *  after one warm-up of each that also checks the kernel's result. */
export function measureReadBandwidth(backend: Backend, mib = 1024, rounds = 5): ReadBandwidth {
  const words = Math.floor((mib * 2 ** 20) / 4 / ROWS) * ROWS;
  const ints = new Int32Array(words).fill(ONE_BITS);
  const floats = new Float32Array(ints.buffer);
  const out = new Float32Array(ROWS);
  const bytes = ints.byteLength;
  const probe = backend.readChecksum?.bind(backend);
  const seconds: Partial<Record<ReadVariant, number[]>> = {};
  if (probe) {
    const expected = Number((BigInt(words) * BigInt(ONE_BITS)) & 0xffffffffn);
    for (const v of READ_VARIANTS) {
      const got = probe(ints, v); // warm-up: pages touched, pool started
      if (got !== expected) throw new Error(`bench bandwidth: readChecksum (${v}) gave ${got} for ${words} words, expected ${expected}; the kernel is wrong`);
      seconds[v] = [];
    }
    for (let r = 0; r < rounds; r++) for (const v of READ_VARIANTS) seconds[v]!.push(timed(() => probe(ints, v)));
  }
  const size = words / ROWS;
  backend.reduceSum(floats, out, ROWS, size, 1, false);
  if (out[0] !== size) throw new Error(`bench bandwidth: reduceSum gave ${out[0]} for ${size} ones; the kernel is wrong`);
  const reduceSumSeconds: number[] = [];
  for (let r = 0; r < rounds; r++) reduceSumSeconds.push(timed(() => backend.reduceSum(floats, out, ROWS, size, 1, false)));
  const reduceSumGbPerS = bytes / Math.min(...reduceSumSeconds) / 1e9;
  let gbPerS = reduceSumGbPerS, best: ReadBandwidth["best"] = "reduce-sum";
  for (const v of READ_VARIANTS) {
    const s = seconds[v];
    if (s && bytes / Math.min(...s) / 1e9 >= gbPerS) [gbPerS, best] = [bytes / Math.min(...s) / 1e9, v];
  }
  return { gbPerS, best, seconds, reduceSumGbPerS, reduceSumSeconds };
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
  const m = measureReadBandwidth(backend, mib, rounds);
  const info = backend.info();
  const gb = (s: number[]) => Number(((mib * 2 ** 20) / Math.min(...s) / 1e9).toFixed(2));
  const round5 = (s: number[]) => s.map((x) => Number(x.toFixed(5)));
  const variants = Object.fromEntries(Object.entries(m.seconds).map(([v, s]) => [v, { gb_per_s: gb(s), seconds: round5(s) }]));
  const result = { bench: "bandwidth", backend: info.name, threads: info.threads, mib, rounds, read_gb_per_s: Number(m.gbPerS.toFixed(2)),
    best: m.best, variants, reduce_sum: { gb_per_s: Number(m.reduceSumGbPerS.toFixed(2)), seconds: round5(m.reduceSumSeconds) } };
  if (values.json) console.log(JSON.stringify(result));
  else {
    const each = Object.entries(variants).map(([v, r]) => `${v} ${r.gb_per_s}`).join(", ");
    console.log(`read bandwidth: ${result.read_gb_per_s} GB/s (${info.name}, ${info.threads} threads, ${mib} MiB, best of ${rounds} passes` +
      `${each ? ` × variants: ${each}` : ""})`);
    console.log(`reduce-sum over the same buffer: ${result.reduce_sum.gb_per_s} GB/s (best of ${rounds})`);
  }
  return 0;
}

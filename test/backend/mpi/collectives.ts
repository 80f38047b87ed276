// One rank of test/backend/mpi-collectives.test.ts, started by mpirun: runs the communicator's f32 and f64
// collectives on values whose sums are known in closed form (rank r contributes (r + 1) · (i mod 7) + r to element
// i — integers, so every sum is exact in f32) and prints one JSON line per check with the mismatches it found (the
// test judges them). Sizes cover empty, odd, a buffer split unevenly over the ranks, and one large enough to make
// the shared-memory window grow; the parts form reduces several arrays as one; allgatherNow waits on the calling thread;
// with shared memory, reduceSlice and a shared array written in stripes and read after a barrier (null without). Usage: node --import tsx
// collectives.ts [--no-shared-memory]
import { mpiCommunicator } from "../../../src/backend/mpi.js";

const comm = mpiCommunicator({ sharedMemory: !process.argv.includes("--no-shared-memory") });
const { rank, size } = comm;
const mine = (i: number, r = rank) => (r + 1) * (i % 7) + r;
const summed = (i: number) => { let s = 0; for (let r = 0; r < size; r++) s += mine(i, r); return s; };
const report: { check: string; bad: number; first: string | null }[] = [];
const check = (name: string, got: ArrayLike<number>, want: (i: number) => number) => {
  let bad = 0;
  let first: string | null = null;
  for (let i = 0; i < got.length; i++) {
    if (got[i] !== want(i)) { bad++; first ??= `[${i}] = ${got[i]}, want ${want(i)}`; }
  }
  report.push({ check: name, bad, first });
};
const fill = <T extends Float32Array | Float64Array>(a: T, at = 0): T => { a.forEach((_, i) => { a[i] = mine(at + i); }); return a; };

for (const n of [0, 1, 5, 1001, 3 * 2 ** 20 + 3]) {
  const a = fill(new Float32Array(n));
  await comm.allreduce(a);
  check(`allreduce f32 ${n}`, a, summed);
}
const d = fill(new Float64Array(9));
await comm.allreduce(d);
check("allreduce f64 9", d, summed);
// Parts: lengths 3, 0, 70000, 1 reduced as one buffer of 70004 values.
const lengths = [3, 0, 70000, 1];
let at = 0;
const parts = lengths.map((len) => { const p = fill(new Float32Array(len), at); at += len; return p; });
await comm.allreduceParts(parts);
let offset = 0;
parts.forEach((p, k) => { const base = offset; check(`allreduceParts part ${k}`, p, (i) => summed(base + i)); offset += p.length; });
for (const m of [1, 4099]) {
  const send = fill(new Float32Array(m * size));
  const recv = new Float32Array(m);
  await comm.reduceScatter(send, recv);
  check(`reduceScatter ${m}`, recv, (i) => summed(rank * m + i));
  const gathered = new Float32Array(m * size);
  await comm.allgather(fill(new Float32Array(m)), gathered);
  check(`allgather ${m}`, gathered, (i) => mine(i % m, Math.floor(i / m)));
  const now = new Float32Array(m * size);
  comm.allgatherNow(fill(new Float32Array(m)), now);
  check(`allgatherNow ${m}`, now, (i) => mine(i % m, Math.floor(i / m)));
}
// Shared memory only: reduceSlice (rank r gets slice r of the parts' concatenation, summed), and one shared array
// that every rank writes its own stripe of and then, after a barrier, reads whole.
const shared = comm.sharedArray(1 + 3 * size);
if (!process.argv.includes("--no-shared-memory")) {
  const sliceParts = [3, 0, 70000, 1].map((len, k, all) => fill(new Float32Array(len), all.slice(0, k).reduce((a, b) => a + b, 0)));
  const n = 70004;
  const per = Math.ceil(n / size);
  const lo = Math.min(n, rank * per);
  const out = new Float32Array(Math.min(n, lo + per) - lo);
  await comm.reduceSlice(sliceParts, out);
  check(`reduceSlice ${n} (slice ${lo}…)`, out, (i) => summed(lo + i));
  const big = fill(new Float32Array(3 * 2 ** 20 + 5));
  const bigPer = Math.ceil(big.length / size);
  const bigOut = new Float32Array(Math.min(big.length, (rank + 1) * bigPer) - Math.min(big.length, rank * bigPer));
  await comm.reduceSlice([big.subarray(0, 17), big.subarray(17)], bigOut);
  check(`reduceSlice ${big.length}`, bigOut, (i) => summed(rank * bigPer + i));
  if (!shared) throw new Error("sharedArray returned null with every rank on this host");
  for (let i = 0; i < 3; i++) shared[1 + 3 * rank + i] = mine(i);
  await comm.barrier();
  check("sharedArray after barrier", shared.subarray(1), (i) => mine(i % 3, Math.floor(i / 3)));
} else if (shared !== null) {
  throw new Error("sharedArray gave an array with shared memory turned off");
}
// Many small collectives in a row (the counters of the window advance through every phase).
const many = new Float32Array(17);
for (let k = 0; k < 200; k++) { fill(many); await comm.allreduce(many); }
check("allreduce ×200", many, summed);
process.stdout.write(JSON.stringify({ rank, size, transport: comm.description, report }) + "\n");
comm.finalize();

// Measures the α (latency) and β (bandwidth) of Zhiyu's MPI all-reduce for docs/scaling-out.md's cost model:
//   OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 mpirun -np 2 node --import tsx dev/scaling/allreduce-bench.ts [MAX_FLOATS] [--no-shared-memory]
// Ranks on one host use the addon's shared-memory window; --no-shared-memory measures Open MPI's own transport
// (add --mca btl tcp,self to mpirun for TCP). Rank 0 prints one JSON line per size: the
// median seconds of 5 all-reduces (after one warm-up) and the fitted α, β of a ring all-reduce,
// t = 2(N−1)·α + 2(N−1)/N · bytes/β.
import { mpiCommunicator } from "../../src/backend/mpi.js";

const args = process.argv.slice(2);
const comm = mpiCommunicator({ sharedMemory: !args.includes("--no-shared-memory") });
const max = Number(args.find((a) => !a.startsWith("--")) ?? 124_475_904);
const sizes: number[] = [];
for (let n = 2; n <= max; n *= 8) sizes.push(n);
if (sizes.at(-1) !== max) sizes.push(max);
const rows: { floats: number; seconds: number }[] = [];
for (const n of sizes) {
  const buf = new Float32Array(n).fill(1);
  await comm.allreduce(buf);
  const times: number[] = [];
  for (let i = 0; i < 5; i++) {
    await comm.barrier();
    const t0 = performance.now();
    await comm.allreduce(buf);
    times.push((performance.now() - t0) / 1000);
  }
  times.sort((a, b) => a - b);
  rows.push({ floats: n, seconds: times[2]! });
  if (comm.rank === 0) console.log(JSON.stringify({ ranks: comm.size, floats: n, bytes: 4 * n, seconds: times[2] }));
}
if (comm.rank === 0 && comm.size > 1) {
  const N = comm.size;
  const alpha = rows[0]!.seconds / (2 * (N - 1));
  const big = rows.at(-1)!;
  const beta = (2 * (N - 1) / N) * (4 * big.floats) / Math.max(1e-9, big.seconds - 2 * (N - 1) * alpha);
  console.log(JSON.stringify({ fit: "ring", ranks: N, alpha_s: alpha, beta_bytes_per_s: beta, transport: comm.description }));
}
comm.finalize();

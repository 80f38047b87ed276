// How `zhiyu train`, `sft` and `rm train` become data-parallel under `mpirun -np N` (docs/scaling-out.md): the
// launcher's environment says this process is rank r of N; MPI (src/backend/mpi.ts) is initialized and the
// training loop gets DataParallelSettings. The flags --zero1, --checksum-every K, --bucket-mb M and --no-shared-memory are taken out
// of the command's arguments here, so every training command accepts them the same way.
// A build without MPI started by mpirun with N > 1: rank 0 trains alone and says so once, the other ranks exit 0
// at once (N copies of one run writing one folder would corrupt it). ZHIYU_NO_MPI=1 acts as such a build. A fatal error on any rank aborts the whole
// job (MPI_Abort), so no rank waits forever in a collective for a peer that has gone.
// Leaves out: launchers other than Open MPI's mpirun and MPICH-style PMI environments; elastic membership.
import os from "node:os";
import { mpiCommunicator, mpiUnavailableReason, type Communicator } from "../backend/mpi.js";
import type { DataParallelSettings } from "../train/data-parallel.js";
import { formatCliError, UsageError } from "./errors.js";
import type { ProgressSink } from "../train/progress.js";

export const DATA_PARALLEL_HELP = `data-parallel: mpirun -np N [--hostfile FILE] zhiyu <command> … runs N ranks; --grad-accum counts micro-batches
          over all ranks (a multiple of N); --zero1 (shard AdamW state: ZeRO-1), --checksum-every K (50; compare
          parameters across ranks), --bucket-mb M (25; gradient buckets, MiB), --no-shared-memory (ranks on one host exchange through MPI's
          transport instead of a shared-memory window). See docs/scaling-out.md`;

export interface DataParallelLaunch {
  /** The command's arguments without the data-parallel flags. */
  argv: string[];
  /** Settings for the training loop, or null in one process. */
  settings: DataParallelSettings | null;
  rank: number;
  /** True on ranks > 0 of an mpirun job whose build has no MPI: exit 0 without training. */
  standDown: boolean;
  /** Native threads per rank when --threads is not given (the cores shared by the ranks on this host). */
  threadsPerRank: number | undefined;
  /** Where progress goes: stdout on rank 0, nowhere on the others. */
  stdout: ProgressSink;
}

function intFlag(argv: readonly string[], i: number, flag: string, min: number): number {
  const raw = argv[i + 1];
  const n = Number(raw);
  if (raw === undefined || !Number.isInteger(n) || n < min) throw new UsageError(`${flag} expects an integer ≥ ${min}, got ${JSON.stringify(raw)}`);
  return n;
}

/** Reads the launcher's environment and the data-parallel flags; initializes MPI when the job has several ranks. */
export function launchDataParallel(command: string, argv: readonly string[], env: NodeJS.ProcessEnv = process.env): DataParallelLaunch {
  const rest: string[] = [];
  let zero1 = false;
  let checksumEvery = 50;
  let bucketMb = 25;
  let sharedMemory = true;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === "--zero1") zero1 = true;
    else if (a === "--checksum-every") checksumEvery = intFlag(argv, i++, a, 0);
    else if (a === "--bucket-mb") {
      bucketMb = Number(argv[++i]);
      if (!(bucketMb > 0)) throw new UsageError(`--bucket-mb expects a positive number of MiB, got ${JSON.stringify(argv[i])}`);
    }
    else if (a === "--no-shared-memory") sharedMemory = false;
    else rest.push(a);
  }
  const size = Number(env.OMPI_COMM_WORLD_SIZE ?? 1);
  const rank = Number(env.OMPI_COMM_WORLD_RANK ?? 0);
  const localSize = Number(env.OMPI_COMM_WORLD_LOCAL_SIZE ?? 1);
  const quiet: ProgressSink = { write: () => {}, isTTY: false };
  const stdout: ProgressSink = rank === 0
    ? { write: (t) => void process.stdout.write(t), isTTY: Boolean(process.stdout.isTTY), columns: process.stdout.columns }
    : quiet;
  const threadsPerRank = localSize > 1 ? Math.max(1, Math.floor(os.availableParallelism() / localSize)) : undefined;
  if (!(size > 1)) {
    if (zero1) process.stderr.write(`zhiyu ${command}: --zero1 shards optimizer state across mpirun ranks; in one process it changes nothing\n`);
    return { argv: rest, settings: null, rank: 0, standDown: false, threadsPerRank, stdout };
  }
  // ZHIYU_NO_MPI=1 makes this process behave as a build without MPI (and lets the tests check that path).
  const why = env.ZHIYU_NO_MPI === "1" ? "ZHIYU_NO_MPI=1 turns MPI off" : mpiUnavailableReason();
  if (why) {
    if (rank === 0) {
      process.stderr.write(`zhiyu ${command}: started by mpirun as rank 0 of ${size}, but ${why}; training in this process ` +
        `alone (ranks 1…${size - 1} exit)\n`);
    }
    return { argv: rest, settings: null, rank, standDown: rank !== 0, threadsPerRank, stdout };
  }
  const comm = mpiCommunicator({ sharedMemory });
  if (comm.size !== size || comm.rank !== rank) {
    throw new UsageError(`MPI says rank ${comm.rank} of ${comm.size} but the launcher's environment says ${rank} of ${size}`);
  }
  return { argv: rest, settings: { comm, zero1, checksumEvery, bucketBytes: bucketMb * 2 ** 20 }, rank, standDown: false, threadsPerRank, stdout };
}

/** Runs a rank's training: MPI_Finalize after success; after an error, prints it and aborts the whole job. */
export async function runRank<T>(launch: DataParallelLaunch, command: string, body: () => Promise<T>): Promise<T> {
  const comm: Communicator | null = launch.settings?.comm ?? null;
  try {
    const out = await body();
    comm?.finalize();
    return out;
  } catch (err) {
    if (!comm) throw err;
    process.stderr.write(`zhiyu ${command} (rank ${comm.rank} of ${comm.size}): ${formatCliError(err)}\n`);
    return comm.abort(1);
  }
}

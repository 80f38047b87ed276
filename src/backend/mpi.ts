// The MPI communicator of data-parallel training: typed access to the collectives of native/mpi_napi.cc (Open MPI,
// linked into the addon when the build found it). Every collective returns a Promise and runs on the addon's
// communication thread, so JavaScript can keep computing (the backward pass) while gradients travel; collectives
// run in the order they were called, which must be the same on every rank.
// The single-process twin is `SoloCommunicator` (rank 0 of 1: every collective is the identity), which the
// training loop never needs to special-case and the tests use to check the loop's bookkeeping without mpirun.
// Leaves out: deciding whether a run is distributed (the CLI reads the launcher's environment), sub-communicators,
// reductions other than a sum.
import { loadNative, nativeLoadError } from "./native.js";
import type { AdamWParams } from "./backend.js";

/** AdamW fused into reduceSlice: the pieces of this rank's slice (in slice order; `at` is the offset in the slice)
 *  with their parameter and moment ranges, and which parts (parameters) this rank has a gradient for — a piece of
 *  a parameter no rank has one for is left alone, as AdamW.step skips it. */
export interface SliceUpdate extends AdamWParams {
  pieces: { at: number; param: Float32Array; m: Float32Array; v: Float32Array; decay: boolean; part: number }[];
  present: Uint8Array;
}

/** Sum-reducing collectives over every rank of the job (MPI_COMM_WORLD). */
export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** What carries the messages, for logs ("Open MPI v4.1.4, thread level funneled", "single process"). */
  readonly description: string;
  /** Sum over ranks, in place. */
  allreduce(buf: Float32Array | Float64Array): Promise<void>;
  /** Sum over ranks, in place, of the concatenation of parts (gradients straight from their tensors). */
  allreduceParts(parts: Float32Array[]): Promise<void>;
  /** send holds size × recv.length values; rank r receives the sum over ranks of block r. */
  reduceScatter(send: Float32Array, recv: Float32Array): Promise<void>;
  /** recv (size × send.length values) receives every rank's send, in rank order. */
  allgather<T extends Float32Array | Float64Array>(send: T, recv: T): Promise<void>;
  /** The all-gather, waited for on the calling thread (a loss that needs every rank's values mid-forward); queued
   *  behind the pending collectives. */
  allgatherNow(send: Float32Array, recv: Float32Array): void;
  broadcast(buf: Float32Array | Float64Array, root: number): Promise<void>;
  barrier(): Promise<void>;
  /** Memory every rank of this host maps — one zero-filled array that all of them read and write — or null when
   *  the ranks span several hosts or shared memory is turned off. Collective, waited for; never freed. */
  sharedArray(floats: number): Float32Array | null;
  /** Shared memory only: out receives the sum over ranks of this rank's slice of the parts' concatenation (n values;
   *  rank r's slice is [r·⌈n/size⌉, min(n, (r+1)·⌈n/size⌉)) ), summed in rank order. With `update`, each block of
   *  the sum goes straight into AdamW on the pieces of the slice it covers (out may then be null). */
  reduceSlice(parts: Float32Array[], out: Float32Array | null, update?: SliceUpdate): Promise<void>;
  /** Ends the whole job at once with this exit code (a divergence or a fatal error on one rank). */
  abort(code: number): never;
  finalize(): void;
}

interface MpiAddon {
  mpiAvailable(): boolean;
  mpiInit(options: { sharedMemory: boolean }): { rank: number; size: number; threadLevel: string; library: string; transport: string };
  mpiFinalize(): void;
  mpiAllreduce(buf: Float32Array | Float64Array | Float32Array[]): Promise<void>;
  mpiReduceScatter(send: Float32Array, recv: Float32Array): Promise<void>;
  mpiAllgather(send: Float32Array | Float64Array, recv: Float32Array | Float64Array): Promise<void>;
  mpiAllgatherNow(send: Float32Array, recv: Float32Array): void;
  mpiBroadcast(buf: Float32Array | Float64Array, root: number): Promise<void>;
  mpiBarrier(): Promise<void>;
  mpiSharedArray(floats: number): Float32Array | null;
  mpiReduceSlice(parts: Float32Array[], out: Float32Array | null, update?: SliceUpdate): Promise<void>;
  mpiAbort(code: number): void;
}

/** Why MPI cannot be used in this process ("" when it can): no addon, or an addon built without MPI. */
export function mpiUnavailableReason(): string {
  const addon = loadNative();
  if (!addon) return `the native addon is not loaded (${nativeLoadError()})`;
  if (typeof addon.mpiAvailable !== "function" || !(addon.mpiAvailable as () => boolean)()) {
    return "the native addon was built without MPI (install openmpi-bin and libopenmpi-dev, then npm run build:native)";
  }
  return "";
}

/** Initializes MPI (once per process) and returns the world communicator; throws when MPI is unavailable.
 *  sharedMemory (default true): when every rank is on this host, f32 collectives go through a shared-memory window
 *  (native/mpi_napi.cc) instead of MPI's transport; false keeps MPI's (comparisons). */
export function mpiCommunicator(options: { sharedMemory?: boolean } = {}): Communicator {
  const why = mpiUnavailableReason();
  if (why) throw new Error(`MPI: ${why}`);
  const addon = loadNative() as unknown as MpiAddon;
  const info = addon.mpiInit({ sharedMemory: options.sharedMemory ?? true });
  const library = info.library.split("\n")[0]!.replace(/,.*$/, "").trim();
  return {
    rank: info.rank, size: info.size, description: `${library}, thread level ${info.threadLevel}, f32 collectives over ${info.transport}`,
    allreduce: (buf) => addon.mpiAllreduce(buf),
    allreduceParts: (parts) => addon.mpiAllreduce(parts),
    reduceScatter: (send, recv) => addon.mpiReduceScatter(send, recv),
    allgather: (send, recv) => addon.mpiAllgather(send, recv),
    allgatherNow: (send, recv) => addon.mpiAllgatherNow(send, recv),
    broadcast: (buf, root) => addon.mpiBroadcast(buf, root),
    barrier: () => addon.mpiBarrier(),
    sharedArray: (floats) => addon.mpiSharedArray(floats),
    reduceSlice: (parts, out, update) => (update ? addon.mpiReduceSlice(parts, out, update) : addon.mpiReduceSlice(parts, out)),
    abort: (code) => {
      addon.mpiAbort(code);
      throw new Error("MPI_Abort returned"); // not reached
    },
    finalize: () => addon.mpiFinalize(),
  };
}

/** One process, no MPI: rank 0 of 1. The collectives' single-rank results (a sum over one rank is the value). */
export class SoloCommunicator implements Communicator {
  readonly rank = 0;
  readonly size = 1;
  readonly description = "single process";
  async allreduce(): Promise<void> {}
  async allreduceParts(): Promise<void> {}
  async reduceScatter(send: Float32Array, recv: Float32Array): Promise<void> {
    if (send.length !== recv.length) throw new Error(`reduceScatter: send has ${send.length} values, recv ${recv.length}; one rank needs equal lengths`);
    recv.set(send);
  }
  async allgather<T extends Float32Array | Float64Array>(send: T, recv: T): Promise<void> {
    if (send.length !== recv.length) throw new Error(`allgather: send has ${send.length} values, recv ${recv.length}; one rank needs equal lengths`);
    recv.set(send);
  }
  allgatherNow(send: Float32Array, recv: Float32Array): void {
    if (send.length !== recv.length) throw new Error(`allgatherNow: send has ${send.length} values, recv ${recv.length}; one rank needs equal lengths`);
    recv.set(send);
  }
  async broadcast(): Promise<void> {}
  async barrier(): Promise<void> {}
  /** One process has nothing to share with. */
  sharedArray(): Float32Array | null {
    return null;
  }
  async reduceSlice(parts: Float32Array[], out: Float32Array | null, update?: SliceUpdate): Promise<void> {
    if (update || !out) throw new Error("reduceSlice: the fused update needs ranks that share memory (mpirun on one host)");
    const n = parts.reduce((a, p) => a + p.length, 0);
    if (out.length !== n) throw new Error(`reduceSlice: out has ${out.length} values, the parts ${n}; one rank's slice is all of them`);
    let at = 0;
    for (const p of parts) { out.set(p, at); at += p.length; }
  }
  abort(code: number): never {
    process.exit(code);
  }
  finalize(): void {}
}

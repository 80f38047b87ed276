// Data parallelism for ranks on one host (docs/scaling-out.md, "Ranks on one host"): the trainable parameters and
// the AdamW moments live in one array that every rank maps (Communicator.sharedArray), so there is one copy of the
// model on the host and nothing to all-gather. Each gradient bucket (data-parallel.ts builds them in reverse model
// order) is split into N equal slices of its concatenation; as soon as a bucket's gradients are complete on every
// rank, rank r sums slice r over the ranks in rank order (reduceSlice: the bits of one process accumulating the
// ranks' micro-batches in that order) into its gradient shard. After backward, rank r clips (a float64 all-reduce
// of the shards' sums of squares) and applies AdamW — the same kernel and decay mask as src/optim/adamw.ts — to
// its slices of the shared parameters with its slices of the shared moments; a barrier, and every rank sees the
// whole updated model. The update costs 1/N of one process's, and ranks are identical by construction (the
// parameter checksum the loop compares every K steps is trivially equal here; it still guards multi-host jobs).
// Writes are race-free: rank r's slices are written only by rank r, after every rank's backward has finished
// reading those parameters (a bucket is reduced only once each rank's gradients for it are complete, and a
// parameter's gradient completes after its last use), and read by the next forward only after the barrier.
// Leaves out: hosts other than this one (multi-host jobs and --no-shared-memory keep the all-reduce path), ZeRO-1
// (its own path in zero.ts, reduce-scatter and all-gather), frozen parameters (private to each rank).
import type { Backend } from "../backend/backend.js";
import type { Communicator, SliceUpdate } from "../backend/mpi.js";
import type { AdamW, AdamWState } from "../optim/index.js";
import type { Tensor } from "../tensor/index.js";
import { clipShardedGradient } from "./zero.js";

interface Segment {
  name: string;
  param: Tensor;
  /** Offset of the parameter in the flat (model-order) parameter vector, and of its moments in theirs. */
  start: number;
  decay: boolean;
}

/** A piece of this rank's slice of a bucket: elements [lo, hi) of a parameter, at `at` in the gradient shard. */
interface Owned {
  seg: Segment;
  lo: number;
  hi: number;
  at: number;
}

export class SharedHostUpdate {
  /** Completed AdamW steps (as AdamW.stepCount). */
  stepCount = 0;
  readonly total: number;
  private readonly segments: Segment[];
  private readonly segmentOf = new Map<Tensor, Segment>();
  /** [parameters | m | v], `total` floats each, mapped by every rank. */
  private readonly shared: Float32Array;
  /** This rank's slice of each bucket, summed over ranks, bucket after bucket. */
  private readonly gradShard: Float32Array;
  /** Where bucket k's slice sits in gradShard, and how long it is. */
  private readonly shardOf: { at: number; length: number }[] = [];
  private readonly owned: Owned[] = [];
  /** Bucket k's pieces for the fused update (offsets within its slice, shared parameter and moment ranges). */
  private readonly pieces: SliceUpdate["pieces"][] = [];
  /** The step whose AdamW runs inside the buckets' sums (nothing needed the global gradient first), or null. */
  private fused: Omit<SliceUpdate, "pieces" | "present"> | null = null;
  private attached = false;

  private constructor(private readonly comm: Communicator, private readonly backend: Backend, named: readonly [string, Tensor][],
    buckets: readonly Tensor[][], private readonly settings: AdamW, shared: Float32Array) {
    let offset = 0;
    this.segments = named.map(([name, param]) => {
      const seg = { name, param, start: offset, decay: settings.decays(name) };
      this.segmentOf.set(param, seg);
      offset += param.size;
      return seg;
    });
    this.total = offset;
    this.shared = shared;
    let at = 0;
    for (const params of buckets) {
      const n = params.reduce((a, p) => a + p.size, 0);
      const per = Math.ceil(n / comm.size);
      const lo = Math.min(n, per * comm.rank);
      const hi = Math.min(n, lo + per);
      this.shardOf.push({ at, length: hi - lo });
      let base = 0;
      const pieces: SliceUpdate["pieces"] = [];
      params.forEach((p, part) => {
        const a = Math.max(lo, base);
        const b = Math.min(hi, base + p.size);
        if (a < b) {
          const seg = this.segmentOf.get(p)!;
          this.owned.push({ seg, lo: a - base, hi: b - base, at: at + (a - lo) });
          pieces.push({ at: a - lo, param: this.param(seg).subarray(a - base, b - base), m: this.moment(1, seg).subarray(a - base, b - base),
            v: this.moment(2, seg).subarray(a - base, b - base), decay: seg.decay, part });
        }
        base += p.size;
      });
      this.pieces.push(pieces);
      at += hi - lo;
    }
    this.gradShard = new Float32Array(at);
  }

  /** The shared arrays for these parameters, or null when the ranks cannot share memory (then the caller keeps the
   *  all-reduce path; onFallback hears why when shared memory exists but is too small). Collective: every rank
   *  calls it at the same point. */
  static create(comm: Communicator, backend: Backend, named: readonly [string, Tensor][], buckets: readonly Tensor[][],
    settings: AdamW, onFallback: (why: string) => void = () => {}): SharedHostUpdate | null {
    const total = named.reduce((a, [, t]) => a + t.size, 0);
    // A parameter that is a view of a larger buffer keeps each rank's own copy (the all-reduce path).
    if (named.some(([, t]) => t.dtype !== "f32" || !t.isContiguous || t.offset !== 0 || t.storage("shared-host").length !== t.size)) return null;
    let shared: Float32Array | null;
    try {
      shared = comm.sharedArray(3 * total);
    } catch (err) {
      // Every rank fails together (rank 0 could not reserve the memory, and says why): each keeps its own copy.
      onFallback(`parameters not shared (${(err as Error).message})`);
      return null;
    }
    return shared ? new SharedHostUpdate(comm, backend, named, buckets, settings, shared) : null;
  }

  private param(seg: Segment): Float32Array {
    return this.shared.subarray(seg.start, seg.start + seg.param.size);
  }
  private moment(which: 1 | 2, seg: Segment): Float32Array {
    const at = which * this.total + seg.start;
    return this.shared.subarray(at, at + seg.param.size);
  }

  /** Moves every parameter into the shared array: each rank copies its own slices in (ranks hold the same values:
   *  the loop compared their checksums first), a barrier, then every tensor uses the shared memory. */
  async attach(): Promise<void> {
    if (this.attached) return;
    for (const o of this.owned) {
      const t = o.seg.param;
      this.param(o.seg).set((t.storage("shared-host") as Float32Array).subarray(o.lo, o.hi), o.lo);
    }
    await this.comm.barrier();
    for (const seg of this.segments) seg.param.moveToExternalStorage(this.param(seg));
    this.attached = true;
  }

  /** Bytes for the optimizer (this rank's share of the host's moments), the gradient shard, and the shared array. */
  memory(): { optimizerBytes: number; unshardedOptimizerBytes: number; shardBytes: number; sharedBytes: number } {
    return { optimizerBytes: (8 * this.total) / this.comm.size, unshardedOptimizerBytes: 8 * this.total, shardBytes: 4 * this.gradShard.length,
      sharedBytes: 4 * this.shared.length };
  }

  /** This step's AdamW runs inside the buckets' sums (fused: no gradient shard written and read back); only when
   *  nothing needs the global gradient before the update (no clipping, no spike guard). step() then only waits. */
  fuseNextStep(lr: number): void {
    this.stepCount++;
    const s = this.settings;
    this.fused = { lr, beta1: s.beta1, beta2: s.beta2, eps: s.eps, weightDecay: s.weightDecay, step: this.stepCount };
  }

  /** Starts summing this rank's slice of bucket k (its parameters' gradients, or zeros, in bucket order; present:
   *  which of them this rank has a gradient for) — and, fused, updating it. */
  reduceBucket(k: number, parts: Float32Array[], present: Uint8Array): Promise<void> {
    if (this.fused) return this.comm.reduceSlice(parts, null, { ...this.fused, pieces: this.pieces[k]!, present });
    const { at, length } = this.shardOf[k]!;
    return this.comm.reduceSlice(parts, this.gradShard.subarray(at, at + length));
  }

  /** The global gradient norm (float64 sums of squares of every rank's shard, all-reduced); with maxNorm > 0 the
   *  shard is scaled as clipGradNorm scales whole gradients (maxNorm / (norm + 1e-6) when that is below 1). */
  async clip(maxNorm: number): Promise<number> {
    return clipShardedGradient(this.comm, this.gradShard, maxNorm);
  }

  /** AdamW on this rank's slices of the shared parameters, then the barrier after which every rank reads the
   *  whole update. Parameters in `skip` (no rank had a gradient for them) keep their values and moments. */
  async step(lr: number, skip: ReadonlySet<Tensor> = new Set()): Promise<void> {
    if (this.fused) {
      this.fused = null; // updated inside the sums
      await this.comm.barrier();
      return;
    }
    this.stepCount++;
    const s = this.settings;
    const p = { lr, beta1: s.beta1, beta2: s.beta2, eps: s.eps, weightDecay: s.weightDecay, step: this.stepCount };
    for (const o of this.owned) {
      if (skip.has(o.seg.param)) continue;
      const n = o.hi - o.lo;
      this.backend.adamw(this.param(o.seg).subarray(o.lo, o.hi), this.gradShard.subarray(o.at, o.at + n),
        this.moment(1, o.seg).subarray(o.lo, o.hi), this.moment(2, o.seg).subarray(o.lo, o.hi), n, p, o.seg.decay);
    }
    await this.comm.barrier();
  }

  /** The full state, read from the shared moments once every rank has reached this point (every rank calls it). */
  async exportState(): Promise<AdamWState> {
    await this.comm.barrier();
    const moments: Record<string, Float32Array> = {};
    for (const seg of this.segments) {
      moments[`${seg.name}.m`] = this.moment(1, seg).slice();
      moments[`${seg.name}.v`] = this.moment(2, seg).slice();
    }
    return { step: this.stepCount, moments };
  }

  /** Writes this rank's slices of a full state (any rank count, ZeRO or not); the other ranks write theirs, and
   *  only the owner of a slice ever reads its moments. */
  importState(state: AdamWState): void {
    for (const o of this.owned) {
      for (const [which, key] of [[1, `${o.seg.name}.m`], [2, `${o.seg.name}.v`]] as const) {
        const src = state.moments[key];
        if (!src || src.length !== o.seg.param.size) {
          throw new Error(`shared-host importState: '${key}' is ${src ? `${src.length} values` : "missing"}; parameter ${o.seg.name} needs ${o.seg.param.size}`);
        }
        this.moment(which, o.seg).set(src.subarray(o.lo, o.hi), o.lo);
      }
    }
    this.stepCount = state.step;
  }
}

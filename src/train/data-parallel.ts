// Data parallelism for the training loop (loop.ts) over a Communicator (src/backend/mpi.ts: Open MPI, or the
// single-process twin). A step's gradAccum micro-batches are global: rank r computes the r-th contiguous share of
// them (gradAccum / size each) and skips the rest, so the data position, the loss and the update are those of one
// process accumulating the same micro-batches, and a checkpoint resumes with any rank count that divides
// gradAccum. Each rank scales its micro-batch losses by their share of the *global* step (weights all-reduced
// first), so the sum over ranks of the gradients is the step's gradient.
// Plain data parallelism: during the last local backward, parameters are grouped into buckets (reverse model order,
// about bucketBytes each); a bucket whose gradients are all complete is all-reduced in place, straight from the
// gradient tensors, on the communication thread while backward goes on (a parameter this rank has no gradient for
// contributes zeros from a spare buffer); after backward the rest are flushed and awaited.
// Buckets start in a fixed order (bucket k only after k − 1), the order every rank agrees on. Every rank then
// clips and steps the same AdamW on the same gradients. ZeRO-1 (zero.ts) reduce-scatters instead. Ranks that all
// share this host keep one copy of the parameters in shared memory instead (shared-host.ts): each bucket's slice r
// is summed by rank r, which alone updates it — no all-gather, the update split N ways.
// The loss, the objective's metrics, a "has a gradient" flag per parameter and the stop request are summed in one
// small float64 all-reduce per step. Every checksumEvery steps (and at the start) a checksum of every parameter is
// all-gathered: ranks that differ stop the run with an error naming them.
// Leaves out: tensor/pipeline parallelism, objectives that draw from the run's RNG while batching or computing the
// loss (each rank would draw differently: refused with an error after the first step that does), uneven splits.
import type { Backend } from "../backend/backend.js";
import type { Communicator } from "../backend/mpi.js";
import { clipGradNorm, gradNorm, type AdamW, type AdamWState } from "../optim/index.js";
import { zeros, type Tensor } from "../tensor/index.js";
import { TrainingError } from "./loop-state.js";
import type { TrainModel } from "./model.js";
import { SharedHostUpdate } from "./shared-host.js";
import { ZeroOneOptimizer } from "./zero.js";

export interface DataParallelSettings {
  comm: Communicator;
  /** Shard the AdamW moments across ranks (ZeRO stage 1). */
  zero1: boolean;
  /** Compare parameter checksums across ranks every K steps (0 = only at the start). */
  checksumEvery: number;
  /** Gradient bucket size for the overlapped all-reduce (default 25 MiB, as PyTorch DDP). */
  bucketBytes?: number;
}

interface Bucket {
  params: Tensor[];
  /** Zeros standing in for the parameters this rank had no gradient for at launch (they receive the sum). */
  stand: Map<Tensor, Float32Array>;
  ready: number;
  pending: Promise<void> | null;
}

/** FNV-1a over the 32-bit words of every parameter: equal bits ⇔ (practically) equal checksums. */
export function parameterChecksum(params: readonly Tensor[]): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x01000193;
  for (const p of params) {
    const data = p.storage("checksum") as Float32Array;
    const words = new Uint32Array(data.buffer, data.byteOffset + 4 * p.offset, p.size);
    for (let i = 0; i < words.length; i++) {
      const w = words[i]!;
      h1 = Math.imul(h1 ^ w, 0x01000193) >>> 0;
      h2 = Math.imul(h2 ^ (w >>> 16) ^ (w << 5), 0x5bd1e995) >>> 0;
    }
  }
  return [h1, h2];
}

export class DataParallel {
  readonly comm: Communicator;
  private readonly params: Tensor[];
  private readonly names: string[];
  private readonly buckets: Bucket[] = [];
  private readonly bucketOf = new Map<Tensor, number>();
  private nextLaunch = 0;
  private readonly index = new Map<Tensor, number>();
  /** Parameters no rank had a gradient for in the last step (ZeRO-1 leaves them alone, as AdamW does). */
  private absent = new Set<Tensor>();
  private readonly zero: ZeroOneOptimizer | null;
  /** The one-host path (parameters and moments in shared memory), when every rank is on this host. */
  private readonly shared: SharedHostUpdate | null = null;
  /** Why ranks on one host keep their own parameters after all (shared memory too small), for the banner. */
  private note = "";

  constructor(readonly settings: DataParallelSettings, backend: Backend, named: readonly [string, Tensor][], private readonly optimizer: AdamW) {
    this.comm = settings.comm;
    const trainable = named.filter(([, t]) => t.requiresGrad);
    this.params = trainable.map(([, t]) => t);
    this.names = trainable.map(([n]) => n);
    this.params.forEach((p, i) => this.index.set(p, i));
    this.zero = settings.zero1 ? new ZeroOneOptimizer(this.comm, backend, trainable, optimizer) : null;
    if (!this.zero) {
      // Reverse model order: the output end's gradients are complete first.
      const limit = Math.max(1, Math.floor((settings.bucketBytes ?? 25 * 2 ** 20) / 4));
      let current: Tensor[] = [];
      let size = 0;
      const close = () => {
        if (current.length === 0) return;
        for (const p of current) this.bucketOf.set(p, this.buckets.length);
        this.buckets.push({ params: current, stand: new Map(), ready: 0, pending: null });
        current = [];
        size = 0;
      };
      for (const p of [...this.params].reverse()) {
        current.push(p);
        size += p.size;
        if (size >= limit) close();
      }
      close();
      if (this.comm.size > 1) {
        this.shared = SharedHostUpdate.create(this.comm, backend, trainable, this.buckets.map((b) => b.params), optimizer,
          (why) => { this.note = why; });
      }
    }
  }

  /** Over a training model's parameters, in model order (every rank builds the same buckets). */
  static forModel(settings: DataParallelSettings, backend: Backend, model: TrainModel, optimizer: AdamW): DataParallel {
    return new DataParallel(settings, backend, model.specs.map((s) => [s.name, model.params.get(s.name)!] as [string, Tensor]), optimizer);
  }

  get rank(): number { return this.comm.rank; }
  get size(): number { return this.comm.size; }
  get zero1(): boolean { return this.zero !== null; }

  /** A line for the banner: ranks, transport, ZeRO and memory per rank. */
  describe(): string {
    const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;
    const paramBytes = 4 * this.params.reduce((a, p) => a + p.size, 0);
    const rss = `resident ${mib(process.memoryUsage().rss)}`;
    if (this.zero) {
      const m = this.zero.memory();
      return `data-parallel over ${this.size} ranks (${this.comm.description}), ZeRO-1: per rank AdamW state ` +
        `${mib(m.optimizerBytes)} (unsharded ${mib(m.unshardedOptimizerBytes)}), parameters ${mib(paramBytes)}, gradients ` +
        `${mib(paramBytes)}, communication buffers ${mib(m.bufferBytes)}; ${rss}`;
    }
    if (this.shared) {
      const m = this.shared.memory();
      return `data-parallel over ${this.size} ranks (${this.comm.description}), parameters and AdamW state in one ` +
        `shared-memory array (${mib(m.sharedBytes)} on this host), ${this.buckets.length} gradient bucket(s) each summed ` +
        `and updated 1/${this.size} per rank: per rank AdamW state ${mib(m.optimizerBytes)} (unsharded ` +
        `${mib(m.unshardedOptimizerBytes)}), gradients ${mib(paramBytes)}, gradient shard ${mib(m.shardBytes)}; ${rss}`;
    }
    return `data-parallel over ${this.size} ranks (${this.comm.description}${this.note ? `; ${this.note}` : ""}), ${this.buckets.length} gradient bucket(s): ` +
      `per rank AdamW state ${mib(2 * paramBytes)}, parameters ${mib(paramBytes)}, gradients ${mib(paramBytes)}; ${rss}`;
  }

  /** The global micro-batches [first, first + count) of a step this rank computes. */
  microRange(gradAccum: number): { first: number; count: number } {
    if (gradAccum % this.size !== 0) {
      throw new TrainingError(`--grad-accum ${gradAccum} (micro-batches per step, over all ranks) is not a multiple of the ` +
        `${this.size} ranks; use --grad-accum ${Math.max(1, Math.round(gradAccum / this.size)) * this.size} (the step's global ` +
        `batch is --batch × --grad-accum rows whatever the rank count)`);
    }
    const count = gradAccum / this.size;
    return { first: this.rank * count, count };
  }

  /** Sums small float64 values over ranks (the objective's micro-batch weights). */
  async sum(values: Float64Array): Promise<Float64Array> {
    await this.comm.allreduce(values);
    return values;
  }

  /** The hook for the last local backward: launches each bucket's all-reduce once its gradients are complete.
   *  fuseUpdate (given when nothing needs the global gradient before the update: no clipping, no spike guard): on
   *  one host this step's AdamW then runs inside the buckets' sums. */
  leafHook(fuseUpdate?: { lr: number }): ((leaf: Tensor) => void) | undefined {
    if (this.zero || this.size === 1) return undefined;
    if (this.shared && fuseUpdate) this.shared.fuseNextStep(fuseUpdate.lr);
    for (const b of this.buckets) { b.ready = 0; b.pending = null; }
    this.nextLaunch = 0;
    return (leaf) => {
      const k = this.bucketOf.get(leaf);
      if (k === undefined) return;
      this.buckets[k]!.ready++;
      this.launchReady(false);
    };
  }

  private launchReady(flush: boolean): void {
    while (this.nextLaunch < this.buckets.length) {
      const b = this.buckets[this.nextLaunch]!;
      if (!flush && b.ready < b.params.length) return;
      b.stand.clear();
      const parts = b.params.map((p) => {
        const g = p.grad;
        if (g) return g.storage("all-reduce").subarray(g.offset, g.offset + g.size) as Float32Array;
        const zeros = new Float32Array(p.size);
        b.stand.set(p, zeros);
        return zeros;
      });
      b.pending = this.shared
        ? this.shared.reduceBucket(this.nextLaunch, parts, Uint8Array.from(b.params, (p) => (p.grad ? 1 : 0)))
        : this.comm.allreduceParts(parts);
      this.nextLaunch++;
    }
  }

  /**
   * Ends the step's gradient exchange. `scalars` (this rank's loss sum and metric sums) come back summed over ranks;
   * `stop` is true when any rank was asked to stop. Plain: flushes and awaits the buckets, copies the sums into the
   * gradients (a parameter no rank has a gradient for keeps none, as in one process). ZeRO-1: reduce-scatter.
   */
  async finishGradients(scalars: number[], stopRequested: boolean): Promise<{ scalars: number[]; stop: boolean }> {
    const n = this.params.length;
    const buf = new Float64Array(scalars.length + n + 1);
    buf.set(scalars);
    this.params.forEach((p, i) => { buf[scalars.length + i] = p.grad ? 1 : 0; });
    buf[scalars.length + n] = stopRequested ? 1 : 0;
    if (this.size === 1) return { scalars, stop: stopRequested };
    if (this.zero) {
      await this.zero.reduceGradients();
      await this.comm.allreduce(buf);
    } else {
      this.launchReady(true);
      const scalarsDone = this.comm.allreduce(buf);
      for (const b of this.buckets) await b.pending;
      await scalarsDone;
      for (const b of this.buckets) {
        // The summed gradients are in place; a parameter this rank had none for gets the sum if any rank had one.
        // (One host: the sums are in the gradient shard and the gradients stay this rank's own.)
        for (const [p, sum] of this.shared ? [] : b.stand) {
          if (!(buf[scalars.length + this.index.get(p)!]! > 0)) continue;
          const g = (p.grad = zeros(p.shape));
          (g.storage("all-reduce") as Float32Array).set(sum, g.offset);
        }
        b.stand.clear();
        b.pending = null;
        b.ready = 0;
      }
      this.nextLaunch = 0;
    }
    this.absent = new Set(this.params.filter((_, i) => buf[scalars.length + i] === 0));
    return { scalars: Array.from(buf.subarray(0, scalars.length)), stop: buf[scalars.length + n]! > 0 };
  }

  /** Clips to maxNorm (0 = off) and returns the global gradient norm when clipping or wantNorm asks for it. */
  async clip(maxNorm: number, wantNorm: boolean): Promise<number | null> {
    if (this.zero && this.size > 1) return maxNorm > 0 || wantNorm ? this.zero.clip(maxNorm) : null;
    if (this.shared) return maxNorm > 0 || wantNorm ? this.shared.clip(maxNorm) : null;
    return maxNorm > 0 ? clipGradNorm(this.params, maxNorm) : wantNorm ? gradNorm(this.params) : null;
  }

  /** The same AdamW step on every rank (ZeRO-1: on this rank's block, then the all-gather). */
  async step(lr: number): Promise<void> {
    if (this.zero && this.size > 1) await this.zero.step(lr, this.absent);
    else if (this.shared) await this.shared.step(lr, this.absent);
    else this.optimizer.step(lr);
  }

  get stepCount(): number {
    return this.zero && this.size > 1 ? this.zero.stepCount : this.shared ? this.shared.stepCount : this.optimizer.stepCount;
  }

  /** The full optimizer state for a checkpoint (ZeRO-1 gathers it: every rank must call this together). */
  async exportOptimizerState(): Promise<AdamWState> {
    return this.zero && this.size > 1 ? this.zero.exportState() : this.shared ? this.shared.exportState() : this.optimizer.exportState();
  }

  importOptimizerState(state: AdamWState): void {
    if (this.zero && this.size > 1) this.zero.importState(state);
    else if (this.shared) this.shared.importState(state);
    else this.optimizer.importState(state);
  }

  /** Before the first step: compares the ranks' parameters, then (one host) moves them into shared memory. */
  async begin(step: number): Promise<void> {
    await this.verifyParameters(step);
    await this.shared?.attach();
  }

  /** All-gathers every rank's parameter checksum; throws naming the ranks that differ from rank 0. (Ranks on one
   *  host read one shared copy, so it only fails there before begin(); it guards multi-host jobs.) */
  async verifyParameters(step: number): Promise<void> {
    if (this.size === 1) return;
    const mine = parameterChecksum(this.params);
    const all = new Float64Array(2 * this.size);
    await this.comm.allgather(new Float64Array(mine), all);
    const hex = (r: number) => `${all[2 * r]!.toString(16).padStart(8, "0")}${all[2 * r + 1]!.toString(16).padStart(8, "0")}`;
    const bad: number[] = [];
    for (let r = 1; r < this.size; r++) if (all[2 * r] !== all[0] || all[2 * r + 1] !== all[1]) bad.push(r);
    if (bad.length > 0) {
      throw new TrainingError(`data-parallel ranks diverged at step ${step}: the parameters of rank(s) ${bad.join(", ")} ` +
        `(checksum ${bad.map(hex).join(", ")}) differ from rank 0's (${hex(0)}) over ${this.names.length} tensors. Every rank ` +
        "must run the same build, --threads, model and data; resume from the last checkpoint");
    }
  }
}

// ZeRO stage 1 (Rajbhandari et al., 2020) for data-parallel training: the AdamW moments are split across ranks.
// All trainable parameters are laid end to end in one flat vector (model order), padded to a multiple of the
// rank count; rank r owns the r-th equal block. Per step: the summed gradients are reduce-scattered (each rank
// receives only its block, summed over ranks), the global gradient norm is an all-reduce of per-block sums of
// squares, AdamW updates the owned block of the parameters with the owned block of the moments (the same fused
// kernel and decay mask as src/optim/adamw.ts, applied to sub-ranges), and an all-gather hands every rank the
// whole updated vector. Checkpoints hold the full moments (gathered on save), so a ZeRO run resumes with any rank
// count, with or without ZeRO.
// Leaves out: ZeRO-2/3 (sharded gradients and parameters), overlap of the reduce-scatter with the backward pass.
import type { Backend } from "../backend/backend.js";
import type { Communicator } from "../backend/mpi.js";
import type { AdamW, AdamWState } from "../optim/index.js";
import type { Tensor } from "../tensor/index.js";

interface Segment {
  name: string;
  param: Tensor;
  /** Offset of the parameter in the flat vector. */
  start: number;
  decay: boolean;
}

export class ZeroOneOptimizer {
  /** Completed AdamW steps (as AdamW.stepCount). */
  stepCount = 0;
  readonly total: number;
  readonly shardSize: number;
  private readonly segments: Segment[];
  /** This rank's block of the gradient (summed over ranks) and of the moments. */
  private readonly gradShard: Float32Array;
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  /** Flat send buffer of the reduce-scatter, reused as the receive buffer of the all-gather. */
  private readonly flat: Float32Array;

  constructor(private readonly comm: Communicator, private readonly backend: Backend, params: readonly [string, Tensor][],
    private readonly settings: AdamW) {
    let offset = 0;
    this.segments = params.map(([name, param]) => {
      const seg = { name, param, start: offset, decay: settings.decays(name) };
      offset += param.size;
      return seg;
    });
    this.total = offset;
    this.shardSize = Math.ceil(offset / comm.size);
    this.flat = new Float32Array(this.shardSize * comm.size);
    this.gradShard = new Float32Array(this.shardSize);
    this.m = new Float32Array(this.shardSize);
    this.v = new Float32Array(this.shardSize);
  }

  /** Bytes this rank holds for the optimizer (moments of its block) and for communication (the flat buffer). */
  memory(): { optimizerBytes: number; unshardedOptimizerBytes: number; bufferBytes: number } {
    return { optimizerBytes: 8 * this.shardSize, unshardedOptimizerBytes: 8 * this.total, bufferBytes: 4 * this.flat.length + 4 * this.shardSize };
  }

  private get shardStart(): number {
    return this.comm.rank * this.shardSize;
  }

  /** Calls fn for each parameter's overlap with this rank's block: the parameter's element range [lo, hi) and
   *  where it sits in the block. */
  private forOwned(fn: (seg: Segment, lo: number, hi: number, at: number) => void): void {
    const a = this.shardStart;
    const b = Math.min(a + this.shardSize, this.total);
    for (const seg of this.segments) {
      const lo = Math.max(a, seg.start);
      const hi = Math.min(b, seg.start + seg.param.size);
      if (lo < hi) fn(seg, lo - seg.start, hi - seg.start, lo - a);
    }
  }

  /** Reduce-scatters the gradients (absent ones count as zero) into this rank's block. */
  async reduceGradients(): Promise<void> {
    this.flat.fill(0);
    for (const seg of this.segments) {
      const g = seg.param.grad;
      if (!g) continue;
      this.flat.set(g.storage("ZeRO-1").subarray(g.offset, g.offset + g.size) as Float32Array, seg.start);
    }
    await this.comm.reduceScatter(this.flat, this.gradShard);
  }

  /** The global gradient norm (float64 sums of squares of every block, all-reduced); with maxNorm > 0 the block is
   *  scaled as clipGradNorm scales whole gradients (maxNorm / (norm + 1e-6) when that is below 1). */
  async clip(maxNorm: number): Promise<number> {
    return clipShardedGradient(this.comm, this.gradShard, maxNorm);
  }

  /** AdamW on this rank's block, then the all-gather that gives every rank every updated parameter. Parameters in
   *  `skip` (no rank had a gradient for them) keep their values and moments, as AdamW.step skips them. */
  async step(lr: number, skip: ReadonlySet<Tensor> = new Set()): Promise<void> {
    this.stepCount++;
    const s = this.settings;
    const p = { lr, beta1: s.beta1, beta2: s.beta2, eps: s.eps, weightDecay: s.weightDecay, step: this.stepCount };
    const send = new Float32Array(this.shardSize);
    this.forOwned((seg, lo, hi, at) => {
      const data = seg.param.storage("ZeRO-1") as Float32Array;
      const param = data.subarray(seg.param.offset + lo, seg.param.offset + hi);
      const n = hi - lo;
      if (skip.has(seg.param)) { send.set(param, at); return; }
      this.backend.adamw(param, this.gradShard.subarray(at, at + n), this.m.subarray(at, at + n), this.v.subarray(at, at + n), n, p, seg.decay);
      send.set(param, at);
    });
    await this.comm.allgather(send, this.flat);
    for (const seg of this.segments) {
      const data = seg.param.storage("ZeRO-1") as Float32Array;
      data.set(this.flat.subarray(seg.start, seg.start + seg.param.size), seg.param.offset);
    }
  }

  /** The full state (every rank's moments gathered), in AdamW's export format. */
  async exportState(): Promise<AdamWState> {
    const moments: Record<string, Float32Array> = {};
    for (const which of ["m", "v"] as const) {
      await this.comm.allgather(which === "m" ? this.m : this.v, this.flat);
      for (const seg of this.segments) moments[`${seg.name}.${which}`] = this.flat.slice(seg.start, seg.start + seg.param.size);
    }
    return { step: this.stepCount, moments };
  }

  /** Keeps this rank's block of a full state (a checkpoint written with any rank count, ZeRO or not). */
  importState(state: AdamWState): void {
    this.m.fill(0);
    this.v.fill(0);
    this.forOwned((seg, lo, hi, at) => {
      for (const [key, dst] of [[`${seg.name}.m`, this.m], [`${seg.name}.v`, this.v]] as const) {
        const src = state.moments[key];
        if (!src || src.length !== seg.param.size) {
          throw new Error(`ZeRO-1 importState: '${key}' is ${src ? `${src.length} values` : "missing"}; parameter ${seg.name} needs ${seg.param.size}`);
        }
        dst.set(src.subarray(lo, hi), at);
      }
    });
    this.stepCount = state.step;
  }
}

/** The global gradient norm over every rank's shard `g` (float64 sums of squares, all-reduced); with maxNorm > 0 the
 *  shard is scaled as clipGradNorm scales whole gradients (maxNorm / (norm + 1e-6) when that is below 1). Shared by
 *  ZeRO-1 and the shared-parameter path. */
export async function clipShardedGradient(comm: Communicator, g: Float32Array, maxNorm: number): Promise<number> {
  let sq = 0;
  for (let i = 0; i < g.length; i++) sq += g[i]! * g[i]!;
  const buf = new Float64Array([sq]);
  await comm.allreduce(buf);
  const norm = Math.sqrt(buf[0]!);
  const coeff = maxNorm / (norm + 1e-6);
  if (maxNorm > 0 && coeff < 1) for (let i = 0; i < g.length; i++) g[i]! *= coeff;
  return norm;
}

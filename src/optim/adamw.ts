// AdamW (Loshchilov & Hutter; PyTorch's torch.optim.AdamW semantics) over named parameters, one fused backend
// call per tensor: m = β1·m + (1−β1)·g, v = β2·v + (1−β2)·g², p −= lr·(m̂/(√v̂ + eps) + wd·p) with bias-corrected
// m̂, v̂. Weight decay is decoupled and masked: by default no decay on norms, biases (rank < 2) and embeddings.
// The state (step and per-parameter m, v) exports to named Float32Arrays for checkpoints and imports exactly.
// The moments are allocated on first use (step or importState), so an AdamW that only lends its settings (ZeRO-1's
// sharded optimizer in src/train/zero.ts) costs no memory.
// Leaves out: amsgrad, maximize, per-group hyperparameters beyond the decay mask, sparse gradients.
import type { Backend } from "../backend/backend.js";
import { OpError, fmtShape } from "../core/errors.js";
import type { Tensor } from "../tensor/index.js";

/** Which parameters get weight decay. */
export type DecayPredicate = (name: string, t: Tensor) => boolean;

/** Default mask: decay matrices (rank ≥ 2) except embeddings (names with embed/wte/wpe). */
export const defaultDecay: DecayPredicate = (name, t) => t.rank >= 2 && !/(^|[._])(embed\w*|wte|wpe|tok_embeddings)([._]|$)/.test(name);

export interface AdamWOptions {
  lr: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Default 0.01 (PyTorch's default). */
  weightDecay?: number;
  decay?: DecayPredicate;
}

/** Exported optimizer state: `${name}.m` and `${name}.v` moments plus the step count. */
export interface AdamWState {
  step: number;
  moments: Record<string, Float32Array>;
}

interface Slot {
  name: string;
  param: Tensor;
  /** Allocated on first use (see the file header). */
  m: Float32Array | null;
  v: Float32Array | null;
  decay: boolean;
}

export class AdamW {
  lr: number;
  readonly beta1: number;
  readonly beta2: number;
  readonly eps: number;
  readonly weightDecay: number;
  /** Number of step() calls so far (the bias correction uses step + 1 on the next call). */
  stepCount = 0;
  private readonly slots: Slot[];
  private readonly backend: Backend;

  /** params: named tensors (a model's parameter map); those with requiresGrad are optimised, in order. */
  constructor(params: Iterable<[string, Tensor]>, opts: AdamWOptions) {
    const entries = [...params].filter(([, t]) => t.requiresGrad);
    if (entries.length === 0) throw new OpError("AdamW", "no trainable parameters (none has requiresGrad = true)");
    this.lr = opts.lr;
    [this.beta1, this.beta2] = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    this.weightDecay = opts.weightDecay ?? 0.01;
    const decay = opts.decay ?? defaultDecay;
    this.backend = entries[0][1].backend;
    this.slots = entries.map(([name, param]) => {
      if (param.dtype !== "f32" || !param.isContiguous) {
        throw new OpError("AdamW", `parameter '${name}' must be a contiguous f32 tensor, got ${param.dtype} ${fmtShape(param.shape)}`);
      }
      return { name, param, decay: decay(name, param), m: null, v: null };
    });
  }

  /** The slot's moments, allocated (zeroed) on first use. */
  private moments(s: Slot): { m: Float32Array; v: Float32Array } {
    if (!s.m || !s.v) {
      s.m = this.backend.alloc("f32", s.param.size) as Float32Array;
      s.v = this.backend.alloc("f32", s.param.size) as Float32Array;
      s.m.fill(0);
      s.v.fill(0);
    }
    return { m: s.m, v: s.v };
  }

  /** Whether parameter `name` gets weight decay (ZeRO-1 applies the same mask to its shard). */
  decays(name: string): boolean {
    const slot = this.slots.find((s) => s.name === name);
    if (!slot) throw new OpError("AdamW.decays", `no trainable parameter '${name}'`);
    return slot.decay;
  }

  /** Names of the parameters that get weight decay (to log the mask). */
  decayedNames(): string[] {
    return this.slots.filter((s) => s.decay).map((s) => s.name);
  }

  /** One update of every parameter that has a gradient (parameters without .grad are skipped). lr overrides
   *  this.lr for this step (schedules pass lrAt(step)). */
  step(lr = this.lr): void {
    this.stepCount++;
    const p = { lr, beta1: this.beta1, beta2: this.beta2, eps: this.eps, weightDecay: this.weightDecay, step: this.stepCount };
    for (const s of this.slots) {
      const g = s.param.grad;
      if (!g) continue;
      if (!g.isContiguous || g.size !== s.param.size) {
        throw new OpError("AdamW", `gradient of '${s.name}' ${fmtShape(g.shape)} does not match the parameter ${fmtShape(s.param.shape)}`);
      }
      const n = s.param.size;
      const param = s.param.storage("AdamW").subarray(s.param.offset, s.param.offset + n) as Float32Array;
      const grad = g.storage("AdamW").subarray(g.offset, g.offset + n) as Float32Array;
      const { m, v } = this.moments(s);
      this.backend.adamw(param, grad, m, v, n, p, s.decay);
    }
  }

  /** Disposes every parameter's gradient. */
  zeroGrad(): void {
    for (const s of this.slots) s.param.zeroGrad();
  }

  /** Copies of the state (safe to keep after further steps). */
  exportState(): AdamWState {
    const moments: Record<string, Float32Array> = {};
    for (const s of this.slots) {
      moments[`${s.name}.m`] = s.m ? s.m.slice() : new Float32Array(s.param.size);
      moments[`${s.name}.v`] = s.v ? s.v.slice() : new Float32Array(s.param.size);
    }
    return { step: this.stepCount, moments };
  }

  /** Restores a state from exportState() (e.g. a checkpoint); every parameter's moments must be present. */
  importState(state: AdamWState): void {
    if (!Number.isInteger(state.step) || state.step < 0) throw new OpError("AdamW.importState", `step must be a non-negative integer, got ${state.step}`);
    for (const s of this.slots) {
      const { m, v } = this.moments(s);
      for (const [key, dst] of [[`${s.name}.m`, m], [`${s.name}.v`, v]] as const) {
        const src = state.moments[key];
        if (!src) throw new OpError("AdamW.importState", `missing '${key}' in the optimizer state`);
        if (src.length !== dst.length) {
          throw new OpError("AdamW.importState", `'${key}' has ${src.length} values; parameter ${fmtShape(s.param.shape)} needs ${dst.length}`);
        }
        dst.set(src);
      }
    }
    this.stepCount = state.step;
  }

  /** Returns the moment buffers to the backend pool. */
  dispose(): void {
    for (const s of this.slots) {
      if (s.m) this.backend.release(s.m);
      if (s.v) this.backend.release(s.v);
    }
    this.slots.length = 0;
  }
}

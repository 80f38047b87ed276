// ADAPTER until src/optim (TENSOR engineer) lands: the trainer's optimizer as a small interface — AdamW over the
// named parameters with a decay mask, exportable state (m, v, step) for checkpoints, and the global gradient
// norm with clipping. The update itself is the backend's fused adamw op (llm.c's formula: decoupled decay
// θ −= lr·(m̂/(√v̂ + eps) + wd·θ)); this file only owns the state and the loop over parameters.
// Leaves out: other optimizers, ZeRO-style sharding.
import type { Tensor } from "../tensor/index.js";
import type { SafetensorsWriteTensor } from "../io/safetensors.js";

export interface AdamWSettings {
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
}

export interface NamedParam {
  name: string;
  tensor: Tensor;
  decay: boolean;
}

export class TrainAdamW {
  /** Completed updates (the next update uses step + 1 for bias correction). */
  step = 0;
  private readonly m = new Map<string, Float32Array>();
  private readonly v = new Map<string, Float32Array>();

  constructor(readonly params: readonly NamedParam[], readonly settings: AdamWSettings) {
    for (const p of params) {
      this.m.set(p.name, new Float32Array(p.tensor.size));
      this.v.set(p.name, new Float32Array(p.tensor.size));
    }
  }

  /** One AdamW update of every parameter that has a gradient. */
  update(lr: number): void {
    this.step++;
    for (const p of this.params) {
      const g = p.tensor.grad;
      if (!g) continue;
      const n = p.tensor.size;
      const param = (p.tensor.storage("adamw") as Float32Array).subarray(p.tensor.offset, p.tensor.offset + n);
      const grad = (g.storage("adamw") as Float32Array).subarray(g.offset, g.offset + n);
      p.tensor.backend.adamw(param, grad, this.m.get(p.name)!, this.v.get(p.name)!, n, {
        lr, beta1: this.settings.beta1, beta2: this.settings.beta2, eps: this.settings.eps,
        weightDecay: this.settings.weightDecay, step: this.step,
      }, p.decay);
    }
  }

  /** m and v as safetensors entries ("m.<name>", "v.<name>"). */
  stateTensors(): SafetensorsWriteTensor[] {
    const out: SafetensorsWriteTensor[] = [];
    for (const p of this.params) {
      out.push({ name: `m.${p.name}`, dtype: "F32", shape: [...p.tensor.shape], data: this.m.get(p.name)! });
      out.push({ name: `v.${p.name}`, dtype: "F32", shape: [...p.tensor.shape], data: this.v.get(p.name)! });
    }
    return out;
  }

  /** Restores m, v and the step count; `read` returns the saved array for a name (or throws). */
  loadState(step: number, read: (name: string) => Float32Array): void {
    for (const p of this.params) {
      for (const [key, map] of [["m", this.m], ["v", this.v]] as const) {
        const src = read(`${key}.${p.name}`);
        if (src.length !== p.tensor.size) {
          throw new Error(`optimizer state '${key}.${p.name}' has ${src.length} values, the parameter has ${p.tensor.size}`);
        }
        map.get(p.name)!.set(src);
      }
    }
    this.step = step;
  }
}

/** √(Σ g²) over every gradient, in float64. */
export function globalGradNorm(params: readonly NamedParam[]): number {
  let s = 0;
  for (const p of params) {
    const g = p.tensor.grad;
    if (!g) continue;
    const a = (g.storage("gradNorm") as Float32Array).subarray(g.offset, g.offset + g.size);
    for (let i = 0; i < a.length; i++) s += a[i]! * a[i]!;
  }
  return Math.sqrt(s);
}

/** Scales every gradient by maxNorm / norm when norm > maxNorm. */
export function clipGradients(params: readonly NamedParam[], maxNorm: number, norm: number): void {
  if (!(norm > maxNorm) || !Number.isFinite(norm)) return;
  const scale = maxNorm / (norm + 1e-6);
  for (const p of params) {
    const g = p.tensor.grad;
    if (!g) continue;
    const a = (g.storage("clip") as Float32Array).subarray(g.offset, g.offset + g.size);
    for (let i = 0; i < a.length; i++) a[i] = a[i]! * scale;
  }
}

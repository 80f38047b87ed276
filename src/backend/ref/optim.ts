// Reference fused AdamW step (decoupled weight decay, bias-corrected moments), the llm.c / PyTorch formula:
//   m = β1·m + (1−β1)·g;  v = β2·v + (1−β2)·g²;  p −= lr·( (m/(1−β1^t)) / (sqrt(v/(1−β2^t)) + eps) + wd·p )
// Leaves out: argument validation (checks.ts), amsgrad, gradient clipping (src/optim).

import type { AdamWParams } from "../backend.js";

export function adamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number,
  p: AdamWParams, decay: boolean): void {
  const c1 = 1 - Math.pow(p.beta1, p.step), c2 = 1 - Math.pow(p.beta2, p.step);
  const wd = decay ? p.weightDecay : 0;
  for (let i = 0; i < n; i++) {
    const g = grad[i];
    const mi = p.beta1 * m[i] + (1 - p.beta1) * g;
    const vi = p.beta2 * v[i] + (1 - p.beta2) * g * g;
    m[i] = mi;
    v[i] = vi;
    param[i] -= p.lr * ((mi / c1) / (Math.sqrt(vi / c2) + p.eps) + wd * param[i]);
  }
}

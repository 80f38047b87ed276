// Global-norm gradient clipping (torch.nn.utils.clip_grad_norm_): the L2 norm over all gradients together;
// if it exceeds maxNorm every gradient is scaled by maxNorm / (norm + 1e-6).
// Leaves out: per-parameter and value clipping.
import type { Tensor } from "../tensor/index.js";

/** The global gradient norm (before clipping), summed in float64. Parameters without .grad are skipped. */
export function gradNorm(params: Iterable<Tensor>): number {
  let sq = 0;
  for (const p of params) {
    const g = p.grad;
    if (!g) continue;
    const d = g.storage("gradNorm");
    for (let i = g.offset, end = g.offset + g.size; i < end; i++) sq += d[i] * d[i];
  }
  return Math.sqrt(sq);
}

/** Clips gradients in place to a global norm of at most maxNorm; returns the norm before clipping. */
export function clipGradNorm(params: Iterable<Tensor>, maxNorm: number): number {
  const list = [...params];
  const norm = gradNorm(list);
  const coeff = maxNorm / (norm + 1e-6);
  if (coeff < 1) {
    for (const p of list) {
      const g = p.grad;
      if (!g) continue;
      const d = g.storage("clipGradNorm");
      for (let i = g.offset, end = g.offset + g.size; i < end; i++) d[i] *= coeff; // in place: backend ops never alias
    }
  }
  return norm;
}

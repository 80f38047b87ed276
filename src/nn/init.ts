// Parameter initialisers drawing from an explicit Rng (so a seed reproduces a model exactly): normal with a
// std (GPT-2 uses 0.02, and 0.02/sqrt(2·layers) on residual projections), uniform, zeros, ones.
// Leaves out: fan-in/fan-out schemes (compute the std and pass it), orthogonal init.
import type { Backend } from "../backend/backend.js";
import type { Rng } from "../core/rng.js";
import type { Shape } from "../core/shape.js";
import { type Tensor, full, randn, uniform, zeros } from "../tensor/index.js";

export interface InitOptions {
  backend?: Backend;
}

/** N(0, std²) samples in row-major order. */
export function initNormal(shape: Shape, rng: Rng, std: number, opts?: InitOptions): Tensor {
  return randn(shape, rng, { std, backend: opts?.backend });
}

/** U(−bound, bound) samples. */
export function initUniform(shape: Shape, rng: Rng, bound: number, opts?: InitOptions): Tensor {
  return uniform(shape, rng, -bound, bound, { backend: opts?.backend });
}

export function initZeros(shape: Shape, opts?: InitOptions): Tensor {
  return zeros(shape, { backend: opts?.backend });
}

export function initOnes(shape: Shape, opts?: InitOptions): Tensor {
  return full(shape, 1, { backend: opts?.backend });
}

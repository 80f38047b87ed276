// The basic layers, each a small class holding its tensors and a forward(): Linear, Embedding, LayerNorm,
// RMSNorm. `create` makes fresh parameters (registered in a ParamScope under HF-style names "weight"/"bias");
// the constructor wraps existing tensors (loaded weights).
// Leaves out: attention/MLP blocks (each model family composes those in its own file), dropout.
import type { Rng } from "../core/rng.js";
import { OpError, fmtShape } from "../core/errors.js";
import {
  type MatmulOptions, type QuantWeight, type Tensor, embedding, isQuantWeight, layerNorm, linear, rmsNorm,
} from "../tensor/index.js";
import type { ParamScope } from "./params.js";
import { initNormal, initOnes, initZeros } from "./init.js";

export class Linear {
  /** weight [out, in] (f32 tensor or a quantized GGUF matrix), bias [out] or null. */
  constructor(readonly weight: Tensor | QuantWeight, readonly bias: Tensor | null = null) {
    const out = isQuantWeight(weight) ? weight.rows : weight.shape[0];
    if (bias && (bias.rank !== 1 || bias.shape[0] !== out)) {
      throw new OpError("Linear", `bias ${fmtShape(bias.shape)} does not match ${out} outputs`);
    }
  }

  /** Fresh weight N(0, std²) (default 0.02) and zero bias, registered as `weight` and `bias` in scope. */
  static create(scope: ParamScope, inFeatures: number, outFeatures: number, rng: Rng,
    opts?: { bias?: boolean; std?: number }): Linear {
    const w = scope.add("weight", initNormal([outFeatures, inFeatures], rng, opts?.std ?? 0.02));
    const b = opts?.bias ?? true ? scope.add("bias", initZeros([outFeatures])) : null;
    return new Linear(w, b);
  }

  get inFeatures(): number {
    return isQuantWeight(this.weight) ? this.weight.cols : this.weight.shape[1];
  }
  get outFeatures(): number {
    return isQuantWeight(this.weight) ? this.weight.rows : this.weight.shape[0];
  }

  /** x [..., in] → [..., out]. */
  forward(x: Tensor, opts?: MatmulOptions): Tensor {
    return linear(x, this.weight, this.bias, opts);
  }
}

export class Embedding {
  /** weight [vocab, dim]. */
  constructor(readonly weight: Tensor) {
    if (weight.rank !== 2) throw new OpError("Embedding", `weight must be [vocab, dim], got ${fmtShape(weight.shape)}`);
  }

  static create(scope: ParamScope, vocab: number, dim: number, rng: Rng, opts?: { std?: number }): Embedding {
    return new Embedding(scope.add("weight", initNormal([vocab, dim], rng, opts?.std ?? 0.02)));
  }

  /** ids i32 [...] → [..., dim]. */
  forward(ids: Tensor): Tensor {
    return embedding(this.weight, ids);
  }
}

export class LayerNorm {
  constructor(readonly weight: Tensor | null, readonly bias: Tensor | null, readonly eps = 1e-5) {}

  /** weight = 1 and bias = 0, registered as `weight` and `bias`. */
  static create(scope: ParamScope, dim: number, opts?: { eps?: number; bias?: boolean }): LayerNorm {
    const w = scope.add("weight", initOnes([dim]));
    const b = opts?.bias ?? true ? scope.add("bias", initZeros([dim])) : null;
    return new LayerNorm(w, b, opts?.eps ?? 1e-5);
  }

  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}

export class RMSNorm {
  constructor(readonly weight: Tensor | null, readonly eps = 1e-6) {}

  static create(scope: ParamScope, dim: number, opts?: { eps?: number }): RMSNorm {
    return new RMSNorm(scope.add("weight", initOnes([dim])), opts?.eps ?? 1e-6);
  }

  forward(x: Tensor): Tensor {
    return rmsNorm(x, this.weight, this.eps);
  }
}

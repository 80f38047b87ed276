// Parameters as a tree of named tensors: one ordered map from dotted paths ("model.layers.0.self_attn.q_proj.weight",
// the Hugging Face names) to f32 tensors that require grad. A ParamScope is a prefix into the same map, so
// layers register their tensors under their own path without knowing where they sit in the model.
// Leaves out: loading/saving files (src/io), freezing policies (set requiresGrad on the tensors directly).
import { OpError, fmtShape } from "../core/errors.js";
import { shapesEqual } from "../core/shape.js";
import type { Tensor } from "../tensor/index.js";

export class ParamStore {
  private readonly byName = new Map<string, Tensor>();

  /** Registers t under name (must be new) and marks it as requiring grad unless trainable is false. */
  add(name: string, t: Tensor, trainable = true): Tensor {
    if (this.byName.has(name)) throw new OpError("params", `parameter '${name}' is already registered`);
    if (trainable && t.dtype !== "f32") {
      throw new OpError("params", `trainable parameter '${name}' must be f32, got ${t.dtype}; pass trainable=false for frozen weights`);
    }
    t.requiresGrad = trainable;
    this.byName.set(name, t);
    return t;
  }

  /** The tensor at name; throws naming close matches when it is missing. */
  get(name: string): Tensor {
    const t = this.byName.get(name);
    if (!t) {
      const tail = name.split(".").pop() ?? name;
      const near = [...this.byName.keys()].filter((k) => k.endsWith(tail)).slice(0, 3);
      throw new OpError("params", `no parameter named '${name}'` + (near.length ? `; similar: ${near.join(", ")}` : ""));
    }
    return t;
  }

  has(name: string): boolean {
    return this.byName.has(name);
  }

  /** Replaces the tensor at an existing name (e.g. loading weights); disposes the old one. */
  replace(name: string, t: Tensor): void {
    const old = this.get(name);
    if (!shapesEqual(old.shape, t.shape)) {
      throw new OpError("params", `'${name}' has shape ${fmtShape(old.shape)}; cannot replace it with ${fmtShape(t.shape)}`);
    }
    t.requiresGrad = old.requiresGrad;
    old.dispose();
    this.byName.set(name, t);
  }

  /** [name, tensor] pairs in registration order. */
  entries(): IterableIterator<[string, Tensor]> {
    return this.byName.entries();
  }

  names(): string[] {
    return [...this.byName.keys()];
  }

  /** Tensors that require grad, in registration order. */
  trainable(): [string, Tensor][] {
    return [...this.byName.entries()].filter(([, t]) => t.requiresGrad);
  }

  get size(): number {
    return this.byName.size;
  }

  /** A view that prefixes names: store.scope("model.layers.0").add("mlp.up.weight", t). */
  scope(prefix: string): ParamScope {
    return new ParamScope(this, prefix);
  }

  /** Drops every parameter's gradient. */
  zeroGrad(): void {
    for (const t of this.byName.values()) t.zeroGrad();
  }

  /** Disposes every parameter and gradient. */
  dispose(): void {
    for (const t of this.byName.values()) {
      t.zeroGrad();
      t.dispose();
    }
    this.byName.clear();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

export class ParamScope {
  constructor(readonly store: ParamStore, readonly prefix: string) {}

  path(name: string): string {
    return this.prefix ? `${this.prefix}.${name}` : name;
  }
  add(name: string, t: Tensor, trainable = true): Tensor {
    return this.store.add(this.path(name), t, trainable);
  }
  get(name: string): Tensor {
    return this.store.get(this.path(name));
  }
  scope(name: string): ParamScope {
    return new ParamScope(this.store, this.path(name));
  }
}

/** Total number of elements: countParameters(store) = Σ numel; trainableOnly counts only requiresGrad ones. */
export function countParameters(params: ParamStore | Iterable<[string, Tensor]>, trainableOnly = false): number {
  let n = 0;
  const entries = params instanceof ParamStore ? params.entries() : params;
  for (const [, t] of entries) if (!trainableOnly || t.requiresGrad) n += t.size;
  return n;
}

// Creating tensors: zeros/ones/full, from JS arrays or typed arrays, arange, and random tensors drawn from an
// explicit Rng (normal, uniform). Every function takes an optional { backend } (default: getDefaultBackend()).
// Leaves out: loading from files (src/io), random ops that hide their generator.
import type { Backend } from "../backend/backend.js";
import { f32ToBf16, f32ToF16, type DType } from "../core/dtype.js";
import { OpError, fmtShape } from "../core/errors.js";
import type { Rng } from "../core/rng.js";
import { numel, type Shape } from "../core/shape.js";
import { Tensor, getDefaultBackend } from "./tensor.js";

export interface CreateOptions {
  dtype?: DType;
  backend?: Backend;
  /** Mark the result as a parameter/leaf that wants gradients. */
  requiresGrad?: boolean;
}

function finish(t: Tensor, opts: CreateOptions | undefined): Tensor {
  if (opts?.requiresGrad) {
    if (t.dtype !== "f32") throw new OpError("tensor", `only f32 tensors can require grad, got ${t.dtype}`);
    t.requiresGrad = true;
  }
  return t;
}

/** Zero-filled tensor: zeros([2, 3]). */
export function zeros(shape: Shape, opts?: CreateOptions): Tensor {
  return finish(Tensor.empty(opts?.backend ?? getDefaultBackend(), opts?.dtype ?? "f32", shape), opts);
}

/** Tensor filled with value (stored in the dtype's encoding). */
export function full(shape: Shape, value: number, opts?: CreateOptions): Tensor {
  const t = Tensor.empty(opts?.backend ?? getDefaultBackend(), opts?.dtype ?? "f32", shape);
  if (value !== 0 && t.size > 0) t.backend.fill(t.storage(), encode(t.dtype, value), t.size);
  return finish(t, opts);
}

export function ones(shape: Shape, opts?: CreateOptions): Tensor {
  return full(shape, 1, opts);
}

/** A 0-d tensor holding one value. */
export function scalar(value: number, opts?: CreateOptions): Tensor {
  return full([], value, opts);
}

/** From a (flat) array of numbers and a shape; the shape defaults to [values.length].
 *  fromArray([1, 2, 3, 4], [2, 2]) is the matrix [[1, 2], [3, 4]]. */
export function fromArray(values: ArrayLike<number>, shape: Shape = [values.length], opts?: CreateOptions): Tensor {
  if (numel(shape) !== values.length) {
    throw new OpError("fromArray", `${values.length} values do not fill shape ${fmtShape(shape)} (${numel(shape)} elements)`);
  }
  const dtype = opts?.dtype ?? "f32";
  const t = Tensor.empty(opts?.backend ?? getDefaultBackend(), dtype, shape);
  const data = t.storage();
  for (let i = 0; i < values.length; i++) data[i] = encode(dtype, values[i]);
  return finish(t, opts);
}

/** From a typed array (copied): Float32Array → f32, Int32Array → i32, Uint16Array → bf16 or f16 bits (pass
 *  opts.dtype). The shape defaults to [data.length]. */
export function fromTypedArray(data: Float32Array | Int32Array | Uint16Array, shape: Shape = [data.length],
  opts?: Omit<CreateOptions, "dtype"> & { dtype?: "bf16" | "f16" }): Tensor {
  const dtype: DType = data instanceof Float32Array ? "f32" : data instanceof Int32Array ? "i32" : (opts?.dtype ?? "bf16");
  if (data instanceof Uint16Array && !opts?.dtype) {
    throw new OpError("fromTypedArray", "a Uint16Array holds bf16 or f16 bits: pass { dtype: \"bf16\" } or { dtype: \"f16\" }");
  }
  if (numel(shape) !== data.length) {
    throw new OpError("fromTypedArray", `${data.length} values do not fill shape ${fmtShape(shape)} (${numel(shape)} elements)`);
  }
  const t = Tensor.empty(opts?.backend ?? getDefaultBackend(), dtype, shape);
  t.storage().set(data as never);
  return finish(t, opts);
}

/** Integers start, start+step, ... below end (f32 unless opts.dtype = "i32"): arange(0, 4) = [0, 1, 2, 3]. */
export function arange(start: number, end: number, step = 1, opts?: CreateOptions): Tensor {
  if (step === 0) throw new OpError("arange", "step must not be 0");
  const n = Math.max(0, Math.ceil((end - start) / step));
  const values = new Array<number>(n);
  for (let i = 0; i < n; i++) values[i] = start + i * step;
  return fromArray(values, [n], opts);
}

/** Normal(mean, std) samples from rng, in row-major order. */
export function randn(shape: Shape, rng: Rng, opts?: CreateOptions & { mean?: number; std?: number }): Tensor {
  const n = numel(shape);
  const values = new Float32Array(n);
  const mean = opts?.mean ?? 0;
  const std = opts?.std ?? 1;
  for (let i = 0; i < n; i++) values[i] = rng.normal(mean, std);
  return fromValues(values, shape, opts);
}

/** Uniform samples in [lo, hi) from rng, in row-major order. */
export function uniform(shape: Shape, rng: Rng, lo = 0, hi = 1, opts?: CreateOptions): Tensor {
  const n = numel(shape);
  const values = new Float32Array(n);
  for (let i = 0; i < n; i++) values[i] = rng.uniform(lo, hi);
  return fromValues(values, shape, opts);
}

function fromValues(values: Float32Array, shape: Shape, opts?: CreateOptions): Tensor {
  const dtype = opts?.dtype ?? "f32";
  if (dtype === "f32") return fromTypedArray(values, shape, { backend: opts?.backend, requiresGrad: opts?.requiresGrad });
  return fromArray(values, shape, opts);
}

function encode(dtype: DType, x: number): number {
  switch (dtype) {
    case "bf16": return f32ToBf16(x);
    case "f16": return f32ToF16(x);
    case "i32": return Math.trunc(x);
    case "f32": return x;
  }
}

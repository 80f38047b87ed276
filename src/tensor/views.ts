// Views share storage with their input and only change shape/strides/offset: reshape/view, permute/transpose,
// narrow/select, expand, unsqueeze/squeeze/flatten. Also contiguous(), concat/stack and in-place assign (the
// KV-cache write). Every view is differentiable; its derivative is the inverse layout change (narrow's adds into
// its input's existing gradient when there is one: a fused QKV output split three ways).
// Leaves out: negative-step slicing and advanced (tensor) indexing — see embedding.ts for row gathers.
import { OpError, fmtShape } from "../core/errors.js";
import { contiguousStrides, inferShape, normDim, numel, viewStrides, type Shape } from "../core/shape.js";
import type { AccumulatorTable, DerivativeTable } from "./graph.js";
import { Tensor, isGradEnabled } from "./tensor.js";
import { record } from "./autograd.js";
import { backendOf, copyInto } from "./operands.js";
import { copyOf } from "./elementwise.js";
import { sumTo } from "./reduce.js";

declare module "./graph.js" {
  interface SavedByOp {
    reshape: { inShape: Shape };
    permute: { dims: number[] };
    narrow: { inShape: Shape; dim: number; start: number };
    expand: { inShape: Shape };
    concat: { dim: number; sizes: number[] };
  }
}

/** Same elements in a new shape (one -1 is inferred); a view when the layout allows, else a copy. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  x.assertAlive("reshape");
  const target = inferShape("reshape", shape, x.size);
  const strides = viewStrides(x.shape, x.strides, target);
  let out: Tensor;
  if (strides) out = x.withLayout(target, strides, x.offset);
  else {
    const c = detachedCopy(x);
    out = c.withLayout(target, contiguousStrides(target), 0);
    c.dispose();
  }
  return record(out, "reshape", [x], () => ({ inShape: x.shape }));
}

/** Like reshape but never copies: throws if x's layout cannot be viewed as shape. */
export function view(x: Tensor, shape: Shape): Tensor {
  x.assertAlive("view");
  const target = inferShape("view", shape, x.size);
  if (!viewStrides(x.shape, x.strides, target)) {
    throw new OpError("view", `cannot view ${fmtShape(x.shape)} with strides ${fmtShape(x.strides)} as ${fmtShape(target)} ` +
      "without a copy; call contiguous() first or use reshape()");
  }
  return reshape(x, target);
}

/** Reorders dims: permute(x, [0, 2, 1, 3]) swaps dims 1 and 2. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  x.assertAlive("permute");
  if (dims.length !== x.rank) {
    throw new OpError("permute", `got ${dims.length} dims ${fmtShape(dims)} for a tensor of rank ${x.rank} ${fmtShape(x.shape)}`);
  }
  const norm = dims.map((d) => normDim("permute", d, x.rank));
  if (new Set(norm).size !== norm.length) throw new OpError("permute", `dims ${fmtShape(dims)} repeat a dim`);
  const out = x.withLayout(norm.map((d) => x.shape[d]), norm.map((d) => x.strides[d]), x.offset);
  return record(out, "permute", [x], () => ({ dims: norm }));
}

/** Swaps two dims (default: the last two). */
export function transpose(x: Tensor, d0 = -2, d1 = -1): Tensor {
  const a = normDim("transpose", d0, x.rank);
  const b = normDim("transpose", d1, x.rank);
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/** Elements [start, start+length) along dim (a view). */
export function narrow(x: Tensor, dim: number, start: number, length: number): Tensor {
  x.assertAlive("narrow");
  const d = normDim("narrow", dim, x.rank);
  if (!Number.isInteger(start) || !Number.isInteger(length) || start < 0 || length < 0 || start + length > x.shape[d]) {
    throw new OpError("narrow", `range [${start}, ${start + length}) is outside dim ${d} of size ${x.shape[d]} (shape ${fmtShape(x.shape)})`);
  }
  const shape = [...x.shape];
  shape[d] = length;
  const out = x.withLayout(shape, x.strides, x.offset + start * x.strides[d]);
  return record(out, "narrow", [x], () => ({ inShape: x.shape, dim: d, start }));
}

/** Python-style slice along dim: slice(x, 1, 2, 5) = x[:, 2:5]; end defaults to the dim size, negatives count
 *  from the end. */
export function slice(x: Tensor, dim: number, start: number, end?: number): Tensor {
  const d = normDim("slice", dim, x.rank);
  const size = x.shape[d];
  const s = Math.min(size, Math.max(0, start < 0 ? start + size : start));
  const e = Math.min(size, Math.max(s, end === undefined ? size : end < 0 ? end + size : end));
  return narrow(x, d, s, e - s);
}

/** The index-th entry along dim, with that dim removed: select(x, 0, 2) = x[2]. */
export function select(x: Tensor, dim: number, index: number): Tensor {
  const d = normDim("select", dim, x.rank);
  const i = index < 0 ? index + x.shape[d] : index;
  const n = narrow(x, d, i, 1);
  const out = squeeze(n, d);
  n.dispose();
  return out;
}

/** Broadcasts size-1 dims (and new leading dims) to shape without copying (stride 0); -1 keeps a dim. */
export function expand(x: Tensor, shape: Shape): Tensor {
  x.assertAlive("expand");
  const lead = shape.length - x.rank;
  if (lead < 0) throw new OpError("expand", `cannot expand ${fmtShape(x.shape)} to fewer dims ${fmtShape(shape)}`);
  const outShape: number[] = [];
  const strides: number[] = [];
  for (let i = 0; i < shape.length; i++) {
    const src = i - lead;
    const want = shape[i] === -1 ? (src >= 0 ? x.shape[src] : -1) : shape[i];
    if (src < 0) {
      if (want < 0) throw new OpError("expand", `-1 is not allowed for a new leading dim (target ${fmtShape(shape)})`);
      outShape.push(want);
      strides.push(0);
    } else if (x.shape[src] === want) {
      outShape.push(want);
      strides.push(x.strides[src]);
    } else if (x.shape[src] === 1) {
      outShape.push(want);
      strides.push(0);
    } else {
      throw new OpError("expand", `cannot expand ${fmtShape(x.shape)} to ${fmtShape(shape)}: dim ${src} has size ${x.shape[src]}, not 1`);
    }
  }
  const out = x.withLayout(outShape, strides, x.offset);
  return record(out, "expand", [x], () => ({ inShape: x.shape }));
}

/** Inserts a size-1 dim at dim (which may equal rank). */
export function unsqueeze(x: Tensor, dim: number): Tensor {
  const d = normDim("unsqueeze", dim < 0 ? dim + x.rank + 1 : dim, x.rank + 1);
  const shape = [...x.shape];
  shape.splice(d, 0, 1);
  return reshape(x, shape);
}

/** Removes size-1 dims: all of them, or only dim. */
export function squeeze(x: Tensor, dim?: number): Tensor {
  if (dim === undefined) return reshape(x, x.shape.filter((s) => s !== 1));
  const d = normDim("squeeze", dim, x.rank);
  if (x.shape[d] !== 1) throw new OpError("squeeze", `dim ${d} has size ${x.shape[d]}, not 1 (shape ${fmtShape(x.shape)})`);
  return reshape(x, x.shape.filter((_, i) => i !== d));
}

/** Merges dims start..end (inclusive) into one: flatten(x) is 1-d, flatten(x, 0, -2) keeps the last dim. */
export function flatten(x: Tensor, start = 0, end = -1): Tensor {
  if (x.rank === 0) return reshape(x, [1]);
  const s = normDim("flatten", start, x.rank);
  const e = normDim("flatten", end, x.rank);
  const shape = [...x.shape.slice(0, s), numel(x.shape.slice(s, e + 1)), ...x.shape.slice(e + 1)];
  return reshape(x, shape);
}

/** x itself as a new handle if already contiguous, else a contiguous copy (gradient passes through). */
export function contiguous(x: Tensor): Tensor {
  x.assertAlive("contiguous");
  return x.isContiguous ? reshape(x, x.shape) : copyOf(x);
}

/** Joins tensors along an existing dim (all other dims equal). */
export function concat(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new OpError("concat", "needs at least one tensor");
  const first = tensors[0];
  const backend = backendOf("concat", ...tensors);
  const d = normDim("concat", dim, first.rank);
  for (const t of tensors) {
    if (t.rank !== first.rank || t.dtype !== first.dtype || t.shape.some((s, i) => i !== d && s !== first.shape[i])) {
      throw new OpError("concat", `cannot join ${fmtShape(t.shape)} (${t.dtype}) with ${fmtShape(first.shape)} ` +
        `(${first.dtype}) along dim ${d}: other dims and dtypes must match`);
    }
  }
  const sizes = tensors.map((t) => t.shape[d]);
  const shape = [...first.shape];
  shape[d] = sizes.reduce((a, b) => a + b, 0);
  const out = Tensor.uninit(backend, first.dtype, shape); // the parts cover it whole
  let at = 0;
  for (const t of tensors) {
    const part = out.withLayout(t.shape, out.strides, at * out.strides[d], false);
    copyInto("concat", part, t);
    part.dispose();
    at += t.shape[d];
  }
  return record(out, "concat", tensors, () => ({ dim: d, sizes }));
}

/** Stacks equal-shaped tensors along a new dim. */
export function stack(tensors: readonly Tensor[], dim = 0): Tensor {
  if (tensors.length === 0) throw new OpError("stack", "needs at least one tensor");
  const rank = tensors[0].rank + 1;
  const d = normDim("stack", dim, rank);
  const parts = tensors.map((t) => unsqueeze(t, d));
  const out = concat(parts, d);
  for (const p of parts) p.dispose();
  return out;
}

/** Writes src into dst in place (dst may be a view, e.g. a KV-cache slice). Not differentiable: writing into a
 *  tensor that requires grad (e.g. loading a parameter) must happen under noGrad. */
export function assign(dst: Tensor, src: Tensor): void {
  if (dst.requiresGrad && isGradEnabled()) {
    throw new OpError("assign", "cannot write in place into a tensor that requires grad while grad mode is on; " +
      "wrap it in noGrad(() => assign(dst, src))");
  }
  copyInto("assign", dst, src);
}

function detachedCopy(x: Tensor): Tensor {
  const out = Tensor.uninit(x.backend, x.dtype, x.shape);
  copyInto("reshape", out, x);
  return out;
}

export const viewDerivatives: DerivativeTable<"reshape" | "permute" | "narrow" | "expand" | "concat"> = {
  reshape: ({ saved: { inShape } }, dy) => [reshape(dy, inShape)],
  permute: ({ saved: { dims } }, dy) => {
    const inverse = new Array<number>(dims.length);
    dims.forEach((d, i) => { inverse[d] = i; });
    return [permute(dy, inverse)];
  },
  narrow: ({ saved: { inShape, dim, start } }, dy) => {
    const dx = Tensor.empty(dy.backend, "f32", inShape);
    const part = narrow(dx, dim, start, dy.shape[dim]);
    copyInto("narrow", part, dy);
    return [dx];
  },
  expand: ({ saved: { inShape } }, dy) => [sumTo(dy, inShape)],
  concat: ({ saved: { dim, sizes }, needs }, dy) => {
    let at = 0;
    return sizes.map((n, i) => {
      const g = needs[i] ? narrow(dy, dim, at, n) : null;
      at += n;
      return g;
    });
  },
};

/** The second and later slices of a split (GPT-2's q, k, v of one [N, 3D] projection) add into the gradient the
 *  first one made — dx[slice] += dy, the same sums — instead of each zero-filling [N, 3D] to be summed afterwards. */
export const viewAccumulators: AccumulatorTable<"narrow"> = {
  narrow: ({ saved: { dim, start } }, dy, acc) => {
    const part = narrow(acc, dim, start, dy.shape[dim]);
    // In place (acc is a private dense buffer): no [N, D] temporary and no copy back.
    dy.backend.addStrided(dy.storage("narrow") as Float32Array, dy.offset, dy.strides,
      part.storage("narrow") as Float32Array, part.offset, part.strides, dy.shape);
    part.dispose();
    return [null];
  },
};

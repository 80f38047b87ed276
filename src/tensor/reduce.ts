// Reductions over dims with their derivatives: sum, mean, max (keepdim or not), and sumTo (sums a broadcast
// gradient back to an input's shape, used by every broadcasting op's derivative).
// Leaves out: argmax/min/prod/var (compose them or add them when a caller needs one).
import { OpError, fmtShape } from "../core/errors.js";
import { normDim, numel, shapesEqual, type Shape } from "../core/shape.js";
import type { DerivativeTable } from "./graph.js";
import { Tensor } from "./tensor.js";
import { record, save } from "./autograd.js";
import { denseF32, outF32 } from "./operands.js";
import { affine } from "./elementwise.js";
import { expand, reshape } from "./views.js";
import { copyOf } from "./elementwise.js";

declare module "./graph.js" {
  interface SavedByOp {
    sum: { inShape: Shape; keptShape: Shape };
    max: { x: Tensor; out: Tensor; dim: number };
  }
}

function normDims(op: string, dims: number | readonly number[] | undefined, rank: number): number[] {
  if (dims === undefined) return Array.from({ length: rank }, (_, i) => i);
  const list = typeof dims === "number" ? [dims] : dims;
  const norm = [...new Set(list.map((d) => normDim(op, d, rank)))];
  return norm.sort((a, b) => a - b);
}

/** Sum over dims (all dims when omitted); keepdim keeps them as size 1. sum(x, -1) sums the last dim. */
export function sum(x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor {
  const ds = normDims("sum", dims, x.rank);
  const keptShape = x.shape.map((s, i) => (ds.includes(i) ? 1 : s));
  const outShape = keepdim ? keptShape : x.shape.filter((_, i) => !ds.includes(i));
  const backend = x.backend;
  let cur = denseF32("sum", x);
  let shape = [...x.shape];
  // One backend pass per reduced dim, innermost first; each pass views the data as [outer, size, inner].
  for (let k = ds.length - 1; k >= 0; k--) {
    const d = ds[k];
    const outer = numel(shape.slice(0, d));
    const inner = numel(shape.slice(d + 1));
    const size = shape[d];
    const next = backend.alloc("f32", outer * inner);
    backend.reduceSum(cur.data, next as Float32Array, outer, size, inner, false);
    cur.release();
    cur = { data: next as Float32Array, release: () => backend.release(next) };
    shape[d] = 1;
  }
  let out: Tensor;
  if (ds.length === 0) {
    out = Tensor.empty(backend, "f32", outShape);
    outF32(out).set(cur.data);
    cur.release();
  } else out = Tensor.adopt(backend, "f32", outShape, cur.data);
  return record(out, "sum", [x], () => ({ inShape: x.shape, keptShape }));
}

/** Mean over dims (all when omitted). */
export function mean(x: Tensor, dims?: number | readonly number[], keepdim = false): Tensor {
  const ds = normDims("mean", dims, x.rank);
  const count = ds.reduce((n, d) => n * x.shape[d], 1);
  const s = sum(x, ds, keepdim);
  const out = affine(s, 1 / count, 0);
  s.dispose();
  return out;
}

/** Maximum over one dim; the gradient goes to the first position holding the maximum. */
export function max(x: Tensor, dim = -1, keepdim = false): Tensor {
  const d = normDim("max", dim, x.rank);
  if (x.shape[d] === 0) throw new OpError("max", `cannot take the max over empty dim ${d} of ${fmtShape(x.shape)}`);
  const xs = denseF32("max", x);
  const keptShape = x.shape.map((s, i) => (i === d ? 1 : s));
  const out = Tensor.empty(x.backend, "f32", keepdim ? keptShape : x.shape.filter((_, i) => i !== d));
  try {
    x.backend.reduceMax(xs.data, outF32(out), numel(x.shape.slice(0, d)), x.shape[d], numel(x.shape.slice(d + 1)));
  } finally {
    xs.release();
  }
  return record(out, "max", [x], () => ({ x: save(x), out: save(out), dim: d }));
}

/** Sums dy (shaped like a broadcast result) down to `shape`: the derivative of broadcasting. Always returns a
 *  fresh handle. */
export function sumTo(dy: Tensor, shape: Shape): Tensor {
  if (shapesEqual(dy.shape, shape)) return dy.withLayout(dy.shape, dy.strides, dy.offset);
  const lead = dy.rank - shape.length;
  if (lead < 0) throw new OpError("sumTo", `cannot reduce ${fmtShape(dy.shape)} to higher-rank ${fmtShape(shape)}`);
  const dims: number[] = [];
  for (let i = 0; i < dy.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && dy.shape[i] !== 1)) dims.push(i);
    else if (shape[i - lead] !== dy.shape[i]) {
      throw new OpError("sumTo", `cannot reduce ${fmtShape(dy.shape)} to ${fmtShape(shape)} (dim ${i})`);
    }
  }
  const s = sum(dy, dims, true);
  const out = reshape(s, shape);
  s.dispose();
  return out;
}

export const reduceDerivatives: DerivativeTable<"sum" | "max"> = {
  sum: ({ saved: { inShape, keptShape } }, dy) => {
    const kept = reshape(dy, keptShape);
    const wide = expand(kept, inShape);
    return [copyOf(wide)];
  },
  max: ({ saved: { x, out, dim } }, dy) => {
    // Route each dy entry to the first index along dim where x equals the max.
    const xs = denseF32("max", x);
    const ms = denseF32("max", out);
    const ds = denseF32("max", dy);
    const dx = Tensor.empty(x.backend, "f32", x.shape);
    const g = outF32(dx);
    const outer = numel(x.shape.slice(0, dim));
    const size = x.shape[dim];
    const inner = numel(x.shape.slice(dim + 1));
    for (let o = 0; o < outer; o++) {
      for (let i = 0; i < inner; i++) {
        const m = ms.data[o * inner + i];
        for (let s = 0; s < size; s++) {
          const at = (o * size + s) * inner + i;
          if (xs.data[at] === m || (Number.isNaN(m) && Number.isNaN(xs.data[at]))) {
            g[at] = ds.data[o * inner + i];
            break;
          }
        }
      }
    }
    xs.release(); ms.release(); ds.release();
    return [dx];
  },
};

// Shape, stride and broadcasting arithmetic on plain number arrays (row-major, element strides).
// Leaves out: anything about storage or dtypes; negative strides (views never flip).
import { OpError, fmtShape } from "./errors.js";

export type Shape = readonly number[];

/** Number of elements: numel([2, 3]) = 6, numel([]) = 1. */
export function numel(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

/** Row-major strides: contiguousStrides([2, 3, 4]) = [12, 4, 1]. */
export function contiguousStrides(shape: Shape): number[] {
  const s = new Array<number>(shape.length);
  let acc = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    s[i] = acc;
    acc *= shape[i];
  }
  return s;
}

/** True if strides describe a dense row-major layout of shape (size-1 dims may have any stride). */
export function isContiguous(shape: Shape, strides: Shape): boolean {
  let expected = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    if (shape[i] === 1) continue;
    if (strides[i] !== expected) return false;
    expected *= shape[i];
  }
  return true;
}

export function shapesEqual(a: Shape, b: Shape): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** Resolves a possibly negative dim index against rank: normDim(-1, 3) = 2. */
export function normDim(op: string, dim: number, rank: number): number {
  const d = dim < 0 ? dim + rank : dim;
  if (!Number.isInteger(d) || d < 0 || d >= rank) {
    throw new OpError(op, `dim ${dim} is out of range for a tensor of rank ${rank} (expected -${rank}..${rank - 1})`);
  }
  return d;
}

/** NumPy broadcasting: broadcastShapes([3, 1], [4]) = [3, 4]. */
export function broadcastShapes(op: string, a: Shape, b: Shape): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new OpError(op, `shapes ${fmtShape(a)} and ${fmtShape(b)} cannot be broadcast together (dim ${i}: ${da} vs ${db}); ` +
        `sizes must match or be 1`);
    }
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/** Strides that read a tensor of (shape, strides) as if it had `target` shape: broadcast dims get stride 0. */
export function broadcastStrides(op: string, shape: Shape, strides: Shape, target: Shape): number[] {
  const out = new Array<number>(target.length).fill(0);
  const lead = target.length - shape.length;
  if (lead < 0) throw new OpError(op, `cannot broadcast ${fmtShape(shape)} to lower-rank ${fmtShape(target)}`);
  for (let i = 0; i < shape.length; i++) {
    const t = target[lead + i];
    if (shape[i] === t) out[lead + i] = shape[i] === 1 ? 0 : strides[i];
    else if (shape[i] === 1) out[lead + i] = 0;
    else throw new OpError(op, `cannot broadcast ${fmtShape(shape)} to ${fmtShape(target)} (dim ${i}: ${shape[i]} vs ${t})`);
  }
  return out;
}

/** Resolves one -1 in a reshape target: inferShape("reshape", [2, -1], 6) = [2, 3]. */
export function inferShape(op: string, shape: Shape, n: number): number[] {
  let unknown = -1;
  let known = 1;
  for (let i = 0; i < shape.length; i++) {
    const d = shape[i];
    if (d === -1) {
      if (unknown >= 0) throw new OpError(op, `only one -1 is allowed in ${fmtShape(shape)}`);
      unknown = i;
    } else if (!Number.isInteger(d) || d < 0) {
      throw new OpError(op, `invalid size ${d} in ${fmtShape(shape)}; sizes must be non-negative integers or one -1`);
    } else known *= d;
  }
  const out = [...shape];
  if (unknown >= 0) {
    if (known === 0 || n % known !== 0) throw new OpError(op, `cannot infer -1 in ${fmtShape(shape)} for ${n} elements`);
    out[unknown] = n / known;
  } else if (known !== n) {
    throw new OpError(op, `shape ${fmtShape(shape)} has ${known} elements but the tensor has ${n}`);
  }
  return out;
}

/** Strides for viewing a (shape, strides) tensor as newShape without copying, or null if a copy is needed
 *  (the PyTorch `view` rule: each group of merged/split dims must be contiguous within itself). */
export function viewStrides(shape: Shape, strides: Shape, newShape: Shape): number[] | null {
  // Drop size-1 dims of the source: their strides do not matter.
  const dims: number[] = [];
  const strs: number[] = [];
  for (let i = 0; i < shape.length; i++) if (shape[i] !== 1) { dims.push(shape[i]); strs.push(strides[i]); }
  const out = new Array<number>(newShape.length);
  let si = 0;
  let ni = 0;
  while (ni < newShape.length) {
    if (newShape[ni] === 1) { out[ni] = 1; ni++; continue; }
    if (si >= dims.length) return null;
    // Take a chunk of source dims that are mutually contiguous and a chunk of new dims with the same product.
    let srcProd = dims[si];
    let sEnd = si + 1;
    let newProd = newShape[ni];
    let nEnd = ni + 1;
    while (srcProd !== newProd) {
      if (srcProd < newProd) {
        if (sEnd >= dims.length || strs[sEnd - 1] !== strs[sEnd] * dims[sEnd]) return null;
        srcProd *= dims[sEnd++];
      } else {
        if (nEnd >= newShape.length) return null;
        newProd *= newShape[nEnd++];
      }
    }
    // Within the chunk the source is contiguous with innermost stride strs[sEnd-1].
    for (let k = si; k < sEnd - 1; k++) if (strs[k] !== strs[k + 1] * dims[k + 1]) return null;
    let acc = strs[sEnd - 1];
    for (let k = nEnd - 1; k >= ni; k--) {
      out[k] = acc;
      acc *= newShape[k];
    }
    si = sEnd;
    ni = nEnd;
  }
  if (si !== dims.length) return null;
  return out;
}

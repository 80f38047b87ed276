// How ops turn Tensor operands into the flat buffers backend calls take: dtype and liveness checks, a dense
// f32 view of a tensor (a subarray when it is already contiguous, else a temporary copy released by the
// caller), fresh outputs, and strided copies between tensors.
// Leaves out: the ops themselves; broadcasting rules (core/shape.ts).
import type { Backend, Storage } from "../backend/backend.js";
import type { DType } from "../core/dtype.js";
import { OpError, fmtShape } from "../core/errors.js";
import { contiguousStrides, shapesEqual } from "../core/shape.js";
import { Tensor } from "./tensor.js";

/** Throws unless t is alive and of the given dtype. */
export function expectDType(op: string, t: Tensor, dtype: DType, what = "input"): void {
  t.assertAlive(op);
  if (t.dtype !== dtype) {
    throw new OpError(op, `${what} must be ${dtype}, got ${t.dtype} with shape ${fmtShape(t.shape)}` +
      (dtype === "f32" ? `; convert with .to("f32") (or to(t, "f32"))` : ""));
  }
}

/** The backend shared by all tensors (throws if they live on different backends). */
export function backendOf(op: string, ...ts: (Tensor | null | undefined)[]): Backend {
  let b: Backend | null = null;
  for (const t of ts) {
    if (!t) continue;
    t.assertAlive(op);
    if (b && t.backend !== b) throw new OpError(op, "tensors live on different backends; move one with toBackend()");
    b = t.backend;
  }
  if (!b) throw new OpError(op, "no tensor operand");
  return b;
}

/** A dense row-major buffer of t's elements, starting at index 0. `release()` frees a temporary copy (a no-op
 *  when t was already contiguous and the buffer is a subarray of its storage). */
export interface Dense<S extends Storage = Storage> {
  data: S;
  release(): void;
}

export function dense(op: string, t: Tensor): Dense {
  const storage = t.storage(op);
  const n = t.size;
  if (t.isContiguous) return { data: storage.subarray(t.offset, t.offset + n), release() {} };
  const backend = t.backend;
  const tmp = backend.alloc(t.dtype, n, false); // the strided copy fills it whole
  backend.copyStrided(storage, t.offset, t.strides, tmp, 0, contiguousStrides(t.shape), t.shape);
  return { data: tmp, release: () => backend.release(tmp) };
}

/** dense() of an f32 tensor (throws on another dtype). */
export function denseF32(op: string, t: Tensor, what = "input"): Dense<Float32Array> {
  expectDType(op, t, "f32", what);
  return dense(op, t) as Dense<Float32Array>;
}

/** dense() of an i32 tensor (ids, targets). */
export function denseI32(op: string, t: Tensor, what = "ids"): Dense<Int32Array> {
  expectDType(op, t, "i32", what);
  return dense(op, t) as Dense<Int32Array>;
}

/** The writable dense buffer of a fresh contiguous tensor (its own storage, from offset 0). */
export function outF32(t: Tensor): Float32Array {
  return t.storage().subarray(t.offset, t.offset + t.size) as Float32Array;
}

/** Storage of t starting at its offset (for backend ops that take strides). */
export function fromOffset(op: string, t: Tensor): Storage {
  return t.storage(op).subarray(t.offset);
}

/** Copies src's elements into dst (same shape and dtype; either may be a strided view). In place, no grad. */
export function copyInto(op: string, dst: Tensor, src: Tensor): void {
  const backend = backendOf(op, dst, src);
  if (!shapesEqual(dst.shape, src.shape)) {
    throw new OpError(op, `cannot copy shape ${fmtShape(src.shape)} into ${fmtShape(dst.shape)}; shapes must match`);
  }
  if (dst.dtype !== src.dtype) throw new OpError(op, `cannot copy ${src.dtype} into ${dst.dtype}; cast first with to()`);
  backend.copyStrided(src.storage(op), src.offset, src.strides, dst.storage(op), dst.offset, dst.strides, src.shape);
}

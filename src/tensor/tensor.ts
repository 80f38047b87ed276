// Tensor: a dtype, a shape, element strides and an offset into storage owned by a backend. Views share the
// storage (reference counted), so dispose() on any handle is deterministic: the storage goes back to the
// backend pool when the last handle is disposed. Also here: the two pieces of module state the tensor layer
// has — the default backend (set explicitly by the CLI or a test) and the grad-mode / tidy-scope stacks.
// Leaves out: op implementations (elementwise.ts, matmul.ts, ...), the autograd engine (autograd.ts).
import type { Backend, Storage } from "../backend/backend.js";
import type { DType } from "../core/dtype.js";
import { OpError, fmtShape } from "../core/errors.js";
import { contiguousStrides, isContiguous, numel, type Shape } from "../core/shape.js";
import { bf16ToF32, f16ToF32 } from "../core/dtype.js";
import type { GradNode } from "./graph.js";
import { runBackward } from "./autograd.js";

// ---- the default backend (the only global the caller sets) ----

let defaultBackend: Backend | null = null;

/** Sets the backend that creation functions use when none is passed. Called by the CLI and by tests. */
export function setDefaultBackend(backend: Backend): void {
  defaultBackend = backend;
}

export function getDefaultBackend(): Backend {
  if (!defaultBackend) {
    throw new OpError("backend", "no default backend set; call setDefaultBackend(await createBackend()) first, " +
      "or pass { backend } to the creation function");
  }
  return defaultBackend;
}

// ---- grad mode ----

let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs fn without recording the autograd graph (inference, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const prev = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = prev;
  }
}

// ---- tidy scopes: every tensor created inside tidy(fn) is disposed when fn returns, except what fn returns ----

type Scope = Set<Tensor> | null; // null = a region where nothing is tracked (autograd internals)
const scopes: Scope[] = [];

/** Runs fn and disposes every tensor created meanwhile, except tensors in its result (a Tensor, or arrays /
 *  plain objects of them, walked one level deep) and tensors passed to keep(). Nested tidies hand their
 *  results to the enclosing scope. */
export function tidy<T>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (err) {
    scopes.pop();
    for (const t of scope) t.dispose();
    throw err;
  }
  scopes.pop();
  const survivors = new Set<Tensor>();
  collectTensors(result, survivors);
  for (const t of scope) if (!survivors.has(t)) t.dispose();
  const parent = scopes[scopes.length - 1];
  if (parent) for (const t of survivors) if (scope.has(t)) parent.add(t);
  return result;
}

/** Removes t from every enclosing tidy scope, so it outlives them (the caller then owns it). */
export function keep<T extends Tensor>(t: T): T {
  for (const s of scopes) s?.delete(t);
  return t;
}

/** Runs fn with tensor tracking off: tensors it creates belong to the caller even inside tidy. */
export function untracked<T>(fn: () => T): T {
  scopes.push(null);
  try {
    return fn();
  } finally {
    scopes.pop();
  }
}

function collectTensors(value: unknown, into: Set<Tensor>, depth = 0): void {
  if (value instanceof Tensor) into.add(value);
  else if (depth < 2 && Array.isArray(value)) for (const v of value) collectTensors(v, into, depth + 1);
  else if (depth < 2 && value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value)) collectTensors(v, into, depth + 1);
  }
}

// ---- storage ----

/** Reference-counted storage shared by a tensor and its views. */
class StorageBox {
  refs = 1;
  /** Memory the backend did not allocate and never frees (moveToExternalStorage). */
  external = false;
  constructor(readonly backend: Backend, public data: Storage | null) {}
}

// ---- Tensor ----

export class Tensor {
  readonly dtype: DType;
  readonly shape: readonly number[];
  readonly strides: readonly number[];
  /** Element offset of this view's first element in the storage. */
  readonly offset: number;
  /** Whether gradients flow to this tensor (set on parameters; ops propagate it). */
  requiresGrad = false;
  /** Accumulated gradient (f32, same shape), owned by this tensor; backward() adds into it. */
  grad: Tensor | null = null;
  /** The op that produced this tensor, while its graph is alive (null for leaves and under noGrad). */
  node: GradNode | null = null;
  private box: StorageBox;
  private released = false;

  /** Low level: wraps storage. Prefer the creation functions (zeros, fromArray, ...) and ops. */
  constructor(box: StorageBox, dtype: DType, shape: Shape, strides: Shape, offset: number) {
    this.box = box;
    this.dtype = dtype;
    this.shape = Object.freeze([...shape]);
    this.strides = Object.freeze([...strides]);
    this.offset = offset;
    const scope = scopes[scopes.length - 1];
    if (scope) scope.add(this);
  }

  /** A new contiguous tensor owning fresh zero-filled storage from the backend. */
  static empty(backend: Backend, dtype: DType, shape: Shape): Tensor {
    return Tensor.fresh(backend, dtype, shape, true);
  }

  /** Like empty(), but the storage is not zero-filled: for op outputs whose every element the op writes. (The
   *  reference backend fills it with NaN, so a kernel that skips an element fails its tests.) */
  static uninit(backend: Backend, dtype: DType, shape: Shape): Tensor {
    return Tensor.fresh(backend, dtype, shape, false);
  }

  private static fresh(backend: Backend, dtype: DType, shape: Shape, zeroFill: boolean): Tensor {
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new OpError("tensor", `invalid shape ${fmtShape(shape)}: sizes must be non-negative integers`);
    }
    const data = backend.alloc(dtype, numel(shape), zeroFill);
    return new Tensor(new StorageBox(backend, data), dtype, shape, contiguousStrides(shape), 0);
  }

  /** Wraps existing storage (taken over: it is released to backend when the tensor is disposed). */
  static adopt(backend: Backend, dtype: DType, shape: Shape, data: Storage): Tensor {
    if (data.length < numel(shape)) {
      throw new OpError("tensor", `storage has ${data.length} elements, shape ${fmtShape(shape)} needs ${numel(shape)}`);
    }
    return new Tensor(new StorageBox(backend, data), dtype, shape, contiguousStrides(shape), 0);
  }

  get backend(): Backend {
    return this.box.backend;
  }
  get rank(): number {
    return this.shape.length;
  }
  get size(): number {
    return numel(this.shape);
  }
  get isContiguous(): boolean {
    return isContiguous(this.shape, this.strides);
  }
  get disposed(): boolean {
    return this.released;
  }

  /** The whole underlying storage (element 0 is storage start, not this view's offset). Throws if disposed. */
  storage(op = "tensor"): Storage {
    if (this.released || this.box.data === null) throw new OpError(op, "tensor was disposed");
    return this.box.data;
  }

  /** Throws `[op] tensor was disposed` if this handle (or its storage) was disposed. */
  assertAlive(op: string): void {
    if (this.released || this.box.data === null) throw new OpError(op, "tensor was disposed");
  }

  /** True if no other live handle shares this storage (safe to modify in place without surprising anyone). */
  get ownsStorage(): boolean {
    return this.box.refs === 1;
  }

  /** Low level: every handle on this storage uses `data` from now on — memory the caller owns and the backend
   *  never frees (data-parallel ranks on one host keep their parameters in one shared-memory array,
   *  src/train/shared-host.ts); it must already hold the values. The old storage goes back to the backend. */
  moveToExternalStorage(data: Storage): void {
    this.assertAlive("moveToExternalStorage");
    const old = this.box.data!;
    if (data.length !== old.length || data.constructor !== old.constructor) {
      throw new OpError("moveToExternalStorage", `the new storage is a ${data.constructor.name} of ${data.length} elements; ` +
        `this tensor's is a ${old.constructor.name} of ${old.length}`);
    }
    if (!this.box.external) this.box.backend.release(old);
    this.box.data = data;
    this.box.external = true;
  }

  /** A new handle on the same storage with the given layout (a view). Low level: views.ts builds on it. */
  withLayout(shape: Shape, strides: Shape, offset: number, track = true): Tensor {
    this.assertAlive("view");
    this.box.refs++;
    if (!track) return untracked(() => new Tensor(this.box, this.dtype, shape, strides, offset));
    return new Tensor(this.box, this.dtype, shape, strides, offset);
  }

  /** Returns this handle's reference to the storage; the storage goes back to the backend pool when no
   *  handle is left. Disposing twice is harmless. Does not free the gradient (see disposeGrad). */
  dispose(): void {
    if (this.released) return;
    this.released = true;
    for (const s of scopes) s?.delete(this);
    const box = this.box;
    if (--box.refs === 0 && box.data !== null) {
      if (!box.external) box.backend.release(box.data);
      box.data = null;
    }
  }

  [Symbol.dispose](): void {
    this.dispose();
  }

  /** Disposes .grad and sets it to null. */
  zeroGrad(): void {
    this.grad?.dispose();
    this.grad = null;
  }

  /** Reverse-mode autograd from this tensor: adds d(this)/d(leaf) · grad into every leaf's .grad (grad defaults
   *  to ones, so a scalar loss needs none). The graph's saved buffers are freed afterwards. onLeafGrad runs for
   *  each leaf as soon as its gradient from this backward is complete (data-parallel gradient buckets). */
  backward(grad?: Tensor, onLeafGrad?: (leaf: Tensor) => void): void {
    runBackward(this, grad, onLeafGrad);
  }

  /** The single value of a one-element tensor. */
  item(): number {
    if (this.size !== 1) throw new OpError("item", `expected a tensor with one element, got shape ${fmtShape(this.shape)}`);
    return this.readAt(this.offset);
  }

  /** Contiguous copy of the values as f32 (bf16/f16 are widened, i32 converted). */
  toFloat32Array(): Float32Array {
    this.assertAlive("toFloat32Array");
    const out = new Float32Array(this.size);
    this.forEachOffset((off, i) => { out[i] = this.readAt(off); });
    return out;
  }

  /** Contiguous copy of the values as numbers (row-major flat array). */
  toArray(): number[] {
    this.assertAlive("toArray");
    const out: number[] = [];
    this.forEachOffset((off) => { out.push(this.readAt(off)); });
    return out;
  }

  /** Values as a contiguous typed array of this dtype (a copy). */
  toTypedArray(): Storage {
    this.assertAlive("toTypedArray");
    const src = this.storage();
    const out = this.dtype === "f32" ? new Float32Array(this.size) : this.dtype === "i32" ? new Int32Array(this.size) : new Uint16Array(this.size);
    this.forEachOffset((off, i) => { out[i] = src[off]; });
    return out;
  }

  toString(): string {
    return `Tensor(${this.dtype}, ${fmtShape(this.shape)}${this.requiresGrad ? ", requiresGrad" : ""}${this.released ? ", disposed" : ""})`;
  }

  private readAt(off: number): number {
    const x = this.storage("item")[off];
    return this.dtype === "bf16" ? bf16ToF32(x) : this.dtype === "f16" ? f16ToF32(x) : x;
  }

  private offsetOf(flat: number): number {
    let off = this.offset;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      const n = this.shape[d];
      off += (flat % n) * this.strides[d];
      flat = Math.floor(flat / n);
    }
    return off;
  }

  private forEachOffset(fn: (off: number, i: number) => void): void {
    const n = this.size;
    if (this.isContiguous) {
      for (let i = 0; i < n; i++) fn(this.offset + i, i);
      return;
    }
    for (let i = 0; i < n; i++) fn(this.offsetOf(i), i);
  }
}

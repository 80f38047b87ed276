// Argument validation for every Backend op, shared by the reference and the native cpu backend: sizes vs dims,
// storage types vs dtypes, ids in range. Each check throws BackendError("[op] ...") naming the argument, the
// dims it was checked against and what was expected. The cpu backend runs these before any native call, so
// native code never reads or writes out of bounds.
// Leaves out: the ops themselves (see the other files of ref/).

import {
  BackendError, type AttentionParams, type DType, type MatmulParams, type PackedType, type QuantType, type Storage, type WeightType,
} from "../backend.js";

import { PACKED_SOURCE, QUANT_BLOCK, isPacked } from "./quant.js";

type Sized = { readonly length: number };

/** Each named dim must be a non-negative safe integer. */
export function checkDims(op: string, dims: Record<string, number>): void {
  for (const [name, v] of Object.entries(dims)) {
    if (!Number.isSafeInteger(v) || v < 0) {
      throw new BackendError(op, `${name} must be a non-negative integer, got ${v}`);
    }
  }
}

/** arr must hold at least `need` elements; `how` says where the number comes from ("rows·cols = 3·5"). */
export function checkLength(op: string, name: string, arr: Sized, need: number, how: string): void {
  if (arr.length < need) {
    throw new BackendError(op, `${name} has ${arr.length} elements but needs at least ${need} (${how})`);
  }
}

function typeName(arr: unknown): string {
  return (arr as object | null)?.constructor?.name ?? String(arr);
}

export function checkF32(op: string, name: string, arr: unknown): asserts arr is Float32Array {
  if (!(arr instanceof Float32Array)) throw new BackendError(op, `${name} must be a Float32Array (f32), got ${typeName(arr)}`);
}

export function checkI32(op: string, name: string, arr: unknown): asserts arr is Int32Array {
  if (!(arr instanceof Int32Array)) throw new BackendError(op, `${name} must be an Int32Array (i32), got ${typeName(arr)}`);
}

/** The storage class for a dtype: f32 → Float32Array, bf16/f16 → Uint16Array, i32 → Int32Array. */
export function checkStorage(op: string, name: string, arr: unknown, dtype: DType): asserts arr is Storage {
  const ok =
    dtype === "f32" ? arr instanceof Float32Array
    : dtype === "i32" ? arr instanceof Int32Array
    : dtype === "bf16" || dtype === "f16" ? arr instanceof Uint16Array
    : false;
  if (!ok) {
    const want = dtype === "f32" ? "Float32Array" : dtype === "i32" ? "Int32Array" : "Uint16Array";
    throw new BackendError(op, `${name} must be a ${want} for dtype ${dtype}, got ${typeName(arr)}`);
  }
}

/** Optional arrays (weights, biases, gradients) are either null or at least `need` f32 elements. */
export function checkOptionalF32(op: string, name: string, arr: unknown, need: number, how: string): void {
  if (arr === null) return;
  checkF32(op, name, arr);
  checkLength(op, name, arr, need, how);
}

export function checkFinite(op: string, values: Record<string, number>): void {
  for (const [name, v] of Object.entries(values)) {
    if (typeof v !== "number" || Number.isNaN(v)) throw new BackendError(op, `${name} must be a number, got ${v}`);
  }
}

/** Element range [min, max] touched by offset + Σ i_d·strides_d over shape (empty shape → null). */
export function stridedExtent(offset: number, strides: readonly number[], shape: readonly number[]): [number, number] | null {
  let lo = offset, hi = offset;
  for (let d = 0; d < shape.length; d++) {
    if (shape[d] === 0) return null;
    const reach = (shape[d] - 1) * strides[d];
    if (reach > 0) hi += reach; else lo += reach;
  }
  return [lo, hi];
}

/** A strided view (offset, strides over shape) must stay inside arr. */
export function checkStrided(op: string, name: string, arr: Sized, offset: number, strides: readonly number[],
  shape: readonly number[]): void {
  if (strides.length !== shape.length) {
    throw new BackendError(op, `${name} strides [${strides.join(", ")}] must have one entry per dim of shape [${shape.join(", ")}]`);
  }
  for (const s of strides) {
    if (!Number.isSafeInteger(s)) throw new BackendError(op, `${name} strides [${strides.join(", ")}] must be integers`);
  }
  if (!Number.isSafeInteger(offset) || offset < 0) throw new BackendError(op, `${name} offset must be a non-negative integer, got ${offset}`);
  const ext = stridedExtent(offset, strides, shape);
  if (ext && (ext[0] < 0 || ext[1] >= arr.length)) {
    throw new BackendError(op,
      `${name} view (offset ${offset}, strides [${strides.join(", ")}], shape [${shape.join(", ")}]) touches elements ` +
      `${ext[0]}..${ext[1]} but the storage has ${arr.length}`);
  }
}

export function checkShape(op: string, shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) {
    if (!Number.isSafeInteger(d) || d < 0) throw new BackendError(op, `shape [${shape.join(", ")}] must hold non-negative integers`);
    n *= d;
  }
  return n;
}

/** ids[0..n) must lie in [0, vocab), except `allowed` (an ignore index). */
export function checkIds(op: string, name: string, ids: Int32Array, n: number, vocab: number, allowed?: number): void {
  for (let i = 0; i < n; i++) {
    const id = ids[i];
    if ((id < 0 || id >= vocab) && id !== allowed) {
      const extra = allowed === undefined ? "" : ` or the ignore index ${allowed}`;
      throw new BackendError(op, `${name}[${i}] = ${id} is outside [0, ${vocab})${extra}`);
    }
  }
}

// ---- per-op checks (the Backend methods call these first) ----

export function checkRows(op: string, rows: number, cols: number, arrays: Record<string, unknown>): void {
  checkDims(op, { rows, cols });
  for (const [name, arr] of Object.entries(arrays)) {
    checkF32(op, name, arr);
    checkLength(op, name, arr, rows * cols, `rows·cols = ${rows}·${cols}`);
  }
}

export function checkElementwise(op: string, n: number, arrays: Record<string, unknown>): void {
  checkDims(op, { n });
  for (const [name, arr] of Object.entries(arrays)) {
    checkF32(op, name, arr);
    checkLength(op, name, arr, n, `n = ${n}`);
  }
}

export function checkMatmul(a: Storage, b: Storage, c: Float32Array, p: MatmulParams, dtype: "f32" | "bf16"): void {
  const op = "matmul";
  if (dtype !== "f32" && dtype !== "bf16") throw new BackendError(op, `dtype must be "f32" or "bf16", got ${String(dtype)}`);
  checkDims(op, { batch: p.batch, m: p.m, n: p.n, k: p.k, strideA: p.strideA, strideB: p.strideB, strideC: p.strideC });
  checkStorage(op, "a", a, dtype);
  checkStorage(op, "b", b, dtype);
  checkF32(op, "c", c);
  checkFinite(op, { alpha: p.alpha, beta: p.beta });
  if (p.batch === 0 || p.m === 0 || p.n === 0) return;
  const dims = `batch ${p.batch}, m ${p.m}, n ${p.n}, k ${p.k}`;
  if (p.k > 0) {
    checkLength(op, "a", a, (p.batch - 1) * p.strideA + p.m * p.k, `${dims}, strideA ${p.strideA}`);
    checkLength(op, "b", b, (p.batch - 1) * p.strideB + p.k * p.n, `${dims}, strideB ${p.strideB}`);
  }
  checkLength(op, "c", c, (p.batch - 1) * p.strideC + p.m * p.n, `${dims}, strideC ${p.strideC}`);
  if (p.batch > 1 && p.strideC < p.m * p.n) {
    throw new BackendError(op, `strideC ${p.strideC} would overlap batch outputs (needs ≥ m·n = ${p.m * p.n})`);
  }
}

export function kvCapacity(p: AttentionParams): number {
  return p.kvCapacity ?? p.tk;
}

export function checkAttention(op: string, p: AttentionParams, arrays: {
  q: unknown; k: unknown; v: unknown; out: unknown; lse: unknown; dOut?: unknown; dq?: unknown; dk?: unknown; dv?: unknown;
}): void {
  checkDims(op, { b: p.b, tq: p.tq, tk: p.tk, nHead: p.nHead, nKvHead: p.nKvHead, headDim: p.headDim });
  const cap = kvCapacity(p);
  checkDims(op, { kvCapacity: cap });
  if (cap < p.tk) throw new BackendError(op, `kvCapacity ${cap} must be ≥ tk ${p.tk}`);
  if (p.nKvHead === 0 || p.nHead % p.nKvHead !== 0) {
    throw new BackendError(op, `nHead ${p.nHead} must be a multiple of nKvHead ${p.nKvHead} (grouped-query attention)`);
  }
  if (p.causal && p.tk < p.tq) {
    throw new BackendError(op, `causal attention needs tk ≥ tq (keys include this call's queries), got tq ${p.tq}, tk ${p.tk}`);
  }
  checkFinite(op, { scale: p.scale });
  const qLen = p.b * p.tq * p.nHead * p.headDim;
  const kvLen = p.b * cap * p.nKvHead * p.headDim;
  const qHow = `b·tq·nHead·headDim = ${p.b}·${p.tq}·${p.nHead}·${p.headDim}`;
  const kvHow = `b·kvCapacity·nKvHead·headDim = ${p.b}·${cap}·${p.nKvHead}·${p.headDim}`;
  const lseHow = `b·nHead·tq = ${p.b}·${p.nHead}·${p.tq}`;
  for (const [name, arr, need, how] of [
    ["q", arrays.q, qLen, qHow], ["k", arrays.k, kvLen, kvHow], ["v", arrays.v, kvLen, kvHow],
    ["out", arrays.out, qLen, qHow], ["lse", arrays.lse, p.b * p.nHead * p.tq, lseHow],
    ["dOut", arrays.dOut, qLen, qHow], ["dq", arrays.dq, qLen, qHow], ["dk", arrays.dk, kvLen, kvHow],
    ["dv", arrays.dv, kvLen, kvHow],
  ] as const) {
    if (arr === undefined) continue;
    checkF32(op, name, arr);
    checkLength(op, name, arr, need, how);
  }
}

export const QUANT_TYPES: readonly QuantType[] = ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"];
export const PACKED_TYPES = Object.keys(PACKED_SOURCE) as readonly PackedType[];
export const WEIGHT_TYPES: readonly WeightType[] = ["f32", "f16", "bf16", ...QUANT_TYPES, ...PACKED_TYPES];

/** Elements per block and bytes per block of each weight type (ggml layouts). */
export const BLOCK_LAYOUT: Record<WeightType, { elements: number; bytes: number }> = {
  ...QUANT_BLOCK,
  // A repacked matrix takes exactly the bytes of the rows it holds.
  q8_0_r16: QUANT_BLOCK.q8_0, q4_0_r16: QUANT_BLOCK.q4_0, q4_k_r16: QUANT_BLOCK.q4_k, q6_k_r16: QUANT_BLOCK.q6_k,
};

/** Bytes of n elements of `type`; throws unless n is a whole number of blocks. */
export function weightBytes(op: string, type: WeightType, n: number, what: string): number {
  const layout = BLOCK_LAYOUT[type];
  if (!layout) throw new BackendError(op, `unknown weight type "${String(type)}" (known: ${WEIGHT_TYPES.join(", ")})`);
  if (n % layout.elements !== 0) {
    throw new BackendError(op, `${what} = ${n} must be a multiple of the ${type} block size ${layout.elements}`);
  }
  return (n / layout.elements) * layout.bytes;
}

export function checkQuantMatmul(w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array,
  out: Float32Array, m: number): void {
  const op = "quantMatmul";
  checkDims(op, { rows, cols, m });
  if (!(w instanceof Uint8Array)) throw new BackendError(op, `w must be a Uint8Array of raw ${type} blocks, got ${typeName(w)}`);
  const bytes = weightBytes(op, type, cols, "cols") * rows;
  checkLength(op, "w", w, bytes, `${rows} rows × ${cols} cols of ${type}`);
  if (isPacked(type) && rows % 16 !== 0) {
    throw new BackendError(op, `a ${type} matrix has a multiple of 16 rows, got ${rows} (repack only such matrices)`);
  }
  checkF32(op, "x", x);
  checkLength(op, "x", x, m * cols, `m·cols = ${m}·${cols}`);
  checkF32(op, "out", out);
  checkLength(op, "out", out, m * rows, `m·rows = ${m}·${rows}`);
}

export function checkDequantize(w: Uint8Array, type: QuantType, out: Float32Array, n: number): void {
  const op = "dequantize";
  checkDims(op, { n });
  if (!(w instanceof Uint8Array)) throw new BackendError(op, `w must be a Uint8Array of raw ${type} blocks, got ${typeName(w)}`);
  checkLength(op, "w", w, weightBytes(op, type, n, "n"), `${n} elements of ${type}`);
  checkF32(op, "out", out);
  checkLength(op, "out", out, n, `n = ${n}`);
}

// Argument validation for every Backend op, in one place for both backends: OP_CHECKS (at the end) holds one
// check per op, taking exactly that op's arguments; the reference and the native cpu backend call it first in
// every op, so the two accept and reject exactly the same calls with the same messages, and native code never
// reads or writes out of bounds. Each check throws BackendError("[op] ...") naming the argument, the dims it was
// checked against and what was expected.
// Leaves out: the ops themselves (ref/, cpu/), the fused ops' specs (validated where they run: native/decode_napi.cc).

import {
  BackendError, type AdamWParams, type AttentionParams, type Backend, type BinaryOp, type DType, type MatmulParams,
  type OpName, type PackedType, type QuantType, READ_VARIANTS, type Storage, type UnaryOp, type WeightType,
} from "./backend.js";
import { QUANT_BLOCK } from "./ref/quant-blocks.js";
import { isPacked, PACKED_SOURCE } from "./ref/quant-r16.js";

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
  if (p.kvType !== undefined && p.kvType !== "f32" && p.kvType !== "f16" && p.kvType !== "q8_0") {
    throw new BackendError(op, `kvType ${JSON.stringify(p.kvType)}: expected "f32", "f16" or "q8_0"`);
  }
  if (p.kvType === "q8_0" && p.headDim % 32 !== 0) {
    throw new BackendError(op, `kvType "q8_0" needs headDim a multiple of 32 (blocks of 32 values per row), got ${p.headDim}; use an f16 or f32 cache`);
  }
  for (const [name, arr, need, how] of [
    ["q", arrays.q, qLen, qHow], ["k", arrays.k, kvLen, kvHow], ["v", arrays.v, kvLen, kvHow],
    ["out", arrays.out, qLen, qHow], ["lse", arrays.lse, p.b * p.nHead * p.tq, lseHow],
    ["dOut", arrays.dOut, qLen, qHow], ["dq", arrays.dq, qLen, qHow], ["dk", arrays.dk, kvLen, kvHow],
    ["dv", arrays.dv, kvLen, kvHow],
  ] as const) {
    if (arr === undefined) continue;
    if ((name === "k" || name === "v") && (p.kvType === "f16" || p.kvType === "q8_0")) {
      if (op !== "attention") throw new BackendError(op, `kvType "${p.kvType}" is for the forward only (an inference cache); pass f32 k/v`);
      if (p.kvType === "q8_0") { // blocks of 32 values: an f16 scale and 32 int8 (34 bytes), as ggml's block_q8_0
        if (!(arr instanceof Uint8Array)) throw new BackendError(op, `${name} must be a Uint8Array of q8_0 blocks for kvType q8_0, got ${typeName(arr)}`);
        checkLength(op, name, arr, (need / 32) * 34, `${how} values in q8_0 blocks of 34 bytes per 32`);
        continue;
      }
      checkStorage(op, name, arr, "f16");
    } else {
      checkF32(op, name, arr);
    }
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

export function checkQuantize(x: Float32Array, type: "q8_0", out: Uint8Array, n: number): void {
  const op = "quantize";
  checkDims(op, { n });
  if (type !== "q8_0") throw new BackendError(op, `type ${JSON.stringify(type)}: only "q8_0" is supported`);
  checkF32(op, "x", x);
  checkLength(op, "x", x, n, `n = ${n}`);
  if (!(out instanceof Uint8Array)) throw new BackendError(op, `out must be a Uint8Array for q8_0 blocks, got ${typeName(out)}`);
  checkLength(op, "out", out, weightBytes(op, type, n, "n"), `${n} elements of ${type}`);
}

// ---- per-op checks with more than a length check ----

export const DTYPES: readonly DType[] = ["f32", "bf16", "f16", "i32"];

/** The unary and binary op names (key order is the order error messages list them in). */
const UNARY_OPS: Record<UnaryOp, true> = {
  neg: true, exp: true, log: true, sqrt: true, rsqrt: true, recip: true, abs: true, tanh: true, sigmoid: true, relu: true,
  gelu_tanh: true, gelu_erf: true, silu: true, square: true,
};
const BINARY_OPS: Record<BinaryOp, true> = { add: true, sub: true, mul: true, div: true, max: true, min: true, pow: true };

function checkUnaryOp(op: string, u: UnaryOp): void {
  if (!(u in UNARY_OPS)) throw new BackendError(op, `unknown unary op "${String(u)}" (known: ${Object.keys(UNARY_OPS).join(", ")})`);
}

function checkBinaryOp(b: BinaryOp): void {
  if (!(b in BINARY_OPS)) throw new BackendError("binary", `unknown binary op "${String(b)}" (known: ${Object.keys(BINARY_OPS).join(", ")})`);
}

function checkAddStrided(src: Storage, srcOffset: number, srcStrides: readonly number[], dst: Storage,
  dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void {
  const op = "addStrided";
  checkShape(op, shape);
  if (!(src instanceof Float32Array) || !(dst instanceof Float32Array)) {
    throw new BackendError(op, `src (${src.constructor.name}) and dst (${dst.constructor.name}) must both be Float32Array (f32)`);
  }
  checkStrided(op, "src", src, srcOffset, srcStrides, shape);
  checkStrided(op, "dst", dst, dstOffset, dstStrides, shape);
}

function checkCopyStrided(src: Storage, srcOffset: number, srcStrides: readonly number[], dst: Storage,
  dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void {
  const op = "copyStrided";
  checkShape(op, shape);
  if (src.constructor !== dst.constructor) {
    throw new BackendError(op, `src (${src.constructor.name}) and dst (${dst.constructor.name}) must have the same storage type; use cast to convert`);
  }
  checkStrided(op, "src", src, srcOffset, srcStrides, shape);
  checkStrided(op, "dst", dst, dstOffset, dstStrides, shape);
}

function checkCast(src: Storage, srcType: DType, dst: Storage, dstType: DType, n: number): void {
  for (const t of [srcType, dstType]) {
    if (!DTYPES.includes(t)) throw new BackendError("cast", `unknown dtype ${String(t)} (expected ${DTYPES.join(", ")})`);
  }
  checkDims("cast", { n });
  checkStorage("cast", "src", src, srcType);
  checkStorage("cast", "dst", dst, dstType);
  checkLength("cast", "src", src, n, `n = ${n}`);
  checkLength("cast", "dst", dst, n, `n = ${n}`);
}

function checkFill(dst: Storage, value: number, n: number): void {
  checkDims("fill", { n });
  checkLength("fill", "dst", dst, n, `n = ${n}`);
  if (dst instanceof Uint16Array && !(Number.isInteger(value) && value >= 0 && value <= 0xffff)) {
    throw new BackendError("fill", `dst is 16-bit storage: value must be raw bits in [0, 65535] (convert with f32ToBf16/f32ToF16), got ${value}`);
  }
  if (dst instanceof Int32Array && !Number.isInteger(value)) throw new BackendError("fill", `dst is i32: value must be an integer, got ${value}`);
}

function checkBinary(a: Float32Array, aStrides: readonly number[], b: Float32Array, bStrides: readonly number[],
  out: Float32Array, shape: readonly number[]): void {
  const total = checkShape("binary", shape);
  checkF32("binary", "a", a);
  checkF32("binary", "b", b);
  checkF32("binary", "out", out);
  checkStrided("binary", "a", a, 0, aStrides, shape);
  checkStrided("binary", "b", b, 0, bStrides, shape);
  checkLength("binary", "out", out, total, `shape [${shape.join(", ")}]`);
}

function checkReduce(op: string, x: Float32Array, out: Float32Array, outer: number, size: number, inner: number): void {
  checkDims(op, { outer, size, inner });
  checkF32(op, "x", x);
  checkF32(op, "out", out);
  checkLength(op, "x", x, outer * size * inner, `outer·size·inner = ${outer}·${size}·${inner}`);
  checkLength(op, "out", out, outer * inner, `outer·inner = ${outer}·${inner}`);
}

function checkLayerNorm(op: string, rows: number, cols: number, arrays: Record<string, unknown>,
  perCol: Record<string, unknown>, perRow: Record<string, unknown>): void {
  checkRows(op, rows, cols, arrays);
  for (const [name, arr] of Object.entries(perCol)) checkOptionalF32(op, name, arr, cols, `cols = ${cols}`);
  for (const [name, arr] of Object.entries(perRow)) {
    checkF32(op, name, arr);
    checkLength(op, name, arr, rows, `rows = ${rows}`);
  }
}

function checkRope(x: Float32Array, b: number, t: number, heads: number, headDim: number, rotDim: number,
  pos0: number, freqs: Float32Array, layout: "neox" | "interleaved"): void {
  const op = "rope";
  checkDims(op, { b, t, heads, headDim, rotDim, pos0 });
  if (rotDim % 2 !== 0 || rotDim > headDim) {
    throw new BackendError(op, `rotDim ${rotDim} must be even and ≤ headDim ${headDim}`);
  }
  if (layout !== "neox" && layout !== "interleaved") throw new BackendError(op, `layout must be "neox" or "interleaved", got ${String(layout)}`);
  checkF32(op, "x", x);
  checkLength(op, "x", x, b * t * heads * headDim, `b·t·heads·headDim = ${b}·${t}·${heads}·${headDim}`);
  checkF32(op, "freqs", freqs);
  checkLength(op, "freqs", freqs, rotDim / 2, `rotDim/2 = ${rotDim / 2}`);
}

function checkEmbedding(table: Float32Array, ids: Int32Array, out: Float32Array, n: number, dim: number,
  vocab: number): void {
  const op = "embedding";
  checkDims(op, { n, dim, vocab });
  checkF32(op, "table", table);
  checkLength(op, "table", table, vocab * dim, `vocab·dim = ${vocab}·${dim}`);
  checkI32(op, "ids", ids);
  checkLength(op, "ids", ids, n, `n = ${n}`);
  checkF32(op, "out", out);
  checkLength(op, "out", out, n * dim, `n·dim = ${n}·${dim}`);
  checkIds(op, "ids", ids, n, vocab);
}

function checkEmbeddingBackward(ids: Int32Array, dOut: Float32Array, dTable: Float32Array, n: number, dim: number): void {
  const op = "embeddingBackward";
  checkDims(op, { n, dim });
  checkI32(op, "ids", ids);
  checkLength(op, "ids", ids, n, `n = ${n}`);
  checkF32(op, "dOut", dOut);
  checkLength(op, "dOut", dOut, n * dim, `n·dim = ${n}·${dim}`);
  checkF32(op, "dTable", dTable);
  const vocab = dim === 0 ? 0 : Math.floor(dTable.length / dim);
  if (dim > 0) checkIds(op, "ids", ids, n, vocab);
}

function checkCrossEntropy(op: string, logits: Float32Array, targets: Int32Array, rows: number, cols: number,
  ignoreIndex: number, perRow: Record<string, unknown>): void {
  checkRows(op, rows, cols, { logits });
  checkI32(op, "targets", targets);
  checkLength(op, "targets", targets, rows, `rows = ${rows}`);
  if (!Number.isInteger(ignoreIndex)) throw new BackendError(op, `ignoreIndex must be an integer, got ${ignoreIndex}`);
  for (const [name, arr] of Object.entries(perRow)) {
    checkF32(op, name, arr);
    checkLength(op, name, arr, rows, `rows = ${rows}`);
  }
  checkIds(op, "targets", targets, rows, cols, ignoreIndex);
}

function checkAdamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number,
  p: AdamWParams): void {
  checkElementwise("adamw", n, { param, grad, m, v });
  checkFinite("adamw", { lr: p.lr, beta1: p.beta1, beta2: p.beta2, eps: p.eps, weightDecay: p.weightDecay });
  if (!Number.isInteger(p.step) || p.step < 1) throw new BackendError("adamw", `step must be an integer ≥ 1 (1-based), got ${p.step}`);
}

// ---- the one check per op ----

/** The ops that take arguments to check (every OpName, plus the optional matmulRoundBf16 and readChecksum). */
type CheckedOp = OpName | "matmulRoundBf16" | "readChecksum";
type OpArgs<K extends CheckedOp> = Parameters<NonNullable<Backend[K]>>;

/** OP_CHECKS.op(...the op's own arguments) throws unless they are valid; both backends call it first. */
export const OP_CHECKS: { readonly [K in CheckedOp]: (...args: OpArgs<K>) => void } = {
  copyStrided: (src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape) => checkCopyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape),
  addStrided: (src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape) => checkAddStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape),
  cast: (src, srcType, dst, dstType, n) => checkCast(src, srcType, dst, dstType, n),
  fill: (dst, value, n) => checkFill(dst, value, n),
  unary: (op, x, out, n) => {
    checkUnaryOp("unary", op);
    checkElementwise("unary", n, { x, out });
  },
  unaryBackward: (op, x, dy, dx, n) => {
    checkUnaryOp("unaryBackward", op);
    checkElementwise("unaryBackward", n, { x, dy, dx });
  },
  binary: (op, a, aStrides, b, bStrides, out, shape) => {
    checkBinaryOp(op);
    checkBinary(a, aStrides, b, bStrides, out, shape);
  },
  scale: (x, out, n) => checkElementwise("scale", n, { x, out }),
  axpy: (_alpha, x, y, n) => checkElementwise("axpy", n, { x, y }),
  reduceSum: (x, out, outer, size, inner) => checkReduce("reduceSum", x, out, outer, size, inner),
  reduceMax: (x, out, outer, size, inner) => checkReduce("reduceMax", x, out, outer, size, inner),
  matmul: (a, b, c, p, dtype) => checkMatmul(a, b, c, p, dtype),
  matmulRoundBf16: (a, b, c, p) => checkMatmul(a, b, c, p, "f32"),
  readChecksum: (x, variant) => {
    if (!(x instanceof Int32Array)) throw new BackendError("readChecksum", "x must be an Int32Array");
    if (!(READ_VARIANTS as readonly string[]).includes(variant)) {
      throw new BackendError("readChecksum", `variant must be one of ${READ_VARIANTS.join(", ")}, got ${String(variant)}`);
    }
  },
  softmax: (x, out, rows, cols) => checkRows("softmax", rows, cols, { x, out }),
  softmaxBackward: (y, dy, dx, rows, cols) => checkRows("softmaxBackward", rows, cols, { y, dy, dx }),
  logSoftmax: (x, out, rows, cols) => checkRows("logSoftmax", rows, cols, { x, out }),
  logSoftmaxBackward: (y, dy, dx, rows, cols) => checkRows("logSoftmaxBackward", rows, cols, { y, dy, dx }),
  layerNorm: (x, w, b, out, mean, rstd, rows, cols) => checkLayerNorm("layerNorm", rows, cols, { x, out }, { w, b }, { mean, rstd }),
  layerNormBackward: (x, w, mean, rstd, dy, dx, dw, db, rows, cols) => checkLayerNorm("layerNormBackward", rows, cols, { x, dy, dx }, { w, dw, db }, { mean, rstd }),
  rmsNorm: (x, w, out, rstd, rows, cols) => checkLayerNorm("rmsNorm", rows, cols, { x, out }, { w }, { rstd }),
  rmsNormBackward: (x, w, rstd, dy, dx, dw, rows, cols) => checkLayerNorm("rmsNormBackward", rows, cols, { x, dy, dx }, { w, dw }, { rstd }),
  rope: (x, b, t, heads, headDim, rotDim, pos0, freqs, layout) => checkRope(x, b, t, heads, headDim, rotDim, pos0, freqs, layout),
  embedding: (table, ids, out, n, dim, vocab) => checkEmbedding(table, ids, out, n, dim, vocab),
  embeddingBackward: (ids, dOut, dTable, n, dim) => checkEmbeddingBackward(ids, dOut, dTable, n, dim),
  attention: (q, k, v, out, lse, p) => checkAttention("attention", p, { q, k, v, out, lse }),
  attentionBackward: (q, k, v, out, lse, dOut, dq, dk, dv, p) => checkAttention("attentionBackward", p, { q, k, v, out, lse, dOut, dq, dk, dv }),
  crossEntropy: (logits, targets, losses, rows, cols, ignoreIndex) => checkCrossEntropy("crossEntropy", logits, targets, rows, cols, ignoreIndex, { losses }),
  crossEntropyBackward: (logits, targets, dLoss, dLogits, rows, cols, ignoreIndex) => {
    checkCrossEntropy("crossEntropyBackward", logits, targets, rows, cols, ignoreIndex, { dLoss });
    checkRows("crossEntropyBackward", rows, cols, { dLogits });
  },
  swiglu: (gate, up, out, n) => checkElementwise("swiglu", n, { gate, up, out }),
  swigluBackward: (gate, up, dOut, dGate, dUp, n) => checkElementwise("swigluBackward", n, { gate, up, dOut, dGate, dUp }),
  adamw: (param, grad, m, v, n, p) => checkAdamw(param, grad, m, v, n, p),
  quantMatmul: (w, type, rows, cols, x, out, m) => checkQuantMatmul(w, type, rows, cols, x, out, m),
  dequantize: (w, type, out, n) => checkDequantize(w, type, out, n),
  quantize: (x, type, out, n) => checkQuantize(x, type, out, n),
};

// The reference backend: every Backend op in plain TypeScript (the files beside this one), validated by
// checks.ts. It is the specification the native cpu backend is tested against — slow and obviously right.
// Quantized ops delegate to ref/quant.ts (owned by the quant/io side) once it exists.
// Leaves out: threads (setThreads is accepted and ignored), speed.

import {
  BackendError, type AdamWParams, type AttentionParams, type Backend, type BackendInfo, type BinaryOp, type DType,
  type MatmulParams, type OpName, type QuantType, type Storage, type UnaryOp, type WeightType,
} from "../backend.js";
import { BufferPool } from "../pool.js";
import * as C from "./checks.js";
import { attention, attentionBackward } from "./attention.js";
import { embedding, embeddingBackward } from "./embedding.js";
import { axpy, binary, BINARY, scale, swiglu, swigluBackward, UNARY, unary, unaryBackward } from "./elementwise.js";
import { cast, copyStrided, fill } from "./layout.js";
import { crossEntropy, crossEntropyBackward } from "./loss.js";
import { matmul } from "./matmul.js";
import { layerNorm, layerNormBackward, rmsNorm, rmsNormBackward } from "./norm.js";
import { adamw } from "./optim.js";
import { reduceMax, reduceSum } from "./reduce.js";
import { rope } from "./rope.js";
import { logSoftmax, logSoftmaxBackward, softmax, softmaxBackward } from "./softmax.js";
import { refDequantize, refQuantMatmul } from "./quant.js";

const DTYPES: readonly DType[] = ["f32", "bf16", "f16", "i32"];

export function checkUnaryOp(op: string, u: UnaryOp): void {
  if (!(u in UNARY)) throw new BackendError(op, `unknown unary op "${String(u)}" (known: ${Object.keys(UNARY).join(", ")})`);
}

export function checkBinaryOp(b: BinaryOp): void {
  if (!(b in BINARY)) throw new BackendError("binary", `unknown binary op "${String(b)}" (known: ${Object.keys(BINARY).join(", ")})`);
}

// ---- the checks shared with the cpu backend, one per op with more than a length check ----

export function checkCopyStrided(src: Storage, srcOffset: number, srcStrides: readonly number[], dst: Storage,
  dstOffset: number, dstStrides: readonly number[], shape: readonly number[]): void {
  const op = "copyStrided";
  C.checkShape(op, shape);
  if (src.constructor !== dst.constructor) {
    throw new BackendError(op, `src (${src.constructor.name}) and dst (${dst.constructor.name}) must have the same storage type; use cast to convert`);
  }
  C.checkStrided(op, "src", src, srcOffset, srcStrides, shape);
  C.checkStrided(op, "dst", dst, dstOffset, dstStrides, shape);
}

export function checkCast(src: Storage, srcType: DType, dst: Storage, dstType: DType, n: number): void {
  for (const t of [srcType, dstType]) {
    if (!DTYPES.includes(t)) throw new BackendError("cast", `unknown dtype ${String(t)} (expected ${DTYPES.join(", ")})`);
  }
  C.checkDims("cast", { n });
  C.checkStorage("cast", "src", src, srcType);
  C.checkStorage("cast", "dst", dst, dstType);
  C.checkLength("cast", "src", src, n, `n = ${n}`);
  C.checkLength("cast", "dst", dst, n, `n = ${n}`);
}

export function checkFill(dst: Storage, value: number, n: number): void {
  C.checkDims("fill", { n });
  C.checkLength("fill", "dst", dst, n, `n = ${n}`);
  if (dst instanceof Uint16Array && !(Number.isInteger(value) && value >= 0 && value <= 0xffff)) {
    throw new BackendError("fill", `dst is 16-bit storage: value must be raw bits in [0, 65535] (convert with f32ToBf16/f32ToF16), got ${value}`);
  }
  if (dst instanceof Int32Array && !Number.isInteger(value)) throw new BackendError("fill", `dst is i32: value must be an integer, got ${value}`);
}

export function checkBinary(a: Float32Array, aStrides: readonly number[], b: Float32Array, bStrides: readonly number[],
  out: Float32Array, shape: readonly number[]): void {
  const total = C.checkShape("binary", shape);
  C.checkF32("binary", "a", a);
  C.checkF32("binary", "b", b);
  C.checkF32("binary", "out", out);
  C.checkStrided("binary", "a", a, 0, aStrides, shape);
  C.checkStrided("binary", "b", b, 0, bStrides, shape);
  C.checkLength("binary", "out", out, total, `shape [${shape.join(", ")}]`);
}

export function checkReduce(op: string, x: Float32Array, out: Float32Array, outer: number, size: number, inner: number): void {
  C.checkDims(op, { outer, size, inner });
  C.checkF32(op, "x", x);
  C.checkF32(op, "out", out);
  C.checkLength(op, "x", x, outer * size * inner, `outer·size·inner = ${outer}·${size}·${inner}`);
  C.checkLength(op, "out", out, outer * inner, `outer·inner = ${outer}·${inner}`);
}

export function checkLayerNorm(op: string, rows: number, cols: number, arrays: Record<string, unknown>,
  perCol: Record<string, unknown>, perRow: Record<string, unknown>): void {
  C.checkRows(op, rows, cols, arrays);
  for (const [name, arr] of Object.entries(perCol)) C.checkOptionalF32(op, name, arr, cols, `cols = ${cols}`);
  for (const [name, arr] of Object.entries(perRow)) {
    C.checkF32(op, name, arr);
    C.checkLength(op, name, arr, rows, `rows = ${rows}`);
  }
}

export function checkRope(x: Float32Array, b: number, t: number, heads: number, headDim: number, rotDim: number,
  pos0: number, freqs: Float32Array, layout: "neox" | "interleaved"): void {
  const op = "rope";
  C.checkDims(op, { b, t, heads, headDim, rotDim, pos0 });
  if (rotDim % 2 !== 0 || rotDim > headDim) {
    throw new BackendError(op, `rotDim ${rotDim} must be even and ≤ headDim ${headDim}`);
  }
  if (layout !== "neox" && layout !== "interleaved") throw new BackendError(op, `layout must be "neox" or "interleaved", got ${String(layout)}`);
  C.checkF32(op, "x", x);
  C.checkLength(op, "x", x, b * t * heads * headDim, `b·t·heads·headDim = ${b}·${t}·${heads}·${headDim}`);
  C.checkF32(op, "freqs", freqs);
  C.checkLength(op, "freqs", freqs, rotDim / 2, `rotDim/2 = ${rotDim / 2}`);
}

export function checkEmbedding(table: Float32Array, ids: Int32Array, out: Float32Array, n: number, dim: number,
  vocab: number): void {
  const op = "embedding";
  C.checkDims(op, { n, dim, vocab });
  C.checkF32(op, "table", table);
  C.checkLength(op, "table", table, vocab * dim, `vocab·dim = ${vocab}·${dim}`);
  C.checkI32(op, "ids", ids);
  C.checkLength(op, "ids", ids, n, `n = ${n}`);
  C.checkF32(op, "out", out);
  C.checkLength(op, "out", out, n * dim, `n·dim = ${n}·${dim}`);
  C.checkIds(op, "ids", ids, n, vocab);
}

export function checkEmbeddingBackward(ids: Int32Array, dOut: Float32Array, dTable: Float32Array, n: number, dim: number): void {
  const op = "embeddingBackward";
  C.checkDims(op, { n, dim });
  C.checkI32(op, "ids", ids);
  C.checkLength(op, "ids", ids, n, `n = ${n}`);
  C.checkF32(op, "dOut", dOut);
  C.checkLength(op, "dOut", dOut, n * dim, `n·dim = ${n}·${dim}`);
  C.checkF32(op, "dTable", dTable);
  const vocab = dim === 0 ? 0 : Math.floor(dTable.length / dim);
  if (dim > 0) C.checkIds(op, "ids", ids, n, vocab);
}

export function checkCrossEntropy(op: string, logits: Float32Array, targets: Int32Array, rows: number, cols: number,
  ignoreIndex: number, perRow: Record<string, unknown>): void {
  C.checkRows(op, rows, cols, { logits });
  C.checkI32(op, "targets", targets);
  C.checkLength(op, "targets", targets, rows, `rows = ${rows}`);
  if (!Number.isInteger(ignoreIndex)) throw new BackendError(op, `ignoreIndex must be an integer, got ${ignoreIndex}`);
  for (const [name, arr] of Object.entries(perRow)) {
    C.checkF32(op, name, arr);
    C.checkLength(op, name, arr, rows, `rows = ${rows}`);
  }
  C.checkIds(op, "targets", targets, rows, cols, ignoreIndex);
}

export function checkAdamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number,
  p: AdamWParams): void {
  C.checkElementwise("adamw", n, { param, grad, m, v });
  C.checkFinite("adamw", { lr: p.lr, beta1: p.beta1, beta2: p.beta2, eps: p.eps, weightDecay: p.weightDecay });
  if (!Number.isInteger(p.step) || p.step < 1) throw new BackendError("adamw", `step must be an integer ≥ 1 (1-based), got ${p.step}`);
}

export class RefBackend implements Backend {
  constructor(private readonly pool: BufferPool = new BufferPool(2 ** 31, true)) {}

  info(): BackendInfo {
    return { name: "ref", isa: "typescript", threads: 1 };
  }

  supports(op: OpName, dtype?: DType | WeightType): boolean {
    if (op === "quantMatmul" || op === "dequantize") {
      return dtype === undefined || (C.WEIGHT_TYPES as readonly string[]).includes(dtype);
    }
    if (op === "matmul") return dtype === undefined || dtype === "f32" || dtype === "bf16";
    if (op === "copyStrided" || op === "cast" || op === "fill") return dtype === undefined || DTYPES.includes(dtype as DType);
    return dtype === undefined || dtype === "f32";
  }

  setThreads(_n: number): void {}

  alloc(dtype: DType, n: number, zeroFill = true): Storage {
    return this.pool.alloc(dtype, n, zeroFill);
  }

  release(storage: Storage): void {
    this.pool.release(storage);
  }

  copyStrided(src: Storage, srcOffset: number, srcStrides: readonly number[], dst: Storage, dstOffset: number,
    dstStrides: readonly number[], shape: readonly number[]): void {
    checkCopyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
    copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
  }

  cast(src: Storage, srcType: DType, dst: Storage, dstType: DType, n: number): void {
    checkCast(src, srcType, dst, dstType, n);
    cast(src, srcType, dst, dstType, n);
  }

  fill(dst: Storage, value: number, n: number): void {
    checkFill(dst, value, n);
    fill(dst, value, n);
  }

  unary(op: UnaryOp, x: Float32Array, out: Float32Array, n: number): void {
    checkUnaryOp("unary", op);
    C.checkElementwise("unary", n, { x, out });
    unary(op, x, out, n);
  }

  unaryBackward(op: UnaryOp, x: Float32Array, dy: Float32Array, dx: Float32Array, n: number, accumulate: boolean): void {
    checkUnaryOp("unaryBackward", op);
    C.checkElementwise("unaryBackward", n, { x, dy, dx });
    unaryBackward(op, x, dy, dx, n, accumulate);
  }

  binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array, bStrides: readonly number[],
    out: Float32Array, shape: readonly number[]): void {
    checkBinaryOp(op);
    checkBinary(a, aStrides, b, bStrides, out, shape);
    binary(op, a, aStrides, b, bStrides, out, shape);
  }

  scale(x: Float32Array, out: Float32Array, n: number, alpha: number, beta: number): void {
    C.checkElementwise("scale", n, { x, out });
    scale(x, out, n, alpha, beta);
  }

  axpy(alpha: number, x: Float32Array, y: Float32Array, n: number): void {
    C.checkElementwise("axpy", n, { x, y });
    axpy(alpha, x, y, n);
  }

  reduceSum(x: Float32Array, out: Float32Array, outer: number, size: number, inner: number, accumulate: boolean): void {
    checkReduce("reduceSum", x, out, outer, size, inner);
    reduceSum(x, out, outer, size, inner, accumulate);
  }

  reduceMax(x: Float32Array, out: Float32Array, outer: number, size: number, inner: number): void {
    checkReduce("reduceMax", x, out, outer, size, inner);
    reduceMax(x, out, outer, size, inner);
  }

  matmul(a: Storage, b: Storage, c: Float32Array, p: MatmulParams, dtype: "f32" | "bf16"): void {
    C.checkMatmul(a, b, c, p, dtype);
    matmul(a, b, c, p, dtype);
  }

  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
    C.checkRows("softmax", rows, cols, { x, out });
    softmax(x, out, rows, cols);
  }

  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
    C.checkRows("softmaxBackward", rows, cols, { y, dy, dx });
    softmaxBackward(y, dy, dx, rows, cols);
  }

  logSoftmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
    C.checkRows("logSoftmax", rows, cols, { x, out });
    logSoftmax(x, out, rows, cols);
  }

  logSoftmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
    C.checkRows("logSoftmaxBackward", rows, cols, { y, dy, dx });
    logSoftmaxBackward(y, dy, dx, rows, cols);
  }

  layerNorm(x: Float32Array, w: Float32Array | null, b: Float32Array | null, out: Float32Array, mean: Float32Array,
    rstd: Float32Array, rows: number, cols: number, eps: number): void {
    checkLayerNorm("layerNorm", rows, cols, { x, out }, { w, b }, { mean, rstd });
    layerNorm(x, w, b, out, mean, rstd, rows, cols, eps);
  }

  layerNormBackward(x: Float32Array, w: Float32Array | null, mean: Float32Array, rstd: Float32Array, dy: Float32Array,
    dx: Float32Array, dw: Float32Array | null, db: Float32Array | null, rows: number, cols: number): void {
    checkLayerNorm("layerNormBackward", rows, cols, { x, dy, dx }, { w, dw, db }, { mean, rstd });
    layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols);
  }

  rmsNorm(x: Float32Array, w: Float32Array | null, out: Float32Array, rstd: Float32Array, rows: number, cols: number,
    eps: number): void {
    checkLayerNorm("rmsNorm", rows, cols, { x, out }, { w }, { rstd });
    rmsNorm(x, w, out, rstd, rows, cols, eps);
  }

  rmsNormBackward(x: Float32Array, w: Float32Array | null, rstd: Float32Array, dy: Float32Array, dx: Float32Array,
    dw: Float32Array | null, rows: number, cols: number): void {
    checkLayerNorm("rmsNormBackward", rows, cols, { x, dy, dx }, { w, dw }, { rstd });
    rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols);
  }

  rope(x: Float32Array, b: number, t: number, heads: number, headDim: number, rotDim: number, pos0: number,
    freqs: Float32Array, layout: "neox" | "interleaved", inverse: boolean): void {
    checkRope(x, b, t, heads, headDim, rotDim, pos0, freqs, layout);
    rope(x, b, t, heads, headDim, rotDim, pos0, freqs, layout, inverse);
  }

  embedding(table: Float32Array, ids: Int32Array, out: Float32Array, n: number, dim: number, vocab: number): void {
    checkEmbedding(table, ids, out, n, dim, vocab);
    embedding(table, ids, out, n, dim);
  }

  embeddingBackward(ids: Int32Array, dOut: Float32Array, dTable: Float32Array, n: number, dim: number): void {
    checkEmbeddingBackward(ids, dOut, dTable, n, dim);
    embeddingBackward(ids, dOut, dTable, n, dim);
  }

  attention(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    p: AttentionParams): void {
    C.checkAttention("attention", p, { q, k, v, out, lse });
    attention(q, k, v, out, lse, p);
  }

  attentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    dOut: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array, p: AttentionParams): void {
    C.checkAttention("attentionBackward", p, { q, k, v, out, lse, dOut, dq, dk, dv });
    attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, p);
  }

  crossEntropy(logits: Float32Array, targets: Int32Array, losses: Float32Array, rows: number, cols: number,
    ignoreIndex: number): number {
    checkCrossEntropy("crossEntropy", logits, targets, rows, cols, ignoreIndex, { losses });
    return crossEntropy(logits, targets, losses, rows, cols, ignoreIndex);
  }

  crossEntropyBackward(logits: Float32Array, targets: Int32Array, dLoss: Float32Array, dLogits: Float32Array,
    rows: number, cols: number, ignoreIndex: number): void {
    checkCrossEntropy("crossEntropyBackward", logits, targets, rows, cols, ignoreIndex, { dLoss });
    C.checkRows("crossEntropyBackward", rows, cols, { dLogits });
    crossEntropyBackward(logits, targets, dLoss, dLogits, rows, cols, ignoreIndex);
  }

  swiglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void {
    C.checkElementwise("swiglu", n, { gate, up, out });
    swiglu(gate, up, out, n);
  }

  swigluBackward(gate: Float32Array, up: Float32Array, dOut: Float32Array, dGate: Float32Array, dUp: Float32Array,
    n: number): void {
    C.checkElementwise("swigluBackward", n, { gate, up, dOut, dGate, dUp });
    swigluBackward(gate, up, dOut, dGate, dUp, n);
  }

  adamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, p: AdamWParams,
    decay: boolean): void {
    checkAdamw(param, grad, m, v, n, p);
    adamw(param, grad, m, v, n, p, decay);
  }

  quantMatmul(w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array, out: Float32Array,
    m: number): void {
    C.checkQuantMatmul(w, type, rows, cols, x, out, m);
    refQuantMatmul(w, type, rows, cols, x, out, m);
  }

  dequantize(w: Uint8Array, type: QuantType, out: Float32Array, n: number): void {
    C.checkDequantize(w, type, out, n);
    refDequantize(w, type, out, n);
  }
}

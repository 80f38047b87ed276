// The reference backend: every Backend op in plain TypeScript (the files beside this one), validated by
// ../checks.ts (OP_CHECKS, shared with the cpu backend). It is the specification the native cpu backend is tested against — slow and obviously right.
// Quantized ops delegate to ref/quant.ts (owned by the quant/io side) once it exists.
// Leaves out: threads (setThreads is accepted and ignored), speed.

import {
  type AdamWParams, type AttentionParams, type Backend, type BackendInfo, type BinaryOp, type DType,
  type MatmulParams, type OpName, type QuantType, type ReadVariant, type Storage, type UnaryOp, type WeightType,
} from "../backend.js";
import { BufferPool } from "../pool.js";
import { f16ToF32 } from "../../core/dtype.js";
import { DTYPES, OP_CHECKS, WEIGHT_TYPES } from "../checks.js";
import { attention, attentionBackward } from "./attention.js";
import { embedding, embeddingBackward } from "./embedding.js";
import { axpy, binary, scale, swiglu, swigluBackward, unary, unaryBackward } from "./elementwise.js";
import { addStrided, cast, copyStrided, fill } from "./layout.js";
import { crossEntropy, crossEntropyBackward } from "./loss.js";
import { matmul } from "./matmul.js";
import { layerNorm, layerNormBackward, rmsNorm, rmsNormBackward } from "./norm.js";
import { adamw } from "./optim.js";
import { readChecksum, reduceMax, reduceSum } from "./reduce.js";
import { rope } from "./rope.js";
import { logSoftmax, logSoftmaxBackward, softmax, softmaxBackward } from "./softmax.js";
import { refDequantize, refQuantMatmul } from "./quant.js";
import { refQuantize } from "./quant-quantize.js";

export class RefBackend implements Backend {
  constructor(private readonly pool: BufferPool = new BufferPool(2 ** 31, true)) {}

  info(): BackendInfo {
    return { name: "ref", isa: "typescript", threads: 1 };
  }

  supports(op: OpName, dtype?: DType | WeightType): boolean {
    if (op === "quantMatmul" || op === "dequantize") {
      return dtype === undefined || (WEIGHT_TYPES as readonly string[]).includes(dtype);
    }
    if (op === "quantize") return dtype === undefined || dtype === "q8_0";
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
    OP_CHECKS.copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
    copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
  }

  addStrided(src: Float32Array, srcOffset: number, srcStrides: readonly number[], dst: Float32Array, dstOffset: number,
    dstStrides: readonly number[], shape: readonly number[]): void {
    OP_CHECKS.addStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
    addStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
  }

  cast(src: Storage, srcType: DType, dst: Storage, dstType: DType, n: number): void {
    OP_CHECKS.cast(src, srcType, dst, dstType, n);
    cast(src, srcType, dst, dstType, n);
  }

  fill(dst: Storage, value: number, n: number): void {
    OP_CHECKS.fill(dst, value, n);
    fill(dst, value, n);
  }

  unary(op: UnaryOp, x: Float32Array, out: Float32Array, n: number): void {
    OP_CHECKS.unary(op, x, out, n);
    unary(op, x, out, n);
  }

  unaryBackward(op: UnaryOp, x: Float32Array, dy: Float32Array, dx: Float32Array, n: number, accumulate: boolean): void {
    OP_CHECKS.unaryBackward(op, x, dy, dx, n, accumulate);
    unaryBackward(op, x, dy, dx, n, accumulate);
  }

  binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array, bStrides: readonly number[],
    out: Float32Array, shape: readonly number[]): void {
    OP_CHECKS.binary(op, a, aStrides, b, bStrides, out, shape);
    binary(op, a, aStrides, b, bStrides, out, shape);
  }

  scale(x: Float32Array, out: Float32Array, n: number, alpha: number, beta: number): void {
    OP_CHECKS.scale(x, out, n, alpha, beta);
    scale(x, out, n, alpha, beta);
  }

  axpy(alpha: number, x: Float32Array, y: Float32Array, n: number): void {
    OP_CHECKS.axpy(alpha, x, y, n);
    axpy(alpha, x, y, n);
  }

  reduceSum(x: Float32Array, out: Float32Array, outer: number, size: number, inner: number, accumulate: boolean): void {
    OP_CHECKS.reduceSum(x, out, outer, size, inner, accumulate);
    reduceSum(x, out, outer, size, inner, accumulate);
  }

  readChecksum(x: Int32Array, variant: ReadVariant): number {
    OP_CHECKS.readChecksum(x, variant);
    return readChecksum(x);
  }

  reduceMax(x: Float32Array, out: Float32Array, outer: number, size: number, inner: number): void {
    OP_CHECKS.reduceMax(x, out, outer, size, inner);
    reduceMax(x, out, outer, size, inner);
  }

  matmul(a: Storage, b: Storage, c: Float32Array, p: MatmulParams, dtype: "f32" | "bf16"): void {
    OP_CHECKS.matmul(a, b, c, p, dtype);
    matmul(a, b, c, p, dtype);
  }

  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
    OP_CHECKS.softmax(x, out, rows, cols);
    softmax(x, out, rows, cols);
  }

  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
    OP_CHECKS.softmaxBackward(y, dy, dx, rows, cols);
    softmaxBackward(y, dy, dx, rows, cols);
  }

  logSoftmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
    OP_CHECKS.logSoftmax(x, out, rows, cols);
    logSoftmax(x, out, rows, cols);
  }

  logSoftmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
    OP_CHECKS.logSoftmaxBackward(y, dy, dx, rows, cols);
    logSoftmaxBackward(y, dy, dx, rows, cols);
  }

  layerNorm(x: Float32Array, w: Float32Array | null, b: Float32Array | null, out: Float32Array, mean: Float32Array,
    rstd: Float32Array, rows: number, cols: number, eps: number): void {
    OP_CHECKS.layerNorm(x, w, b, out, mean, rstd, rows, cols, eps);
    layerNorm(x, w, b, out, mean, rstd, rows, cols, eps);
  }

  layerNormBackward(x: Float32Array, w: Float32Array | null, mean: Float32Array, rstd: Float32Array, dy: Float32Array,
    dx: Float32Array, dw: Float32Array | null, db: Float32Array | null, rows: number, cols: number): void {
    OP_CHECKS.layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols);
    layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols);
  }

  rmsNorm(x: Float32Array, w: Float32Array | null, out: Float32Array, rstd: Float32Array, rows: number, cols: number,
    eps: number): void {
    OP_CHECKS.rmsNorm(x, w, out, rstd, rows, cols, eps);
    rmsNorm(x, w, out, rstd, rows, cols, eps);
  }

  rmsNormBackward(x: Float32Array, w: Float32Array | null, rstd: Float32Array, dy: Float32Array, dx: Float32Array,
    dw: Float32Array | null, rows: number, cols: number): void {
    OP_CHECKS.rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols);
    rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols);
  }

  rope(x: Float32Array, b: number, t: number, heads: number, headDim: number, rotDim: number, pos0: number,
    freqs: Float32Array, layout: "neox" | "interleaved", inverse: boolean): void {
    OP_CHECKS.rope(x, b, t, heads, headDim, rotDim, pos0, freqs, layout, inverse);
    rope(x, b, t, heads, headDim, rotDim, pos0, freqs, layout, inverse);
  }

  embedding(table: Float32Array, ids: Int32Array, out: Float32Array, n: number, dim: number, vocab: number): void {
    OP_CHECKS.embedding(table, ids, out, n, dim, vocab);
    embedding(table, ids, out, n, dim);
  }

  embeddingBackward(ids: Int32Array, dOut: Float32Array, dTable: Float32Array, n: number, dim: number): void {
    OP_CHECKS.embeddingBackward(ids, dOut, dTable, n, dim);
    embeddingBackward(ids, dOut, dTable, n, dim);
  }

  attention(q: Float32Array, k: Float32Array | Uint16Array | Uint8Array, v: Float32Array | Uint16Array | Uint8Array, out: Float32Array,
    lse: Float32Array, p: AttentionParams): void {
    OP_CHECKS.attention(q, k, v, out, lse, p);
    // An f16 or q8_0 cache: its values decoded (exactly: ggml's dequantize_row_q8_0 for q8_0), then the f32 reference.
    const f32 = (x: Float32Array | Uint16Array | Uint8Array) => {
      if (x instanceof Float32Array) return x;
      if (x instanceof Uint16Array) return Float32Array.from(x, f16ToF32);
      const n = (x.length / 34) * 32, y = new Float32Array(n);
      refDequantize(x, "q8_0", y, n);
      return y;
    };
    attention(q, f32(k), f32(v), out, lse, p);
  }

  attentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    dOut: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array, p: AttentionParams): void {
    OP_CHECKS.attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, p);
    attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, p);
  }

  crossEntropy(logits: Float32Array, targets: Int32Array, losses: Float32Array, rows: number, cols: number,
    ignoreIndex: number): number {
    OP_CHECKS.crossEntropy(logits, targets, losses, rows, cols, ignoreIndex);
    return crossEntropy(logits, targets, losses, rows, cols, ignoreIndex);
  }

  crossEntropyBackward(logits: Float32Array, targets: Int32Array, dLoss: Float32Array, dLogits: Float32Array,
    rows: number, cols: number, ignoreIndex: number): void {
    OP_CHECKS.crossEntropyBackward(logits, targets, dLoss, dLogits, rows, cols, ignoreIndex);
    crossEntropyBackward(logits, targets, dLoss, dLogits, rows, cols, ignoreIndex);
  }

  swiglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void {
    OP_CHECKS.swiglu(gate, up, out, n);
    swiglu(gate, up, out, n);
  }

  swigluBackward(gate: Float32Array, up: Float32Array, dOut: Float32Array, dGate: Float32Array, dUp: Float32Array,
    n: number): void {
    OP_CHECKS.swigluBackward(gate, up, dOut, dGate, dUp, n);
    swigluBackward(gate, up, dOut, dGate, dUp, n);
  }

  adamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, p: AdamWParams,
    decay: boolean): void {
    OP_CHECKS.adamw(param, grad, m, v, n, p, decay);
    adamw(param, grad, m, v, n, p, decay);
  }

  quantMatmul(w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array, out: Float32Array,
    m: number): void {
    OP_CHECKS.quantMatmul(w, type, rows, cols, x, out, m);
    refQuantMatmul(w, type, rows, cols, x, out, m);
  }

  dequantize(w: Uint8Array, type: QuantType, out: Float32Array, n: number): void {
    OP_CHECKS.dequantize(w, type, out, n);
    refDequantize(w, type, out, n);
  }

  quantize(x: Float32Array, type: "q8_0", out: Uint8Array, n: number): void {
    OP_CHECKS.quantize(x, type, out, n);
    refQuantize(x, type, out, n);
  }
}

// The native cpu backend: every Backend op validated in TypeScript (../checks.ts OP_CHECKS, the same checks as
// the reference backend, so no native call can read or write out of bounds), then run by the C kernels of native/ops_*.c through the
// addon. matmul goes to the GEMM kernels (gemmF32/gemmBf16; matmulRoundBf16, the optional Backend op for bf16
// products of f32 operands, to gemmF32RoundBf16, which rounds while packing) and quantized ops to the quant kernels when the addon
// has them, else to the reference implementation (supports() says which).
// Leaves out: the kernels (native/), argument rules (../checks.ts), choosing a backend (../index.ts).

import {
  BackendError, type AdamWParams, type AttentionParams, type Backend, type BackendInfo, type BinaryOp, type DType,
  type DecoderLayerRun, type DecoderLayerShape, type EncodedMatrix, type DecoderLayerWeights, type FusedOpName, type FusedOps, type MatmulParams,
  type OpName, type PackedPanels, type PrefillLayerSpec,
  type PreparedDecoderLayer, type PreparedDecoderHead, type DecoderHeadWeights, READ_VARIANTS, type ReadVariant, sameLayerShape, type QuantType, type Storage, type UnaryOp, type WeightType,
} from "../backend.js";
import type { NativeAddon, NativeOps } from "../native.js";
import { BufferPool } from "../pool.js";
import { kvCapacity, OP_CHECKS, QUANT_TYPES, WEIGHT_TYPES } from "../checks.js";
import { matmul as refMatmul } from "../ref/matmul.js";
import { refDequantize, refQuantMatmul } from "../ref/quant.js";
import { refQuantize } from "../ref/quant-quantize.js";
import { readChecksum as refReadChecksum } from "../ref/reduce.js";
import { BINARY_CODE, DTYPE_CODE, UNARY_CODE } from "./codes.js";
import { type TunableBackend, type TuneChoice, Tuner, type TuningAddon, type TuningOptions } from "./tuning.js";
import { createHash } from "node:crypto";
import { cpus, loadavg } from "node:os";

/** The decoder layers native/decode_layer.c runs: plain or per-head q/k-normed attention, SwiGLU or MoE MLP (with a
 *  shared expert only in addons that read moe.shared: they export decoderLayerMoeShared). */
const NATIVE_DECODER_LAYERS: DecoderLayerShape[] = (["rotary-gqa", "rotary-gqa-qk-norm"] as const).flatMap((attention) =>
  (["swiglu", "moe-swiglu", "moe-swiglu-shared"] as const).map((mlp) => ({ norm: "pre-rms", attention, mlp }) as const));

export class CpuBackend implements Backend, TunableBackend {
  private layerRun: DecoderLayerRun | undefined;
  /** Decode-kernel tuning (./tuning.ts), when the entry point asked for it. */
  private tuner: Tuner | null = null;
  /** Weight buffers the tuner has already seen since the last configureTuning: the per-token matvec skips its key. */
  private tunedWeights = new WeakSet<Uint8Array>();

  constructor(private readonly addon: NativeAddon & NativeOps, private readonly pool: BufferPool = new BufferPool()) {}

  info(): BackendInfo {
    return { name: "cpu", isa: this.addon.isa(), threads: this.addon.threads() };
  }

  supports(op: OpName, dtype?: DType | WeightType): boolean {
    switch (op) {
      case "matmul":
        if (dtype === "bf16") return typeof this.addon.gemmBf16 === "function";
        return (dtype === undefined || dtype === "f32") && typeof this.addon.gemmF32 === "function";
      case "quantMatmul":
        return typeof this.addon.quantMatmul === "function" && (dtype === undefined || (WEIGHT_TYPES as readonly string[]).includes(dtype));
      case "dequantize":
        return typeof this.addon.dequantize === "function" && (dtype === undefined || (QUANT_TYPES as readonly string[]).includes(dtype));
      case "quantize":
        return typeof this.addon.quantize === "function" && (dtype === undefined || dtype === "q8_0");
      case "copyStrided": case "cast": case "fill":
        return dtype === undefined || dtype in DTYPE_CODE;
      default:
        return dtype === undefined || dtype === "f32";
    }
  }

  configureTuning(options: TuningOptions, workingSetBytes: number): void {
    const a = this.addon;
    if (!a.tuneVariants || !a.tuneSet || !a.tuneTime || !a.tuneClear) return; // an older addon: the fallback only
    if (!options.enabled) {
      a.tuneClear();
      this.tuner = null;
      return;
    }
    if (!this.tuner || this.tuner.options !== options || this.tuner.machine.threads !== a.threads()) {
      a.tuneClear();
      const lists = ["f16", "q8_0_r16", "q4_k_r16", "q8_0"].map((t) => a.tuneVariants!(t).join(",")).join(";");
      const machine = { cpu: cpus()[0]?.model?.trim() || "unknown", isa: a.isa(), threads: a.threads(),
        kernels: createHash("sha256").update(lists).digest("hex").slice(0, 12), loadPerCore: () => loadavg()[0] / Math.max(1, cpus().length) };
      this.tuner = new Tuner(a as NativeAddon & TuningAddon, machine, options);
    }
    this.tuner.setWorkingSet(workingSetBytes);
    this.tunedWeights = new WeakSet();
  }

  tuningChoices(): TuneChoice[] {
    return this.tuner?.choices() ?? [];
  }

  setThreads(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new BackendError("setThreads", `n must be an integer ≥ 0 (0 = all cores), got ${n}`);
    this.addon.setThreads(n);
  }

  alloc(dtype: DType, n: number, zeroFill = true): Storage {
    return this.pool.alloc(dtype, n, zeroFill);
  }

  release(storage: Storage): void {
    this.pool.release(storage);
  }

  copyStrided(src: Storage, srcOffset: number, srcStrides: readonly number[], dst: Storage, dstOffset: number,
    dstStrides: readonly number[], shape: readonly number[]): void {
    OP_CHECKS.copyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
    this.addon.opsCopyStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
  }

  addStrided(src: Float32Array, srcOffset: number, srcStrides: readonly number[], dst: Float32Array, dstOffset: number,
    dstStrides: readonly number[], shape: readonly number[]): void {
    OP_CHECKS.addStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
    this.addon.opsAddStrided(src, srcOffset, srcStrides, dst, dstOffset, dstStrides, shape);
  }

  cast(src: Storage, srcType: DType, dst: Storage, dstType: DType, n: number): void {
    OP_CHECKS.cast(src, srcType, dst, dstType, n);
    this.addon.opsCast(src, DTYPE_CODE[srcType], dst, DTYPE_CODE[dstType], n);
  }

  fill(dst: Storage, value: number, n: number): void {
    OP_CHECKS.fill(dst, value, n);
    dst.fill(value, 0, n); // TypedArray.fill is already a native loop
  }

  unary(op: UnaryOp, x: Float32Array, out: Float32Array, n: number): void {
    OP_CHECKS.unary(op, x, out, n);
    this.addon.opsUnary(UNARY_CODE[op], x, out, n);
  }

  unaryBackward(op: UnaryOp, x: Float32Array, dy: Float32Array, dx: Float32Array, n: number, accumulate: boolean): void {
    OP_CHECKS.unaryBackward(op, x, dy, dx, n, accumulate);
    this.addon.opsUnaryBackward(UNARY_CODE[op], x, dy, dx, n, accumulate);
  }

  binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array, bStrides: readonly number[],
    out: Float32Array, shape: readonly number[]): void {
    OP_CHECKS.binary(op, a, aStrides, b, bStrides, out, shape);
    this.addon.opsBinary(BINARY_CODE[op], a, aStrides, b, bStrides, out, shape);
  }

  scale(x: Float32Array, out: Float32Array, n: number, alpha: number, beta: number): void {
    OP_CHECKS.scale(x, out, n, alpha, beta);
    this.addon.opsScale(x, out, n, alpha, beta);
  }

  axpy(alpha: number, x: Float32Array, y: Float32Array, n: number): void {
    OP_CHECKS.axpy(alpha, x, y, n);
    this.addon.opsAxpy(alpha, x, y, n);
  }

  reduceSum(x: Float32Array, out: Float32Array, outer: number, size: number, inner: number, accumulate: boolean): void {
    OP_CHECKS.reduceSum(x, out, outer, size, inner, accumulate);
    this.addon.opsReduceSum(x, out, outer, size, inner, accumulate);
  }

  /** native/kv_memory.c's madvise; an addon built before it leaves the pages as they are. */
  adviseHugePages(x: Storage): void {
    this.addon.opsAdviseHugePages?.(x);
  }

  /** The native probe (native/ops_read.c); an addon built before it sums through the reference. */
  readChecksum(x: Int32Array, variant: ReadVariant): number {
    OP_CHECKS.readChecksum(x, variant);
    const native = this.addon.opsReadChecksum;
    return native ? native(x, x.length, READ_VARIANTS.indexOf(variant)) : refReadChecksum(x);
  }

  reduceMax(x: Float32Array, out: Float32Array, outer: number, size: number, inner: number): void {
    OP_CHECKS.reduceMax(x, out, outer, size, inner);
    this.addon.opsReduceMax(x, out, outer, size, inner);
  }

  matmul(a: Storage, b: Storage, c: Float32Array, p: MatmulParams, dtype: "f32" | "bf16"): void {
    OP_CHECKS.matmul(a, b, c, p, dtype);
    const gemm = dtype === "bf16" ? this.addon.gemmBf16 : this.addon.gemmF32;
    if (!gemm) {
      refMatmul(a, b, c, p, dtype);
      return;
    }
    (gemm as (a: Storage, ...rest: unknown[]) => void)(a, b, c, p.batch, p.m, p.n, p.k, p.transA, p.transB, p.strideA,
      p.strideB, p.strideC, p.alpha, p.beta);
  }

  /** "decoder-layer-decode" for the pre-norm RMS / rotary GQA / SwiGLU or MoE layers native/decode_layer.c runs,
   *  "encoder-layer-forward" for the BERT layer of native/encoder_layer.c, and
   *  "cross-decoder-layer-decode" for the encoder-decoder layer of native/cross_decode_layer.c (specs validated in
   *  the addon; absent from older addons). */
  fused<K extends FusedOpName>(name: K, shape: FusedOps[K]["shape"]): FusedOps[K]["run"] | null {
    if (name === "encoder-layer-forward") {
      // native/encoder_layer.c: the post-LayerNorm, bidirectional, dense-MLP layer only.
      const run = this.addon.encoderLayerForward, s = shape as FusedOps["encoder-layer-forward"]["shape"];
      if (!run || s.norm !== "post-layernorm" || s.attention !== "bidirectional-mha" || s.mlp !== "dense") return null;
      const fn: FusedOps["encoder-layer-forward"]["run"] = (x, spec) => run.call(this.addon, x, spec);
      return fn as FusedOps[K]["run"];
    }
    if (name === "cross-decoder-layer-decode") {
      // native/cross_decode_layer.c: both feed-forward forms.
      const run = this.addon.crossDecoderLayerDecode, s = shape as FusedOps["cross-decoder-layer-decode"]["shape"];
      if (!run || s.norm !== "pre-rms" || s.attention !== "biased-unscaled" || (s.mlp !== "gated" && s.mlp !== "plain")) return null;
      const fn: FusedOps["cross-decoder-layer-decode"]["run"] = (x, spec) => run.call(this.addon, x, spec);
      return fn as FusedOps[K]["run"];
    }
    const run = this.addon.decoderLayerDecode;
    if (name !== "decoder-layer-decode" || !run || !NATIVE_DECODER_LAYERS.some((s) => sameLayerShape(shape as DecoderLayerShape, s))) return null;
    if ((shape as DecoderLayerShape).mlp === "moe-swiglu-shared" && !this.addon.decoderLayerMoeShared) return null;
    // One run object per backend: models key their prepared layers on it.
    return (this.layerRun ??= decoderLayerRun(this.addon, run, (m) => this.tuner?.ensure(m))) as FusedOps[K]["run"];
  }

  /** Repacks q8_0 / q4_0 / q4_k / q6_k matrices with rows a multiple of 16 into the r16 layout of
   *  native/quant_r16.c, whose AVX-512 VNNI kernels advance 16 rows per instruction. Absent from older addons and
   *  on CPUs without AVX-512 VNNI (there the r16 layout would run on the portable path, slower than the row
   *  layout's AVX2 kernels). */
  get repackWeight(): ((w: Uint8Array, type: WeightType, rows: number, cols: number) => WeightType | null) | undefined {
    const repack = this.addon.quantRepack;
    if (!repack || (this.addon.quantImpl as (() => string) | undefined)?.() !== "avx512-vnni") return undefined;
    return (w, type, rows, cols) => repack(w, type, rows, cols) as WeightType | null;
  }

  /** Weights packed once into the AVX-512 GEMM's panels (native/gemm_packed.c): f32 weights into f32 panels, f16 /
   *  bf16 weights into panels of their own type (half the memory of f32 panels; widened block by block at about
   *  the same speed: dev/bert/packed-gemm-bench.ts). Absent from older addons; null on CPUs without AVX-512. */
  get packPanels(): ((w: Uint8Array, type: "f32" | "f16" | "bf16", rows: number, cols: number) => PackedPanels | null) | undefined {
    const pack = this.addon.gemmPackWeights;
    if (!pack) return undefined;
    return (w, type, rows, cols) => {
      const data = pack(w, type, rows, cols, type);
      return data ? { data, type } : null;
    };
  }

  /** quantMatmul on the matrix's packed panels where native/gemm_packed.c gives its bits (f16 / bf16, 16+ rows). */
  get quantMatmulPanels(): ((w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array, out: Float32Array,
    m: number, panels: PackedPanels) => void) | undefined {
    const run = this.addon.quantMatmulPanels;
    if (!run) return undefined;
    return (w, type, rows, cols, x, out, m, panels) => {
      OP_CHECKS.quantMatmul(w, type, rows, cols, x, out, m);
      run(w, type, rows, cols, x, out, m, panels);
    };
  }

  /** A decoder prompt's MLP sublayer on packed panels, rows split over the pool (native/prefill_mlp.c). */
  get prefillMlpPanels(): ((x: Float32Array, m: number, hidden: number, ffn: number, normW: Float32Array, eps: number,
    type: "f16" | "bf16", gateUp: PackedPanels, down: PackedPanels) => boolean) | undefined {
    const run = this.addon.prefillMlpPanels;
    if (!run) return undefined;
    return (x, m, hidden, ffn, normW, eps, type, gateUp, down) => run(x, m, hidden, ffn, normW, eps, type, gateUp, down);
  }

  /** A decoder prompt's whole layer on packed panels, rows split over the pool (native/prefill_layer.c). */
  get prefillLayerPanels(): ((x: Float32Array, m: number, spec: PrefillLayerSpec) => boolean) | undefined {
    const run = this.addon.prefillLayerPanels;
    if (!run) return undefined;
    return (x, m, spec) => run(x, m, spec);
  }

  /** Every layer of a prompt in turn in one call (native/prefill_layer.c zy_prefill_stack). */
  get prefillStackPanels(): ((x: Float32Array, m: number, specs: PrefillLayerSpec[]) => boolean) | undefined {
    const run = this.addon.prefillStackPanels;
    if (!run) return undefined;
    return (x, m, specs) => run(x, m, specs);
  }

  /** RoPE's cos | sin rows (native/ops_rope.c zy_rope_table). */
  get ropeTable(): ((freqs: Float32Array, pos0: number, t: number, out: Float32Array) => void) | undefined {
    const run = this.addon.ropeTable;
    if (!run) return undefined;
    return (freqs, pos0, t, out) => run(freqs, pos0, t, out);
  }

  /** bf16-rounded operands without bf16 copies (native gemmF32RoundBf16); without it: cast, then matmul. */
  matmulRoundBf16(a: Float32Array, b: Float32Array, c: Float32Array, p: MatmulParams): void {
    OP_CHECKS.matmulRoundBf16(a, b, c, p);
    const gemm = this.addon.gemmF32RoundBf16;
    if (gemm) {
      gemm(a, b, c, p.batch, p.m, p.n, p.k, p.transA, p.transB, p.strideA, p.strideB, p.strideC, p.alpha, p.beta);
      return;
    }
    const used = p.batch === 0 || p.m === 0 || p.n === 0 || p.k === 0;
    const lenA = used ? 0 : (p.batch - 1) * p.strideA + p.m * p.k, lenB = used ? 0 : (p.batch - 1) * p.strideB + p.k * p.n;
    const ha = this.alloc("bf16", lenA), hb = this.alloc("bf16", lenB);
    try {
      this.cast(a, "f32", ha, "bf16", lenA);
      this.cast(b, "f32", hb, "bf16", lenB);
      this.matmul(ha, hb, c, p, "bf16");
    } finally {
      this.release(ha);
      this.release(hb);
    }
  }

  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
    OP_CHECKS.softmax(x, out, rows, cols);
    this.addon.opsSoftmax(x, out, rows, cols, false);
  }

  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
    OP_CHECKS.softmaxBackward(y, dy, dx, rows, cols);
    this.addon.opsSoftmaxBackward(y, dy, dx, rows, cols, false);
  }

  logSoftmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void {
    OP_CHECKS.logSoftmax(x, out, rows, cols);
    this.addon.opsSoftmax(x, out, rows, cols, true);
  }

  logSoftmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void {
    OP_CHECKS.logSoftmaxBackward(y, dy, dx, rows, cols);
    this.addon.opsSoftmaxBackward(y, dy, dx, rows, cols, true);
  }

  layerNorm(x: Float32Array, w: Float32Array | null, b: Float32Array | null, out: Float32Array, mean: Float32Array,
    rstd: Float32Array, rows: number, cols: number, eps: number): void {
    OP_CHECKS.layerNorm(x, w, b, out, mean, rstd, rows, cols, eps);
    this.addon.opsLayerNorm(x, w, b, out, mean, rstd, rows, cols, eps);
  }

  layerNormBackward(x: Float32Array, w: Float32Array | null, mean: Float32Array, rstd: Float32Array, dy: Float32Array,
    dx: Float32Array, dw: Float32Array | null, db: Float32Array | null, rows: number, cols: number): void {
    OP_CHECKS.layerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols);
    this.addon.opsLayerNormBackward(x, w, mean, rstd, dy, dx, dw, db, rows, cols);
  }

  rmsNorm(x: Float32Array, w: Float32Array | null, out: Float32Array, rstd: Float32Array, rows: number, cols: number,
    eps: number): void {
    OP_CHECKS.rmsNorm(x, w, out, rstd, rows, cols, eps);
    this.addon.opsRmsNorm(x, w, out, rstd, rows, cols, eps);
  }

  rmsNormBackward(x: Float32Array, w: Float32Array | null, rstd: Float32Array, dy: Float32Array, dx: Float32Array,
    dw: Float32Array | null, rows: number, cols: number): void {
    OP_CHECKS.rmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols);
    this.addon.opsRmsNormBackward(x, w, rstd, dy, dx, dw, rows, cols);
  }

  rope(x: Float32Array, b: number, t: number, heads: number, headDim: number, rotDim: number, pos0: number,
    freqs: Float32Array, layout: "neox" | "interleaved", inverse: boolean): void {
    OP_CHECKS.rope(x, b, t, heads, headDim, rotDim, pos0, freqs, layout, inverse);
    this.addon.opsRope(x, b, t, heads, headDim, rotDim, pos0, freqs, layout === "interleaved", inverse);
  }

  embedding(table: Float32Array, ids: Int32Array, out: Float32Array, n: number, dim: number, vocab: number): void {
    OP_CHECKS.embedding(table, ids, out, n, dim, vocab);
    this.addon.opsEmbedding(table, ids, out, n, dim);
  }

  embeddingBackward(ids: Int32Array, dOut: Float32Array, dTable: Float32Array, n: number, dim: number): void {
    OP_CHECKS.embeddingBackward(ids, dOut, dTable, n, dim);
    this.addon.opsEmbeddingBackward(ids, dOut, dTable, n, dim);
  }

  attention(q: Float32Array, k: Float32Array | Uint16Array | Uint8Array, v: Float32Array | Uint16Array | Uint8Array, out: Float32Array,
    lse: Float32Array, p: AttentionParams): void {
    OP_CHECKS.attention(q, k, v, out, lse, p);
    this.addon.opsAttention(q, k, v, out, lse, p.b, p.tq, p.tk, p.nHead, p.nKvHead, p.headDim, p.scale, p.causal,
      kvCapacity(p), p.kvType === "q8_0" ? 2 : p.kvType === "f16" ? 1 : 0);
  }

  attentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    dOut: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array, p: AttentionParams): void {
    OP_CHECKS.attentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, p);
    this.addon.opsAttentionBackward(q, k, v, out, lse, dOut, dq, dk, dv, p.b, p.tq, p.tk, p.nHead, p.nKvHead,
      p.headDim, p.scale, p.causal, kvCapacity(p));
  }

  crossEntropy(logits: Float32Array, targets: Int32Array, losses: Float32Array, rows: number, cols: number,
    ignoreIndex: number): number {
    OP_CHECKS.crossEntropy(logits, targets, losses, rows, cols, ignoreIndex);
    return this.addon.opsCrossEntropy(logits, targets, losses, rows, cols, ignoreIndex);
  }

  crossEntropyBackward(logits: Float32Array, targets: Int32Array, dLoss: Float32Array, dLogits: Float32Array,
    rows: number, cols: number, ignoreIndex: number): void {
    OP_CHECKS.crossEntropyBackward(logits, targets, dLoss, dLogits, rows, cols, ignoreIndex);
    this.addon.opsCrossEntropyBackward(logits, targets, dLoss, dLogits, rows, cols, ignoreIndex);
  }

  swiglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void {
    OP_CHECKS.swiglu(gate, up, out, n);
    this.addon.opsSwiglu(gate, up, out, n);
  }

  swigluBackward(gate: Float32Array, up: Float32Array, dOut: Float32Array, dGate: Float32Array, dUp: Float32Array,
    n: number): void {
    OP_CHECKS.swigluBackward(gate, up, dOut, dGate, dUp, n);
    this.addon.opsSwigluBackward(gate, up, dOut, dGate, dUp, n);
  }

  adamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, p: AdamWParams,
    decay: boolean): void {
    OP_CHECKS.adamw(param, grad, m, v, n, p, decay);
    this.addon.opsAdamw(param, grad, m, v, n, p.lr, p.beta1, p.beta2, p.eps, p.weightDecay, p.step, decay);
  }

  quantMatmul(w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array, out: Float32Array,
    m: number): void {
    OP_CHECKS.quantMatmul(w, type, rows, cols, x, out, m);
    if (m === 1 && this.tuner && !this.tunedWeights.has(w)) {
      this.tuner.ensure({ data: w, type, rows, cols });
      this.tunedWeights.add(w);
    }
    if (this.addon.quantMatmul) {
      this.addon.quantMatmul(w, type, rows, cols, x, out, m);
      return;
    }
    refQuantMatmul(w, type, rows, cols, x, out, m);
  }

  dequantize(w: Uint8Array, type: QuantType, out: Float32Array, n: number): void {
    OP_CHECKS.dequantize(w, type, out, n);
    if (this.addon.dequantize) {
      this.addon.dequantize(w, type, out, n);
      return;
    }
    refDequantize(w, type, out, n);
  }

  quantize(x: Float32Array, type: "q8_0", out: Uint8Array, n: number): void {
    OP_CHECKS.quantize(x, type, out, n);
    if (this.addon.quantize) {
      this.addon.quantize(x, type, out, n);
      return;
    }
    refQuantize(x, type, out, n);
  }
}

function isEncodedMatrix(w: unknown): w is EncodedMatrix {
  const m = w as Partial<EncodedMatrix> | null;
  return typeof m === "object" && m !== null && m.data instanceof Uint8Array && typeof m.type === "string" &&
    Number.isInteger(m.rows) && Number.isInteger(m.cols);
}

/** The addon's decoder layer op as a DecoderLayerRun. A prepared layer keeps its weights object alive (the handle
 *  points into its arrays); an addon without decoderLayerPrepare gets the whole spec on every step. */
function decoderLayerRun(addon: NativeAddon, run: NonNullable<NativeAddon["decoderLayerDecode"]>,
  tune: (m: EncodedMatrix) => void): DecoderLayerRun {
  interface Prepared extends PreparedDecoderLayer { weights: DecoderLayerWeights; handle: object | null }
  const prepareNative = addon.decoderLayerPrepare, stepNative = addon.decoderLayerStep;
  const fn = ((x, spec) => run.call(addon, x, spec)) as DecoderLayerRun;
  fn.prepare = (weights) => {
    // Each dense matrix's decode kernel chosen now (tuning measures a shape the first time it is seen).
    for (const w of Object.values(weights)) if (isEncodedMatrix(w)) tune(w);
    return { preparedDecoderLayer: true, weights, handle: prepareNative && stepNative ? prepareNative.call(addon, weights) : null } as Prepared;
  };
  fn.step = (x, layer, kCaches, vCaches, capacities, positions) => {
    const p = layer as Prepared;
    if (p.handle) stepNative!.call(addon, x, p.handle, kCaches, vCaches, capacities, positions);
    else run.call(addon, x, { ...p.weights, m: kCaches.length, kCaches, vCaches, capacities, positions });
  };
  const stackNative = addon.decoderStackStep, headNative = addon.decoderHeadPrepare;
  if (stackNative && prepareNative && stepNative) {
    // The handles of a model's layer list, gathered once per list (a model keeps its list while it runs here), and
    // the native state its steps keep (scratch, step-aside counters: one per model, freed with the list).
    const handles = new WeakMap<readonly PreparedDecoderLayer[], { layers: object[]; state: object | undefined }>();
    interface Head extends PreparedDecoderHead { weights: DecoderHeadWeights; handle: object }
    fn.stack = (x, layers, kCaches, vCaches, positions, head, logits, rows = true) => {
      let h = handles.get(layers);
      if (!h) handles.set(layers, (h = { layers: layers.map((l) => (l as Prepared).handle!), state: addon.decoderStackState?.() }));
      return stackNative.call(addon, x, h.layers, kCaches, vCaches, positions, head ? (head as Head).handle : undefined, logits, rows,
        h.state);
    };
    if (headNative) {
      fn.prepareHead = (weights) => {
        tune(weights.weight);
        return { preparedDecoderHead: true, weights, handle: headNative.call(addon, weights) } as Head;
      };
    }
  }
  const moeNative = addon.decoderLayerMoe;
  if (moeNative && prepareNative && stepNative) {
    fn.moe = (h, out, m, layer) => moeNative.call(addon, h, out, (layer as Prepared).handle!, m);
  }
  return fn;
}

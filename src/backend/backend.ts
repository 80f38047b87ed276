// The backend interface: a small set of primitive ops over flat typed-array storage, plus a few fused row ops
// (each with a composed twin in src/tensor/ that tests compare it against), allocation, capability queries, and
// optional fused composites reached through fused(name, shape) — each named by what it fuses (e.g. one pre-norm
// RMS / rotary GQA / SwiGLU decoder layer), never by a model family. Argument rules live in checks.ts, once for
// both implementations: ref/ (pure TypeScript, the specification) and cpu/ (native kernels).
//
// Conventions (both backends, every op):
// - Storage is a plain typed array: f32 → Float32Array, bf16 and f16 → Uint16Array (raw bits), i32 → Int32Array,
//   quantized GGUF blocks → Uint8Array. Ops read/write from element offset 0 of what they are given; callers pass
//   subarray() views for offsets. Buffers never alias unless an op says so.
// - Shapes are row-major; "rows × cols" ops work on the last dimension (cols contiguous).
// - Ops never allocate their outputs: the caller passes `out`. Ops validate sizes and throw BackendError naming
//   the op, the shapes and what was expected.
// - Backward ops *accumulate* into gradient buffers (dx += ...) only where the op says "accumulate"; otherwise
//   they overwrite.
// Leaves out: autograd, views and broadcasting rules (those live in src/tensor/), devices other than the CPU.

import type { DecoderLayerRun, DecoderLayerShape } from "./decoder-layer-op.js";
export type { DecoderHeadWeights, DecoderLayerDecodeSpec, DecoderLayerRun, DecoderLayerShape, DecoderLayerWeights, DecoderMoeSpec,
  PreparedDecoderHead, PreparedDecoderLayer } from "./decoder-layer-op.js";

export type DType = "f32" | "bf16" | "f16" | "i32";
export type FloatStorage = Float32Array;
export type HalfStorage = Uint16Array;
export type Storage = Float32Array | Uint16Array | Int32Array;

/** GGUF/ggml quantized block types the backend can multiply with directly. */
export type QuantType = "q8_0" | "q4_0" | "q4_1" | "q5_0" | "q5_1" | "q4_k" | "q5_k" | "q6_k";
/** In-memory repacked forms of q8_0 / q4_0 / q4_k / q6_k matrices (16 rows interleaved per block; see Backend.repackWeight and
 *  refRepackR16), for quantMatmul only. Never read from or written to a file. */
export type PackedType = "q8_0_r16" | "q4_0_r16" | "q4_k_r16" | "q6_k_r16";
/** Weight storage types for inference matmuls with ggml semantics (raw GGUF bytes, or a repacked form). */
export type WeightType = "f32" | "f16" | "bf16" | QuantType | PackedType;

export type UnaryOp =
  | "neg" | "exp" | "log" | "sqrt" | "rsqrt" | "recip" | "abs" | "tanh" | "sigmoid" | "relu"
  | "gelu_tanh" | "gelu_erf" | "silu" | "square";

export type BinaryOp = "add" | "sub" | "mul" | "div" | "max" | "min" | "pow";

export interface MatmulParams {
  /** Number of independent matrix products (batched matmul); 1 for a plain GEMM. */
  batch: number;
  m: number;
  n: number;
  k: number;
  /** A is stored [k, m] (row-major) instead of [m, k]. */
  transA: boolean;
  /** B is stored [n, k] (row-major, i.e. a weight matrix in nn.Linear layout) instead of [k, n]. */
  transB: boolean;
  /** Elements between consecutive batch matrices; 0 broadcasts one matrix over the batch. */
  strideA: number;
  strideB: number;
  strideC: number;
  /** out = alpha·A·B + beta·out (beta 0 ignores what out held, even NaN). */
  alpha: number;
  beta: number;
}

/** An encoded weight matrix [rows, cols] as raw GGUF bytes (a block type, f16 or bf16). */
export interface EncodedMatrix {
  data: Uint8Array;
  type: WeightType;
  rows: number;
  cols: number;
  /** The same matrix packed once into GEMM panels (Backend.packPanels), for the fused ops that read it (null: none). */
  panels?: PackedPanels | null;
}

/** A weight matrix packed once into a backend's GEMM panels (Backend.packPanels): f32 elements, or the weight's own
 *  f16 / bf16 bits (half the memory, widened by the kernel). Opaque layout (native/gemm_packed.c). */
export interface PackedPanels {
  data: Uint8Array;
  type: "f32" | "f16" | "bf16";
}

/** A quantized matrix in a repacked r16 layout (Backend.repackWeight), as PrefillLayerSpec takes it. */
export interface PackedQuantMatrix {
  data: Uint8Array;
  type: PackedType;
}

/** What a "cross-decoder-layer-decode" fused op computes (an encoder-decoder's decoder layer, T5's), named by its
 *  parts; a backend answers only for shapes it implements. */
export interface CrossDecoderLayerShape {
  /** "pre-rms": RMSNorm (with weight) before each of the three sublayers; each adds back to its input. */
  norm: "pre-rms";
  /** "biased-unscaled": q/k/v projections without biases, causal attention over a per-sequence f32 cache with an
   *  additive per-head bias chosen by the key's distance before its query, scores not scaled (T5 folds 1/√d into
   *  its init); then cross-attention of a q projection over the source's K/V (unpadded), o projections. */
  attention: "biased-unscaled";
  /** "gated": wo·(act(wi0·x) ⊙ wi1·x); "plain": wo·act(wi0·x). */
  mlp: "gated" | "plain";
}

/** A weight matrix of the cross decoder layer: f32 (a dense tensor's bytes) or an encoded one. */
export type LayerMatrix = EncodedMatrix;

/** The dims, weights and caches of one cross decoder layer for m sequences that each decode one token. */
export interface CrossDecoderLayerDecodeSpec {
  m: number;
  hidden: number;
  nHead: number;
  headDim: number;
  ffn: number;
  eps: number;
  act: "relu" | "gelu_tanh" | "gelu_erf" | "silu";
  gated: boolean;
  selfNorm: Float32Array;
  crossNorm: Float32Array;
  ffnNorm: Float32Array;
  /** q, k, v, crossQ [nHead·headDim, hidden]; o, crossO [hidden, nHead·headDim]; wi0, wi1 [ffn, hidden] (wi1 null
   *  unless gated); wo [hidden, ffn]. */
  q: LayerMatrix;
  k: LayerMatrix;
  v: LayerMatrix;
  o: LayerMatrix;
  crossQ: LayerMatrix;
  crossO: LayerMatrix;
  wi0: LayerMatrix;
  wi1: LayerMatrix | null;
  wo: LayerMatrix;
  /** [nDist, nHead]: row d is each head's bias for a key d positions before its query (nDist > every position). */
  relBias: Float32Array;
  /** Per sequence: self-attention cache buffers [capacity, nHead, headDim] (f32), their capacity, the position of
   *  its new token, and its source's cross-attention K/V [sourceLength, nHead, headDim]. */
  kCaches: Float32Array[];
  vCaches: Float32Array[];
  capacities: number[];
  positions: number[];
  crossK: Float32Array[];
  crossV: Float32Array[];
  sourceLengths: number[];
  /** Optional, for the last layer: logits [m, vocab] = head · (outScale · RMSNorm(x, outNorm)) (head [vocab, hidden]). */
  head?: LayerMatrix | null;
  vocab?: number;
  outNorm?: Float32Array;
  outScale?: number;
  logits?: Float32Array;
}

/** What an "encoder-layer-forward" fused op computes (an encoder-only model's layer: BERT, RoBERTa), named by its
 *  parts; a backend answers only for shapes it implements. */
export interface EncoderLayerShape {
  /** "post-layernorm": LayerNorm (weight and bias) after each sublayer's residual add. */
  norm: "post-layernorm";
  /** "bidirectional-mha": q/k/v projections with biases, each sequence's rows attend to all its rows (no mask
   *  beyond the sequence), scaled dot products, o projection with bias. */
  attention: "bidirectional-mha";
  /** "dense": down(act(up·x + b) ) + b, act GELU (erf or tanh) or ReLU. */
  mlp: "dense";
}

/** The dims, weights and packed sequences of one encoder layer (shape: EncoderLayerShape) over n tokens:
 *  x [n, hidden] becomes LN2((act(h·upᵀ + bUp)·downᵀ + bDown) + h), h = LN1((attention·oᵀ + bo) + x). */
export interface EncoderLayerForwardSpec {
  n: number;
  hidden: number;
  nHead: number;
  headDim: number;
  ffn: number;
  eps: number;
  attnScale: number;
  act: "gelu_erf" | "gelu_tanh" | "relu";
  /** Each sequence's rows [start, start + length) of x, in order, not overlapping. */
  seqStarts: Int32Array;
  seqLengths: Int32Array;
  /** q, k, v, o [hidden, hidden]; up [ffn, hidden]; down [hidden, ffn] (f32 as raw bytes, or encoded). */
  q: EncodedMatrix;
  k: EncodedMatrix;
  v: EncodedMatrix;
  o: EncodedMatrix;
  up: EncodedMatrix;
  down: EncodedMatrix;
  bq: Float32Array;
  bk: Float32Array;
  bv: Float32Array;
  bo: Float32Array;
  bUp: Float32Array;
  bDown: Float32Array;
  ln1Weight: Float32Array;
  ln1Bias: Float32Array;
  ln2Weight: Float32Array;
  ln2Bias: Float32Array;
}

export interface AttentionParams {
  /** Batch size. */
  b: number;
  /** Query positions in this call. */
  tq: number;
  /** Key/value positions visible (cache length after appending this call's keys). Causal: query i sees keys
   *  [0, tk - tq + i]. */
  tk: number;
  nHead: number;
  nKvHead: number; // nHead % nKvHead == 0 (grouped-query attention)
  headDim: number;
  /** Softmax scale, normally 1/sqrt(headDim). */
  scale: number;
  causal: boolean;
  /** Positions allocated per batch entry in the k/v buffers (≥ tk), so a cache [b, maxT, nKvHead, headDim] can be
   *  passed as is; default tk. Only the first tk positions of each batch entry are read. */
  kvCapacity?: number;
  /** The k/v storage of attention() (forward only): "f32" (default), "f16" (Uint16Array of half bits) or "q8_0"
   *  (Uint8Array of ggml q8_0 blocks; headDim a multiple of 32), read as an f32 cache of the decoded values would be. */
  kvType?: "f32" | "f16" | "q8_0";
}
export type KvCacheArrays = Float32Array[] | Uint16Array[] | Uint8Array[]; // a fused decode step's caches, one type for all
// Attention layouts: q [b, tq, nHead, headDim]; k, v [b, kvCapacity, nKvHead, headDim] (a KV cache is just a larger
// buffer whose first tk positions per batch entry are filled); out [b, tq, nHead, headDim]. The forward also writes the
// log-sum-exp of each score row, lse [b, nHead, tq], which the backward uses instead of storing probabilities.

export interface AdamWParams {
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  weightDecay: number;
  /** 1-based step count, for bias correction. */
  step: number;
}

/** The optional fused ops, by name, with the shape each is asked for and the function it runs. */
export interface FusedOps {
  /** x [m, hidden] updated in place by one decoder layer for single-token decode steps: RMSNorm, the q/k/v
   *  product(s) (+ biases), per sequence RoPE, cache write and causal attention, o projection and residual,
   *  RMSNorm, gate/up product(s), SwiGLU, down projection and residual — exactly the primitive ops of this
   *  interface in the order the tensor path of the model calls them (that composition is its specification, and
   *  what runs when the backend does not offer it). */
  "decoder-layer-decode": { shape: DecoderLayerShape; run: DecoderLayerRun };
  /** x [m, hidden] updated in place by one encoder-decoder decoder layer for single-token decode steps: RMSNorm,
   *  q/k/v products, per sequence cache write and biased attention, o product and residual; RMSNorm, cross q
   *  product, attention over the source K/V, cross o product and residual; RMSNorm, feed-forward and residual; when
   *  asked (the last layer), the output RMSNorm and the LM head — the tensor path of the model that asks for it is
   *  its specification (and what runs without it). */
  "cross-decoder-layer-decode": { shape: CrossDecoderLayerShape; run: (x: Float32Array, spec: CrossDecoderLayerDecodeSpec) => void };
  /** x [n, hidden] updated in place by one post-LayerNorm encoder layer over packed sequences (forward only): q/k/v
   *  products with biases, each sequence's bidirectional attention, o product + bias + residual, LayerNorm, up
   *  product + bias, activation, down product + bias + residual, LayerNorm — the tensor path of the model that asks
   *  for it (src/models/bert/model.ts) is its specification (and what runs without it). */
  "encoder-layer-forward": { shape: EncoderLayerShape; run: (x: Float32Array, spec: EncoderLayerForwardSpec) => void };
}
export type FusedOpName = keyof FusedOps;

/** Whether two layer shapes name the same layer (a backend compares what it is asked for with what it runs). */
export function sameLayerShape(a: DecoderLayerShape, b: DecoderLayerShape): boolean {
  return a.norm === b.norm && a.attention === b.attention && a.mlp === b.mlp;
}

/** How readChecksum loads: plain wide loads, the same with software prefetch ahead, non-temporal loads. */
export const READ_VARIANTS = ["plain", "prefetch", "nontemporal"] as const;
export type ReadVariant = (typeof READ_VARIANTS)[number];

export interface BackendInfo {
  name: "ref" | "cpu";
  isa: string;
  threads: number;
}

export type OpName =
  | "copyStrided" | "addStrided" | "cast" | "fill" | "unary" | "unaryBackward" | "binary" | "scale" | "axpy" | "reduceSum" | "reduceMax"
  | "matmul" | "softmax" | "softmaxBackward" | "logSoftmax" | "logSoftmaxBackward"
  | "layerNorm" | "layerNormBackward" | "rmsNorm" | "rmsNormBackward" | "rope"
  | "embedding" | "embeddingBackward" | "attention" | "attentionBackward"
  | "crossEntropy" | "crossEntropyBackward" | "adamw" | "swiglu" | "swigluBackward"
  | "quantMatmul" | "dequantize" | "quantize";

export interface Backend {
  info(): BackendInfo;
  /** Whether op runs natively for this dtype (ref answers true for everything it implements). */
  supports(op: OpName, dtype?: DType | WeightType): boolean;
  setThreads(n: number): void;

  // ---- memory ----
  /** Storage of n elements; may come from a pool (see release). Zero-filled unless `zeroFill` is false: then
   *  the contents are unspecified and the caller must write every element before reading any. */
  alloc(dtype: DType, n: number, zeroFill?: boolean): Storage;
  /** Returns storage to the pool. The caller must not touch it afterwards. */
  release(storage: Storage): void;

  // ---- layout and conversion ----
  /** dst[dstOffset + Σ i_d·dstStrides_d] = src[srcOffset + Σ i_d·srcStrides_d] over all indices of shape.
   *  Same dtype on both sides. A 0 stride in src broadcasts. */
  copyStrided(src: Storage, srcOffset: number, srcStrides: readonly number[], dst: Storage, dstOffset: number,
    dstStrides: readonly number[], shape: readonly number[]): void;
  /** dst[dstOffset + Σ i_d·dstStrides_d] += src[srcOffset + Σ i_d·srcStrides_d] over all indices of shape (f32;
   *  one f32 add per element). A gradient added into a slice of a bigger one, with no temporary. The dst view must
   *  not visit an element twice nor overlap src. */
  addStrided(src: Float32Array, srcOffset: number, srcStrides: readonly number[], dst: Float32Array, dstOffset: number,
    dstStrides: readonly number[], shape: readonly number[]): void;
  /** Element-wise dtype conversion of n elements (f32↔bf16 rounds to nearest even, f32↔f16 IEEE). */
  cast(src: Storage, srcType: DType, dst: Storage, dstType: DType, n: number): void;
  /** dst[0..n) = value. Float32Array: value rounded to f32; Int32Array: an integer; Uint16Array (bf16/f16): value is
   *  the raw 16-bit pattern (convert with f32ToBf16/f32ToF16 first). */
  fill(dst: Storage, value: number, n: number): void;

  // ---- elementwise (f32) ----
  unary(op: UnaryOp, x: Float32Array, out: Float32Array, n: number): void;
  /** dx (+)= dy · op'(x), accumulate when `accumulate`. */
  unaryBackward(op: UnaryOp, x: Float32Array, dy: Float32Array, dx: Float32Array, n: number, accumulate: boolean): void;
  /** out[i] = a[ai] op b[bi] over `shape`, with strides for broadcasting (0 = broadcast). out is contiguous. */
  binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array, bStrides: readonly number[],
    out: Float32Array, shape: readonly number[]): void;
  /** out = alpha·x + beta (n elements). */
  scale(x: Float32Array, out: Float32Array, n: number, alpha: number, beta: number): void;
  /** y += alpha·x (n elements). */
  axpy(alpha: number, x: Float32Array, y: Float32Array, n: number): void;
  /** x viewed as [outer, size, inner]: out[o, i] = Σ_s x[o, s, i] (accumulate adds into out). */
  reduceSum(x: Float32Array, out: Float32Array, outer: number, size: number, inner: number, accumulate: boolean): void;
  reduceMax(x: Float32Array, out: Float32Array, outer: number, size: number, inner: number): void;
  /** Optional, the read-bandwidth probe of `zhiyu bench bandwidth`: Σ x[i] mod 2^32 as an unsigned integer, x read
   *  once front to back in one contiguous share per thread; `variant` says how the native kernel loads (the value is
   *  the same for all). Absent: the bench times reduceSum instead. */
  readChecksum?(x: Int32Array, variant: ReadVariant): number;
  /** Optional hint for a large buffer that lives long and is streamed often (a KV cache, a GGUF model's weights): back its untouched pages with
   *  2 MiB pages where the system allows (fewer TLB misses when a decode step reads it). Changes no value. */
  adviseHugePages?(x: Storage): void;

  // ---- matmul ----
  /** C = alpha·op(A)·op(B) + beta·C, f32 or bf16 operands (dtype of a and b), f32 output and accumulation. */
  matmul(a: Storage, b: Storage, c: Float32Array, p: MatmulParams, dtype: "f32" | "bf16"): void;
  /** Optional: matmul(cast(a, bf16), cast(b, bf16), c, p, "bf16") for f32 a and b, without the bf16 copies (the
   *  bf16 mixed-precision product on CPUs without bf16 dot products). Absent: callers cast, then call matmul. */
  matmulRoundBf16?(a: Float32Array, b: Float32Array, c: Float32Array, p: MatmulParams): void;

  // ---- optional fused composites (see FusedOps) ----
  /** The fused op `name` for a layer of `shape` when this backend runs it, else null (compose the primitives).
   *  Absent: no fused ops at all. */
  fused?<K extends FusedOpName>(name: K, shape: FusedOps[K]["shape"]): FusedOps[K]["run"] | null;

  // ---- fused row ops (rows × cols, f32) ----
  /** Softmax over each row; rows that are all -inf give all zeros (never NaN). */
  softmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** dx = y ⊙ (dy − Σ dy⊙y), y the softmax output. Accumulates into dx. */
  softmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void;
  /** log of softmax per row; rows that are all -inf give all zeros (never NaN), like softmax. */
  logSoftmax(x: Float32Array, out: Float32Array, rows: number, cols: number): void;
  /** dx += dy − exp(y)·Σ dy, y the logSoftmax output. Accumulates into dx. */
  logSoftmaxBackward(y: Float32Array, dy: Float32Array, dx: Float32Array, rows: number, cols: number): void;
  /** y = (x − mean)/sqrt(var + eps)·w + b; saves mean and rstd per row ([rows]). w, b may be null. */
  layerNorm(x: Float32Array, w: Float32Array | null, b: Float32Array | null, out: Float32Array, mean: Float32Array,
    rstd: Float32Array, rows: number, cols: number, eps: number): void;
  /** Accumulates into dx, dw, db (dw, db may be null). */
  layerNormBackward(x: Float32Array, w: Float32Array | null, mean: Float32Array, rstd: Float32Array, dy: Float32Array,
    dx: Float32Array, dw: Float32Array | null, db: Float32Array | null, rows: number, cols: number): void;
  /** y = x / sqrt(mean(x²) + eps) · w; saves rstd per row. w may be null. */
  rmsNorm(x: Float32Array, w: Float32Array | null, out: Float32Array, rstd: Float32Array, rows: number, cols: number,
    eps: number): void;
  /** Accumulates into dx and dw (dw may be null). */
  rmsNormBackward(x: Float32Array, w: Float32Array | null, rstd: Float32Array, dy: Float32Array, dx: Float32Array,
    dw: Float32Array | null, rows: number, cols: number): void;
  /** Rotary embedding in place on x [b, t, heads, headDim] for positions pos0 .. pos0+t-1 (rotDim ≤ headDim dims
   *  rotated). layout "neox" pairs (i, i + rotDim/2); "interleaved" pairs (2i, 2i+1). inverse rotates by −θ
   *  (that is the backward). freqs[i] = theta^(−2i/rotDim), precomputed by the caller (scaling applied there). */
  rope(x: Float32Array, b: number, t: number, heads: number, headDim: number, rotDim: number, pos0: number,
    freqs: Float32Array, layout: "neox" | "interleaved", inverse: boolean): void;
  /** out[i, :] = table[ids[i], :]; throws on an id outside [0, vocab). */
  embedding(table: Float32Array, ids: Int32Array, out: Float32Array, n: number, dim: number, vocab: number): void;
  /** dTable[ids[i], :] += dOut[i, :]. */
  embeddingBackward(ids: Int32Array, dOut: Float32Array, dTable: Float32Array, n: number, dim: number): void;
  /** out = softmax(q·kᵀ·scale + causal mask)·v per head, GQA by head groups; writes lse [b, nHead, tq] (k, v: p.kvType). */
  attention(q: Float32Array, k: Float32Array | Uint16Array | Uint8Array, v: Float32Array | Uint16Array | Uint8Array, out: Float32Array,
    lse: Float32Array, p: AttentionParams): void;
  /** Accumulates into dq, dk, dv (same layouts as q, k, v). */
  attentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
    dOut: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array, p: AttentionParams): void;
  /** losses[r] = logsumexp(logits[r]) − logits[r, targets[r]], 0 where targets[r] == ignoreIndex.
   *  Returns the number of rows not ignored. Throws on a target outside [0, cols) other than ignoreIndex. */
  crossEntropy(logits: Float32Array, targets: Int32Array, losses: Float32Array, rows: number, cols: number,
    ignoreIndex: number): number;
  /** dLogits[r] = (softmax(logits[r]) − onehot(target)) · dLoss[r] (overwrite; 0 rows where ignored). */
  crossEntropyBackward(logits: Float32Array, targets: Int32Array, dLoss: Float32Array, dLogits: Float32Array,
    rows: number, cols: number, ignoreIndex: number): void;
  /** out = silu(gate) ⊙ up (n elements). */
  swiglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void;
  /** Accumulates dGate, dUp. */
  swigluBackward(gate: Float32Array, up: Float32Array, dOut: Float32Array, dGate: Float32Array, dUp: Float32Array,
    n: number): void;

  // ---- optimizer ----
  /** Fused AdamW on n elements: m, v updated in place; param −= lr·(m̂/(sqrt(v̂)+eps) + wd·param).
   *  decay=false skips weight decay (norms, biases, embeddings by default). */
  adamw(param: Float32Array, grad: Float32Array, m: Float32Array, v: Float32Array, n: number, p: AdamWParams,
    decay: boolean): void;

  // ---- quantized weights (inference) ----
  /** out[m, rows] = x[m, cols] · Wᵀ, W [rows, cols] as raw GGUF bytes of `type` (rows·cols/blockSize blocks).
   *  Activations are rounded the way ggml-cpu does before the dot products, so results match llama.cpp:
   *  Q8_0 blocks for q8_0, q4_0, q4_1, q5_0, q5_1 (integer dot products), Q8_K for k-quants, f16 for f16 weights, bf16 for
   *  bf16 weights, exact for f32. */
  quantMatmul(w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array, out: Float32Array,
    m: number): void;
  /** Dequantizes n elements (a multiple of the block size) of blocks to f32. */
  dequantize(w: Uint8Array, type: QuantType, out: Float32Array, n: number): void;
  /** n f32 values (a multiple of 32) → q8_0 blocks as ggml's quantize_row_q8_0_ref (a q8_0 KV cache's rows). */
  quantize(x: Float32Array, type: "q8_0", out: Uint8Array, n: number): void;
  /** Optional: rewrites the matrix w [rows, cols] of `type` in place into a layout this backend's quantMatmul runs
   *  faster, and returns the new type (quantMatmul gives the same bits for it); null leaves w untouched (no faster
   *  layout for this type or shape). The new form serves quantMatmul only: rows can no longer be dequantized. */
  repackWeight?(w: Uint8Array, type: WeightType, rows: number, cols: number): WeightType | null;
  /** Optional: a copy of the weight w [rows, cols] (f32, f16 or bf16 bytes, the nn.Linear layout) packed once into
   *  the panels of this backend's GEMM, for EncodedMatrix.panels (products on it give the unpacked path's bits);
   *  null when this CPU or type has no panel layout. The weight must not change afterwards (inference only). */
  packPanels?(w: Uint8Array, type: "f32" | "f16" | "bf16", rows: number, cols: number): PackedPanels | null;
  /** Optional: quantMatmul of an f16 / bf16 matrix that also comes packed (packPanels), reading the panels where that
   *  gives quantMatmul's bits (its GEMM-sized products), else the matrix as quantMatmul does. */
  quantMatmulPanels?(w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array, out: Float32Array,
    m: number, panels: PackedPanels): void;
  /** Optional: a decoder prompt's SwiGLU MLP sublayer in place, x [m, hidden] += down·(silu(gate·h) ⊙ up·h) with
   *  h = rmsNorm(x)·normW, on the packed panels of gateUp ([2·ffn, hidden], gate rows first) and down ([hidden, ffn]),
   *  f16 / bf16 weights of `type` — the bits of rmsNorm, quantMatmulPanels, swiglu and add in turn. false (x
   *  untouched): a shape it leaves to those ops. */
  prefillMlpPanels?(x: Float32Array, m: number, hidden: number, ffn: number, normW: Float32Array, eps: number,
    type: "f16" | "bf16", gateUp: PackedPanels, down: PackedPanels): boolean;
  /** Optional: a decoder prompt's whole pre-norm layer in place on x [m, hidden] (one sequence, causal, its new k/v
   *  rows written into the cache at pos0 …) — the bits of rmsNorm, quantMatmulPanels on the stacked q/k/v, the
   *  per-head norms, rope + cache write + attention (attendCached), the output product, add, then prefillMlpPanels.
   *  false (nothing touched): a shape it leaves to those ops. */
  prefillLayerPanels?(x: Float32Array, m: number, spec: PrefillLayerSpec): boolean;
  /** Optional: prefillLayerPanels for every layer in turn, in one call (fewer pool dispatches: a thread's rows go
   *  from one layer's MLP straight into the next layer's norm); the same bits. false (nothing touched): some layer
   *  is a shape it leaves to the ops. */
  prefillStackPanels?(x: Float32Array, m: number, specs: PrefillLayerSpec[]): boolean;
  /** Optional: RoPE's cos | sin rows for positions pos0 … pos0 + t − 1 into out [t, 2·freqs.length] (the values rope
   *  computes for itself on each call), for prefillLayerPanels. */
  ropeTable?(freqs: Float32Array, pos0: number, t: number, out: Float32Array): void;
}

/** One layer of a prompt for Backend.prefillLayerPanels: dims, norms, packed panels, the cache and the RoPE rows. */
export interface PrefillLayerSpec {
  hidden: number;
  ffn: number;
  nHead: number;
  nKv: number;
  headDim: number;
  /** RoPE pairs (2i, 2i+1) instead of (i, i + half). */
  interleaved: boolean;
  eps: number;
  scale: number;
  /** "f16" / "bf16": qkv … down are packed panels of weights of that type; "quant": they are repacked quantized
   *  matrices (PackedType, e.g. q4_0_r16: QuantWeight.data and .type), each thread quantizing its own rows'
   *  activations as quantMatmul does (the bits of quantMatmul in place of quantMatmulPanels). */
  type: "f16" | "bf16" | "quant";
  attnNorm: Float32Array;
  ffnNorm: Float32Array;
  /** Per-head RMSNorm weights [headDim] of q and k before RoPE (Qwen3), or null. */
  qNorm: Float32Array | null;
  kNorm: Float32Array | null;
  /** q, k, v stacked [nHead·headDim + 2·nKv·headDim, hidden]; o [hidden, nHead·headDim]; gate, up stacked [2·ffn, hidden]; down [hidden, ffn]. */
  qkv: PackedPanels | PackedQuantMatrix;
  o: PackedPanels | PackedQuantMatrix;
  gateUp: PackedPanels | PackedQuantMatrix;
  down: PackedPanels | PackedQuantMatrix;
  /** [capacity, nKv, headDim]: f32, or f16 bits. */
  kCache: Float32Array | Uint16Array;
  vCache: Float32Array | Uint16Array;
  capacity: number;
  pos0: number;
  /** ropeTable(freqs, pos0, m, ·). */
  rope: Float32Array;
}

/** An error from a backend op: `[op] message`, naming shapes and the expected values. */
export class BackendError extends Error {
  override name = "BackendError";
  constructor(readonly op: string, message: string) {
    super(`[${op}] ${message}`);
  }
}

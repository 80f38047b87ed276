// Matrix products with their derivatives: batched matmul with broadcasting over batch dims (transposed views
// map to the backend's transA/transB, so x·wᵀ never copies w), an optional bf16 mode (operands rounded to bf16,
// f32 accumulation: the trainer's mixed precision), linear(x, w, bias) for f32 weights [out, in] or quantized
// GGUF weights (QuantWeight, inference; the gradient flows to x only), and dequantizeWeight. bf16 products go to
// the backend's optional matmulRoundBf16 when it has one (f32 operands rounded inside the GEMM's packing), else
// the operands are cast to bf16 copies here and passed to matmul with dtype "bf16" (the same numbers).
// Prompts (inference, f16 / bf16 weights on packed panels): prefillSwigluMlp (an MLP sublayer) and prefillDecoderLayer
// (a whole pre-norm layer with its cache writes and attention) as one backend call each, the bits of the ops they replace.
// Leaves out: 1-d operands (unsqueeze first), integer matmul.
import type { Backend, PackedPanels, PackedQuantMatrix, PackedType, PrefillLayerSpec, QuantType, Storage, WeightType } from "../backend/backend.js";
import { OpError, fmtShape } from "../core/errors.js";
import { broadcastShapes, broadcastStrides, numel, shapesEqual, type Shape } from "../core/shape.js";
import type { DerivativeTable } from "./graph.js";
import { Tensor, isGradEnabled, noGrad } from "./tensor.js";
import { record, save } from "./autograd.js";
import { backendOf, dense, denseF32, expectDType, fromOffset, outF32 } from "./operands.js";
import { add } from "./elementwise.js";
import { reshape, transpose } from "./views.js";
import { sumTo } from "./reduce.js";
import { adaptedLinear } from "./lora-linear.js";

/** A weight matrix [rows = out, cols = in] kept in its GGUF encoding (raw bytes of `type` blocks). */
export interface QuantWeight {
  type: WeightType;
  rows: number;
  cols: number;
  data: Uint8Array;
  /** Set by the inference loaders on f16 / bf16 matrices that never change: quantLinear packs the matrix once, on
   *  its first product of 16+ rows (a prompt, not a decode step), into the backend's GEMM panels (`panels`; null:
   *  the backend has none), and such products read them — the same bits, one extra copy of the matrix in memory. */
  packPanels?: boolean;
  panels?: PackedPanels | null;
}

/** One low-rank adapter on a linear layer (LoRA): adds scale · B (A x) to the layer's output. */
export interface LowRankAdapter {
  /** [r, in] */
  a: Tensor;
  /** [out, r] */
  b: Tensor;
  /** alpha / r (or alpha / √r for rsLoRA), times the user's adapter scale. */
  scale: number;
  /** Applied to x before A (LoRA dropout in training); absent = identity. */
  dropout?: (x: Tensor) => Tensor;
  /** [N, 1] per-row factors, or null for every row: lets rows of one packed batch use different adapters. A
   *  function gets the row count of x (a network's packed tokens, or one row per sequence at its output head). */
  rowScale?: Tensor | null | ((rows: number) => Tensor | null);
}

/** A frozen base matrix (f32 or kept in its GGUF encoding) with low-rank adapters: linear() computes
 *  base(x) + Σ scale · B (A · dropout(x)); gradients reach x, A and B, never the base. */
export interface AdaptedWeight {
  readonly base: Tensor | QuantWeight;
  adapters: LowRankAdapter[];
  /** An encoded base is multiplied as its f32 decode (QLoRA training, as bitsandbytes dequantizes to the compute
   *  dtype: exact activations, and the backward is the gradient of the same function) instead of by llama.cpp's
   *  quantized product (inference: no decode per call). */
  dequantizeBase?: boolean;
}

export function isAdaptedWeight(w: unknown): w is AdaptedWeight {
  return typeof w === "object" && w !== null && !(w instanceof Tensor) && Array.isArray((w as AdaptedWeight).adapters);
}

export type MatmulDType = "f32" | "bf16";

export interface MatmulOptions {
  /** "bf16" rounds both operands to bf16 and accumulates in f32 (forward and backward). Default "f32". */
  dtype?: MatmulDType;
}

declare module "./graph.js" {
  interface SavedByOp {
    matmul: { a: Tensor; b: Tensor; dtype: MatmulDType };
    linear: { x: Tensor; w: Tensor; dtype: MatmulDType; outDim: number };
    quantLinear: { w: QuantWeight; inShape: Shape };
  }
}

export function isQuantWeight(w: unknown): w is QuantWeight {
  return typeof w === "object" && w !== null && !(w instanceof Tensor) && (w as QuantWeight).data instanceof Uint8Array;
}

interface Operand {
  data: Storage;
  trans: boolean;
  batchStride: number;
  release(): void;
}

/** "n" if the last two dims (r, c) are stored densely row-major, "t" if stored as the dense transpose. */
function matrixLayout(r: number, c: number, sr: number, sc: number): "n" | "t" | null {
  if ((c === 1 || sc === 1) && (r === 1 || sr === c)) return "n";
  if ((r === 1 || sr === 1) && (c === 1 || sc === r)) return "t";
  return null;
}

/** One stride that walks the flattened batch dims, or null if they do not collapse (0 = broadcast). */
function collapseBatch(shape: Shape, strides: Shape): number | null {
  const dims = shape.map((s, i) => [s, strides[i]] as const).filter(([s]) => s !== 1);
  if (dims.length === 0 || dims.every(([, st]) => st === 0)) return 0;
  for (let i = 0; i + 1 < dims.length; i++) if (dims[i][1] !== dims[i + 1][1] * dims[i + 1][0]) return null;
  return dims[dims.length - 1][1];
}

function operand(op: string, x: Tensor, batchShape: Shape, bf16: boolean): Operand {
  const r = x.shape[x.rank - 2];
  const c = x.shape[x.rank - 1];
  const batchStrides = broadcastStrides(op, x.shape.slice(0, -2), x.strides.slice(0, -2), batchShape);
  const layout = matrixLayout(r, c, x.strides[x.rank - 2], x.strides[x.rank - 1]);
  const stride = collapseBatch(batchShape, batchStrides);
  const backend = x.backend;
  if (layout && stride !== null) {
    if (!bf16) return { data: x.storage(op).subarray(x.offset), trans: layout === "t", batchStride: stride, release() {} };
    // bf16: round the addressed range as laid out (a transposed weight stays transposed: no transpose copy).
    const batch = numel(batchShape);
    const extent = (stride === 0 ? 0 : stride * (batch - 1)) + r * c;
    if (extent <= 2 * (stride === 0 ? r * c : batch * r * c)) {
      const half = backend.alloc("bf16", extent);
      backend.cast(x.storage(op).subarray(x.offset, x.offset + extent), "f32", half, "bf16", extent);
      return { data: half, trans: layout === "t", batchStride: stride, release: () => backend.release(half) };
    }
  }
  // Copy into a dense [batch, r, c] buffer (expanded over the batch unless x has no batch dims to speak of).
  const ownBatch = numel(x.shape.slice(0, -2));
  const fullShape = [...batchShape, r, c];
  const src = ownBatch === 1 ? x : x.withLayout(fullShape, [...batchStrides, x.strides[x.rank - 2], x.strides[x.rank - 1]], x.offset, false);
  const d = dense(op, src);
  if (src !== x) src.dispose();
  const batchStride = ownBatch === 1 ? 0 : r * c;
  if (!bf16) return { data: d.data, trans: false, batchStride, release: d.release };
  const n = src === x ? x.size : numel(fullShape);
  const half = backend.alloc("bf16", n);
  backend.cast(d.data, "f32", half, "bf16", n);
  d.release();
  return { data: half, trans: false, batchStride, release: () => backend.release(half) };
}

/** a [..., m, k] · b [..., k, n] → [..., m, n], batch dims broadcast. Either operand may be a transposed view. */
export function matmul(a: Tensor, b: Tensor, opts?: MatmulOptions): Tensor {
  const dtype = opts?.dtype ?? "f32";
  const backend = backendOf("matmul", a, b);
  expectDType("matmul", a, "f32", "a");
  expectDType("matmul", b, "f32", "b");
  if (a.rank < 2 || b.rank < 2) {
    throw new OpError("matmul", `operands need rank ≥ 2, got a ${fmtShape(a.shape)} and b ${fmtShape(b.shape)}; unsqueeze vectors first`);
  }
  const m = a.shape[a.rank - 2];
  const k = a.shape[a.rank - 1];
  const n = b.shape[b.rank - 1];
  if (b.shape[b.rank - 2] !== k) {
    throw new OpError("matmul", `inner dims differ: a ${fmtShape(a.shape)} · b ${fmtShape(b.shape)} (${k} vs ${b.shape[b.rank - 2]}); ` +
      "expected b.shape[-2] == a.shape[-1]");
  }
  const batchShape = broadcastShapes("matmul", a.shape.slice(0, -2), b.shape.slice(0, -2));
  const batch = numel(batchShape);
  // The product writes every element (beta 0); an empty inner dim leaves it to the zero fill.
  const out = k > 0 ? Tensor.uninit(backend, "f32", [...batchShape, m, n]) : Tensor.empty(backend, "f32", [...batchShape, m, n]);
  if (out.size > 0) {
    // bf16 with a backend that rounds inside the product: pass the f32 operands as they are (no bf16 copies)
    const roundInside = dtype === "bf16" && typeof backend.matmulRoundBf16 === "function";
    const A = operand("matmul", a, batchShape, dtype === "bf16" && !roundInside);
    const B = operand("matmul", b, batchShape, dtype === "bf16" && !roundInside);
    try {
      const params = {
        batch, m, n, k, transA: A.trans, transB: B.trans, strideA: A.batchStride, strideB: B.batchStride,
        strideC: m * n, alpha: 1, beta: 0,
      };
      if (roundInside) backend.matmulRoundBf16!(A.data as Float32Array, B.data as Float32Array, outF32(out), params);
      else backend.matmul(A.data, B.data, outF32(out), params, dtype);
    } finally {
      A.release();
      B.release();
    }
  }
  return record(out, "matmul", [a, b], () => ({ a: save(a), b: save(b), dtype }));
}

/** y = x · wᵀ + bias for x [..., in]: w is an f32 tensor [out, in] or a QuantWeight (rows = out, cols = in). */
export function linear(x: Tensor, w: Tensor | QuantWeight | AdaptedWeight, bias?: Tensor | null, opts?: MatmulOptions): Tensor {
  if (isAdaptedWeight(w)) return adaptedLinear(x, w, bias, opts);
  if (isQuantWeight(w)) {
    const y = quantLinear(x, w);
    if (!bias) return y;
    const out = add(y, bias);
    y.dispose();
    return out;
  }
  const inDim = x.shape[x.rank - 1];
  if (w.rank !== 2 || w.shape[1] !== inDim) {
    throw new OpError("linear", `weight ${fmtShape(w.shape)} does not fit input ${fmtShape(x.shape)}; expected [out, ${inDim}]`);
  }
  if (bias && (bias.rank !== 1 || bias.shape[0] !== w.shape[0])) {
    throw new OpError("linear", `bias ${fmtShape(bias.shape)} does not match weight ${fmtShape(w.shape)}; expected [${w.shape[0]}]`);
  }
  // One op of its own (not matmul of a transposed view) so the weight gradient comes out as dyᵀ·x, already
  // [out, in] and contiguous, with no transpose copy per step. The bias is added into the fresh product in place
  // (the same sums as a separate add, without a second [N, out] buffer) and its gradient is part of the op's.
  const dtype = opts?.dtype ?? "f32";
  const backend = backendOf("linear", x, w, bias);
  const x2 = reshape(x, [-1, inDim]); // [N, in]
  const wt = w.withLayout([w.shape[1], w.shape[0]], [w.strides[1], w.strides[0]], w.offset, false); // [in, out] view
  const y = noGradMatmul(x2, wt, dtype); // [N, out]
  wt.dispose();
  if (bias && y.size > 0) {
    expectDType("linear", bias, "f32", "bias");
    const yd = outF32(y);
    backend.binary("add", yd, [w.shape[0], 1], fromOffset("linear", bias) as Float32Array, [0, bias.strides[0]], yd, y.shape);
  }
  record(y, "linear", [x2, w, bias ?? null], () => ({ x: save(x2), w: save(w), dtype, outDim: w.shape[0] }));
  const out = reshape(y, [...x.shape.slice(0, -1), w.shape[0]]);
  x2.dispose();
  y.dispose();
  return out;
}

function noGradMatmul(a: Tensor, b: Tensor, dtype: MatmulDType): Tensor {
  return noGrad(() => matmul(a, b, { dtype }));
}

/** Fewest activation rows for which a packed matrix pays: below, the backend's dot kernels run on the file's layout. */
const PANEL_MIN_ROWS = 16;

/** w's packed panels, made on first use (QuantWeight.packPanels). */
function panelsOf(w: QuantWeight, backend: Backend): PackedPanels | null {
  if (w.panels === undefined) {
    const pack = backend.packPanels;
    w.panels = pack && (w.type === "f16" || w.type === "bf16") ? pack.call(backend, w.data, w.type, w.rows, w.cols) : null;
  }
  return w.panels;
}

/** x [..., cols] · Wᵀ with W a QuantWeight [rows, cols] → [..., rows] (llama.cpp's rounding of activations). */
export function quantLinear(x: Tensor, w: QuantWeight): Tensor {
  const backend = backendOf("linear", x);
  const cols = x.shape[x.rank - 1];
  if (cols !== w.cols) {
    throw new OpError("linear", `quantized weight [${w.rows}, ${w.cols}] (${w.type}) does not fit input ${fmtShape(x.shape)}; ` +
      `expected the last dim to be ${w.cols}`);
  }
  const m = x.size / cols;
  const xs = denseF32("linear", x);
  const out = Tensor.uninit(backend, "f32", [...x.shape.slice(0, -1), w.rows]);
  try {
    const panels = w.packPanels && m >= PANEL_MIN_ROWS ? panelsOf(w, backend) : null;
    if (m > 0 && panels && backend.quantMatmulPanels) backend.quantMatmulPanels(w.data, w.type, w.rows, w.cols, xs.data, outF32(out), m, panels);
    else if (m > 0) backend.quantMatmul(w.data, w.type, w.rows, w.cols, xs.data, outF32(out), m);
  } finally {
    xs.release();
  }
  return record(out, "quantLinear", [x], () => ({ w, inShape: x.shape }));
}

/** Inference on a prompt: x + down·swiglu(gate·h, up·h) with h = rmsNorm(x, norm, eps) (a pre-norm SwiGLU MLP
 *  sublayer; gateUp is gate and up stacked by rows, [2·F, D]) as one backend call on the matrices' packed panels —
 *  the bits of rmsNorm, linear, narrow + swiglu, linear and add — or null where the backend leaves it to those ops
 *  (no such op, gradients on, matrices not packed, a shape it does not split). */
export function prefillSwigluMlp(x: Tensor, norm: Tensor, eps: number, gateUp: QuantWeight, down: QuantWeight): Tensor | null {
  const backend = x.backend, run = backend.prefillMlpPanels;
  const type = gateUp.type, d = x.shape[x.rank - 1], m = x.size / d, f = down.cols;
  if (!run || isGradEnabled() || x.dtype !== "f32" || norm.dtype !== "f32" || norm.size !== d || (type !== "f16" && type !== "bf16") ||
    down.type !== type || !gateUp.packPanels || !down.packPanels || gateUp.cols !== d || gateUp.rows !== 2 * f || down.rows !== d ||
    m < PANEL_MIN_ROWS) return null;
  const gu = panelsOf(gateUp, backend), dn = panelsOf(down, backend);
  if (!gu || !dn) return null;
  const out = Tensor.uninit(backend, "f32", x.shape);
  const xs = denseF32("prefillSwigluMlp", x), ns = denseF32("prefillSwigluMlp", norm, "norm");
  let ran = false;
  try {
    const o = outF32(out);
    o.set(xs.data.subarray(0, m * d));
    ran = run.call(backend, o, m, d, f, ns.data, eps, type, gu, dn);
  } finally {
    xs.release(); ns.release();
  }
  if (!ran) out.dispose();
  return ran ? out : null;
}

/** A prompt layer's matrices and norms for prefillDecoderLayer (q/k/v and gate/up each stacked by rows). */
export interface PrefillLayerWeights {
  attnNorm: Tensor;
  ffnNorm: Tensor;
  /** Per-head RMSNorm weights [Dh] of q and k before RoPE (Qwen3), or null (both). */
  qNorm: Tensor | null;
  kNorm: Tensor | null;
  qkv: QuantWeight;
  o: QuantWeight;
  gateUp: QuantWeight;
  down: QuantWeight;
}

/** RoPE's cos | sin rows for positions pos0 … pos0 + t − 1 (the values rope computes for itself on each call), for
 *  every layer of a prompt's prefillDecoderLayer calls; null where the backend has no such op. */
export function promptRopeTable(backend: Backend, freqs: Float32Array, pos0: number, t: number): Float32Array | null {
  if (!backend.ropeTable || (!backend.prefillLayerPanels && !backend.prefillStackPanels)) return null;
  const out = new Float32Array(t * 2 * freqs.length);
  backend.ropeTable(freqs, pos0, t, out);
  return out;
}

/** The raw elements of a contiguous cache tensor: f32, or f16 bits. */
function cacheElements(t: Tensor): Float32Array | Uint16Array {
  return (t.storage("prefillDecoderLayer") as Float32Array | Uint16Array).subarray(t.offset, t.offset + t.size);
}

/** The dims prefillDecoderLayer reads beyond the matrices' shapes. */
export interface PrefillLayerDims {
  nHead: number;
  nKv: number;
  headDim: number;
  eps: number;
  interleaved: boolean;
}

const PACKED_TYPES: ReadonlySet<string> = new Set<PackedType>(["q8_0_r16", "q4_0_r16", "q4_k_r16", "q6_k_r16"]);

/** One layer's backend spec for m rows of width d, or null when the matrices, norms or cache do not fit what the op
 *  runs; the dense views it took go into `held` (released by the caller after the call). The matrices: f16 / bf16
 *  ones that pack into panels, or repacked quantized ones (r16 types: the op quantizes activations as quantMatmul). */
function layerSpec(backend: Backend, d: number, m: number, w: PrefillLayerWeights, dims: PrefillLayerDims,
  cache: { k: Tensor; v: Tensor; pos0: number }, rope: Float32Array, held: Array<{ release(): void }>): PrefillLayerSpec | null {
  const type = w.qkv.type, f = w.down.cols;
  const { nHead, nKv, headDim } = dims, qd = nHead * headDim, kd = nKv * headDim;
  const mats = [w.qkv, w.o, w.gateUp, w.down];
  const quant = mats.every((mw) => PACKED_TYPES.has(mw.type));
  const { k, v, pos0 } = cache, cap = k.rank === 4 ? k.shape[1] : 0;
  if ((!quant && ((type !== "f16" && type !== "bf16") || !mats.every((mw) => mw.type === type && mw.packPanels))) ||
    w.qkv.rows !== qd + 2 * kd || w.qkv.cols !== d || w.o.rows !== d || w.o.cols !== qd || w.gateUp.rows !== 2 * f ||
    w.gateUp.cols !== d || w.down.rows !== d || (w.qNorm === null) !== (w.kNorm === null) ||
    rope.length === 0 || rope.length % (2 * m) !== 0 ||
    k.rank !== 4 || k.shape[0] !== 1 || k.shape[2] !== nKv || k.shape[3] !== headDim || !k.isContiguous || !v.isContiguous ||
    !shapesEqual(k.shape, v.shape) || k.dtype !== v.dtype || (k.dtype !== "f32" && k.dtype !== "f16") || pos0 + m > cap) return null;
  const panels: Array<PackedPanels | PackedQuantMatrix | null> = quant
    ? mats.map((mw) => ({ data: mw.data, type: mw.type as PackedType }))
    : mats.map((mw) => panelsOf(mw, backend));
  if (!panels.every((p) => p !== null)) return null;
  const view = (t: Tensor | null, what: string) => {
    if (!t) return null;
    const dv = denseF32("prefillDecoderLayer", t, what);
    held.push(dv);
    return dv.data;
  };
  return {
    hidden: d, ffn: f, nHead, nKv, headDim, interleaved: dims.interleaved, eps: dims.eps, scale: 1 / Math.sqrt(headDim),
    type: quant ? "quant" : type as "f16" | "bf16",
    attnNorm: view(w.attnNorm, "attnNorm")!, ffnNorm: view(w.ffnNorm, "ffnNorm")!, qNorm: view(w.qNorm, "qNorm"), kNorm: view(w.kNorm, "kNorm"),
    qkv: panels[0]!, o: panels[1]!, gateUp: panels[2]!, down: panels[3]!,
    kCache: cacheElements(k), vCache: cacheElements(v), capacity: cap, pos0, rope,
  };
}

/** Why prefillDecoderLayersOrWhy left a prompt to the layer ops. everyLayer: the reason holds for each layer on its
 *  own too (no such op, gradients on, the input, or the backend declining a stack whose layers all have one shape),
 *  so calling the op layer by layer would only decline again; false: one layer's matrices, norms or cache do not
 *  fit (the others may still run one call each). */
export interface PrefillDeclined {
  why: string;
  everyLayer: boolean;
}

/** The fields of a spec the backend's shape check reads beyond the pointers: equal for every layer, the backend's
 *  answer for the stack is its answer for each layer. */
function specShape(s: PrefillLayerSpec): string {
  return [s.hidden, s.ffn, s.nHead, s.nKv, s.headDim, s.type, s.qkv.type, s.o.type, s.gateUp.type, s.down.type, s.qNorm === null,
    s.kCache.constructor.name, s.capacity, s.pos0, s.interleaved].join(",");
}

/** Inference on a prompt of one sequence: pre-norm decoder layers in turn — per layer h = rmsNorm(x); q|k|v = h·Wqkvᵀ;
 *  (per-head rmsNorm of q, k); RoPE; k, v written into the layer's cache at pos0 …; causal attention over the cache
 *  scaled by headDim^−½; x + att·Woᵀ; then the SwiGLU MLP sublayer of prefillSwigluMlp — as one backend call on the
 *  matrices' packed panels or repacked quantized blocks (prefillStackPanels; or, for one layer or a backend without
 *  it, prefillLayerPanels), the bits of those ops in turn (rmsNorm, linear, narrow, rmsNorm, attendCached, linear,
 *  add, prefillSwigluMlp or linear + swiglu + linear + add). rope: promptRopeTable(freqs, pos0, rows). Where the
 *  backend leaves it to those ops (no such op, gradients on, matrices neither packed nor repacked, a cache that is not
 *  f32 / f16 [1, capacity, Hkv, Dh], a shape it does not split): why (PrefillDeclined), x and the caches untouched. */
export function prefillDecoderLayersOrWhy(x: Tensor, layers: ReadonlyArray<{ w: PrefillLayerWeights; k: Tensor; v: Tensor }>,
  dims: PrefillLayerDims, pos0: number, rope: Float32Array): Tensor | PrefillDeclined {
  const backend = x.backend, one = backend.prefillLayerPanels, stack = layers.length > 1 ? backend.prefillStackPanels : undefined;
  const d = x.shape[x.rank - 1], m = x.size / d;
  const shared = (why: string): PrefillDeclined => ({ why, everyLayer: true });
  if (!one && !stack) return shared("the backend has no prefillLayerPanels / prefillStackPanels");
  if (layers.length === 0) return shared("no layers");
  if (layers.length > 1 && !stack) return { why: "the backend has no prefillStackPanels (one call a layer)", everyLayer: false };
  if (isGradEnabled()) return shared("gradients are on");
  if (x.dtype !== "f32" || x.rank !== 2 || m < PANEL_MIN_ROWS) return shared(`input ${x.dtype} ${fmtShape(x.shape)} (needs f32 [rows ≥ ${PANEL_MIN_ROWS}, hidden])`);
  const held: Array<{ release(): void }> = [];
  let out: Tensor | null = null, ran = false;
  try {
    const specs: PrefillLayerSpec[] = [];
    for (const [l, layer] of layers.entries()) {
      const spec = layerSpec(backend, d, m, layer.w, dims, { k: layer.k, v: layer.v, pos0 }, rope, held);
      if (!spec) return { why: `layer ${l}: its matrices, norms or cache do not fit the op`, everyLayer: false };
      specs.push(spec);
    }
    const xs = denseF32("prefillDecoderLayer", x);
    held.push(xs);
    out = Tensor.uninit(backend, "f32", x.shape);
    const o = outF32(out);
    o.set(xs.data.subarray(0, m * d));
    ran = stack ? stack.call(backend, o, m, specs) : one!.call(backend, o, m, specs[0]!);
    if (!ran) {
      const oneShape = specs.every((s) => specShape(s) === specShape(specs[0]!));
      return { why: `the backend declined ${m} rows of this shape (threads, rows per thread, dims)`, everyLayer: oneShape };
    }
  } finally {
    for (const h of held) h.release();
    if (out && !ran) out.dispose();
  }
  return out!;
}

/** prefillDecoderLayersOrWhy, null where it declines. */
export function prefillDecoderLayers(x: Tensor, layers: ReadonlyArray<{ w: PrefillLayerWeights; k: Tensor; v: Tensor }>,
  dims: PrefillLayerDims, pos0: number, rope: Float32Array): Tensor | null {
  const y = prefillDecoderLayersOrWhy(x, layers, dims, pos0, rope);
  return "why" in y ? null : y;
}

/** prefillDecoderLayers for one layer. */
export function prefillDecoderLayer(x: Tensor, w: PrefillLayerWeights, dims: PrefillLayerDims,
  cache: { k: Tensor; v: Tensor; pos0: number }, rope: Float32Array): Tensor | null {
  return prefillDecoderLayers(x, [{ w, k: cache.k, v: cache.v }], dims, cache.pos0, rope);
}

/** The f32 matrix [rows, cols] a QuantWeight encodes. */
export function dequantizeWeight(w: QuantWeight, backend: Backend): Tensor {
  const out = Tensor.uninit(backend, "f32", [w.rows, w.cols]);
  decodeWeightInto(w.data, w.type, outF32(out), w.rows * w.cols, backend);
  return out;
}

/** The first n elements encoded in `bytes` (any weight type: f32, f16, bf16 or a GGUF block type) as f32 into
 *  out; exact for the float types, ggml's dequantization for the block types. The one bytes→f32 decode that
 *  weight loading, embedding lookups and dequantizeWeight share. */
export function decodeWeightInto(bytes: Uint8Array, type: WeightType, out: Float32Array, n: number,
  backend: Pick<Backend, "dequantize" | "cast">): void {
  if (type === "f32") {
    out.set(new Float32Array(alignedBuffer(bytes, 4, n * 4), bytes.byteOffset % 4 === 0 ? bytes.byteOffset : 0, n));
  } else if (type === "f16" || type === "bf16") {
    backend.cast(new Uint16Array(alignedBuffer(bytes, 2, n * 2), bytes.byteOffset % 2 === 0 ? bytes.byteOffset : 0, n), type, out, "f32", n);
  } else {
    backend.dequantize(bytes, type as QuantType, out, n);
  }
}

/** bytes' buffer when it is aligned for the element size, else a copy of the first `length` bytes. */
function alignedBuffer(bytes: Uint8Array, align: number, length: number): ArrayBufferLike {
  return bytes.byteOffset % align === 0 ? bytes.buffer : bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + length);
}

export const matmulDerivatives: DerivativeTable<"matmul" | "linear" | "quantLinear"> = {
  linear: ({ saved: { x, w, dtype, outDim }, needs }, dy) => [
    needs[0] ? matmul(dy, w, { dtype }) : null, // dx [N, in] = dy [N, out] · w [out, in]
    needs[1] ? matmul(transpose(dy), x, { dtype }) : null, // dw [out, in] = dyᵀ · x
    needs[2] ? sumTo(dy, [outDim]) : null, // dbias [out] = Σ_N dy
  ],
  matmul: ({ saved: { a, b, dtype }, needs }, dy) => [
    needs[0] ? sumTo(matmul(dy, transpose(b), { dtype }), a.shape) : null, // dA = dy · bᵀ
    needs[1] ? sumTo(matmul(transpose(a), dy, { dtype }), b.shape) : null, // dB = aᵀ · dy
  ],
  quantLinear: ({ saved: { w, inShape } }, dy) => {
    const wf = dequantizeWeight(w, dy.backend); // [rows, cols]
    const dy2 = reshape(dy, [-1, w.rows]);
    return [reshape(matmul(dy2, wf), inShape)]; // dx = dy · W
  },
};

// The "decoder-layer-decode" fused op of the backend interface (backend.ts re-exports it): what a pre-norm RMS /
// rotary GQA / SwiGLU or MoE decoder layer computes for single-token decode steps, its fields, and how a model runs
// it — one call with every field, or layers prepared once and then a step per layer or the whole stack per call
// (optionally ending with the output norm and head).
// Leaves out: the op's implementation (cpu/cpu-backend.ts, native/decode_layer.c) and its specification (each
// model's tensor path).
import type { EncodedMatrix, KvCacheArrays } from "./backend.js";

/** What a "decoder-layer-decode" fused op computes, named by its parts. A caller asks for the shape its layer has;
 *  a backend answers only for shapes it implements, so a LayerNorm/GELU layer can never run a kernel written
 *  for this one. */
export interface DecoderLayerShape {
  /** "pre-rms": RMSNorm (with weight) before attention and before the MLP; each sublayer adds back to its input. */
  norm: "pre-rms";
  /** "rotary-gqa": q/k/v projections (+ optional biases), rotary embedding of q and k (neox or interleaved
   *  pairs, rotDim ≤ headDim), grouped-query causal attention over a per-sequence f32 or f16 cache, o projection.
   *  "rotary-gqa-qk-norm": the same with each q and k head RMS-normalised (qNorm, kNorm) before RoPE (Qwen3). */
  attention: "rotary-gqa" | "rotary-gqa-qk-norm";
  /** "swiglu": down(silu(gate·x) ⊙ up·x); "moe-swiglu": sparse such experts (spec.moe), "-shared" with a shared one. */
  mlp: "swiglu" | "moe-swiglu" | "moe-swiglu-shared";
}

/** The MoE MLP of a "moe-swiglu" layer: each token's topK experts from route(router logits), each routed expert run
 *  once over its tokens in ascending expert order, out[t] += weight · expert(h[t]) (src/models/moe.ts by-expert). */
export interface DecoderMoeSpec {
  numExperts: number;
  topK: number;
  expertFfn: number; // each expert's intermediate size
  router: EncodedMatrix; // [numExperts, hidden]
  /** numExperts each: gate and up [expertFfn, hidden], down [hidden, expertFfn]; or each one matrix holding all
   *  experts' rows back to back ([numExperts · expertFfn, hidden] etc., expert e at e × its bytes: a GGUF stack). */
  gate: EncodedMatrix[] | EncodedMatrix;
  up: EncodedMatrix[] | EncodedMatrix;
  down: EncodedMatrix[] | EncodedMatrix;
  /** Router logits [m, numExperts] → each token's experts (distinct) and weights, [m, topK] each. */
  route(logits: Float32Array, m: number): { experts: Int32Array; weights: Float32Array };
  /** "-shared": run after the routed experts, out[t] += sigmoid(gateInp · h[t]) · down(silu(gate·h[t]) ⊙ up·h[t]);
   *  gateInp [1, hidden] encoded or an f32 row (src/models/moe.ts addSharedExpert). */
  shared?: { ffn: number; gate: EncodedMatrix; up: EncodedMatrix; down: EncodedMatrix; gateInp: EncodedMatrix | Float32Array } | null;
}

/** The dims, weights and caches of one decoder layer (shape: DecoderLayerShape) for m sequences that each
 *  decode one token (the "decoder-layer-decode" fused op). */
export interface DecoderLayerDecodeSpec {
  m: number;
  hidden: number;
  nHead: number;
  nKv: number;
  headDim: number;
  ffn: number;
  /** Rotated dims per head (2·freqs.length); 0: no RoPE. */
  rotDim: number;
  eps: number;
  attnScale: number;
  ropeInterleaved: boolean;
  freqs: Float32Array;
  attnNorm: Float32Array;
  ffnNorm: Float32Array;
  bq: Float32Array | null;
  bk: Float32Array | null;
  bv: Float32Array | null;
  /** The q/k/v projections fused [qd + 2·kd, hidden] (qd = nHead·headDim, kd = nKv·headDim), or (qkv null) as
   *  q [qd, hidden], k and v [kd, hidden] — Q4_K_M files mix types within a layer, so they cannot be fused. */
  qkv: EncodedMatrix | null;
  q?: EncodedMatrix;
  k?: EncodedMatrix;
  v?: EncodedMatrix;
  /** [hidden, qd] */
  o: EncodedMatrix;
  /** Per-head RMSNorm weights [headDim] of a "rotary-gqa-qk-norm" layer (absent or null: none). */
  qNorm?: Float32Array | null;
  kNorm?: Float32Array | null;
  /** gate and up fused [2·ffn, hidden], or (gateUp null) gate and up [ffn, hidden] each; a "moe-swiglu" layer gives
   *  moe instead (gateUp null, no down). */
  gateUp: EncodedMatrix | null;
  gate?: EncodedMatrix;
  up?: EncodedMatrix;
  /** [hidden, ffn] */
  down?: EncodedMatrix;
  moe?: DecoderMoeSpec;
  /** Per sequence: its cache buffers [capacity, nKv, headDim], their capacity, and the position of its new token.
   *  All f32, all Uint16Array (f16 bits, written rounded as cast() rounds) or all Uint8Array (q8_0 rows, as quantize()). */
  kCaches: KvCacheArrays; vCaches: KvCacheArrays;
  capacities: number[];
  positions: number[];
}

/** The fields of a decoder layer that stay the same from step to step (dims, norms, biases, matrices, MoE): what
 *  DecoderLayerRun.prepare reads once. */
export type DecoderLayerWeights = Omit<DecoderLayerDecodeSpec, "m" | "kCaches" | "vCaches" | "capacities" | "positions">;

/** A layer prepared by DecoderLayerRun.prepare: its fields read and checked once, held by the backend (opaque). */
export interface PreparedDecoderLayer { readonly preparedDecoderLayer: true }

/** The output norm and head a stack() call may end with: logits [m, weight.rows] = weight · rmsNorm(x; norm, eps),
 *  the tensor path's rmsNorm op then its encoded-matrix product (norm [hidden], weight [vocab, hidden]). */
export interface DecoderHeadWeights {
  norm: Float32Array;
  eps: number;
  weight: EncodedMatrix;
}

/** A head prepared by DecoderLayerRun.prepareHead (opaque). */
export interface PreparedDecoderHead { readonly preparedDecoderHead: true }

/** The "decoder-layer-decode" op: run(x, spec) for one call with every field, or prepare(weights) once per layer
 *  and step(x, layer, caches…) per step (the same computation; a step then reads only the caches). */
export interface DecoderLayerRun {
  (x: Float32Array, spec: DecoderLayerDecodeSpec): void;
  prepare(weights: DecoderLayerWeights): PreparedDecoderLayer;
  /** One step of m = kCaches.length sequences (x [m, hidden] in place). */
  step(x: Float32Array, layer: PreparedDecoderLayer, kCaches: KvCacheArrays, vCaches: KvCacheArrays, capacities: number[], positions: number[]): void;
  /** step() of every layer given, in order, in one call (absent from older addons), on x [m, hidden] in place,
   *  m = positions.length; caches layer-major (entry l·m + i: layer l of sequence i), each its whole buffer (its
   *  length gives the capacity). With a prepared head, then the head's logits [m, vocab] into `logits`. Returns
   *  which path ran: "rows" (the step's products split by fixed row ranges inside one pool task between attention
   *  calls; rows false rules it out, for A/B runs; by default it steps aside for a while when its threads keep
   *  arriving late at its barriers — a loaded machine — and "always" keeps it) or "calls" (a pool dispatch per product); both give the same bits. */
  stack?(x: Float32Array, layers: readonly PreparedDecoderLayer[], kCaches: KvCacheArrays, vCaches: KvCacheArrays,
    positions: readonly number[], head?: PreparedDecoderHead, logits?: Float32Array, rows?: boolean | "always"): "rows" | "calls" | void;
  /** The output norm and head read and checked once, for stack() (absent when stack() takes no head). */
  prepareHead?(head: DecoderHeadWeights): PreparedDecoderHead;
  /** The MoE MLP alone of a prepared "moe-swiglu" layer over h [m, hidden] (any m: a prompt) into out [m, hidden]:
   *  what the layer's MLP computes (absent from backends without it). */
  moe?(h: Float32Array, out: Float32Array, m: number, layer: PreparedDecoderLayer): void;
}

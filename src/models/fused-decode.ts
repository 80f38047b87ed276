// The backend's fused "decoder-layer-decode" op as the decoder families drive it (llama/model.ts, decoder/model.ts):
// one builder of a layer's op fields (dims, norms, biases, encoded matrices, MoE) from its parts, and a step
// runner. A model prepares each layer once (DecoderLayerRun.prepare: the backend reads and checks the fields
// then) and keeps the handles for as long as it runs on that backend; a decode step passes only x, the caches and
// the positions — for the whole layer stack in one call where the backend has DecoderLayerRun.stack.
// Leaves out: deciding whether a layer may run fused (each model's shape and encoded-weights checks), the tensor
// path (each model's block(), the op's specification).
import type { DecoderHeadWeights, DecoderLayerRun, DecoderLayerWeights, DecoderMoeSpec, EncodedMatrix, KvCacheArrays, PreparedDecoderHead,
  PreparedDecoderLayer } from "../backend/backend.js";
import { Tensor, isGradEnabled } from "../tensor/index.js";
import type { Segment } from "./llama/model.js";
import { KvCache } from "./kv-cache.js";

/** The dims every layer of a model shares, as the op names them. */
export interface FusedLayerDims {
  hidden: number;
  nHead: number;
  nKv: number;
  headDim: number;
  /** The dense MLP's intermediate size (an MoE layer's experts carry their own). */
  ffn: number;
  eps: number;
  freqs: Float32Array;
  ropeInterleaved: boolean;
}

/** One layer's weights: f32 tensors for norms and biases, encoded matrices for the products. */
export interface FusedLayerParts {
  attnNorm: Tensor;
  ffnNorm: Tensor;
  bq?: Tensor | null;
  bk?: Tensor | null;
  bv?: Tensor | null;
  /** Per-head q/k RMSNorm weights (Qwen3), or null. */
  qNorm?: Tensor | null;
  kNorm?: Tensor | null;
  attention: { qkv: EncodedMatrix; o: EncodedMatrix } | { q: EncodedMatrix; k: EncodedMatrix; v: EncodedMatrix; o: EncodedMatrix };
  mlp: { gateUp: EncodedMatrix; down: EncodedMatrix } | { gate: EncodedMatrix; up: EncodedMatrix; down: EncodedMatrix } | { moe: DecoderMoeSpec };
}

/** The f32 elements of a tensor as the op reads them (a view of its storage, no copy). */
export function opFloats(t: Tensor): Float32Array {
  return (t.storage("decoder-layer-decode") as Float32Array).subarray(t.offset, t.offset + t.size);
}

function opBits(t: Tensor): Uint16Array {
  return (t.storage("decoder-layer-decode") as Uint16Array).subarray(t.offset, t.offset + t.size);
}

/** A layer's op fields (everything but the step's caches and positions). */
export function fusedLayerWeights(dims: FusedLayerDims, parts: FusedLayerParts): DecoderLayerWeights {
  const view = (t: Tensor | null | undefined) => (t ? opFloats(t) : null);
  const a = parts.attention, mlp = parts.mlp;
  return {
    hidden: dims.hidden, nHead: dims.nHead, nKv: dims.nKv, headDim: dims.headDim, ffn: dims.ffn, rotDim: dims.freqs.length * 2,
    eps: dims.eps, attnScale: 1 / Math.sqrt(dims.headDim), ropeInterleaved: dims.ropeInterleaved, freqs: dims.freqs,
    attnNorm: opFloats(parts.attnNorm), ffnNorm: opFloats(parts.ffnNorm),
    bq: view(parts.bq), bk: view(parts.bk), bv: view(parts.bv), qNorm: view(parts.qNorm), kNorm: view(parts.kNorm),
    ...("qkv" in a ? { qkv: a.qkv } : { qkv: null, q: a.q, k: a.k, v: a.v }), o: a.o,
    ...("moe" in mlp ? { gateUp: null, moe: mlp.moe } : "gateUp" in mlp ? { gateUp: mlp.gateUp, down: mlp.down }
      : { gateUp: null, gate: mlp.gate, up: mlp.up, down: mlp.down }),
  };
}

/** One cache element array of the op: f32 values, f16 bits or q8_0 blocks. */
type KvCacheArray = KvCacheArrays[number];

/** A sequence cache's every layer as the op reads it, built for the tensors it holds now (growing replaces them). */
interface CacheViews {
  kTensors: Tensor[];
  vTensors: Tensor[];
  k: KvCacheArray[];
  v: KvCacheArray[];
}

/** A model's layers prepared for one backend's op: built on first use, built again when the model runs on another
 *  backend (another op); and what a decode step passes besides x, kept from step to step so that a step allocates
 *  next to nothing: each cache's views, and the positions array. */
export class PreparedLayers {
  private run: DecoderLayerRun | null = null;
  private layers: PreparedDecoderLayer[] = [];
  private head: PreparedDecoderHead | null = null;
  private readonly views = new WeakMap<KvCache, CacheViews>();
  private readonly positions: number[] = [];

  /** headWeights: the model's output norm and head as the op takes them (null: not an encoded matrix; absent: the
   *  model's head stays on the tensor path). */
  constructor(private readonly weights: () => readonly DecoderLayerWeights[],
    private readonly headWeights: () => DecoderHeadWeights | null = () => null) {}

  /** The handles for this op (preparing every layer, and the head where the op takes one, the first time). */
  for(run: DecoderLayerRun): readonly PreparedDecoderLayer[] {
    if (this.run !== run) {
      this.layers = this.weights().map((w) => run.prepare(w));
      const head = run.stack && run.prepareHead ? this.headWeights() : null;
      this.head = head ? run.prepareHead!(head) : null;
      this.run = run;
    }
    return this.layers;
  }

  /** A function that runs one single-token decode step of these cached sequences from x [m, hidden] (changed in
   *  place) to the logits [m, vocab] in one backend call — every layer, the output norm and the head — when the op
   *  has stack() and a prepared head; else null (and when their caches differ in type). */
  decodeForward(run: DecoderLayerRun, segs: readonly Segment[]): ((x: Tensor, logits: Float32Array) => void) | null {
    const layers = this.for(run), head = this.head, stack = run.stack;
    if (!head || !stack) return null;
    const args = this.stackArgs(segs, layers.length);
    return args && ((x, logits) => stack(opFloats(x), layers, args.k, args.v, this.positions, head, logits));
  }

  /** A function that runs every layer of one single-token decode step of these cached sequences on x [m, hidden] in
   *  place: one backend call when the op has stack(), else one step() per layer (the same computation); null when
   *  their caches differ in type (f32, f16, q8_0: the op takes one kind per call). */
  decodeStep(run: DecoderLayerRun, segs: readonly Segment[]): ((x: Tensor) => void) | null {
    const layers = this.for(run), stack = run.stack;
    if (stack) {
      const args = this.stackArgs(segs, layers.length);
      return args && ((x) => stack(opFloats(x), layers, args.k, args.v, this.positions));
    }
    const views = this.bind(segs), positions = this.positions;
    if (!views) return null;
    return (x) => {
      const xs = opFloats(x);
      for (let l = 0; l < layers.length; l++) {
        run.step(xs, layers[l]!, views.map((c) => c.k[l]!) as KvCacheArrays, views.map((c) => c.v[l]!) as KvCacheArrays,
          views.map((c) => c.kTensors[l]!.shape[1]!), positions);
      }
    };
  }

  /** A stack() call's caches, layer-major (entry l·m + i: layer l of sequence i; one sequence: its own lists, no
   *  copy), with this.positions set to the segments' positions; null when the caches differ in type. */
  private stackArgs(segs: readonly Segment[], nLayers: number): { k: KvCacheArrays; v: KvCacheArrays } | null {
    const views = this.bind(segs);
    if (!views) return null;
    const m = views.length;
    const flat = (side: "k" | "v") => (m === 1 ? views[0]![side]
      : Array.from({ length: nLayers * m }, (_, e) => views[e % m]![side][Math.floor(e / m)]!)) as KvCacheArrays;
    return { k: flat("k"), v: flat("v") };
  }

  /** Each segment's cache views, with this.positions set to the segments' positions; null when their caches differ
   *  in type (the op takes one kind per call). */
  private bind(segs: readonly Segment[]): CacheViews[] | null {
    const type = segs[0]!.cache!.dtype;
    if (!segs.every((s) => s.cache!.dtype === type)) return null;
    this.positions.length = segs.length;
    segs.forEach((s, i) => { this.positions[i] = s.pos0; });
    return segs.map((s) => this.viewsOf(s.cache!));
  }

  /** The op's views of a cache's layers, made again when its tensors changed (it grew). */
  private viewsOf(cache: KvCache): CacheViews {
    const have = this.views.get(cache);
    if (have && have.kTensors.length === cache.k.length && have.kTensors.every((t, l) => t === cache.k[l] && have.vTensors[l] === cache.v[l])) {
      return have;
    }
    const view = (t: Tensor): KvCacheArray => (cache.dtype === "q8_0" ? KvCache.bytesOf(t) : cache.dtype === "f16" ? opBits(t) : opFloats(t));
    const made: CacheViews = { kTensors: [...cache.k], vTensors: [...cache.v], k: cache.k.map(view), v: cache.v.map(view) };
    this.views.set(cache, made);
    return made;
  }
}

/** One single-token decode step of cached sequences as one backend call from their embedded tokens (embed(ids) →
 *  [m, hidden], a fresh tensor the call changes) to the logits [m, vocab]: every layer, the output norm and the
 *  head (prepared.decodeForward); each cache grows by the token. Null when that call is not available — autograd
 *  on, a prompt among the items, no stack() or no prepared head, caches of mixed types — and then no cache holds
 *  more tokens (at most its capacity grew): the caller runs its trunk and head (the same kernels on the same values). */
export function fusedDecodeLogits(prepared: PreparedLayers, run: DecoderLayerRun | null | undefined,
  items: ReadonlyArray<{ ids: readonly number[]; cache: KvCache }>, embed: (ids: Int32Array) => Tensor, vocab: number): Tensor | null {
  if (isGradEnabled() || !run?.stack || !items.every((it) => it.ids.length === 1)) return null;
  const segs = items.map((it, i): Segment => ({ start: i, b: 1, t: 1, pos0: it.cache.length, cache: it.cache }));
  for (const it of items) it.cache.reserve(1); // the capacity (views are made for it) before the step's arguments
  const step = prepared.decodeForward(run, segs);
  if (!step) return null;
  const x = embed(Int32Array.from(items, (it) => it.ids[0]!));
  const logits = Tensor.uninit(x.backend, "f32", [items.length, vocab]);
  step(x, opFloats(logits));
  x.dispose();
  for (const it of items) it.cache.length += 1;
  return logits;
}

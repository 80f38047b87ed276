// The backend's fused "decoder-layer-decode" op as the decoder families drive it (llama/model.ts, decoder/model.ts):
// one builder of a layer's op fields (dims, norms, biases, encoded matrices, MoE) from its parts, and a step
// runner. A model prepares each layer once (DecoderLayerRun.prepare: the backend reads and checks the fields
// then) and keeps the handles for as long as it runs on that backend; a decode step passes only x, the caches and
// the positions.
// Leaves out: deciding whether a layer may run fused (each model's shape and encoded-weights checks), the tensor
// path (each model's block(), the op's specification).
import type { DecoderLayerRun, DecoderLayerWeights, DecoderMoeSpec, EncodedMatrix, PreparedDecoderLayer } from "../backend/backend.js";
import type { Tensor } from "../tensor/index.js";
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

/** A model's layers prepared for one backend's op: built on first use, built again when the model runs on another
 *  backend (another op). */
export class PreparedLayers {
  private run: DecoderLayerRun | null = null;
  private layers: PreparedDecoderLayer[] = [];

  constructor(private readonly weights: () => readonly DecoderLayerWeights[]) {}

  /** The handles for this op (preparing every layer the first time). */
  for(run: DecoderLayerRun): readonly PreparedDecoderLayer[] {
    if (this.run !== run) {
      this.layers = this.weights().map((w) => run.prepare(w));
      this.run = run;
    }
    return this.layers;
  }
}

/** A function that runs layer l of one single-token decode step of these cached sequences on x [m, hidden] in place;
 *  null when their caches differ in type (f32, f16, q8_0: the op takes one kind per call). */
export function fusedDecodeStep(run: DecoderLayerRun, layers: readonly PreparedDecoderLayer[], segs: readonly Segment[]):
  ((l: number, x: Tensor) => void) | null {
  const caches = segs.map((s) => s.cache!);
  const type = caches[0].dtype;
  if (!caches.every((k) => k.dtype === type)) return null;
  const positions = segs.map((s) => s.pos0);
  let lastX: Tensor | null = null, xs: Float32Array = new Float32Array(0);
  return (l, x) => {
    if (x !== lastX) xs = opFloats(x), lastX = x;
    const capacities = caches.map((k) => k.k[l]!.shape[1]!);
    if (type === "q8_0") {
      run.step(xs, layers[l]!, caches.map((k) => KvCache.bytesOf(k.k[l]!)), caches.map((k) => KvCache.bytesOf(k.v[l]!)), capacities, positions);
    } else if (type === "f16") {
      run.step(xs, layers[l]!, caches.map((k) => opBits(k.k[l]!)), caches.map((k) => opBits(k.v[l]!)), capacities, positions);
    } else run.step(xs, layers[l]!, caches.map((k) => opFloats(k.k[l]!)), caches.map((k) => opFloats(k.v[l]!)), capacities, positions);
  };
}

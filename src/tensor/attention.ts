// Transformer position and attention ops with their derivatives: rotary embeddings (rope, with the frequency
// table helper incl. linear and Llama-3 scaling), fused causal scaled-dot-product attention with grouped-query
// heads, and KvCache (preallocated k/v [b, maxT, nKvHead, headDim] that attention appends to).
// Dims: B batch, Tq query positions, Tk key positions, H heads, Hkv kv heads, D head dim.
// Leaves out: dropout, ALiBi, sliding windows, arbitrary masks (compose them from primitives if needed).
import { OpError, fmtShape } from "../core/errors.js";
import type { Backend } from "../backend/backend.js";
import type { DerivativeTable } from "./graph.js";
import { Tensor, getDefaultBackend } from "./tensor.js";
import { needsGrad, record, save } from "./autograd.js";
import { backendOf, copyInto, denseF32, outF32 } from "./operands.js";
import { narrow } from "./views.js";

// ---- rotary embeddings ----

export type RopeLayout = "neox" | "interleaved";

export type RopeScaling =
  | { type: "linear"; factor: number }
  | { type: "llama3"; factor: number; lowFreqFactor: number; highFreqFactor: number; originalMaxPositions: number };

/** freqs[i] = theta^(−2i/rotDim) for i < rotDim/2, with optional scaling (linear divides every frequency by
 *  factor; llama3 scales only long wavelengths, smoothly between the two wavelength bounds, as HF/Meta do). */
export function ropeFrequencies(rotDim: number, theta = 10000, scaling?: RopeScaling): Float32Array {
  if (!Number.isInteger(rotDim) || rotDim <= 0 || rotDim % 2 !== 0) {
    throw new OpError("ropeFrequencies", `rotDim must be a positive even integer, got ${rotDim}`);
  }
  const freqs = new Float32Array(rotDim / 2);
  for (let i = 0; i < rotDim / 2; i++) {
    let f = Math.pow(theta, (-2 * i) / rotDim);
    if (scaling?.type === "linear") f /= scaling.factor;
    else if (scaling?.type === "llama3") {
      const lowWavelen = scaling.originalMaxPositions / scaling.lowFreqFactor;
      const highWavelen = scaling.originalMaxPositions / scaling.highFreqFactor;
      const wavelen = (2 * Math.PI) / f;
      if (wavelen > lowWavelen) f /= scaling.factor;
      else if (wavelen >= highWavelen) {
        const smooth = (scaling.originalMaxPositions / wavelen - scaling.lowFreqFactor) / (scaling.highFreqFactor - scaling.lowFreqFactor);
        f = (1 - smooth) * (f / scaling.factor) + smooth * f;
      }
    }
    freqs[i] = f;
  }
  return freqs;
}

export interface RopeOptions {
  /** Table from ropeFrequencies(rotDim, ...): length rotDim/2. */
  freqs: Float32Array;
  /** Position of the first of the t positions (the KV-cache length before this call). Default 0. */
  pos0?: number;
  /** "neox" pairs (i, i + rotDim/2) (HF Llama, Qwen, GPT-NeoX); "interleaved" pairs (2i, 2i+1). Default neox. */
  layout?: RopeLayout;
}

declare module "./graph.js" {
  interface SavedByOp {
    rope: { pos0: number; freqs: Float32Array; layout: RopeLayout };
    attention: { q: Tensor; k: Tensor; v: Tensor; out: Tensor; lse: Tensor; scale: number; causal: boolean };
  }
}

/** Rotates x [B, T, heads, D] by position; the first rotDim = 2·freqs.length dims of each head rotate. */
export function rope(x: Tensor, opts: RopeOptions): Tensor {
  if (x.rank !== 4) throw new OpError("rope", `x must be [batch, time, heads, headDim], got ${fmtShape(x.shape)}`);
  const [b, t, heads, headDim] = x.shape;
  const rotDim = opts.freqs.length * 2;
  if (rotDim > headDim) throw new OpError("rope", `freqs cover ${rotDim} dims but headDim is ${headDim}`);
  const pos0 = opts.pos0 ?? 0;
  const layout = opts.layout ?? "neox";
  const out = ropeCopy(x, b, t, heads, headDim, rotDim, pos0, opts.freqs, layout, false);
  return record(out, "rope", [x], () => ({ pos0, freqs: opts.freqs, layout }));
}

function ropeCopy(x: Tensor, b: number, t: number, heads: number, headDim: number, rotDim: number, pos0: number,
  freqs: Float32Array, layout: RopeLayout, inverse: boolean): Tensor {
  const xs = denseF32("rope", x);
  const out = Tensor.uninit(x.backend, "f32", x.shape);
  const o = outF32(out);
  o.set(xs.data);
  xs.release();
  if (out.size > 0) x.backend.rope(o, b, t, heads, headDim, rotDim, pos0, freqs, layout, inverse);
  return out;
}

// ---- KV cache ----

/** Preallocated keys and values for one attention layer: k, v [B, maxT, Hkv, D]; positions [0, length) filled. */
export class KvCache {
  readonly k: Tensor;
  readonly v: Tensor;
  private len = 0;

  constructor(readonly batch: number, readonly maxT: number, readonly nKvHead: number, readonly headDim: number,
    backend: Backend = getDefaultBackend()) {
    this.k = Tensor.empty(backend, "f32", [batch, maxT, nKvHead, headDim]);
    this.v = Tensor.empty(backend, "f32", [batch, maxT, nKvHead, headDim]);
  }

  get length(): number {
    return this.len;
  }

  /** Writes k, v [B, t, Hkv, D] at positions [length, length + t) and advances length. */
  append(k: Tensor, v: Tensor): void {
    const t = k.shape[1];
    const want = [this.batch, t, this.nKvHead, this.headDim];
    for (const [name, x] of [["k", k], ["v", v]] as const) {
      if (x.rank !== 4 || x.shape.some((s, i) => s !== want[i])) {
        throw new OpError("KvCache.append", `${name} ${fmtShape(x.shape)} does not fit the cache; expected ${fmtShape(want)}`);
      }
    }
    if (this.len + t > this.maxT) {
      throw new OpError("KvCache.append", `cache holds ${this.maxT} positions; ${this.len} used, ${t} more do not fit ` +
        "(raise the context length or truncate)");
    }
    const kDst = narrow(this.k, 1, this.len, t);
    const vDst = narrow(this.v, 1, this.len, t);
    copyInto("KvCache.append", kDst, k);
    copyInto("KvCache.append", vDst, v);
    kDst.dispose();
    vDst.dispose();
    this.len += t;
  }

  /** Forgets positions from n on (n ≤ length). */
  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.len) {
      throw new OpError("KvCache.truncate", `n must be an integer in [0, ${this.len}], got ${n}`);
    }
    this.len = n;
  }

  dispose(): void {
    this.k.dispose();
    this.v.dispose();
  }

  [Symbol.dispose](): void {
    this.dispose();
  }
}

// ---- attention ----

export interface AttentionOptions {
  /** Causal mask (query i sees keys up to its own position). Default true. */
  causal?: boolean;
  /** Score scale; default 1/sqrt(headDim). */
  scale?: number;
  /** Append k, v to this cache first, then attend over everything cached (inference; no gradient). */
  cache?: KvCache;
}

/** Scaled dot-product attention: q [B, Tq, H, D], k, v [B, Tk, Hkv, D] (H a multiple of Hkv) → [B, Tq, H, D].
 *  With a cache, k and v are this call's new positions and attention runs over the cache's filled prefix; the
 *  causal mask lets query i see keys up to position (cache length before the call) + i. */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts?: AttentionOptions): Tensor {
  const backend = backendOf("attention", q, k, v);
  const causal = opts?.causal ?? true;
  const cache = opts?.cache;
  if (q.rank !== 4 || k.rank !== 4 || v.rank !== 4) {
    throw new OpError("attention", `q, k, v must be [batch, time, heads, headDim]; got q ${fmtShape(q.shape)}, ` +
      `k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}`);
  }
  const [b, tq, nHead, headDim] = q.shape;
  const nKvHead = k.shape[2];
  if (k.shape[0] !== b || k.shape[3] !== headDim || v.shape.some((s, i) => s !== k.shape[i]) || nHead % nKvHead !== 0) {
    throw new OpError("attention", `shapes do not fit: q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}; ` +
      "expected k and v equal, the same batch and headDim as q, and heads a multiple of kv heads");
  }
  const scale = opts?.scale ?? 1 / Math.sqrt(headDim);
  const out = Tensor.uninit(backend, "f32", q.shape);
  const lse = Tensor.uninit(backend, "f32", [b, nHead, tq]);
  const qs = denseF32("attention", q, "q");
  if (cache) {
    if (needsGrad(q, k, v)) throw new OpError("attention", "a KV cache is for inference; run under noGrad (no gradient through the cache)");
    if (cache.batch !== b || cache.nKvHead !== nKvHead || cache.headDim !== headDim) {
      throw new OpError("attention", `cache [${cache.batch}, ${cache.maxT}, ${cache.nKvHead}, ${cache.headDim}] does not fit k ${fmtShape(k.shape)}`);
    }
    cache.append(k, v);
    try {
      backend.attention(qs.data, outF32(cache.k), outF32(cache.v), outF32(out), outF32(lse),
        { b, tq, tk: cache.length, nHead, nKvHead, headDim, scale, causal, kvCapacity: cache.maxT });
    } finally {
      qs.release();
      lse.dispose();
    }
    return out;
  }
  if (causal && k.shape[1] < tq) {
    throw new OpError("attention", `causal attention needs at least as many keys as queries; got Tq ${tq}, Tk ${k.shape[1]}`);
  }
  const ks = denseF32("attention", k, "k");
  const vs = denseF32("attention", v, "v");
  try {
    backend.attention(qs.data, ks.data, vs.data, outF32(out), outF32(lse),
      { b, tq, tk: k.shape[1], nHead, nKvHead, headDim, scale, causal });
  } finally {
    qs.release(); ks.release(); vs.release();
  }
  record(out, "attention", [q, k, v], () => ({ q: save(q), k: save(k), v: save(v), out: save(out), lse: save(lse), scale, causal }));
  lse.dispose();
  return out;
}

/** One sequence of a packed inference step: rows [start, start + t) of q/k/v, its new positions pos0 … pos0+t−1
 *  and its cache buffers k, v [1, capacity, Hkv, Dh] (contiguous, f32 or f16; positions [0, pos0) already filled),
 *  or with q8, i32 tensors [1, capacity, Hkv·Dh/32·34/4] holding q8_0 blocks (ggml's layout). */
export interface CachedSegment {
  start: number;
  t: number;
  pos0: number;
  k: Tensor;
  v: Tensor;
  q8?: boolean;
}

/** Inference attention for several sequences packed in rows: q [N, H·Dh], k, v [N, Hkv·Dh] (any strides). Per
 *  sequence: RoPE at its positions (freqs null: none), its new k/v rows written into its cache, causal attention
 *  over the cache → [N, H·Dh]. The same arithmetic as rope() + assign() + attention(), as a handful of backend
 *  calls per sequence with no tensors in between (a decode step of 8 sequences × 12 layers otherwise builds
 *  ~100 small tensors per layer). Not differentiable: call it without autograd. */
/** The raw f16 bits of a contiguous cache tensor. */
function cacheBits(t: Tensor): Uint16Array {
  return (t.storage("attendCached") as Uint16Array).subarray(t.offset, t.offset + t.size);
}

/** The raw bytes of a contiguous i32 cache tensor (q8_0 blocks). */
function cacheBytes(t: Tensor): Uint8Array {
  const words = t.storage("attendCached") as Int32Array;
  return new Uint8Array(words.buffer, words.byteOffset + t.offset * 4, t.size * 4);
}

export function attendCached(q: Tensor, k: Tensor, v: Tensor, segs: readonly CachedSegment[],
  shape: { numHeads: number; numKvHeads: number; headDim: number; freqs: Float32Array | null; layout: RopeLayout }): Tensor {
  const backend = backendOf("attendCached", q, k, v);
  if (needsGrad(q, k, v)) throw new OpError("attendCached", "inference only: run under noGrad (no gradient through the cache)");
  const { numHeads: nHead, numKvHeads: nKvHead, headDim } = shape;
  const n = q.shape[0];
  const qw = nHead * headDim, kw = nKvHead * headDim;
  if (q.rank !== 2 || q.shape[1] !== qw || k.rank !== 2 || k.shape[1] !== kw || v.rank !== 2 || v.shape[1] !== kw ||
    k.shape[0] !== n || v.shape[0] !== n) {
    throw new OpError("attendCached", `q ${fmtShape(q.shape)}, k ${fmtShape(k.shape)}, v ${fmtShape(v.shape)}; expected ` +
      `[N, ${qw}], [N, ${kw}], [N, ${kw}]`);
  }
  // Private contiguous copies of q and k: RoPE rotates them in place.
  const qs = Tensor.uninit(backend, "f32", q.shape), ks = Tensor.uninit(backend, "f32", k.shape);
  copyInto("attendCached", qs, q);
  copyInto("attendCached", ks, k);
  const vs = denseF32("attendCached", v, "v");
  const out = Tensor.uninit(backend, "f32", [n, qw]);
  const qd = outF32(qs), kd = outF32(ks), od = outF32(out);
  const maxT = Math.max(0, ...segs.map((s) => s.t));
  const lse = backend.alloc("f32", nHead * maxT, false);
  const rotDim = shape.freqs ? shape.freqs.length * 2 : 0;
  try {
    for (const s of segs) {
      const cap = s.k.shape[1];
      const layoutOk = s.q8
        ? s.k.rank === 3 && s.k.shape[2] * 4 === (kw / 32) * 34 && s.k.dtype === "i32" && kw % 32 === 0
        : s.k.rank === 4 && s.k.shape[2] === nKvHead && s.k.shape[3] === headDim && (s.k.dtype === "f32" || s.k.dtype === "f16");
      if (s.start < 0 || s.start + s.t > n || s.pos0 + s.t > cap || !layoutOk || s.k.shape[0] !== 1 ||
        !s.k.isContiguous || !s.v.isContiguous || s.v.shape[1] !== cap || s.k.dtype !== s.v.dtype || s.v.shape[2] !== s.k.shape[2]) {
        throw new OpError("attendCached", `segment rows [${s.start}, ${s.start + s.t}) at positions ${s.pos0}… does not fit ` +
          `${n} rows and cache ${fmtShape(s.k.shape)} ${s.k.dtype}/${s.v.dtype} (needs contiguous [1, ≥ ${s.pos0 + s.t}, ${nKvHead}, ${headDim}], ` +
          "k and v both f32 or both f16; or, for q8_0, i32 [1, ≥ positions, Hkv·Dh/32·34/4])");
      }
      const qr = qd.subarray(s.start * qw, (s.start + s.t) * qw);
      const kr = kd.subarray(s.start * kw, (s.start + s.t) * kw);
      if (shape.freqs && s.t > 0) {
        backend.rope(qr, 1, s.t, nHead, headDim, rotDim, s.pos0, shape.freqs, shape.layout, false);
        backend.rope(kr, 1, s.t, nKvHead, headDim, rotDim, s.pos0, shape.freqs, shape.layout, false);
      }
      const vr = vs.data.subarray(s.start * kw, (s.start + s.t) * kw);
      let kc: Float32Array | Uint16Array | Uint8Array, vc: Float32Array | Uint16Array | Uint8Array;
      if (s.q8) { // a q8_0 cache: the new rows quantized as they are written (ggml's quantize_row_q8_0_ref)
        const rb = (kw / 32) * 34;
        kc = cacheBytes(s.k), vc = cacheBytes(s.v);
        if (s.t > 0) {
          backend.quantize(kr, "q8_0", kc.subarray(s.pos0 * rb), s.t * kw);
          backend.quantize(vr, "q8_0", vc.subarray(s.pos0 * rb), s.t * kw);
        }
      } else if (s.k.dtype === "f16") { // an f16 cache: the new rows rounded to nearest even as they are written
        kc = cacheBits(s.k), vc = cacheBits(s.v);
        backend.cast(kr, "f32", kc.subarray(s.pos0 * kw), "f16", s.t * kw);
        backend.cast(vr, "f32", vc.subarray(s.pos0 * kw), "f16", s.t * kw);
      } else {
        kc = outF32(s.k), vc = outF32(s.v);
        kc.set(kr, s.pos0 * kw);
        vc.set(vr, s.pos0 * kw);
      }
      backend.attention(qr, kc, vc, od.subarray(s.start * qw, (s.start + s.t) * qw), lse as Float32Array,
        { b: 1, tq: s.t, tk: s.pos0 + s.t, nHead, nKvHead, headDim, scale: 1 / Math.sqrt(headDim), causal: true, kvCapacity: cap,
          kvType: s.q8 ? "q8_0" : s.k.dtype === "f16" ? "f16" : "f32" });
    }
  } finally {
    backend.release(lse);
    vs.release();
    qs.dispose();
    ks.dispose();
  }
  return out;
}

export const attentionDerivatives: DerivativeTable<"rope" | "attention"> = {
  rope: ({ saved: { pos0, freqs, layout } }, dy) => {
    const [b, t, heads, headDim] = dy.shape;
    return [ropeCopy(dy, b, t, heads, headDim, freqs.length * 2, pos0, freqs, layout, true)];
  },
  attention: ({ saved: { q, k, v, out, lse, scale, causal } }, dy) => {
    const backend = q.backend;
    const [b, tq, nHead, headDim] = q.shape;
    const dq = Tensor.empty(backend, "f32", q.shape);
    const dk = Tensor.empty(backend, "f32", k.shape);
    const dv = Tensor.empty(backend, "f32", v.shape);
    const qs = denseF32("attention", q), ks = denseF32("attention", k), vs = denseF32("attention", v);
    const ds = denseF32("attention", dy);
    backend.attentionBackward(qs.data, ks.data, vs.data, outF32(out), outF32(lse), ds.data, outF32(dq), outF32(dk), outF32(dv),
      { b, tq, tk: k.shape[1], nHead, nKvHead: k.shape[2], headDim, scale, causal });
    qs.release(); ks.release(); vs.release(); ds.release();
    return [dq, dk, dv];
  },
};

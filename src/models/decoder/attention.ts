// Causal self-attention for layers the backend's fused attention does not cover: soft-capped scores
// (cap·tanh(s / cap), Gemma 2), a sliding window (a query sees itself and the window − 1 positions before it),
// and RoPE frequencies that depend on the sequence length (dynamic NTK). Same contract as llama's attendSegments:
// packed rows q [N, H·Dh], k, v [N, Hkv·Dh]; each segment gets RoPE at its positions, appends k/v to its cache and
// attends over it → [N, H·Dh]. Inference only (plain loops over f32 arrays, no autograd).
// A layer whose cache is a ring (KvCache.ring: a window shorter than the context) reads its earlier positions from the
// ring and the chunk's own rows fresh, then writes the chunk's last w rows in; the scores are the same numbers in the
// same order as over a full cache with the window as a mask. f16 and q8_0 caches are read back decoded (q8_0 rows of a
// chunk go through quantize + dequantize first, so they equal what the cache holds).
// Leaves out: training.
import { type Tensor, contiguous, fromTypedArray } from "../../tensor/index.js";
import type { Segment } from "../llama/model.js";
import type { KvCache } from "../kv-cache.js";

export interface GeneralAttentionShape {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  ropeLayout: "neox" | "interleaved";
  /** RoPE frequencies for a segment whose last position is seqLen − 1 (rotDim / 2 entries). */
  freqsFor(seqLen: number): Float32Array;
  scale: number;
  softcap: number | null;
  window: number | null;
}

const f32 = (t: Tensor): Float32Array => contiguous(t).toFloat32Array();

function cacheData(t: Tensor): Float32Array {
  return (t.storage("attention cache") as Float32Array).subarray(t.offset, t.offset + t.size);
}

function f16Bits(t: Tensor): Uint16Array {
  return (t.storage("attention cache") as Uint16Array).subarray(t.offset, t.offset + t.size);
}

/** Keys and values a chunk of t new rows (positions pos0 …) attends over on a ring-buffer layer of window w, as one
 *  contiguous block from position max(0, pos0 − w + 1): the ring's earlier positions (slot p mod w), then the chunk's
 *  own rows — in an f16 cache rounded to f16 first, so they equal what the full cache would read back. */
function ringWindow(cache: KvCache, layer: number, w: number, kr: Float32Array, vr: Float32Array, pos0: number, t: number, kw: number,
  backend: Tensor["backend"]): { keys: Float32Array; values: Float32Array; keyPos0: number } {
  const from = Math.max(0, pos0 - w + 1), old = pos0 - from;
  const keys = new Float32Array((old + t) * kw), values = new Float32Array((old + t) * kw);
  const kt = cache.k[layer], vt = cache.v[layer];
  const f16 = kt.dtype === "f16", q8 = cache.dtype === "q8_0";
  for (let j = from; j < pos0; j++) {
    const slot = (j % w) * kw, at = (j - from) * kw;
    if (q8) {
      const rows = cache.readQ8(layer, j % w, 1);
      keys.set(rows.k, at);
      values.set(rows.v, at);
    } else if (f16) {
      backend.cast(f16Bits(kt).subarray(slot), "f16", keys.subarray(at), "f32", kw);
      backend.cast(f16Bits(vt).subarray(slot), "f16", values.subarray(at), "f32", kw);
    } else {
      keys.set(cacheData(kt).subarray(slot, slot + kw), at);
      values.set(cacheData(vt).subarray(slot, slot + kw), at);
    }
  }
  if (q8) { // the chunk's rows through q8_0 (quantized, decoded), as a full q8_0 cache stores and reads them
    const bytes = new Uint8Array((t * kw / 32) * 34);
    for (const [src, dst] of [[kr, keys], [vr, values]] as const) {
      backend.quantize(src, "q8_0", bytes, t * kw);
      backend.dequantize(bytes, "q8_0", dst.subarray(old * kw), t * kw);
    }
  } else if (f16) { // round the chunk's rows through f16, as a full f16 cache stores and reads them
    const bits = new Uint16Array(t * kw);
    for (const [src, dst] of [[kr, keys], [vr, values]] as const) {
      backend.cast(src, "f32", bits, "f16", t * kw);
      backend.cast(bits, "f16", dst.subarray(old * kw), "f32", t * kw);
    }
  } else {
    keys.set(kr, old * kw);
    values.set(vr, old * kw);
  }
  return { keys, values, keyPos0: from };
}

/** Writes the chunk's last min(t, w) rows into their ring slots (after every query of the chunk has read the ring). */
function writeRing(cache: KvCache, layer: number, w: number, kr: Float32Array, vr: Float32Array, pos0: number, t: number, kw: number,
  backend: Tensor["backend"]): void {
  const kt = cache.k[layer], vt = cache.v[layer];
  for (let i = Math.max(0, t - w); i < t; i++) {
    const slot = ((pos0 + i) % w) * kw, row = i * kw;
    if (cache.dtype === "q8_0") {
      cache.writeQ8(layer, (pos0 + i) % w, kr.subarray(row, row + kw), vr.subarray(row, row + kw), 1);
    } else if (kt.dtype === "f16") {
      backend.cast(kr.subarray(row), "f32", f16Bits(kt).subarray(slot), "f16", kw);
      backend.cast(vr.subarray(row), "f32", f16Bits(vt).subarray(slot), "f16", kw);
    } else {
      cacheData(kt).set(kr.subarray(row, row + kw), slot);
      cacheData(vt).set(vr.subarray(row, row + kw), slot);
    }
  }
}

export function attendGeneral(layer: number, q: Tensor, k: Tensor, v: Tensor, segs: readonly Segment[], s: GeneralAttentionShape): Tensor {
  const backend = q.backend;
  const { numHeads: H, numKvHeads: Hkv, headDim: Dh } = s;
  const qw = H * Dh, kw = Hkv * Dh, group = H / Hkv;
  const qa = f32(q), ka = f32(k), va = f32(v);
  const n = qa.length / qw;
  const out = new Float32Array(n * qw);
  const scores = new Float64Array(Math.max(1, ...segs.map((seg) => seg.pos0 + seg.t)));
  for (const seg of segs) {
    const freqs = s.freqsFor(seg.pos0 + seg.t);
    const rotDim = freqs.length * 2;
    for (let b = 0; b < seg.b; b++) {
      const r0 = seg.start + b * seg.t;
      const qr = qa.subarray(r0 * qw, (r0 + seg.t) * qw);
      const kr = ka.subarray(r0 * kw, (r0 + seg.t) * kw);
      const vr = va.subarray(r0 * kw, (r0 + seg.t) * kw);
      backend.rope(qr, 1, seg.t, H, Dh, rotDim, seg.pos0, freqs, s.ropeLayout, false);
      backend.rope(kr, 1, seg.t, Hkv, Dh, rotDim, seg.pos0, freqs, s.ropeLayout, false);
      let keys = kr, values = vr, keyPos0 = seg.pos0;
      const ring = seg.cache ? seg.cache.ring(layer) : null;
      if (seg.cache && ring !== null) {
        ({ keys, values, keyPos0 } = ringWindow(seg.cache, layer, ring, kr, vr, seg.pos0, seg.t, kw, backend));
      } else if (seg.cache) {
        const kt = seg.cache.k[layer], vt = seg.cache.v[layer];
        if (seg.cache.dtype === "q8_0") { // a q8_0 cache: rows quantized as written, the filled part read back decoded
          seg.cache.writeQ8(layer, seg.pos0, kr, vr, seg.t);
          ({ k: keys, v: values } = seg.cache.readQ8(layer, 0, seg.pos0 + seg.t));
        } else if (kt.dtype === "f16") { // an f16 cache: rows rounded as written, the filled part read back widened
          const kb = f16Bits(kt), vb = f16Bits(vt);
          backend.cast(kr, "f32", kb.subarray(seg.pos0 * kw), "f16", seg.t * kw);
          backend.cast(vr, "f32", vb.subarray(seg.pos0 * kw), "f16", seg.t * kw);
          const filled = (seg.pos0 + seg.t) * kw;
          keys = new Float32Array(filled);
          values = new Float32Array(filled);
          backend.cast(kb, "f16", keys, "f32", filled);
          backend.cast(vb, "f16", values, "f32", filled);
        } else {
          const kc = cacheData(kt), vc = cacheData(vt);
          kc.set(kr, seg.pos0 * kw);
          vc.set(vr, seg.pos0 * kw);
          keys = kc;
          values = vc;
        }
        keyPos0 = 0;
      }
      for (let i = 0; i < seg.t; i++) {
        const pos = seg.pos0 + i;
        const lo = s.window ? Math.max(0, pos - s.window + 1) : 0;
        for (let h = 0; h < H; h++) {
          const qo = i * qw + h * Dh, kvh = Math.floor(h / group);
          let max = -Infinity;
          for (let j = lo; j <= pos; j++) {
            const ko = (j - keyPos0) * kw + kvh * Dh;
            let dot = 0;
            for (let d = 0; d < Dh; d++) dot += qr[qo + d] * keys[ko + d];
            let sc = Math.fround(dot * s.scale);
            if (s.softcap) sc = Math.fround(s.softcap * Math.tanh(sc / s.softcap));
            scores[j] = sc;
            if (sc > max) max = sc;
          }
          let sum = 0;
          for (let j = lo; j <= pos; j++) sum += (scores[j] = Math.exp(scores[j] - max));
          const o = (r0 + i) * qw + h * Dh;
          for (let j = lo; j <= pos; j++) {
            const p = scores[j] / sum, vo = (j - keyPos0) * kw + kvh * Dh;
            for (let d = 0; d < Dh; d++) out[o + d] += p * values[vo + d];
          }
        }
      }
      if (seg.cache && ring !== null) writeRing(seg.cache, layer, ring, kr, vr, seg.pos0, seg.t, kw, backend);
    }
  }
  return fromTypedArray(out, [n, qw]);
}

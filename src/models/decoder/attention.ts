// Causal self-attention for layers the backend's fused attention does not cover: soft-capped scores
// (cap·tanh(s / cap), Gemma 2), a sliding window (a query sees itself and the window − 1 positions before it),
// and RoPE frequencies that depend on the sequence length (dynamic NTK). Same contract as llama's attendSegments:
// packed rows q [N, H·Dh], k, v [N, Hkv·Dh]; each segment gets RoPE at its positions, appends k/v to its cache and
// attends over it → [N, H·Dh]. Inference only (plain loops over f32 arrays, no autograd).
// Leaves out: a ring-buffer cache for windowed layers (the cache keeps every position; the window is a mask), training.
import { type Tensor, contiguous, fromTypedArray } from "../../tensor/index.js";
import type { Segment } from "../llama/model.js";

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
      if (seg.cache) {
        const kt = seg.cache.k[layer], vt = seg.cache.v[layer];
        if (kt.dtype === "f16") { // an f16 cache: rows rounded as written, the filled part read back widened
          const kb = kt.storage("attention cache").subarray(kt.offset, kt.offset + kt.size) as Uint16Array;
          const vb = vt.storage("attention cache").subarray(vt.offset, vt.offset + vt.size) as Uint16Array;
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
    }
  }
  return fromTypedArray(out, [n, qw]);
}

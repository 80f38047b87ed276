// Reference scaled-dot-product attention, forward and backward, with grouped-query heads, a causal mask that
// allows a KV-cache offset (query i of this call sees keys [0, tk − tq + i]) and the per-row log-sum-exp that
// the backward uses instead of stored probabilities. Two passes per query row, float64 sums.
// Dims: B batch, Tq queries, Tk keys, H heads, Hkv kv heads (H/Hkv query heads share one), D head dim, C kv capacity.
//   q, out, dOut [B, Tq, H, D]; k, v, dk, dv [B, C, Hkv, D] (first Tk positions used); lse [B, H, Tq].
// Leaves out: argument validation (checks.ts), dropout, ALiBi/sliding windows, arbitrary masks.

import type { AttentionParams } from "../backend.js";

interface Offsets {
  q(bi: number, i: number, h: number): number;
  kv(bi: number, j: number, kvh: number): number;
  lse(bi: number, h: number, i: number): number;
  visible(i: number): number;
}

function offsets(p: AttentionParams): Offsets {
  const cap = p.kvCapacity ?? p.tk;
  return {
    q: (bi, i, h) => ((bi * p.tq + i) * p.nHead + h) * p.headDim,
    kv: (bi, j, kvh) => ((bi * cap + j) * p.nKvHead + kvh) * p.headDim,
    lse: (bi, h, i) => (bi * p.nHead + h) * p.tq + i,
    visible: (i) => (p.causal ? p.tk - p.tq + i + 1 : p.tk),
  };
}

function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, n: number): number {
  let s = 0;
  for (let d = 0; d < n; d++) s += a[ai + d] * b[bi + d];
  return s;
}

/** A row with no visible key (tk = 0) gets out = 0 and lse = -inf. */
export function attention(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
  p: AttentionParams): void {
  const o = offsets(p), D = p.headDim, group = p.nHead / p.nKvHead;
  const scores = new Float64Array(p.tk);
  for (let bi = 0; bi < p.b; bi++) {
    for (let h = 0; h < p.nHead; h++) {
      const kvh = Math.floor(h / group);
      for (let i = 0; i < p.tq; i++) {
        const qi = o.q(bi, i, h), n = o.visible(i);
        let max = -Infinity;
        for (let j = 0; j < n; j++) {
          scores[j] = p.scale * dot(q, qi, k, o.kv(bi, j, kvh), D);
          if (scores[j] > max) max = scores[j];
        }
        let sum = 0;
        for (let j = 0; j < n; j++) sum += Math.exp(scores[j] - max);
        const rowLse = n === 0 ? -Infinity : max + Math.log(sum);
        lse[o.lse(bi, h, i)] = rowLse;
        for (let d = 0; d < D; d++) {
          let acc = 0;
          for (let j = 0; j < n; j++) acc += Math.exp(scores[j] - rowLse) * v[o.kv(bi, j, kvh) + d];
          out[qi + d] = acc;
        }
      }
    }
  }
}

/** The split-key form of the forward (flash-decoding; native/ops_attention.c): a row's keys cut into chunks of
 *  `chunk`; per chunk its own max m, sum l = Σ exp(s − m) and unnormalised output acc = Σ exp(s − m)·v; the chunks
 *  folded left to right, each pair rescaled to the larger max (l = l₁·e^(m₁−m) + l₂·e^(m₂−m), acc likewise); then
 *  out = acc / l, lse = m + log l. Float64 throughout: the twin of the kernels' fold, checked against the two-pass
 *  attention() above. */
export function attentionByKeyChunks(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array, lse: Float32Array,
  p: AttentionParams, chunk: number): void {
  if (!Number.isInteger(chunk) || chunk < 1) throw new RangeError(`attentionByKeyChunks: chunk ${chunk}; expected a positive integer`);
  const o = offsets(p), D = p.headDim, group = p.nHead / p.nKvHead;
  const acc = new Float64Array(D), part = new Float64Array(D);
  for (let bi = 0; bi < p.b; bi++) {
    for (let h = 0; h < p.nHead; h++) {
      const kvh = Math.floor(h / group);
      for (let i = 0; i < p.tq; i++) {
        const qi = o.q(bi, i, h), n = o.visible(i);
        let m = -Infinity, l = 0;
        acc.fill(0);
        for (let j0 = 0; j0 < n; j0 += chunk) {
          const j1 = Math.min(n, j0 + chunk);
          let cm = -Infinity;
          for (let j = j0; j < j1; j++) cm = Math.max(cm, p.scale * dot(q, qi, k, o.kv(bi, j, kvh), D));
          let cl = 0;
          part.fill(0);
          for (let j = j0; j < j1; j++) {
            const e = Math.exp(p.scale * dot(q, qi, k, o.kv(bi, j, kvh), D) - cm), vj = o.kv(bi, j, kvh);
            cl += e;
            for (let d = 0; d < D; d++) part[d] += e * v[vj + d];
          }
          const nm = Math.max(m, cm), ct = m === -Infinity ? 0 : Math.exp(m - nm), cc = Math.exp(cm - nm);
          l = l * ct + cl * cc;
          for (let d = 0; d < D; d++) acc[d] = acc[d] * ct + part[d] * cc;
          m = nm;
        }
        lse[o.lse(bi, h, i)] = n === 0 ? -Infinity : m + Math.log(l);
        for (let d = 0; d < D; d++) out[qi + d] = n === 0 ? 0 : acc[d] / l;
      }
    }
  }
}

/** With P = exp(S − lse) and Δ_i = dOut_i·out_i: dS = P⊙(dOut·vᵀ − Δ); dq += scale·dS·k; dk += scale·dSᵀ·q;
 *  dv += Pᵀ·dOut. Accumulates into dq, dk, dv. */
export function attentionBackward(q: Float32Array, k: Float32Array, v: Float32Array, out: Float32Array,
  lse: Float32Array, dOut: Float32Array, dq: Float32Array, dk: Float32Array, dv: Float32Array, p: AttentionParams): void {
  const o = offsets(p), D = p.headDim, group = p.nHead / p.nKvHead;
  for (let bi = 0; bi < p.b; bi++) {
    for (let h = 0; h < p.nHead; h++) {
      const kvh = Math.floor(h / group);
      for (let i = 0; i < p.tq; i++) {
        const qi = o.q(bi, i, h), n = o.visible(i), rowLse = lse[o.lse(bi, h, i)];
        const delta = dot(dOut, qi, out, qi, D);
        for (let j = 0; j < n; j++) {
          const kj = o.kv(bi, j, kvh);
          const prob = Math.exp(p.scale * dot(q, qi, k, kj, D) - rowLse);
          const dS = prob * (dot(dOut, qi, v, kj, D) - delta);
          for (let d = 0; d < D; d++) {
            dq[qi + d] += p.scale * dS * k[kj + d];
            dk[kj + d] += p.scale * dS * q[qi + d];
            dv[kj + d] += prob * dOut[qi + d];
          }
        }
      }
    }
  }
}

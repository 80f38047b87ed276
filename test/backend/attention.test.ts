// Attention, forward and backward: the reference against a composed twin built here from reference matmul and
// softmax (scores = q·kᵀ·scale, causal mask with the KV-cache offset, softmax, ·v; the backward by the chain
// rule through those pieces), and the cpu backend against the reference under every ISA level — with GQA,
// causal and not, tk > tq (a cache), a k/v buffer larger than tk (kvCapacity), awkward head dims and the head dims
// (32, 64, 128) that have their own AVX-512 row kernel, and rows long enough to be cut into key chunks (split over the
// threads in a decode step: the bits must not depend on the thread count). An f16 k/v (a half-precision KV cache) must
// give the bits of an f32 k/v holding the same values, a q8_0 one (ggml blocks) those of an f32 k/v holding its decoded
// values.

import { test } from "node:test";
import assert from "node:assert/strict";
import { f16ToF32, f32ToF16 } from "../../src/core/dtype.js";
import type { AttentionParams, Backend } from "../../src/backend/backend.js";
import { attentionByKeyChunks } from "../../src/backend/ref/attention.js";
import { assertClose, clone, cpu, forEachIsa, ref, skipCpu, TOL, uniform } from "./harness.js";

const CASES: AttentionParams[] = [
  { b: 2, tq: 5, tk: 5, nHead: 4, nKvHead: 2, headDim: 16, scale: 0.25, causal: true },
  { b: 1, tq: 3, tk: 70, nHead: 2, nKvHead: 1, headDim: 33, scale: 1 / Math.sqrt(33), causal: true, kvCapacity: 80 },
  { b: 2, tq: 7, tk: 9, nHead: 3, nKvHead: 3, headDim: 7, scale: 0.4, causal: false },
  { b: 1, tq: 1, tk: 130, nHead: 8, nKvHead: 2, headDim: 64, scale: 0.125, causal: true, kvCapacity: 131 },
  { b: 3, tq: 31, tk: 31, nHead: 2, nKvHead: 1, headDim: 32, scale: 0.2, causal: true },
  // head dims 32/64/128 take the AVX-512 row kernel (16 keys per reduction): key counts off the 16- and 64-key grid
  { b: 1, tq: 2, tk: 83, nHead: 4, nKvHead: 2, headDim: 128, scale: 0.09, causal: true, kvCapacity: 90 },
  // one query (decode): the heads of a kv head run as a group, up to 8 at a time (9 → 8 + 1), per batch entry
  { b: 2, tq: 1, tk: 100, nHead: 18, nKvHead: 2, headDim: 64, scale: 0.125, causal: true, kvCapacity: 120 },
  { b: 1, tq: 1, tk: 150, nHead: 8, nKvHead: 2, headDim: 128, scale: 0.088, causal: true },
  // prefill: up to 8 consecutive query rows of a head run together, each with its own causal key count — groups whose
  // counts straddle a 64-key block (rows 56–63 see 122–129 keys), a partial last group (75 = 9·8 + 3), no mask
  { b: 1, tq: 75, tk: 140, nHead: 4, nKvHead: 2, headDim: 64, scale: 0.125, causal: true, kvCapacity: 150 },
  { b: 2, tq: 9, tk: 70, nHead: 2, nKvHead: 2, headDim: 32, scale: 0.2, causal: false },
  // the blocked AVX-512 backward (head dims a multiple of 16): keys in chunks of 64 and blocks of 16, off both grids
  { b: 2, tq: 19, tk: 37, nHead: 4, nKvHead: 2, headDim: 48, scale: 0.14, causal: false, kvCapacity: 40 },
  { b: 1, tq: 70, tk: 150, nHead: 6, nKvHead: 3, headDim: 32, scale: 0.17, causal: true },
  // long rows: keys in chunks of 512 folded (native/ops_attention.c); one kv head or three are few enough items that a
  // decode step splits them over the threads by chunk (flash-decoding); a prefill whose rows straddle the 512 boundary
  { b: 1, tq: 1, tk: 1300, nHead: 4, nKvHead: 1, headDim: 64, scale: 0.125, causal: true, kvCapacity: 1310 },
  { b: 1, tq: 1, tk: 1030, nHead: 3, nKvHead: 3, headDim: 40, scale: 0.15, causal: true },
  { b: 2, tq: 1, tk: 1100, nHead: 8, nKvHead: 1, headDim: 128, scale: 0.088, causal: false },
  // many items (3 sequences × 3 kv heads) whose chunks a task runs item-interleaved, chunk by chunk
  { b: 3, tq: 1, tk: 1090, nHead: 6, nKvHead: 3, headDim: 64, scale: 0.125, causal: true, kvCapacity: 1100 },
  { b: 1, tq: 20, tk: 530, nHead: 2, nKvHead: 1, headDim: 32, scale: 0.2, causal: true },
];

function sizes(p: AttentionParams) {
  const cap = p.kvCapacity ?? p.tk;
  return { q: p.b * p.tq * p.nHead * p.headDim, kv: p.b * cap * p.nKvHead * p.headDim, lse: p.b * p.nHead * p.tq, cap };
}

function inputs(p: AttentionParams, seed: number) {
  const s = sizes(p);
  return { q: uniform(s.q, seed, -2, 2), k: uniform(s.kv, seed + 1, -2, 2), v: uniform(s.kv, seed + 2), dOut: uniform(s.q, seed + 3) };
}

function run(be: Backend, p: AttentionParams, seed: number) {
  const s = sizes(p), x = inputs(p, seed);
  const out = new Float32Array(s.q), lse = new Float32Array(s.lse);
  be.attention(x.q, x.k, x.v, out, lse, p);
  const dq = uniform(s.q, 9), dk = uniform(s.kv, 10), dv = uniform(s.kv, 11); // accumulated into
  be.attentionBackward(x.q, x.k, x.v, out, lse, x.dOut, dq, dk, dv, p);
  return { out, lse, dq, dk, dv };
}

/** The composed twin: per (batch, head) gather Q [tq, D], K, V [tk, D]; S = Q·Kᵀ·scale (+ mask); P = softmax(S);
 *  O = P·V; backward dV = Pᵀ·dO, dP = dO·Vᵀ, dS = softmaxBackward(P, dP), dQ = dS·K·scale, dK = dSᵀ·Q·scale. */
function composed(p: AttentionParams, seed: number) {
  const s = sizes(p), x = inputs(p, seed), D = p.headDim, group = p.nHead / p.nKvHead;
  const out = new Float32Array(s.q), lse = new Float32Array(s.lse);
  const dq = uniform(s.q, 9), dk = uniform(s.kv, 10), dv = uniform(s.kv, 11);
  const mm = (a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number, transA: boolean, transB: boolean, alpha = 1) =>
    ref.matmul(a, b, c, { batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideC: 0, alpha, beta: 0 }, "f32");
  for (let bi = 0; bi < p.b; bi++) {
    for (let h = 0; h < p.nHead; h++) {
      const kvh = Math.floor(h / group);
      const Q = new Float32Array(p.tq * D), K = new Float32Array(p.tk * D), V = new Float32Array(p.tk * D), dO = new Float32Array(p.tq * D);
      ref.copyStrided(x.q, (bi * p.tq * p.nHead + h) * D, [p.nHead * D, 1], Q, 0, [D, 1], [p.tq, D]);
      ref.copyStrided(x.dOut, (bi * p.tq * p.nHead + h) * D, [p.nHead * D, 1], dO, 0, [D, 1], [p.tq, D]);
      ref.copyStrided(x.k, (bi * s.cap * p.nKvHead + kvh) * D, [p.nKvHead * D, 1], K, 0, [D, 1], [p.tk, D]);
      ref.copyStrided(x.v, (bi * s.cap * p.nKvHead + kvh) * D, [p.nKvHead * D, 1], V, 0, [D, 1], [p.tk, D]);
      const S = new Float32Array(p.tq * p.tk), P = new Float32Array(p.tq * p.tk);
      mm(Q, K, S, p.tq, p.tk, D, false, true, p.scale);
      if (p.causal) for (let i = 0; i < p.tq; i++) for (let j = p.tk - p.tq + i + 1; j < p.tk; j++) S[i * p.tk + j] = -Infinity;
      ref.softmax(S, P, p.tq, p.tk);
      const O = new Float32Array(p.tq * D);
      mm(P, V, O, p.tq, D, p.tk, false, false);
      ref.copyStrided(O, 0, [D, 1], out, (bi * p.tq * p.nHead + h) * D, [p.nHead * D, 1], [p.tq, D]);
      for (let i = 0; i < p.tq; i++) { // lse = max + log Σ exp(S − max)
        let max = -Infinity, sum = 0;
        for (let j = 0; j < p.tk; j++) max = Math.max(max, S[i * p.tk + j]);
        for (let j = 0; j < p.tk; j++) sum += Math.exp(S[i * p.tk + j] - max);
        lse[(bi * p.nHead + h) * p.tq + i] = max + Math.log(sum);
      }
      const dV = new Float32Array(p.tk * D), dP = new Float32Array(p.tq * p.tk), dS = new Float32Array(p.tq * p.tk);
      const dQ = new Float32Array(p.tq * D), dK = new Float32Array(p.tk * D);
      mm(P, dO, dV, p.tk, D, p.tq, true, false);
      mm(dO, V, dP, p.tq, p.tk, D, false, true);
      ref.softmaxBackward(P, dP, dS, p.tq, p.tk);
      mm(dS, K, dQ, p.tq, D, p.tk, false, false, p.scale);
      mm(dS, Q, dK, p.tk, D, p.tq, true, false, p.scale);
      for (let i = 0; i < p.tq; i++) for (let d = 0; d < D; d++) dq[((bi * p.tq + i) * p.nHead + h) * D + d] += dQ[i * D + d];
      for (let j = 0; j < p.tk; j++) for (let d = 0; d < D; d++) {
        dk[((bi * s.cap + j) * p.nKvHead + kvh) * D + d] += dK[j * D + d];
        dv[((bi * s.cap + j) * p.nKvHead + kvh) * D + d] += dV[j * D + d];
      }
    }
  }
  return { out, lse, dq, dk, dv };
}

function describe(p: AttentionParams): string {
  return `b ${p.b} tq ${p.tq} tk ${p.tk} heads ${p.nHead}/${p.nKvHead} d ${p.headDim} causal ${p.causal} cap ${p.kvCapacity ?? p.tk}`;
}

function compare(label: string, got: ReturnType<typeof run>, want: ReturnType<typeof run>): void {
  assertClose(`${label} out`, got.out, want.out, TOL.f32Chain);
  assertClose(`${label} lse`, got.lse, want.lse, TOL.f32Sum);
  for (const g of ["dq", "dk", "dv"] as const) assertClose(`${label} ${g}`, got[g], want[g], TOL.f32Chain);
}

test("reference attention matches the composed matmul + mask + softmax twin, forward and backward", () => {
  CASES.forEach((p, i) => compare(`ref vs composed (${describe(p)})`, run(ref, p, i * 10), composed(p, i * 10)));
});

test("cpu attention matches the reference at every ISA level", { skip: skipCpu }, (t) => {
  const want = CASES.map((p, i) => run(ref, p, i * 10));
  const ran = forEachIsa((isa) => CASES.forEach((p, i) => compare(`cpu/${isa} (${describe(p)})`, run(cpu!, p, i * 10), want[i])));
  t.diagnostic(`ISA levels run: ${ran.join(", ")}`);
});

test("the split-key reference (chunks folded, the kernels' flash-decoding order) matches the two-pass reference", () => {
  for (const [i, p] of CASES.entries()) {
    const s = sizes(p), x = inputs(p, i * 10);
    const want = { out: new Float32Array(s.q), lse: new Float32Array(s.lse) }, got = { out: new Float32Array(s.q), lse: new Float32Array(s.lse) };
    ref.attention(x.q, x.k, x.v, want.out, want.lse, p);
    for (const chunk of [1, 7, 64, 512]) {
      attentionByKeyChunks(x.q, x.k, x.v, got.out, got.lse, p, chunk);
      assertClose(`chunk ${chunk} (${describe(p)}) out`, got.out, want.out, { rtol: 1e-6, atol: 1e-7 });
      assertClose(`chunk ${chunk} (${describe(p)}) lse`, got.lse, want.lse, { rtol: 1e-6, atol: 1e-7 });
    }
  }
});

test("cpu decode rows split over key chunks on the threads give the bits of one thread (1, 2 and 3 threads)", { skip: skipCpu }, () => {
  // A decode step with few (batch, kv head) items and long rows runs one task per 512-key chunk and folds the chunk
  // states afterwards; one thread runs the same chunks in turn with the same fold, so the bits must not move.
  const before = cpu!.info().threads;
  const long = CASES.filter((p) => p.tq === 1 && p.tk > 1024);
  assert.ok(long.length >= 3);
  try {
    const runAt = (t: number) => {
      cpu!.setThreads(t);
      return long.map((p, i) => {
        const s = sizes(p), x = inputs(p, 100 + i), out = new Float32Array(s.q), lse = new Float32Array(s.lse);
        cpu!.attention(x.q, x.k, x.v, out, lse, p);
        return { out, lse };
      });
    };
    const one = runAt(1);
    for (const t of [2, 3]) {
      runAt(t).forEach((r, i) => {
        for (const name of ["out", "lse"] as const) {
          const j = r[name].findIndex((v, e) => !Object.is(v, one[i]![name][e]));
          assert.equal(j, -1, `threads ${t} (${describe(long[i]!)}): ${name}[${j}] ${r[name][j]} vs 1 thread ${one[i]![name][j]}`);
        }
      });
    }
  } finally {
    cpu!.setThreads(before);
  }
});

test("attention with one query over a cache equals the last row of the full causal pass", () => {
  const full: AttentionParams = { b: 1, tq: 6, tk: 6, nHead: 2, nKvHead: 1, headDim: 8, scale: 0.3, causal: true };
  const x = inputs(full, 42), out = new Float32Array(6 * 2 * 8), lse = new Float32Array(12);
  for (const be of [ref, ...(cpu ? [cpu] : [])]) {
    be.attention(x.q, x.k, x.v, out, lse, full);
    const last: AttentionParams = { ...full, tq: 1, kvCapacity: 10 };
    const k = new Float32Array(10 * 8), v = new Float32Array(10 * 8);
    k.set(x.k); v.set(x.v);
    const o1 = new Float32Array(16), l1 = new Float32Array(2);
    be.attention(clone(x.q.subarray(5 * 16, 6 * 16)), k, v, o1, l1, last);
    assertClose(`${be.info().name}: decode step vs full pass`, o1, out.subarray(5 * 16), TOL.f32Sum);
  }
});

test("cpu prefill attention gives, row for row, the bits of one-query calls over that row's keys", { skip: skipCpu }, () => {
  // Query rows that run together (native/ops_attention.c: blocks of 8 per head) must each do the arithmetic of a
  // row alone: every causal prefill row equals a decode-shaped call (tq = 1) over its own visible keys, bit for bit.
  for (const p of CASES.filter((c) => c.tq > 1 && c.causal)) {
    const s = sizes(p), x = inputs(p, 7), out = new Float32Array(s.q), lse = new Float32Array(s.lse);
    cpu!.attention(x.q, x.k, x.v, out, lse, p);
    const row = p.nHead * p.headDim;
    for (let bi = 0; bi < p.b; bi++) {
      for (let i = 0; i < p.tq; i++) {
        const one: AttentionParams = { ...p, b: 1, tq: 1, tk: p.tk - p.tq + i + 1, kvCapacity: s.cap };
        const kv = s.cap * p.nKvHead * p.headDim;
        const o1 = new Float32Array(row), l1 = new Float32Array(p.nHead);
        cpu!.attention(x.q.slice((bi * p.tq + i) * row, (bi * p.tq + i + 1) * row), x.k.slice(bi * kv, (bi + 1) * kv),
          x.v.slice(bi * kv, (bi + 1) * kv), o1, l1, one);
        const at = (bi * p.tq + i) * row;
        for (let e = 0; e < row; e++) assert.ok(Object.is(o1[e], out[at + e]), `${describe(p)}: batch ${bi} row ${i} out[${e}] ${out[at + e]} vs alone ${o1[e]}`);
        for (let h = 0; h < p.nHead; h++) {
          const want = lse[(bi * p.nHead + h) * p.tq + i];
          assert.ok(Object.is(l1[h], want), `${describe(p)}: batch ${bi} row ${i} head ${h} lse ${want} vs alone ${l1[h]}`);
        }
      }
    }
  }
});

/** k and v rounded to f16: the bits (for kvType "f16") and the same values as f32. */
function halfInputs(p: AttentionParams, seed: number) {
  const x = inputs(p, seed);
  const bits = (a: Float32Array) => Uint16Array.from(a, (v) => f32ToF16(v));
  const kb = bits(x.k), vb = bits(x.v);
  return { q: x.q, kb, vb, kf: Float32Array.from(kb, f16ToF32), vf: Float32Array.from(vb, f16ToF32) };
}

test("an f16 k/v cache gives exactly the result of an f32 cache holding the same values (ref, and cpu at every ISA level)", (t) => {
  const forward = CASES.map((p) => ({ ...p, kvType: "f16" as const }));
  const check = (be: Backend, label: string) => forward.forEach((p, i) => {
    const s = sizes(p), x = halfInputs(p, i * 10);
    const o16 = new Float32Array(s.q), l16 = new Float32Array(s.lse), o32 = new Float32Array(s.q), l32 = new Float32Array(s.lse);
    be.attention(x.q, x.kb, x.vb, o16, l16, p);
    be.attention(x.q, x.kf, x.vf, o32, l32, { ...p, kvType: "f32" });
    for (const [name, a, b] of [["out", o16, o32], ["lse", l16, l32]] as const) {
      const j = a.findIndex((v, k) => !Object.is(v, b[k]));
      assert.equal(j, -1, `${label} (${describe(p)}): f16 ${name}[${j}] = ${a[j]}, f32 of the same values ${b[j]}`);
    }
  });
  check(ref, "ref");
  if (cpu) t.diagnostic(`ISA levels run: ${forEachIsa((isa) => check(cpu!, `cpu/${isa}`)).join(", ")}`);
});

/** k and v quantized to q8_0 blocks (the reference quantizer, ggml's quantize_row_q8_0_ref) and their decoded values. */
function q8Inputs(p: AttentionParams, seed: number) {
  const x = inputs(p, seed);
  const blocks = (a: Float32Array) => {
    const out = new Uint8Array((a.length / 32) * 34);
    ref.quantize(a, "q8_0", out, a.length);
    return out;
  };
  const decoded = (b: Uint8Array) => {
    const out = new Float32Array((b.length / 34) * 32);
    ref.dequantize(b, "q8_0", out, out.length);
    return out;
  };
  const kq = blocks(x.k), vq = blocks(x.v);
  return { q: x.q, kq, vq, kf: decoded(kq), vf: decoded(vq) };
}

test("a q8_0 k/v cache gives the bits of an f32 cache holding its decoded values, and the reference over them", (t) => {
  // llama.cpp's -ctk/-ctv q8_0: rows written as q8_0 blocks, read back as d·q. The kernels decode 16 values at a time
  // inside the score and value loops; the result must be that of the same kernel over the decoded f32 values, bit for
  // bit, and close to the float64 reference computed from the dequantized cache.
  const cases = CASES.filter((p) => p.headDim % 32 === 0).map((p) => ({ ...p, kvType: "q8_0" as const }));
  assert.ok(cases.length >= 8);
  const want = cases.map((p, i) => {
    const s = sizes(p), x = q8Inputs(p, i * 10), out = new Float32Array(s.q), lse = new Float32Array(s.lse);
    ref.attention(x.q, x.kf, x.vf, out, lse, { ...p, kvType: "f32" });
    return { out, lse };
  });
  const check = (be: Backend, label: string) => cases.forEach((p, i) => {
    const s = sizes(p), x = q8Inputs(p, i * 10);
    const o8 = new Float32Array(s.q), l8 = new Float32Array(s.lse), o32 = new Float32Array(s.q), l32 = new Float32Array(s.lse);
    be.attention(x.q, x.kq, x.vq, o8, l8, p);
    be.attention(x.q, x.kf, x.vf, o32, l32, { ...p, kvType: "f32" });
    for (const [name, a, b] of [["out", o8, o32], ["lse", l8, l32]] as const) {
      const j = a.findIndex((v, k) => !Object.is(v, b[k]));
      assert.equal(j, -1, `${label} (${describe(p)}): q8_0 ${name}[${j}] = ${a[j]}, f32 of the decoded values ${b[j]}`);
    }
    assertClose(`${label} q8_0 vs reference (${describe(p)}) out`, o8, want[i]!.out, TOL.f32Chain);
    assertClose(`${label} q8_0 vs reference (${describe(p)}) lse`, l8, want[i]!.lse, TOL.f32Sum);
  });
  check(ref, "ref");
  if (cpu) t.diagnostic(`ISA levels run: ${forEachIsa((isa) => check(cpu!, `cpu/${isa}`)).join(", ")}`);
});

test("cpu quantize (q8_0, what a q8_0 cache stores) gives the reference quantizer's bytes", { skip: skipCpu }, () => {
  for (const n of [32, 64 * 12, 32 * 1001]) {
    const x = uniform(n, n, -3, 3);
    x[5] = 0; // a block with a zero and a block of zeros: d = 0 and q = 0
    if (n > 64) x.fill(0, 32, 64);
    const a = new Uint8Array((n / 32) * 34), b = new Uint8Array((n / 32) * 34);
    ref.quantize(x, "q8_0", a, n);
    cpu!.quantize(x, "q8_0", b, n);
    assert.deepEqual(b, a, `n ${n}`);
  }
});

test("kvType q8_0 is checked: Uint8Array blocks, head dim a multiple of 32, forward only", () => {
  const p: AttentionParams = { ...CASES[3]!, kvType: "q8_0" }; // head dim 64
  const s = sizes(p), x = inputs(p, 1), blocks = new Uint8Array((s.kv / 32) * 34);
  for (const be of [ref, ...(cpu ? [cpu] : [])]) {
    assert.throws(() => be.attention(x.q, x.k, x.v, new Float32Array(s.q), new Float32Array(s.lse), p), /k must be a Uint8Array of q8_0 blocks/);
    assert.throws(() => be.attention(x.q, blocks.subarray(1), blocks, new Float32Array(s.q), new Float32Array(s.lse), p), /k has \d+ elements but needs at least/);
    assert.throws(() => be.attention(x.q, blocks, blocks, new Float32Array(s.q), new Float32Array(s.lse), { ...p, headDim: 16, nHead: 16, nKvHead: 4 }),
      /needs headDim a multiple of 32/);
  }
});

test("kvType f16 is checked: Uint16Array k/v, forward only", () => {
  const p: AttentionParams = { ...CASES[0]!, kvType: "f16" };
  const s = sizes(p), x = inputs(p, 1);
  for (const be of [ref, ...(cpu ? [cpu] : [])]) {
    assert.throws(() => be.attention(x.q, x.k, x.v, new Float32Array(s.q), new Float32Array(s.lse), p), /k must be a Uint16Array for dtype f16/);
    assert.throws(() => be.attentionBackward(x.q, x.k, x.v, new Float32Array(s.q), new Float32Array(s.lse), x.dOut,
      new Float32Array(s.q), new Float32Array(s.kv), new Float32Array(s.kv), p), /forward only/);
  }
});

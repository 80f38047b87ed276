// The backend op suite: every op runs on the native cpu backend and on the reference backend with the same
// seeded inputs, awkward sizes (1, 7, 31, 32, 33, 127, 2049 and some large enough to go multithreaded) and
// non-contiguous views, compared within the per-dtype tolerance table of harness.ts — under every ISA level
// the machine has (AVX-512, AVX2 via limitIsa(1), portable via limitIsa(0)).
// Attention and bad-input errors have their own files. If the addon is not built the cpu tests skip.

import { test } from "node:test";
import assert from "node:assert/strict";
import type { Backend, BinaryOp, UnaryOp } from "../../src/backend/backend.js";
import { assertClose, clone, cpu, forEachIsa, ints, ref, SIZES, skipCpu, sumTol, TOL, type Tol, uniform } from "./harness.js";

interface Case {
  name: string;
  tol: Tol;
  /** Runs the op on a backend and returns every array it wrote (fresh copies of the inputs each time). */
  run(be: Backend): ArrayLike<number>[];
}

const UNARY_DOMAIN: Record<UnaryOp, [number, number]> = {
  neg: [-4, 4], exp: [-30, 30], log: [0.01, 50], sqrt: [0, 50], rsqrt: [0.01, 50], recip: [0.05, 9], abs: [-4, 4],
  tanh: [-6, 6], sigmoid: [-20, 20], relu: [-4, 4], gelu_tanh: [-8, 8], gelu_erf: [-8, 8], silu: [-20, 20],
  square: [-4, 4],
};

const cases: Case[] = [];

for (const op of Object.keys(UNARY_DOMAIN) as UnaryOp[]) {
  const [lo, hi] = UNARY_DOMAIN[op];
  for (const n of [...SIZES, 40000]) {
    const x = uniform(n, n * 31 + op.length, lo, hi);
    if (n > 8 && lo < 0) x[3] = 0; // derivatives at 0 (abs, relu) included
    const dy = uniform(n, n + 5);
    const acc = uniform(n, n + 9);
    cases.push({
      name: `unary ${op} n=${n}`, tol: TOL.f32,
      run: (be) => { const out = new Float32Array(n); be.unary(op, x, out, n); return [out]; },
    });
    cases.push({
      name: `unaryBackward ${op} n=${n}`, tol: TOL.f32,
      run: (be) => {
        const dx = clone(acc), dx2 = new Float32Array(n);
        be.unaryBackward(op, x, dy, dx, n, true);
        be.unaryBackward(op, x, dy, dx2, n, false);
        return [dx, dx2];
      },
    });
  }
}

const BINARY_OPS: BinaryOp[] = ["add", "sub", "mul", "div", "max", "min", "pow"];
for (const op of BINARY_OPS) {
  const lo = op === "pow" ? 0.1 : -2;
  for (const [rows, cols] of [[1, 1], [7, 33], [33, 127], [300, 257]] as const) {
    const n = rows * cols;
    const a = uniform(n, rows + cols, lo, 2), b = uniform(n, rows * 3 + cols, op === "div" ? 0.5 : -2, 2);
    const shape = [rows, cols];
    cases.push({ name: `binary ${op} [${rows},${cols}] contiguous`, tol: TOL.f32, run: (be) => {
      const out = new Float32Array(n); be.binary(op, a, [cols, 1], b, [cols, 1], out, shape); return [out];
    } });
    cases.push({ name: `binary ${op} [${rows},${cols}] row broadcast b[cols]`, tol: TOL.f32, run: (be) => {
      const out = new Float32Array(n); be.binary(op, a, [cols, 1], b, [0, 1], out, shape); return [out];
    } });
    cases.push({ name: `binary ${op} [${rows},${cols}] column broadcast a[rows], b transposed`, tol: TOL.f32, run: (be) => {
      const out = new Float32Array(n); be.binary(op, a, [1, 0], b, [1, rows], out, shape); return [out];
    } });
    cases.push({ name: `binary ${op} [${rows},${cols}] scalar b`, tol: TOL.f32, run: (be) => {
      const out = new Float32Array(n); be.binary(op, a, [cols, 1], b, [0, 0], out, shape); return [out];
    } });
  }
}
{
  const a = uniform(2 * 3 * 5 * 7, 1), b = uniform(5 * 7, 2);
  cases.push({ name: "binary mul rank 4 with broadcast middle dims", tol: TOL.f32, run: (be) => {
    const out = new Float32Array(210); be.binary("mul", a, [105, 35, 7, 1], b, [0, 0, 7, 1], out, [2, 3, 5, 7]); return [out];
  } });
  cases.push({ name: "binary add rank 0", tol: TOL.f32, run: (be) => {
    const out = new Float32Array(1); be.binary("add", a, [], b, [], out, []); return [out];
  } });
  const nan = new Float32Array([NaN, 1, -Infinity, 2]), other = new Float32Array([1, NaN, 3, Infinity]);
  cases.push({ name: "binary max/min propagate NaN and order infinities", tol: TOL.exact, run: (be) => {
    const o1 = new Float32Array(4), o2 = new Float32Array(4);
    be.binary("max", nan, [1], other, [1], o1, [4]);
    be.binary("min", nan, [1], other, [1], o2, [4]);
    return [o1, o2];
  } });
}

for (const n of [...SIZES, 50000]) {
  const x = uniform(n, n), y = uniform(n, n + 1);
  cases.push({ name: `scale n=${n}`, tol: TOL.f32, run: (be) => { const o = new Float32Array(n); be.scale(x, o, n, 1.5, -0.25); return [o]; } });
  cases.push({ name: `axpy n=${n}`, tol: TOL.f32, run: (be) => { const o = clone(y); be.axpy(-0.75, x, o, n); return [o]; } });
  const g = uniform(n, n + 2, -8, 8), d = uniform(n, n + 3), acc = uniform(n, n + 4);
  cases.push({ name: `swiglu n=${n}`, tol: TOL.f32, run: (be) => { const o = new Float32Array(n); be.swiglu(g, y, o, n); return [o]; } });
  cases.push({ name: `swigluBackward n=${n}`, tol: TOL.f32, run: (be) => {
    const dg = clone(acc), du = clone(acc); be.swigluBackward(g, y, d, dg, du, n); return [dg, du];
  } });
}

for (const [outer, size, inner] of [[1, 1, 1], [1, 2049, 1], [7, 33, 1], [3, 31, 33], [33, 7, 127], [40, 300, 5], [1, 127, 2049]] as const) {
  const x = uniform(outer * size * inner, outer + size + inner, -3, 3);
  const base = uniform(outer * inner, 77);
  cases.push({ name: `reduceSum [${outer},${size},${inner}]`, tol: sumTol(size, 3), run: (be) => {
    const o = new Float32Array(outer * inner), acc = clone(base);
    be.reduceSum(x, o, outer, size, inner, false);
    be.reduceSum(x, acc, outer, size, inner, true);
    return [o, acc];
  } });
  cases.push({ name: `reduceMax [${outer},${size},${inner}]`, tol: TOL.exact, run: (be) => {
    const o = new Float32Array(outer * inner); be.reduceMax(x, o, outer, size, inner); return [o];
  } });
}

for (const [rows, cols] of [[1, 1], [3, 7], [5, 31], [4, 32], [9, 33], [2, 127], [3, 2049], [64, 1000]] as const) {
  const n = rows * cols;
  const x = uniform(n, rows * 7 + cols, -10, 10);
  // Row 0 all -inf, row 1 partly -inf (when there are rows enough).
  if (rows > 2) { x.fill(-Infinity, 0, cols); for (let j = 0; j < cols; j += 2) x[cols + j] = -Infinity; }
  const dy = uniform(n, rows + cols), acc = uniform(n, 5);
  for (const log of [false, true]) {
    const name = log ? "logSoftmax" : "softmax";
    cases.push({ name: `${name} [${rows},${cols}]`, tol: TOL.f32Sum, run: (be) => {
      const y = new Float32Array(n);
      if (log) be.logSoftmax(x, y, rows, cols); else be.softmax(x, y, rows, cols);
      assert.ok(!y.some(Number.isNaN), `${name} produced NaN`);
      return [y];
    } });
    cases.push({ name: `${name}Backward [${rows},${cols}]`, tol: TOL.f32Chain, run: (be) => {
      const y = new Float32Array(n), dx = clone(acc);
      // The backward takes the forward output; use the reference's forward so both see the same y.
      if (log) { ref.logSoftmax(x, y, rows, cols); be.logSoftmaxBackward(y, dy, dx, rows, cols); }
      else { ref.softmax(x, y, rows, cols); be.softmaxBackward(y, dy, dx, rows, cols); }
      return [dx];
    } });
  }
}

for (const [rows, cols] of [[1, 1], [7, 31], [5, 33], [3, 2049], [130, 768]] as const) {
  const n = rows * cols;
  const x = uniform(n, rows + cols, -2, 3), w = uniform(cols, 3, 0.5, 1.5), b = uniform(cols, 4);
  const dy = uniform(n, 6), acc = uniform(n, 7), accW = uniform(cols, 8), accB = uniform(cols, 9);
  for (const affine of [true, false]) {
    const W = affine ? w : null, B = affine ? b : null;
    cases.push({ name: `layerNorm [${rows},${cols}] affine=${affine}`, tol: TOL.f32Sum, run: (be) => {
      const out = new Float32Array(n), mean = new Float32Array(rows), rstd = new Float32Array(rows);
      be.layerNorm(x, W, B, out, mean, rstd, rows, cols, 1e-5);
      return [out, mean, rstd];
    } });
    cases.push({ name: `layerNormBackward [${rows},${cols}] affine=${affine}`, tol: TOL.f32Chain, run: (be) => {
      const out = new Float32Array(n), mean = new Float32Array(rows), rstd = new Float32Array(rows);
      ref.layerNorm(x, W, B, out, mean, rstd, rows, cols, 1e-5);
      const dx = clone(acc), dw = affine ? clone(accW) : null, db = affine ? clone(accB) : null;
      be.layerNormBackward(x, W, mean, rstd, dy, dx, dw, db, rows, cols);
      return [dx, ...(dw && db ? [dw, db] : [])];
    } });
    cases.push({ name: `rmsNorm [${rows},${cols}] weight=${affine}`, tol: TOL.f32Sum, run: (be) => {
      const out = new Float32Array(n), rstd = new Float32Array(rows);
      be.rmsNorm(x, W, out, rstd, rows, cols, 1e-6);
      return [out, rstd];
    } });
    cases.push({ name: `rmsNormBackward [${rows},${cols}] weight=${affine}`, tol: TOL.f32Chain, run: (be) => {
      const out = new Float32Array(n), rstd = new Float32Array(rows);
      ref.rmsNorm(x, W, out, rstd, rows, cols, 1e-6);
      const dx = clone(acc), dw = affine ? clone(accW) : null;
      be.rmsNormBackward(x, W, rstd, dy, dx, dw, rows, cols);
      return [dx, ...(dw ? [dw] : [])];
    } });
  }
}

for (const layout of ["neox", "interleaved"] as const) {
  for (const [b, t, heads, headDim, rotDim, pos0] of [[1, 1, 1, 2, 2, 0], [2, 7, 3, 32, 32, 5], [1, 33, 4, 64, 32, 4000], [2, 130, 12, 64, 64, 0]] as const) {
    const n = b * t * heads * headDim;
    const x = uniform(n, n + rotDim);
    const freqs = new Float32Array(rotDim / 2).map((_, i) => Math.pow(10000, (-2 * i) / rotDim));
    for (const inverse of [false, true]) {
      cases.push({ name: `rope ${layout} [${b},${t},${heads},${headDim}] rot ${rotDim} pos0 ${pos0} inverse=${inverse}`, tol: TOL.f32, run: (be) => {
        const y = clone(x); be.rope(y, b, t, heads, headDim, rotDim, pos0, freqs, layout, inverse); return [y];
      } });
    }
  }
}

for (const [n, dim, vocab] of [[1, 1, 1], [7, 33, 50], [300, 64, 17]] as const) {
  const table = uniform(vocab * dim, dim), ids = ints(n, n, vocab), dOut = uniform(n * dim, 3), acc = uniform(vocab * dim, 4);
  cases.push({ name: `embedding n=${n} dim=${dim}`, tol: TOL.exact, run: (be) => {
    const out = new Float32Array(n * dim); be.embedding(table, ids, out, n, dim, vocab); return [out];
  } });
  cases.push({ name: `embeddingBackward n=${n} dim=${dim} (repeated ids)`, tol: TOL.f32Sum, run: (be) => {
    const d = clone(acc); be.embeddingBackward(ids, dOut, d, n, dim); return [d];
  } });
}

for (const [rows, cols] of [[1, 1], [7, 33], [5, 2049], [64, 5000]] as const) {
  const logits = uniform(rows * cols, rows + cols, -8, 8), targets = ints(rows, cols, cols);
  if (rows > 2) { targets[1] = -100; targets[rows - 1] = -100; }
  const dLoss = uniform(rows, 9, 0.1, 1);
  cases.push({ name: `crossEntropy [${rows},${cols}] ignore -100`, tol: TOL.f32Sum, run: (be) => {
    const losses = new Float32Array(rows);
    const counted = be.crossEntropy(logits, targets, losses, rows, cols, -100);
    return [losses, [counted]];
  } });
  cases.push({ name: `crossEntropyBackward [${rows},${cols}] ignore -100`, tol: TOL.f32Sum, run: (be) => {
    const d = uniform(rows * cols, 1); // overwritten, including ignored rows
    be.crossEntropyBackward(logits, targets, dLoss, d, rows, cols, -100);
    return [d];
  } });
}

for (const n of [1, 33, 2049, 70000]) {
  const param = uniform(n, n), grad = uniform(n, n + 1), m = uniform(n, n + 2, -0.1, 0.1), v = uniform(n, n + 3, 0, 0.01);
  for (const decay of [true, false]) {
    cases.push({ name: `adamw n=${n} decay=${decay}`, tol: TOL.f32Sum, run: (be) => {
      const p = clone(param), mm = clone(m), vv = clone(v);
      for (let step = 1; step <= 3; step++) {
        be.adamw(p, grad, mm, vv, n, { lr: 1e-3, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.1, step }, decay);
      }
      return [p, mm, vv];
    } });
  }
}

for (const [m, n, k] of [[1, 1, 1], [7, 33, 31], [33, 7, 127]] as const) {
  const a = uniform(2 * m * k, m), b = uniform(k * n, n), c0 = uniform(2 * m * n, k);
  for (const [transA, transB] of [[false, false], [true, true]] as const) {
    cases.push({ name: `matmul f32 [${m}x${k}]·[${k}x${n}] batch 2 (B broadcast) transA=${transA} transB=${transB}`, tol: TOL.f32Sum, run: (be) => {
      const c = clone(c0);
      be.matmul(a, b, c, { batch: 2, m, n, k, transA, transB, strideA: m * k, strideB: 0, strideC: m * n, alpha: 0.5, beta: 2 }, "f32");
      return [c];
    } });
  }
}

// ---- layout ops, every storage type ----
{
  const rows = 33, cols = 31, n = rows * cols;
  const f = uniform(n, 1), h = Uint16Array.from(ints(n, 2, 65536)), i32 = ints(n, 3, 1 << 30);
  for (const [label, src, make] of [
    ["f32", f, () => new Float32Array(n)], ["u16", h, () => new Uint16Array(n)], ["i32", i32, () => new Int32Array(n)],
  ] as const) {
    cases.push({ name: `copyStrided ${label} transpose [${rows},${cols}]`, tol: TOL.exact, run: (be) => {
      const dst = make(); be.copyStrided(src, 0, [1, cols], dst, 0, [rows, 1], [cols, rows]); return [dst];
    } });
    cases.push({ name: `copyStrided ${label} slice with offsets and step 2`, tol: TOL.exact, run: (be) => {
      const dst = make(); be.copyStrided(src, cols + 1, [2 * cols, 2], dst, 3, [15, 1], [16, 15]); return [dst];
    } });
    cases.push({ name: `copyStrided ${label} broadcast row and reversed columns`, tol: TOL.exact, run: (be) => {
      const dst = make(); be.copyStrided(src, cols - 1, [0, -1], dst, 0, [cols, 1], [rows, cols]); return [dst];
    } });
    cases.push({ name: `copyStrided ${label} rank 3 permute`, tol: TOL.exact, run: (be) => {
      const dst = make(); be.copyStrided(src, 0, [1, 93, 3], dst, 0, [33, 11, 1], [3, 3, 11]); return [dst];
    } });
  }
  // addStrided: a gradient added into one slice of a bigger one (the split q, k, v of a fused projection).
  const base = uniform(n, 4);
  cases.push({ name: `addStrided f32 column slice [${rows},10] of [${rows},${cols}]`, tol: TOL.exact, run: (be) => {
    const dst = clone(base); be.addStrided(f, 0, [10, 1], dst, 7, [cols, 1], [rows, 10]); return [dst];
  } });
  cases.push({ name: "addStrided f32 step 2, transposed source and rank 3", tol: TOL.exact, run: (be) => {
    const d1 = clone(base); be.addStrided(f, cols + 1, [1, 2 * cols], d1, 3, [15, 1], [16, 15]);
    const d2 = clone(base); be.addStrided(f, 0, [1, 93, 3], d2, 0, [33, 11, 1], [3, 3, 11]);
    return [d1, d2];
  } });
  const special = new Float32Array([0, -0, 1, -1, 0.1, 65504, 65520, 1e-8, 6e-8, 3e-5, 1e38, 3.4e38, Infinity, -Infinity, NaN,
    1.00390625, 1.005859375, -2.5, 2 ** -24, 2 ** -25, 2 ** -25 * 1.5, 123456789, -2147483649]);
  const sn = special.length;
  for (const dst of ["bf16", "f16", "i32"] as const) {
    cases.push({ name: `cast f32 → ${dst} → f32 (special values, rounding ties)`, tol: TOL.exact, run: (be) => {
      const mid = dst === "i32" ? new Int32Array(sn) : new Uint16Array(sn), back = new Float32Array(sn);
      be.cast(special, "f32", mid, dst, sn);
      be.cast(mid, dst, back, "f32", sn);
      return [mid, back];
    } });
  }
  const bits = Uint16Array.from(ints(4096, 11, 65536));
  cases.push({ name: "cast bf16 → f16 and f16 → bf16 over random bit patterns", tol: TOL.exact, run: (be) => {
    const a = new Uint16Array(4096), b = new Uint16Array(4096);
    be.cast(bits, "bf16", a, "f16", 4096);
    be.cast(bits, "f16", b, "bf16", 4096);
    // NaN stays NaN; its sign and payload are not specified, so compare NaNs as one canonical pattern.
    for (let i = 0; i < 4096; i++) {
      if ((a[i] & 0x7c00) === 0x7c00 && (a[i] & 0x3ff) !== 0) a[i] = 0x7e00;
      if ((b[i] & 0x7f80) === 0x7f80 && (b[i] & 0x7f) !== 0) b[i] = 0x7fc0;
    }
    return [a, b];
  } });
}

// The reference results are computed once and reused for every ISA level and thread count.
const refResults = new Map<Case, ArrayLike<number>[]>();
function refResult(c: Case): ArrayLike<number>[] {
  let r = refResults.get(c);
  if (!r) refResults.set(c, (r = c.run(ref)));
  return r;
}

/** Runs every case, collecting all mismatches so one run shows every failing op. */
function compareAll(be: Backend, label: string): void {
  const failures: string[] = [];
  for (const c of cases) {
    const want = refResult(c), got = c.run(be);
    for (let i = 0; i < want.length; i++) {
      try {
        assertClose(`${label}: ${c.name} (output ${i})`, got[i], want[i], c.tol);
      } catch (err) {
        failures.push((err as Error).message);
      }
    }
  }
  assert.equal(failures.length, 0, `${failures.length} mismatches:\n${failures.slice(0, 30).join("\n")}`);
}

test("cpu backend matches the reference backend on every op, at every ISA level", { skip: skipCpu }, (t) => {
  const ran = forEachIsa((isa) => compareAll(cpu!, `cpu/${isa}`));
  t.diagnostic(`ISA levels run: ${ran.join(", ")}`);
});

test("cpu backend matches the reference when multithreaded with 1 and with 2 threads", { skip: skipCpu }, () => {
  const before = cpu!.info().threads;
  try {
    for (const t of [1, 2]) {
      cpu!.setThreads(t);
      const big = cases.filter((c) => /2049|40000|50000|70000|\[64,|\[130,|\[300,|\[2,130/.test(c.name));
      for (const c of big) {
        const w = refResult(c), got = c.run(cpu!);
        for (let i = 0; i < w.length; i++) assertClose(`threads ${t}: ${c.name}`, got[i], w[i], c.tol);
      }
    }
  } finally {
    cpu!.setThreads(before);
  }
});

// ---- reference backend against known answers (independent of any implementation) ----

test("addStrided adds one f32 rounding per element into the slice and leaves the rest alone", () => {
  const rows = 5, cols = 9, src = uniform(rows * 3, 11), dst0 = uniform(rows * cols, 12);
  for (const be of cpu ? [ref, cpu] : [ref]) {
    const dst = clone(dst0);
    be.addStrided(src, 0, [3, 1], dst, 4, [cols, 1], [rows, 3]); // columns 4..6 of a [5, 9] gradient
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const want = c >= 4 && c < 7 ? Math.fround(dst0[r * cols + c] + src[r * 3 + c - 4]) : dst0[r * cols + c];
        assert.equal(dst[r * cols + c], want, `${be.info().name}: element [${r}, ${c}]`);
      }
    }
  }
});

test("reference softmax, logSoftmax and crossEntropy give known values", () => {
  const x = new Float32Array([1, 2, 3]), y = new Float32Array(3), l = new Float32Array(3);
  ref.softmax(x, y, 1, 3);
  assertClose("softmax [1,2,3]", y, [0.09003057317038046, 0.24472847105479764, 0.6652409557748219], TOL.f32);
  ref.logSoftmax(x, l, 1, 3);
  assertClose("logSoftmax [1,2,3]", l, [-2.4076059644443806, -1.4076059644443804, -0.4076059644443804], TOL.f32);
  const losses = new Float32Array(2);
  const counted = ref.crossEntropy(new Float32Array([1, 2, 3, 0, 0, 0]), new Int32Array([0, -1]), losses, 2, 3, -1);
  assert.equal(counted, 1);
  assertClose("crossEntropy", losses, [2.4076059644443806, 0], TOL.f32);
});

test("reference unary ops give known values (erf-GELU, tanh-GELU, SiLU)", () => {
  const x = new Float32Array([-3, -1, 0, 0.5, 2]), out = new Float32Array(5);
  ref.unary("gelu_erf", x, out, 5);
  // 0.5·x·(1 + erf(x/√2)) worked with tabulated erf values
  assertClose("gelu_erf", out, [-0.004049694556754, -0.158655253931457, 0, 0.345731136, 1.954499736103642], TOL.f32);
  ref.unary("silu", x, out, 5);
  assertClose("silu", out, [-0.142277620, -0.268941421, 0, 0.311229642, 1.761594156], TOL.f32);
  ref.unary("gelu_tanh", x, out, 5);
  assertClose("gelu_tanh", out, [-0.003637392, -0.158808009, 0, 0.345714078, 1.954597694], TOL.f32);
});

test("reference adamw matches the AdamW formula worked by hand", () => {
  // One element, g = 0.5, p = 1, lr 0.1, β = (0.9, 0.999), eps 1e-8, wd 0.01, step 1:
  // m = 0.05, v = 0.00025, m̂ = 0.5, v̂ = 0.25 → p = 1 − 0.1·(0.5/(0.5 + 1e-8) + 0.01·1) = 0.899
  const p = new Float32Array([1]), m = new Float32Array(1), v = new Float32Array(1);
  ref.adamw(p, new Float32Array([0.5]), m, v, 1, { lr: 0.1, beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01, step: 1 }, true);
  assertClose("adamw param", p, [0.899000002], TOL.f32);
  assertClose("adamw m, v", [m[0], v[0]], [0.05, 0.00025], TOL.f32);
});

test("reference casts round to nearest even (bf16, f16) with subnormals and specials", () => {
  const x = new Float32Array([1.00390625, 1.01171875, 65520, 2 ** -25 * 1.5, 2 ** -25, NaN, -Infinity]);
  const h = new Uint16Array(7), bf = new Uint16Array(7);
  ref.cast(x, "f32", h, "f16", 7);
  ref.cast(x, "f32", bf, "bf16", 7);
  // 1.00390625 = 1 + 2^-8: a tie in bf16 → 1.0 (0x3f80); 1.01171875 = 1 + 3·2^-8: tie → round up to even 0x3f82.
  assert.deepEqual([bf[0], bf[1]], [0x3f80, 0x3f82]);
  // 65520 rounds to +inf in f16; 1.5·2^-25 rounds up to the smallest subnormal 2^-24; 2^-25 is a tie → 0.
  assert.deepEqual([h[2], h[3], h[4]], [0x7c00, 0x0001, 0x0000]);
  assert.ok((h[5] & 0x7c00) === 0x7c00 && (h[5] & 0x3ff) !== 0, "NaN stays NaN in f16");
  assert.equal(h[6], 0xfc00);
});

test("readChecksum (the bench bandwidth probe): Σ words mod 2^32 for every variant, ISA level, thread count and alignment", () => {
  const words = ints(300_007, 21, 2 ** 31);
  for (let i = 0; i < words.length; i += 3) words[i] = -words[i]; // negative words too: the sum wraps both ways
  const expectedOf = (x: Int32Array) => { // BigInt sum: independent of both backends' wrapping arithmetic
    let s = 0n;
    for (const w of x) s += BigInt(w);
    return Number(BigInt.asUintN(32, s));
  };
  const views = [...SIZES.map((n) => words.subarray(0, n)), ...[0, 1, 5, 15].map((o) => words.subarray(o, words.length - (o % 7)))];
  const want = views.map(expectedOf);
  views.forEach((x, k) => assert.equal(ref.readChecksum!(x, "plain"), want[k], `ref, ${x.length} words`));
  assert.throws(() => ref.readChecksum!(words, "bogus" as never), /\[readChecksum\] variant must be one of plain, prefetch, nontemporal/);
  if (!cpu) return;
  const before = cpu.info().threads;
  try {
    forEachIsa((isa) => {
      for (const t of [1, 2]) {
        cpu!.setThreads(t);
        for (const v of ["plain", "prefetch", "nontemporal"] as const)
          views.forEach((x, k) => assert.equal(cpu!.readChecksum!(x, v), want[k], `cpu/${isa} ${t} threads ${v}: ${x.length} words at +${x.byteOffset}`));
      }
    });
  } finally {
    cpu.setThreads(before);
  }
});

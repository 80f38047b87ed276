// Weights packed once into GEMM panels (gemmPackWeights / gemmPacked of native/gemm_napi.cc, native/gemm_packed.c)
// against the unpacked paths they stand in for, on odd shapes (m 1, 3, 17, …; n and k not multiples of the 12 × 32
// tile or of the 384-deep k block):
// - f32 panels = gemmF32 (x · wᵀ) bit for bit for m > 8 (and n > 1); for m ≤ 8 or n = 1 gemmF32 runs its
//   matrix-vector kernels, whose summation order differs, so there both are held to a float64 triple loop written
//   here (1e-5 · Σ|x||w|);
// - f16 / bf16 panels (widened in registers) and f32 panels made from f16 / bf16 weights = quantMatmul on the same
//   weight bit for bit from 16 rows (its panel GEMM; x rounded as it rounds it), and the triple loop below that;
// - quantMatmulPanels (unrounded x) = quantMatmul bit for bit: on the panels from 16 rows, on the matrix below;
// - gemmPackedCalls counts the products that ran on panels; bad arguments throw naming the argument.
// On CPUs without AVX-512 gemmPackWeights returns null (checked) and the rest skips.
// Leaves out: speed (dev/bert/packed-gemm-bench.ts), the encoder layer on panels (test/models/bert-fused.test.ts).
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadNative } from "../../src/backend/native.js";
import { f32ToBf16, f32ToF16, f16ToF32, bf16ToF32 } from "../../src/core/dtype.js";

const addon = loadNative();
const built = !!addon?.gemmPackWeights && !!addon.gemmF32 && !!addon.quantMatmul;
const avx512 = built && addon!.gemmPackWeights!(new Uint8Array(4), "f32", 1, 1, "f32") !== null;
const skip = !built ? "native addon with gemmPackWeights not built (npm run build:native)"
  : !avx512 ? "this CPU has no AVX-512: gemmPackWeights returns null and products keep the unpacked path" : false;

/** Deterministic values in [-1, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

type Half = "f16" | "bf16";
const toHalf = (t: Half, x: number): number => (t === "f16" ? f32ToF16(x) : f32ToBf16(x));
const fromHalf = (t: Half, h: number): number => (t === "f16" ? f16ToF32(h) : bf16ToF32(h));
const bytes = (a: Float32Array | Uint16Array): Uint8Array => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);

/** Asserts got = x · wᵀ within 1e-5 · Σ|x||w| per element (float64 triple loop over the values given). */
function nearProduct(label: string, got: Float32Array, x: Float32Array, w: ArrayLike<number>, m: number, n: number, k: number): void {
  for (let i = 0; i < m; i++)
    for (let j = 0; j < n; j++) {
      let sum = 0, mag = 0;
      for (let p = 0; p < k; p++) {
        sum += x[i * k + p] * w[j * k + p];
        mag += Math.abs(x[i * k + p] * w[j * k + p]);
      }
      const err = Math.abs(got[i * n + j] - sum);
      if (!(err <= 1e-5 * mag + 1e-30)) assert.fail(`${label}: [${i}, ${j}] = ${got[i * n + j]}, expected ${sum} (±${1e-5 * mag})`);
    }
}

function sameBits(label: string, got: Float32Array, want: Float32Array): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length), w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < g.length; i++)
    if (g[i] !== w[i]) assert.fail(`${label}: element ${i} = ${got[i]}, the unpacked path gives ${want[i]}`);
}

const ms = [1, 3, 9, 17, 40, 130];
const shapes = [[33, 31], [65, 385], [300, 800], [1, 70], [97, 1]] as const; // [n, k]

test("f32 weights on packed panels: gemmF32's bits from 9 rows, a float64 triple loop's values below", { skip }, () => {
  const a = addon!;
  for (const [n, k] of shapes)
    for (const m of ms) {
      const r = rng(m * 31 + n * 7 + k);
      const x = new Float32Array(m * k).map(r), w = new Float32Array(n * k).map(r);
      const panels = a.gemmPackWeights!(bytes(w), "f32", n, k, "f32")!;
      const got = new Float32Array(m * n).fill(NaN), want = new Float32Array(m * n);
      a.gemmPacked!(x, m, panels, "f32", n, k, got);
      a.gemmF32!(x, w, want, 1, m, n, k, false, true, 0, 0, 0, 1, 0);
      const label = `f32 m=${m} n=${n} k=${k}`;
      if (m > 8 && n > 1) sameBits(label, got, want); // gemmF32 runs m ≤ 8 and n = 1 as matrix-vector products
      nearProduct(label, got, x, w, m, n, k);
    }
});

for (const type of ["f16", "bf16"] as const)
  for (const panel of [type, "f32"] as const)
    test(`${type} weights on ${panel} panels: quantMatmul's bits from 16 rows, a float64 triple loop's values below`, { skip }, () => {
      const a = addon!;
      for (const [n, k] of [[33, 64], [65, 416], [300, 800], [40, 32]] as const)
        for (const m of ms) {
          const r = rng(m * 17 + n * 5 + k);
          const wh = new Uint16Array(n * k).map(() => toHalf(type, r()));
          // x as quantMatmul reads it for this weight type (f16- or bf16-rounded values); rounding is idempotent
          const x = new Float32Array(m * k).map(() => fromHalf(type, toHalf(type, r())));
          const panels = a.gemmPackWeights!(bytes(wh), type, n, k, panel)!;
          const got = new Float32Array(m * n).fill(NaN), want = new Float32Array(m * n);
          a.gemmPacked!(x, m, panels, panel, n, k, got);
          a.quantMatmul!(bytes(wh), type, n, k, x, want, m);
          const label = `${type}→${panel} m=${m} n=${n} k=${k}`;
          if (m >= 16 && n * k * m >= 32768) sameBits(label, got, want);
          nearProduct(label, got, x, Array.from(wh, (h) => fromHalf(type, h)), m, n, k);
        }
    });

test("quantMatmulPanels = quantMatmul bit for bit, on panels from 16 rows, on the matrix below", { skip }, () => {
  const a = addon!;
  for (const type of ["f16", "bf16"] as const)
    for (const [m, n, k] of [[40, 96, 128], [16, 33, 64], [15, 96, 128], [3, 96, 128], [128, 70, 416]] as const) {
      const r = rng(m + n + k);
      const wh = new Uint16Array(n * k).map(() => toHalf(type, r())), x = new Float32Array(m * k).map(r); // x not rounded
      const panels = { data: a.gemmPackWeights!(bytes(wh), type, n, k, type)!, type };
      const got = new Float32Array(m * n).fill(NaN), want = new Float32Array(m * n);
      const before = a.gemmPackedCalls!();
      a.quantMatmulPanels!(bytes(wh), type, n, k, x, got, m, panels);
      assert.equal(a.gemmPackedCalls!() > before, m >= 16, `${type} m=${m}: panels used iff 16+ rows`);
      a.quantMatmul!(bytes(wh), type, n, k, x, want, m);
      sameBits(`quantMatmulPanels ${type} m=${m} n=${n} k=${k}`, got, want);
    }
  assert.throws(() => a.quantMatmulPanels!(new Uint8Array(64 * 2), "f16", 8, 8, new Float32Array(16 * 8), new Float32Array(16 * 8), 16,
    { data: new Uint8Array(64), type: "f16" }), /quantMatmulPanels: panels must hold a \[8, 8\] matrix packed by gemmPackWeights.*at least 512 bytes, got 64/);
});

test("gemmPackedCalls counts the products that ran on panels", { skip }, () => {
  const a = addon!;
  const w = new Float32Array(64 * 40).fill(0.5), x = new Float32Array(20 * 40).fill(1), y = new Float32Array(20 * 64);
  const panels = a.gemmPackWeights!(bytes(w), "f32", 64, 40, "f32")!;
  const before = a.gemmPackedCalls!();
  a.gemmPacked!(x, 20, panels, "f32", 64, 40, y);
  assert.ok(a.gemmPackedCalls!() > before, "the product did not run on the packed panels");
  assert.equal(y[0], 20);
});

test("packed-panel arguments are checked, naming the argument", { skip }, () => {
  const a = addon!;
  const w = new Float32Array(8 * 8);
  assert.throws(() => a.gemmPackWeights!(bytes(w), "f32", 8, 8, "f16"), /gemmPackWeights.*panel f32 or the weight's own type/);
  assert.throws(() => a.gemmPackWeights!(bytes(w), "f32", 16, 8, "f32"), /gemmPackWeights.*needs 512 bytes, got 256/);
  const panels = a.gemmPackWeights!(bytes(w), "f32", 8, 8, "f32")!;
  assert.throws(() => a.gemmPacked!(new Float32Array(8), 1, panels.subarray(0, 100), "f32", 8, 8, new Float32Array(8)), /gemmPacked.*panels must be/);
  assert.throws(() => a.gemmPacked!(new Float32Array(8), 1, panels, "f32", 8, 8, new Float32Array(4)), /gemmPacked.*out/);
});

// Native GEMM (gemmF32/gemmBf16 of native/gemm_napi.cc) against a plain TypeScript triple loop written here:
// awkward shapes around the tile sizes, all transposes, batch broadcast, alpha/beta, beta 0 over NaN, bf16
// operands, every ISA level (AVX-512, AVX2, portable), and the argument checks; gemmF32RoundBf16 against
// gemmBf16 / gemmF32 on operands rounded here (bit for bit, with NaN, ±Inf, overflow and ties). On CPUs with
// AVX512_BF16, gemmBf16 runs the vdpbf16ps kernel: it is named, checked against the triple loop on every
// transpose and awkward shape, and shown to be a different kernel from the widening one (its pairwise sums give
// other bits); elsewhere that test skips, naming the kernel the CPU runs instead. gemmF32RoundBf16 equals gemmBf16
// bit for bit at every level, AVX-512 with AVX512_BF16 forced off (limitIsa(2, true)) included, and on
// AVX512_BF16 CPUs is shown to run vdpbf16ps (other bits than the forced-off f32 tile on the same values).
// Leaves out: speed (zhiyu bench gemm).
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadNative, type NativeAddon, type NativeOps } from "../../src/backend/native.js";
import { CpuBackend } from "../../src/backend/cpu/cpu-backend.js";

const addon = loadNative();
const skip = addon?.gemmF32 ? false : "native addon with gemmF32 not built (npm run build:native)";

interface Case {
  batch?: number; m: number; n: number; k: number; transA?: boolean; transB?: boolean;
  strideA?: number; strideB?: number; strideC?: number; alpha?: number; beta?: number;
}

/** Deterministic values in [-1, 1). */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 31 - 1;
  };
}

const scratchF = new Float32Array(1), scratchU = new Uint32Array(scratchF.buffer);
function f32ToBf16(x: number): number {
  scratchF[0] = x;
  const u = scratchU[0];
  return (u + 0x7fff + ((u >> 16) & 1)) >>> 16; // round to nearest even (inputs are finite)
}
/** bf16 bits widened exactly to f32 (the low 16 bits zero). */
function widen(h: Uint16Array): Float32Array {
  const u = new Uint32Array(h.length);
  for (let i = 0; i < h.length; i++) u[i] = h[i] << 16;
  return new Float32Array(u.buffer);
}

/** Expected C and, per element, the bound 1e-5·(Σ|a||b|·|alpha| + |beta·c|) the native result must meet. */
function reference(a: ArrayLike<number>, b: ArrayLike<number>, c0: Float32Array, p: Required<Case>) {
  const want = new Float64Array(c0.length), tol = new Float64Array(c0.length);
  const c = Float64Array.from(c0);
  for (let bi = 0; bi < p.batch; bi++) {
    const a0 = bi * p.strideA, b0 = bi * p.strideB, cb = bi * p.strideC;
    for (let i = 0; i < p.m; i++)
      for (let j = 0; j < p.n; j++) {
        let sum = 0, mag = 0;
        for (let q = 0; q < p.k; q++) {
          const av = p.transA ? a[a0 + q * p.m + i] : a[a0 + i * p.k + q];
          const bv = p.transB ? b[b0 + j * p.k + q] : b[b0 + q * p.n + j];
          sum += av * bv;
          mag += Math.abs(av * bv);
        }
        const ci = cb + i * p.n + j;
        const old = p.beta === 0 ? 0 : p.beta * c[ci];
        c[ci] = p.alpha * sum + old;
        tol[ci] = 1e-5 * (Math.abs(p.alpha) * mag + Math.abs(old)) + 1e-30;
      }
  }
  want.set(c);
  return { want, tol };
}

function complete(c: Case): Required<Case> {
  const batch = c.batch ?? 1;
  return {
    batch, m: c.m, n: c.n, k: c.k, transA: c.transA ?? false, transB: c.transB ?? false,
    strideA: c.strideA ?? c.m * c.k, strideB: c.strideB ?? c.k * c.n, strideC: c.strideC ?? c.m * c.n,
    alpha: c.alpha ?? 1, beta: c.beta ?? 0,
  };
}

function run(native: NativeAddon, spec: Case, dtype: "f32" | "bf16", seed = 1): void {
  const p = complete(spec);
  const r = rng(seed + p.m * 7 + p.n * 131 + p.k * 1031);
  const lenA = Math.max((p.batch - 1) * p.strideA + p.m * p.k, 0), lenB = Math.max((p.batch - 1) * p.strideB + p.k * p.n, 0);
  const lenC = Math.max((p.batch - 1) * p.strideC + p.m * p.n, 0);
  const c = new Float32Array(lenC).map(() => (p.beta === 0 ? NaN : r()));
  const label = `${dtype} ${JSON.stringify(spec)}`;
  let got: Float32Array;
  let expected: ReturnType<typeof reference>;
  if (dtype === "f32") {
    const a = new Float32Array(lenA).map(r), b = new Float32Array(lenB).map(r);
    expected = reference(a, b, c, p);
    native.gemmF32!(a, b, c, p.batch, p.m, p.n, p.k, p.transA, p.transB, p.strideA, p.strideB, p.strideC, p.alpha, p.beta);
  } else {
    const a = new Uint16Array(lenA).map(() => f32ToBf16(r())), b = new Uint16Array(lenB).map(() => f32ToBf16(r()));
    expected = reference(widen(a), widen(b), c, p);
    native.gemmBf16!(a, b, c, p.batch, p.m, p.n, p.k, p.transA, p.transB, p.strideA, p.strideB, p.strideC, p.alpha, p.beta);
  }
  got = c;
  for (let i = 0; i < got.length; i++) {
    const err = Math.abs(got[i] - expected.want[i]);
    if (!(err <= expected.tol[i])) {
      assert.fail(`${label}: C[${i}] = ${got[i]}, expected ${expected.want[i]} (tolerance ${expected.tol[i]})`);
    }
  }
}

const awkward = [1, 7, 31, 33, 127];
const transposes = [[false, false], [true, false], [false, true], [true, true]] as const;

/** Shapes around the tile sizes (12×32 AVX-512, 6×16 AVX2, 4×16 portable) plus cache-block and thread splits. */
function shapeSuite(native: NativeAddon, dtype: "f32" | "bf16", full: boolean): void {
  for (const [transA, transB] of transposes) {
    for (const m of awkward)
      for (const n of awkward)
        for (const k of full ? awkward : [1, 33, 127]) run(native, { m, n, k, transA, transB }, dtype);
    // 2049: long thin products, matrix-vector both ways, the split over threads by rows and by columns
    for (const [m, n, k] of [[2049, 7, 33], [33, 2049, 7], [7, 33, 2049], [1, 2049, 1100], [2049, 1, 1100], [20, 2049, 127]])
      run(native, { m, n, k, transA, transB }, dtype);
  }
  // blocks: k past KC (accumulation over k blocks), n past NC, m past MC
  run(native, { m: 40, n: 800, k: 800 }, dtype);
  run(native, { m: 60, n: 800, k: 800, transB: true, alpha: 0.5, beta: 0.25 }, dtype);
  run(native, { m: 1250, n: 40, k: 400, transA: true }, dtype);
  run(native, { m: 2500, n: 520, k: 50, transA: true, transB: true, beta: 0.5 }, dtype); // two A blocks per thread
  run(native, { m: 4, n: 600, k: 1100, transB: true, beta: 0.5 }, dtype); // few rows × B [n,k]: one pass over B
}

test("gemmF32 matches a triple loop on awkward shapes and transposes", { skip }, () => {
  shapeSuite(addon!, "f32", true);
});

test("gemmF32 batches: broadcast A or B (stride 0), accumulation into one C, alpha and beta", { skip }, () => {
  const native = addon!;
  for (const [transA, transB] of transposes) {
    run(native, { batch: 3, m: 33, n: 31, k: 65, transA, transB, strideA: 0 }, "f32");
    run(native, { batch: 4, m: 50, n: 70, k: 40, transA, transB, strideB: 0, alpha: -1.5, beta: 2 }, "f32");
    run(native, { batch: 5, m: 64, n: 64, k: 64, transA, transB, alpha: 0.125 }, "f32");
  }
  run(native, { batch: 3, m: 17, n: 9, k: 40, strideC: 0, beta: 1 }, "f32"); // Σ over the batch into one C
  run(native, { batch: 3, m: 40, n: 600, k: 300, transA: true, strideC: 0, beta: 1 }, "f32"); // the same, threaded
  run(native, { batch: 2, m: 200, n: 300, k: 100, strideA: 100 * 200 + 5, strideB: 0 }, "f32"); // gaps between items
});

test("beta 0 ignores NaN in C; k 0 scales C; alpha 0 skips the product", { skip }, () => {
  const native = addon!;
  const c = new Float32Array(6).fill(NaN);
  native.gemmF32!(new Float32Array(0), new Float32Array(0), c, 1, 2, 3, 0, false, false, 0, 0, 6, 1, 0);
  assert.deepEqual(Array.from(c), [0, 0, 0, 0, 0, 0]);
  const d = new Float32Array([1, 2, 3, 4]);
  native.gemmF32!(new Float32Array(4).fill(NaN), new Float32Array(4), d, 1, 2, 2, 2, false, false, 4, 4, 4, 0, 3);
  assert.deepEqual(Array.from(d), [3, 6, 9, 12]);
  run(native, { m: 100, n: 100, k: 100, beta: 0 }, "f32"); // c starts as NaN in run() when beta is 0
});

test("gemmBf16 matches the triple loop on the bf16 values widened to f32", { skip }, () => {
  shapeSuite(addon!, "bf16", false);
  run(addon!, { batch: 3, m: 40, n: 50, k: 60, transB: true, strideB: 0, beta: 0.5 }, "bf16");
});

test("the AVX2 and portable kernels give the same answers", { skip }, () => {
  const native = addon!;
  const levels: [number, string][] = [[1, "avx2"], [0, "portable"]];
  try {
    for (const [level, name] of levels) {
      native.limitIsa(level);
      const impl = native.gemmImpl!(false);
      if (level === 1 && impl !== "avx2") continue; // CPU without AVX2
      assert.equal(impl, name);
      for (const [transA, transB] of transposes)
        for (const [m, n, k] of [[7, 33, 31], [31, 17, 127], [127, 33, 1], [1, 300, 70], [300, 1, 70], [60, 70, 500], [40, 300, 400]]) {
          run(native, { m, n, k, transA, transB, alpha: 1.25 }, "f32");
          run(native, { m, n, k, transA, transB, beta: -1 }, "bf16");
        }
    }
  } finally {
    native.limitIsa(2);
  }
});

/** f32 → bf16 bits, round to nearest even, NaN → quiet NaN with its sign (as src/core/dtype.ts documents). */
function f32ToBf16Any(x: number): number {
  scratchF[0] = x;
  const u = scratchU[0];
  if ((u & 0x7fffffff) > 0x7f800000) return ((u >>> 16) & 0x8000) | 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

/** Random f32 operand values with, sparsely, the cases rounding must get right. */
function roundingOperand(n: number, r: () => number, specials: boolean): Float32Array {
  const x = new Float32Array(n).map(r);
  const u = new Uint32Array(x.buffer);
  for (let i = 0; i < n; i++) {
    const pick = Math.floor((r() + 1) * 64);
    if (pick === 0) u[i] = (u[i] & 0xffff0000) | 0x8000; // tie: even upper half stays, odd rounds up
    else if (pick === 1) u[i] = (u[i] & 0xfffe0000) | 0x18000; // tie with odd upper half
    else if (pick === 2) u[i] = (u[i] & 0xffff0000) | 0x7fff; // just below a tie
    else if (specials && pick === 3 && i % 97 === 0) u[i] = [0x7fc00001, 0xff800000, 0x7f800000, 0x7f7fffff, 0xffa00000][i % 5]; // NaN, ∓Inf, overflow to Inf, sNaN
    else if (pick === 4) u[i] = 0x00008001; // subnormal
  }
  return x;
}

/** Same bits, or both NaN (NaN payloads may differ by path). */
function assertSameBits(got: Float32Array, want: Float32Array, label: string): void {
  const g = new Uint32Array(got.buffer, got.byteOffset, got.length), w = new Uint32Array(want.buffer, want.byteOffset, want.length);
  for (let i = 0; i < got.length; i++) {
    if (g[i] === w[i] || (Number.isNaN(got[i]) && Number.isNaN(want[i]))) continue;
    assert.fail(`${label}: C[${i}] = ${got[i]} (0x${g[i].toString(16)}), expected ${want[i]} (0x${w[i].toString(16)})`);
  }
}

function runRounded(native: NativeAddon, spec: Case, specials: boolean): void {
  const p = complete(spec);
  const r = rng(7 + p.m * 7 + p.n * 131 + p.k * 1031);
  const lenA = Math.max((p.batch - 1) * p.strideA + p.m * p.k, 0), lenB = Math.max((p.batch - 1) * p.strideB + p.k * p.n, 0);
  const lenC = Math.max((p.batch - 1) * p.strideC + p.m * p.n, 0);
  const a = roundingOperand(lenA, r, specials), b = roundingOperand(lenB, r, specials);
  const ha = Uint16Array.from(a, f32ToBf16Any), hb = Uint16Array.from(b, f32ToBf16Any);
  const c0 = new Float32Array(lenC).map(() => (p.beta === 0 ? NaN : r()));
  const call = <T,>(fn: (a: T, b: T, c: Float32Array, batch: number, m: number, n: number, k: number, transA: boolean,
    transB: boolean, strideA: number, strideB: number, strideC: number, alpha: number, beta: number) => void, x: T, y: T) => {
    const c = c0.slice();
    fn(x, y, c, p.batch, p.m, p.n, p.k, p.transA, p.transB, p.strideA, p.strideB, p.strideC, p.alpha, p.beta);
    return c;
  };
  const got = call(native.gemmF32RoundBf16!, a, b);
  const label = `gemmF32RoundBf16 ${JSON.stringify(spec)} on ${native.gemmImpl!(true)}`;
  // Both run the same tiles on the same values: the widening f32 kernels, or with AVX512_BF16 the vdpbf16ps pair
  // kernel (gemmF32RoundBf16 rounding into pairs while packing, gemmBf16 packing the rounded copies).
  assertSameBits(got, call(native.gemmBf16!, ha, hb), `${label} vs gemmBf16`);
  if (native.gemmImpl!(true) !== "avx512-bf16" || specials) return; // NaN/Inf positions: no tolerance to check
  const expected = reference(widen(ha), widen(hb), c0, p); // vdpbf16ps: its own summation order
  for (let i = 0; i < got.length; i++)
    if (!(Math.abs(got[i] - expected.want[i]) <= expected.tol[i])) assert.fail(`${label}: C[${i}] = ${got[i]}, expected ${expected.want[i]}`);
}

const skipRound = addon?.gemmF32RoundBf16 ? false : "native addon with gemmF32RoundBf16 not built (npm run build:native)";

test("gemmF32RoundBf16 equals gemmBf16 on the rounded operands, bit for bit, at every ISA level", { skip: skipRound }, () => {
  const native = addon!;
  try {
    // [level, noBf16]: AVX-512 with AVX512_BF16 if the CPU has it, AVX-512 without it (forced), AVX2, portable
    for (const [level, noBf16] of [[2, false], [2, true], [1, false], [0, false]] as const) {
      native.limitIsa(level, noBf16);
      if (noBf16) assert.notEqual(native.gemmImpl!(true), "avx512-bf16");
      for (const [transA, transB] of transposes) {
        for (const [m, n, k] of [[7, 33, 31], [31, 17, 127], [127, 33, 1], [1, 300, 70], [300, 1, 70], [4, 600, 130],
          [60, 70, 500], [40, 300, 400], [2049, 7, 33], [20, 2049, 127]]) {
          runRounded(native, { m, n, k, transA, transB }, false);
          runRounded(native, { m, n, k, transA, transB, alpha: 1.25, beta: -0.5 }, true);
        }
      }
      runRounded(native, { m: 60, n: 800, k: 800, transB: true, beta: 0.25 }, false); // k and n past KC/NC
      runRounded(native, { batch: 3, m: 40, n: 50, k: 60, transB: true, strideB: 0, beta: 0.5 }, true);
      runRounded(native, { batch: 4, m: 64, n: 70, k: 90, strideC: 0, beta: 1 }, false); // summed into one C
    }
  } finally {
    native.limitIsa(2);
  }
});

test("CpuBackend.matmulRoundBf16 gives the same result with and without the addon's gemmF32RoundBf16", { skip: skipRound }, () => {
  const withRound = new CpuBackend(addon as NativeAddon & NativeOps);
  const withoutRound = new CpuBackend({ ...addon, gemmF32RoundBf16: undefined } as unknown as NativeAddon & NativeOps);
  // Without AVX512_BF16 both routes run the same f32 tiles: same bits, NaN/Inf included. With it, the cast +
  // gemmBf16 route runs vdpbf16ps (other summation order): both must then meet the triple loop's tolerance.
  const bf16Kernel = addon!.gemmImpl!(true) === "avx512-bf16";
  const r = rng(99);
  const [m, n, k] = [37, 45, 70];
  const a = roundingOperand(m * k + 5, r, !bf16Kernel), b = roundingOperand(n * k, r, !bf16Kernel);
  const p = { batch: 1, m, n, k, transA: false, transB: true, strideA: 0, strideB: 0, strideC: 0, alpha: 1, beta: 0 };
  const c1 = new Float32Array(m * n), c2 = new Float32Array(m * n);
  withRound.matmulRoundBf16(a, b, c1, p);
  withoutRound.matmulRoundBf16(a, b, c2, p); // cast to bf16 copies, then gemmBf16
  if (!bf16Kernel) return assertSameBits(c1, c2, "matmulRoundBf16 native vs cast + gemmBf16");
  const expected = reference(widen(Uint16Array.from(a, f32ToBf16Any)), widen(Uint16Array.from(b, f32ToBf16Any)), c1.slice(),
    complete({ m, n, k, transB: true }));
  for (const [what, c] of [["gemmF32RoundBf16", c1], ["cast + gemmBf16 (avx512-bf16)", c2]] as const)
    for (let i = 0; i < c.length; i++)
      if (!(Math.abs(c[i] - expected.want[i]) <= expected.tol[i])) assert.fail(`matmulRoundBf16 via ${what}: C[${i}] = ${c[i]}, expected ${expected.want[i]}`);
});

const bf16Impl = addon?.gemmImpl?.(true);
const skipBf16Kernel = skip || (bf16Impl === "avx512-bf16" ? false
  : `this CPU has no AVX512_BF16: gemmBf16 runs the ${bf16Impl} kernel (checked above), not vdpbf16ps`);

test("AVX512_BF16: gemmBf16 runs the vdpbf16ps kernel, within tolerance of the triple loop, not the widening kernel's bits", { skip: skipBf16Kernel }, () => {
  const native = addon!;
  native.limitIsa(2);
  assert.equal(native.gemmImpl!(true), "avx512-bf16");
  for (const [transA, transB] of transposes)
    for (const [m, n, k] of [[1, 1, 1], [7, 33, 31], [33, 31, 2], [31, 17, 127], [127, 33, 1], [1, 300, 70], [300, 1, 70],
      [4, 600, 130], [60, 70, 500], [40, 300, 400], [2049, 7, 33], [20, 2049, 127]]) {
      run(native, { m, n, k, transA, transB }, "bf16");
      run(native, { m, n, k, transA, transB, alpha: -0.75, beta: 0.5 }, "bf16");
    }
  run(native, { m: 60, n: 800, k: 800, transB: true, beta: 0.25 }, "bf16"); // k and n past KC/NC
  run(native, { batch: 3, m: 40, n: 50, k: 60, strideA: 0, beta: 1 }, "bf16");
  // The fingerprint: the widening kernel (gemmF32 on the same values widened) sums k in order with FMAs;
  // vdpbf16ps adds each pair's odd product before the even one, so over k = 256 some sums round differently.
  // Identical bits everywhere would mean gemmBf16 fell back to widening.
  const [m, n, k] = [32, 64, 256];
  const r = rng(5);
  const ha = new Uint16Array(m * k).map(() => f32ToBf16(r())), hb = new Uint16Array(k * n).map(() => f32ToBf16(r()));
  const viaPairs = new Float32Array(m * n), viaWidening = new Float32Array(m * n);
  native.gemmBf16!(ha, hb, viaPairs, 1, m, n, k, false, false, m * k, k * n, m * n, 1, 0);
  native.gemmF32!(widen(ha), widen(hb), viaWidening, 1, m, n, k, false, false, m * k, k * n, m * n, 1, 0);
  const differ = viaPairs.filter((x, i) => x !== viaWidening[i]).length;
  assert.ok(differ > 0, `gemmBf16 gave the widening kernel's bits on all ${m * n} elements: vdpbf16ps did not run`);
});

test("AVX512_BF16: gemmF32RoundBf16 runs vdpbf16ps; with it turned off (limitIsa(2, true)) the widening f32 tile", { skip: skipBf16Kernel }, () => {
  const native = addon!;
  const [m, n, k] = [64, 96, 256]; // past the few-row paths: the blocked driver and its packers
  const r = rng(11);
  const a = new Float32Array(m * k).map(r), b = new Float32Array(n * k).map(r);
  const rounded = (x: Float32Array) => widen(Uint16Array.from(x, f32ToBf16));
  for (const [transA, transB] of transposes) {
    const product = (fn: NonNullable<NativeAddon["gemmF32"]>, x: Float32Array, y: Float32Array) => {
      const c = new Float32Array(m * n);
      fn(x, y, c, 1, m, n, k, transA, transB, 0, 0, 0, 1, 0);
      return c;
    };
    try {
      native.limitIsa(2, true);
      assert.equal(native.gemmImpl!(true), "avx512");
      const emulated = product(native.gemmF32RoundBf16!, a, b);
      assertSameBits(emulated, product(native.gemmF32!, rounded(a), rounded(b)), `emulated path transA ${transA} transB ${transB}`);
      native.limitIsa(2);
      const paired = product(native.gemmF32RoundBf16!, a, b);
      const differ = paired.filter((x, i) => x !== emulated[i]).length;
      assert.ok(differ > 0, `gemmF32RoundBf16 gave the f32 tile's bits on all ${m * n} elements (transA ${transA} transB ${transB}): vdpbf16ps did not run`);
    } finally {
      native.limitIsa(2);
    }
  }
});

test("bad arguments throw a TypeError naming the function, the dims and the lengths needed", { skip }, () => {
  const native = addon!;
  assert.throws(
    () => native.gemmF32!(new Float32Array(5), new Float32Array(6), new Float32Array(4), 1, 2, 2, 3, false, false, 6, 6, 4, 1, 0),
    (err: Error) => err instanceof TypeError && /gemmF32/.test(err.message) && /m=2 n=2 k=3/.test(err.message) &&
      /a\.length >= 6/.test(err.message),
  );
  assert.throws(
    () => native.gemmBf16!(new Uint16Array(8), new Uint16Array(8), new Float32Array(7), 2, 2, 2, 2, false, false, 4, 4, 4, 1, 0),
    (err: Error) => err instanceof TypeError && /gemmBf16/.test(err.message) && /c\.length >= 8/.test(err.message),
  );
  assert.throws(
    () => native.gemmF32!(new Float64Array(4) as unknown as Float32Array, new Float32Array(4), new Float32Array(4), 1, 2, 2, 2,
      false, false, 4, 4, 4, 1, 0),
    (err: Error) => err instanceof TypeError && /a must be a Float32Array/.test(err.message),
  );
  assert.throws(
    () => native.gemmF32!(new Float32Array(4), new Float32Array(4), new Float32Array(4), 1, -2, 2, 2, false, false, 4, 4, 4, 1, 0),
    (err: Error) => err instanceof TypeError && /m must be a non-negative integer/.test(err.message),
  );
});

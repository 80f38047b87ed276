// Native quantized kernels (native/quant*.c through the addon) against the TypeScript reference
// (src/backend/ref/quant.ts): dequantize and quantize bit for bit; quantMatmul bit for bit on the portable path
// and for k-quants everywhere, within 1e-6 of Σ|w·x| where SIMD lanes sum 32-blocks in another order; awkward
// shapes (rows 1, 7, 33; odd block counts; m = 1, 3, 17); argument validation. Skipped when the addon is not built.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { loadNative, type NativeAddon } from "../../src/backend/native.js";
import { refDequantize, refQuantMatmul, refQuantize, QUANT_BLOCK, type DequantType } from "../../src/backend/ref/quant.js";
import { readGguf, readTensorBytes } from "../../src/io/gguf.js";
import type { WeightType } from "../../src/backend/backend.js";
import { rng } from "../backend/harness.js";
import { randomWeights } from "./random-weights.js";

interface QuantAddon extends NativeAddon {
  quantMatmul(w: Uint8Array, type: string, rows: number, cols: number, x: Float32Array, out: Float32Array, m: number): void;
  dequantize(w: Uint8Array, type: string, out: Float32Array, n: number): void;
  quantize(x: Float32Array, type: string, out: Uint8Array, n: number): void;
  quantImpl(): string;
}
const addon = loadNative() as QuantAddon | null;
const skip = !addon || typeof addon.quantMatmul !== "function" ? "native addon without quant kernels (npm run build:native)" : false;
// Start the pool's workers now: a worker created by the very first parallel call can miss that call's wake-up
// (native/zy_pool.c reads the generation when the thread starts), which hangs; reported to the pool's owner.
if (addon && !skip) addon.setThreads(addon.threads());

const ALL: DequantType[] = ["f32", "f16", "bf16", "q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "q4_k", "q5_k", "q6_k"];
const K_TYPES = new Set<WeightType>(["q4_k", "q5_k", "q6_k"]);



function bound(w: Uint8Array, type: WeightType, rows: number, cols: number, x: Float32Array, m: number): Float64Array {
  const wd = new Float32Array(rows * cols);
  refDequantize(w, type as DequantType, wd, rows * cols);
  const out = new Float64Array(m * rows);
  for (let i = 0; i < m; i++)
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let k = 0; k < cols; k++) s += Math.abs(wd[r * cols + k] * x[i * cols + k]);
      out[i * rows + r] = s;
    }
  return out;
}

function compare(type: DequantType, rows: number, cols: number, m: number, seed: number, exact: boolean): void {
  const rnd = rng(seed);
  const w = randomWeights(type, rows, cols, rnd);
  const x = new Float32Array(m * cols).map(() => rnd() * 4 - 2);
  x.fill(0, 0, Math.min(cols, 32)); // an all-zero activation block
  const want = new Float32Array(m * rows), got = new Float32Array(m * rows).fill(NaN);
  refQuantMatmul(w, type, rows, cols, x, want, m);
  addon!.quantMatmul(w, type, rows, cols, x, got, m);
  const tol = exact ? null : bound(w, type, rows, cols, x, m);
  for (let i = 0; i < want.length; i++) {
    const what = `${type} rows ${rows} cols ${cols} m ${m}: out[${i}] native ${got[i]} vs ref ${want[i]}`;
    if (tol) assert.ok(Math.abs(got[i] - want[i]) <= 1e-6 * tol[i] + 1e-30, `${what} (Σ|w·x| ${tol[i]})`);
    else assert.ok(Object.is(got[i], want[i]), what);
  }
}

function shapes(type: DequantType): Array<[number, number, number]> {
  const bs = QUANT_BLOCK[type].elements;
  const colsList = bs === 256 ? [256, 512, 768] : bs === 32 ? [32, 96, 256] : [1, 17, 64, 100];
  const out: Array<[number, number, number]> = [];
  for (const rows of [1, 7, 33]) for (const cols of colsList) for (const m of [1, 3, 17]) out.push([rows, cols, m]);
  return out;
}

test("native quantMatmul matches the reference on awkward shapes (fastest ISA)", { skip }, () => {
  let seed = 1;
  for (const type of ALL) for (const [rows, cols, m] of shapes(type)) compare(type, rows, cols, m, seed++, K_TYPES.has(type));
});

test("native quantMatmul: f16/bf16 weights against many rows (the packed-panel GEMM) across its k and row blocks, 1 and 2 threads", { skip }, () => {
  // gemm_f16w.c blocks k by 384 and weight rows by 256 and tiles activation rows by 12: cross every edge
  const threads = addon!.threads();
  try {
    let seed = 300;
    for (const t of [1, 2]) {
      addon!.setThreads(t);
      for (const type of ["f16", "bf16"] as const) for (const [rows, cols, m] of [[300, 800, 30], [64, 1000, 16], [257, 384, 13 * 2]] as const) compare(type, rows, cols, m, seed++, false);
    }
  } finally {
    addon!.setThreads(threads);
  }
});

test("native quantMatmul is bit-identical to the reference on the portable path", { skip }, () => {
  const isa = addon!.isa();
  try {
    addon!.limitIsa(0);
    assert.equal(addon!.quantImpl(), "portable");
    let seed = 100;
    for (const type of ALL) for (const [rows, cols, m] of shapes(type).filter((_, i) => i % 4 === 0)) compare(type, rows, cols, m, seed++, true);
  } finally {
    addon!.limitIsa(2);
  }
  assert.equal(addon!.isa(), isa);
});

test("native quantMatmul matches the reference on the AVX2 path", { skip }, () => {
  try {
    if (addon!.limitIsa(1) !== "avx2") return; // no AVX2 on this CPU
    assert.equal(addon!.quantImpl(), "avx2");
    let seed = 200;
    for (const type of ALL) for (const [rows, cols, m] of shapes(type).filter((_, i) => i % 3 === 0)) compare(type, rows, cols, m, seed++, K_TYPES.has(type));
  } finally {
    addon!.limitIsa(2);
  }
});

test("native quantMatmul on real tensors of the shared k-quant and q8_0 models (multithreaded sizes)", { skip }, () => {
  const D = path.resolve("../shared/testdata/gguf");
  for (const [f, name] of [["dev-llama-tok512-e256-q4_k_m-pure.gguf", "blk.0.ffn_down.weight"], ["dev-llama-tok512-e256-q6_k-pure.gguf", "blk.0.ffn_up.weight"],
    ["dev-llama-tok512-q8_0.gguf", "output.weight"], ["dev-llama-tok512-q4_0-pure.gguf", "blk.1.ffn_gate.weight"], ["dev-llama-tok512-f16.gguf", "output.weight"]] as const) {
    const g = readGguf(path.join(D, f));
    const t = g.tensorByName.get(name)!;
    const w = readTensorBytes(g, t);
    const [cols, rows] = t.dims;
    for (const m of [1, 5]) {
      const rnd = rng(m);
      const x = new Float32Array(m * cols).map(() => rnd() * 2 - 1);
      const want = new Float32Array(m * rows), got = new Float32Array(m * rows);
      refQuantMatmul(w, t.type as WeightType, rows, cols, x, want, m);
      addon!.quantMatmul(w, t.type, rows, cols, x, got, m);
      const tol = bound(w, t.type as WeightType, rows, cols, x, m);
      for (let i = 0; i < want.length; i++) {
        assert.ok(Math.abs(got[i] - want[i]) <= 1e-6 * tol[i] + 1e-30, `${f} ${name} m ${m} out[${i}]: ${got[i]} vs ${want[i]}`);
      }
    }
  }
});

test("k-quant products round their Q8_K activations as the reference does: halves, tied maxima, zero and tiny blocks", { skip }, () => {
  // Q8_K rounds half to even (checked to fail with half away from zero, which random rows never tell apart): these
  // rows hold values on exact halves once scaled, equal maxima of both signs in either order, tiny and zero blocks.
  const cols = 768, m = 6, rnd = rng(41);
  const x = new Float32Array(m * cols).map(() => rnd() * 2 - 1);
  for (let i = 0; i < m; i++) {
    const row = x.subarray(i * cols, (i + 1) * cols);
    const sign = i % 2 === 0 ? 1 : -1;
    row[3] = -2 * sign; row[5] = 2 * sign; row[200] = 2 * sign; row[255] = -2 * sign; // tied maxima, first one decides
    for (let j = 0; j < 40; j++) row[10 + j] = (2 / 127) * (j + 0.5) * (j % 2 ? 1 : -1); // exact halves once scaled
    row.fill(i < 3 ? 0 : 1e-30, 256, 512); // a zero block, or a tiny one
    row[600 + i] = 2.5; row[700 + i] = -2.5; // a second block where the positive maximum comes first
  }
  for (const type of ["q4_k", "q5_k", "q6_k"] as const) {
    for (const rows of [16, 48]) {
      const w = randomWeights(type, rows, cols, rng(rows));
      const want = new Float32Array(m * rows), got = new Float32Array(m * rows).fill(NaN);
      refQuantMatmul(w, type, rows, cols, x, want, m);
      addon!.quantMatmul(w, type, rows, cols, x, got, m);
      for (let i = 0; i < want.length; i++) assert.ok(Object.is(got[i], want[i]), `${type} rows ${rows} out[${i}]: ${got[i]} vs ${want[i]}`);
    }
  }
});

test("native dequantize and quantize are bit-identical to the reference", { skip }, () => {
  const rnd = rng(7);
  for (const type of ALL) {
    const n = QUANT_BLOCK[type].elements === 256 ? 768 : 96;
    const w = randomWeights(type, 1, n, rnd);
    const a = new Float32Array(n), b = new Float32Array(n);
    refDequantize(w, type as DequantType, a, n);
    addon!.dequantize(w, type, b, n);
    assert.deepEqual(b, a, type);
  }
  const x = new Float32Array(32 * 40).map(() => (rnd() - 0.5) * 10);
  x.fill(0, 32, 64);
  x[100] = 3e-8; // tiny values exercise f16 subnormals
  for (const type of ["q8_0", "q4_0", "q4_1", "q5_0", "q5_1", "f16", "bf16"] as const) {
    const bytes = (x.length / QUANT_BLOCK[type].elements) * QUANT_BLOCK[type].bytes;
    const a = new Uint8Array(bytes), b = new Uint8Array(bytes);
    refQuantize(x, type, a, x.length);
    addon!.quantize(x, type, b, x.length);
    assert.deepEqual(b, a, type);
  }
});

test("native argument validation throws TypeError naming the function, type, dims and expected length", { skip }, () => {
  const w = new Uint8Array(34 * 2), x = new Float32Array(32), out = new Float32Array(2);
  addon!.quantMatmul(w, "q8_0", 2, 32, x, out, 1);
  assert.throws(() => addon!.quantMatmul(w, "q8_0", 3, 32, x, out, 1), /quantMatmul.*w has 68 bytes, expected 102 for q8_0 \[3 rows, 32 cols\]/);
  assert.throws(() => addon!.quantMatmul(w, "q8_0", 2, 48, x, out, 1), /cols = 48 must be a multiple of the q8_0 block size 32/);
  assert.throws(() => addon!.quantMatmul(w, "q9_0", 2, 32, x, out, 1), /unsupported type "q9_0"/);
  assert.throws(() => addon!.quantMatmul(w, "q8_0", 2, 32, x, new Float32Array(1), 1), /out has 1 elements, expected m·rows = 2/);
  assert.throws(() => addon!.quantMatmul(w, "q8_0", 2, 32, x, out, 2), /x has 32 elements, expected m·cols = 64/);
  assert.throws(() => addon!.quantMatmul(new Float32Array(17) as unknown as Uint8Array, "q8_0", 2, 32, x, out, 1), TypeError);
  assert.throws(() => addon!.dequantize(w, "q4_k", new Float32Array(256), 256), /dequantize.*w has 68 bytes, expected 144/);
  assert.throws(() => addon!.quantize(x, "q4_k", new Uint8Array(144), 256), /quantize.*unsupported type "q4_k"/);
  assert.throws(() => addon!.quantize(x, "q8_0", new Uint8Array(10), 32), /out has 10 bytes, expected 34/);
});

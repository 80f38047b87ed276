// The r16 layout (16 rows of q8_0 / q4_0 interleaved per block; native/quant_r16.c): the TypeScript layout
// (refRepackR16) is a permutation that refUnpackR16 inverts; the addon repacks to the same bytes in place; its
// r16 matmul gives exactly the reference's bits for the rows it holds — on the fastest ISA and the portable path,
// for 1–17 activation rows, a multithreaded size and an odd number of row groups against 8+ rows (the prompt kernel
// that takes two groups a pass); and misuse (rows not a multiple of 16, dequantizing an r16
// matrix, repacking another type) is refused with a clear message. Skipped without the addon.
import { test } from "node:test";
import assert from "node:assert/strict";
import { loadNative, type NativeAddon } from "../../src/backend/native.js";
import { refQuantMatmul, refQuantize, refR16Row, refRepackR16, refUnpackR16, type R16Source } from "../../src/backend/ref/quant.js";
import { f32ToF16 } from "../../src/core/dtype.js";
import { readGguf, readTensorBytes } from "../../src/io/gguf.js";
import path from "node:path";
import { rng } from "../backend/harness.js";
import { loadModel } from "../../src/infer/load.js";
import { embedRows } from "../../src/models/embed.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { createBackend } from "../../src/backend/index.js";
import type { WeightType } from "../../src/backend/backend.js";

interface QuantAddon extends NativeAddon {
  quantMatmul(w: Uint8Array, type: string, rows: number, cols: number, x: Float32Array, out: Float32Array, m: number): void;
  dequantize(w: Uint8Array, type: string, out: Float32Array, n: number): void;
  quantRepack(w: Uint8Array, type: string, rows: number, cols: number): string | null;
  quantImpl(): string;
}
const addon = loadNative() as QuantAddon | null;
const skip = !addon || typeof addon.quantRepack !== "function" ? "native addon without r16 kernels (npm run build:native)" : false;
if (addon && !skip) addon.setThreads(addon.threads());

/** Valid random blocks: quantized from random floats (q8_0, q4_0), or random bytes with small f16 scales (k-quants). */
function weights(type: R16Source, rows: number, cols: number, rnd: () => number): Uint8Array {
  if (type === "q4_k" || type === "q6_k") {
    const bytes = type === "q4_k" ? 144 : 210, out = new Uint8Array((rows * cols / 256) * bytes).map(() => (rnd() * 256) | 0);
    for (let b = 0; b < out.length / bytes; b++) {
      for (const o of type === "q4_k" ? [0, 2] : [208]) {
        const h = f32ToF16((rnd() * 2 - 0.5) * 0.01);
        out[b * bytes + o] = h & 255;
        out[b * bytes + o + 1] = h >> 8;
      }
    }
    return out;
  }
  const x = new Float32Array(rows * cols).map(() => (rnd() * 2 - 1) * (0.05 + rnd()));
  const out = new Uint8Array((rows * cols / 32) * (type === "q8_0" ? 34 : 18));
  refQuantize(x, type, out, rows * cols);
  return out;
}

test("refUnpackR16 inverts refRepackR16, and the layout puts row r's 4-weight groups at 4r of each chunk", () => {
  const rnd = rng(3);
  for (const type of ["q8_0", "q4_0", "q4_k", "q6_k"] as const) {
    const bs = type === "q4_k" || type === "q6_k" ? 256 : 32;
    for (const [rows, cols] of [[16, bs], [32, 3 * bs], [48, 2 * bs]]) {
      const w = weights(type, rows, cols, rnd);
      const p = refRepackR16(w, type, rows, cols);
      assert.equal(p.length, w.length);
      assert.notDeepEqual(p, w);
      assert.deepEqual(refUnpackR16(p, `${type}_r16`, rows, cols), w);
    }
  }
  for (const type of ["q8_0", "q4_0"] as const) {
    // By hand: row 5, block 0 of a 16 × 32 matrix: its scale at bytes 10–11, its weights 4…7 in chunk 1.
    const w = weights(type, 16, 32, rnd);
    const p = refRepackR16(w, type, 16, 32);
    const bytes = type === "q8_0" ? 34 : 18;
    assert.deepEqual([p[10], p[11]], [w[5 * bytes], w[5 * bytes + 1]]);
    for (let i = 0; i < 4; i++) assert.equal(p[32 + 64 + 20 + i], type === "q8_0" ? w[5 * bytes + 2 + 4 + i] ^ 0x80 : w[5 * bytes + 2 + 4 + i]);
  }
  assert.throws(() => refRepackR16(new Uint8Array(8 * 34), "q8_0", 8, 32), /multiple of 16/);
});

test("refR16Row reads any row of an r16 matrix back in GGUF blocks (a tied embedding table)", () => {
  const rnd = rng(4);
  for (const type of ["q8_0", "q4_0", "q4_k", "q6_k"] as const) {
    const bytes = { q8_0: 34, q4_0: 18, q4_k: 144, q6_k: 210 }[type], bs = bytes > 34 ? 256 : 32;
    const rows = 48, cols = 3 * bs, rowBytes = (cols / bs) * bytes;
    const w = weights(type, rows, cols, rnd);
    const p = refRepackR16(w, type, rows, cols);
    for (const r of [0, 1, 15, 16, 31, 47]) assert.deepEqual(refR16Row(p, `${type}_r16`, cols, r), w.subarray(r * rowBytes, (r + 1) * rowBytes));
    assert.throws(() => refR16Row(p, `${type}_r16`, cols, 48), /outside/);
  }
});

test("the addon repacks to the reference's bytes, in place", { skip }, () => {
  const rnd = rng(5);
  for (const type of ["q8_0", "q4_0", "q4_k", "q6_k"] as const) {
    for (const [rows, cols] of [[16, 256], [64, 768], [32, 2048]]) {
      const w = weights(type, rows, cols, rnd);
      const want = refRepackR16(w, type, rows, cols);
      const got = w.slice();
      assert.equal(addon!.quantRepack(got, type, rows, cols), `${type}_r16`);
      assert.deepEqual(got, want);
    }
  }
});

function checkMatmul(type: R16Source, rows: number, cols: number, m: number, seed: number): void {
  const rnd = rng(seed);
  const w = weights(type, rows, cols, rnd);
  const x = new Float32Array(m * cols).map(() => rnd() * 4 - 2);
  x.fill(0, 0, Math.min(cols, 32)); // an all-zero activation block
  const want = new Float32Array(m * rows), got = new Float32Array(m * rows).fill(NaN);
  refQuantMatmul(w, type, rows, cols, x, want, m);
  const packed = w.slice();
  addon!.quantRepack(packed, type, rows, cols);
  addon!.quantMatmul(packed, `${type}_r16`, rows, cols, x, got, m);
  for (let i = 0; i < want.length; i++) {
    assert.ok(Object.is(got[i], want[i]), `${type}_r16 [${rows}, ${cols}] m ${m} out[${i}]: ${got[i]} vs reference ${want[i]}`);
  }
}

test("r16 matmul is bit-identical to the reference (fastest ISA: 1–17 activation rows, and a threaded size)", { skip }, () => {
  let seed = 10;
  for (const type of ["q8_0", "q4_0", "q4_k", "q6_k"] as const) {
    const bs = type === "q4_k" || type === "q6_k" ? 256 : 32;
    for (const m of [1, 2, 3, 4, 5, 7, 8, 9, 17]) checkMatmul(type, 32, 3 * bs, m, seed++);
    checkMatmul(type, 16, bs, 1, seed++);
    checkMatmul(type, 1024, 768, 1, seed++);
    checkMatmul(type, 512, 256, 20, seed++);
    checkMatmul(type, 48, 2 * bs, 10, seed++); // 8+ rows: q8_0 / q4_0 take two groups a pass, here with one left over
  }
});

test("r16 matmul is bit-identical to the reference on the portable path (and the backend repacks nothing there)", { skip }, () => {
  try {
    addon!.limitIsa(0);
    assert.equal(createBackend({}).repackWeight, undefined, "no repacking where the r16 kernels would run portable");
    let seed = 50;
    for (const type of ["q8_0", "q4_0", "q4_k", "q6_k"] as const) for (const m of [1, 3, 9]) checkMatmul(type, 48, 512, m, seed++);
  } finally {
    addon!.limitIsa(2);
  }
});

test("r16 matmul of the shared k-quant models' real tensors is bit-identical to the reference", { skip }, () => {
  const D = path.resolve("../shared/testdata/gguf");
  for (const [f, name] of [["dev-llama-tok512-e256-q4_k_m-pure.gguf", "blk.0.ffn_down.weight"],
    ["dev-llama-tok512-e256-q6_k-pure.gguf", "blk.0.ffn_up.weight"]] as const) {
    const g = readGguf(path.join(D, f));
    const t = g.tensorByName.get(name)!;
    const w = readTensorBytes(g, t);
    const [cols, rows] = t.dims;
    const type = t.type as R16Source;
    for (const m of [1, 6]) {
      const rnd = rng(m);
      const x = new Float32Array(m * cols).map(() => rnd() * 2 - 1);
      const want = new Float32Array(m * rows), got = new Float32Array(m * rows);
      refQuantMatmul(w, type, rows, cols, x, want, m);
      const packed = w.slice();
      assert.equal(addon!.quantRepack(packed, type, rows, cols), `${type}_r16`);
      addon!.quantMatmul(packed, `${type}_r16`, rows, cols, x, got, m);
      for (let i = 0; i < want.length; i++) assert.ok(Object.is(got[i], want[i]), `${f} ${name} m ${m} out[${i}]: ${got[i]} vs ${want[i]}`);
    }
  }
});

test("r16 misuse is refused with a message that names it", { skip }, () => {
  const w = new Uint8Array(8 * 34);
  assert.throws(() => addon!.quantMatmul(w, "q8_0_r16", 8, 32, new Float32Array(32), new Float32Array(8), 1), /multiple of 16 rows/);
  assert.throws(() => addon!.dequantize(new Uint8Array(34), "q8_0_r16", new Float32Array(32), 32), /unsupported type "q8_0_r16"/);
  assert.equal(addon!.quantRepack(new Uint8Array(176 * 16), "q5_k", 16, 256), null);
  assert.equal(addon!.quantRepack(new Uint8Array(34 * 8), "q8_0", 8, 32), null, "8 rows: not repackable, left alone");
  const cpu = createBackend({});
  assert.ok(cpu.repackWeight, "the cpu backend offers repackWeight");
  assert.throws(() => cpu.quantMatmul(w, "q8_0_r16" as WeightType, 8, 32, new Float32Array(32), new Float32Array(8), 1), /multiple of 16 rows/);
});

test("embedRows reads a repacked (tied) table as it reads the table it holds", { skip }, () => {
  setDefaultBackend(createBackend({}));
  const rnd = rng(8);
  const rows = 64, cols = 96;
  const w = weights("q4_0", rows, cols, rnd);
  const packed = w.slice();
  addon!.quantRepack(packed, "q4_0", rows, cols);
  const ids = Int32Array.from([0, 17, 63, 17]);
  const a = embedRows({ type: "q4_0_r16", rows, cols, data: packed }, ids, cols).toFloat32Array();
  const b = embedRows({ type: "q4_0", rows, cols, data: w }, ids, cols).toFloat32Array();
  assert.deepEqual(a, b);
});

test("a GGUF model loads repacked and predicts what it does unrepacked", { skip }, async () => {
  const file = "../shared/testdata/gguf/dev-llama-tok512-q8_0.gguf";
  const packed = await loadModel(file);
  const plain = await loadModel(file, { repack: false });
  const types = (m: typeof packed) => new Set([...m.model.params.values()].flatMap((p) => ("rows" in p ? [p.type] : [])));
  // Every matrix but the untied token-embedding table (only looked up) is repacked.
  assert.equal((packed.config as { tieWordEmbeddings?: boolean }).tieWordEmbeddings, false);
  assert.deepEqual([...types(packed)].sort(), ["q8_0", "q8_0_r16"]);
  assert.equal((packed.model.params.get("model.embed_tokens.weight") as { type: string }).type, "q8_0");
  assert.deepEqual([...types(plain)], ["q8_0"]);
  const prompt = [1, 15, 200, 7, 42, 99, 3];
  for (const tokens of [prompt, prompt.slice(0, 1)]) {
    const a = packed.forward([{ seq: packed.createSequence(), tokens }])[0]!;
    const b = plain.forward([{ seq: plain.createSequence(), tokens }])[0]!;
    const max = b.reduce((x, v) => Math.max(x, Math.abs(v)), 0);
    let best = 0;
    for (let i = 0; i < a.length; i++) {
      assert.ok(Math.abs(a[i]! - b[i]!) <= 1e-4 * max, `logit ${i}: ${a[i]} repacked vs ${b[i]}`);
      if (a[i]! > a[best]!) best = i;
    }
    assert.equal(best, b.indexOf(Math.max(...b)), "same greedy token");
  }
});

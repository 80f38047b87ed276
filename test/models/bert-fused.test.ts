// The fused "encoder-layer-forward" op (native/encoder_layer.c) against its specification, BertModel's tensor path
// (block(), BertOptions.fusedLayers false), on the transformers-made BERT of ../shared/testdata/hf/bert: final hidden
// states within 1e-5 × max|reference| for sequences of different lengths (one attention call per sequence), of one
// length (one batched call), a single sequence, and the same model's f16 and q8_0 GGUF exports (encoded matrices);
// and a backend wrapper counts that the op really ran (once per layer); the encoders load with their matrices packed
// once into GEMM panels (the default), and those give the bits of the unpacked fused layer, on panels (the addon's
// gemmPackedCalls counter) — the fused path is also what
// test/models/bert.test.ts compares with transformers' outputs. Without the native addon the op does not exist:
// the tests are skipped.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend, type Backend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { loadEncoder, type BertEncoder } from "../../src/infer/encoder.js";
import { writeEncoderGguf } from "../../src/infer/encoder-export.js";
import { BertModel, packSequences, type EncoderSequence } from "../../src/models/bert/model.js";
import { loadNative } from "../../src/backend/native.js";

const DIR = path.resolve("../shared/testdata/hf/bert");
const base = createBackend();
const fusedAvailable = base.fused?.("encoder-layer-forward", { norm: "post-layernorm", attention: "bidirectional-mha", mlp: "dense" }) != null;
const skip = fusedAvailable ? false : "the backend has no encoder-layer-forward op (native addon not built)";

/** The default backend, with every call of a fused op's function counted. */
let fusedRuns = 0;
const counting = new Proxy(base, {
  get(target, prop, receiver) {
    const value = Reflect.get(target, prop, receiver) as unknown;
    if (prop !== "fused" || typeof value !== "function") return value;
    return (name: string, shape: unknown) => {
      const run = (value as (n: string, s: unknown) => ((x: Float32Array, spec: unknown) => void) | null).call(target, name, shape);
      return run && ((x: Float32Array, spec: unknown) => { fusedRuns++; run(x, spec); });
    };
  },
}) as Backend;
setDefaultBackend(counting); // tensors take the default backend: the one whose fused ops are counted

const ref = JSON.parse(readFileSync(path.join(DIR, "reference.json"), "utf8")) as {
  inputs: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][] };
};
const { input_ids: ids, token_type_ids: typeIds, attention_mask: mask } = ref.inputs;
const sequences: EncoderSequence[] = ids.map((row, b) => ({
  ids: row.filter((_, t) => mask[b]![t] === 1), typeIds: typeIds[b]!.filter((_, t) => mask[b]![t] === 1),
}));

function hidden(model: BertModel, seqs: readonly EncoderSequence[]): Float32Array {
  const batch = packSequences(model.config, seqs);
  return noGrad(() => tidy(() => model.encode(batch).toFloat32Array()));
}

/** Fused (the encoder's model) vs the tensor path over the same weights; returns the relative error. */
function compare(enc: BertEncoder, seqs: readonly EncoderSequence[], what: string): number {
  const reference = new BertModel(enc.model.config, enc.model.params, { fusedLayers: false });
  const before = fusedRuns;
  const want = hidden(reference, seqs);
  assert.equal(fusedRuns, before, `${what}: the tensor path must not call the fused op`);
  const got = hidden(enc.model, seqs);
  assert.equal(fusedRuns - before, enc.model.config.numLayers, `${what}: the fused op ran once per layer`);
  assert.equal(got.length, want.length, `${what}: length`);
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < want.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(want[i]!));
    maxDiff = Math.max(maxDiff, Math.abs(got[i]! - want[i]!));
  }
  assert.ok(maxRef > 0, `${what}: reference is all zeros`);
  assert.ok(maxDiff <= 1e-5 * maxRef, `${what}: max |diff| ${maxDiff} > 1e-5 × ${maxRef}`);
  return maxDiff / maxRef;
}

test("fused encoder layer = the tensor path (f32 HF folder): mixed lengths, one length, one sequence", { skip }, () => {
  const enc = loadEncoder(path.join(DIR, "base"), { backend: counting });
  try {
    assert.ok(new Set(sequences.map((s) => s.ids.length)).size > 1, "the reference inputs have different lengths");
    compare(enc, sequences, "mixed lengths");
    const one = sequences[0]!;
    compare(enc, [one, { ids: [...one.ids].reverse(), typeIds: one.typeIds }], "one length (batched attention)");
    compare(enc, [sequences[sequences.length - 1]!], "one sequence");
  } finally {
    enc.dispose();
  }
});

test("fused encoder layer = the tensor path on encoded matrices (f16 and q8_0 GGUF exports)", { skip }, () => {
  const hf = loadEncoder(path.join(DIR, "base"), { backend: counting });
  const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-bert-fused-"));
  try {
    for (const type of ["f16", "q8_0"] as const) {
      const file = path.join(tmp, `bert-${type}.gguf`);
      writeEncoderGguf(file, hf, type);
      const enc = loadEncoder(file, { backend: counting });
      try {
        compare(enc, sequences, type);
      } finally {
        enc.dispose();
      }
    }
  } finally {
    hf.dispose();
  }
});

const packedCalls = (): number => (loadNative()?.gemmPackedCalls?.() ?? 0);
const panelsSkip = skip || (base.packPanels?.(new Uint8Array(4), "f32", 1, 1) ? false : "the backend packs no GEMM panels (no AVX-512)");

test("weights packed once into GEMM panels: the unpacked fused layer's bits (f32 folder, f16 export), on panels", { skip: panelsSkip }, () => {
  const hf = loadEncoder(path.join(DIR, "base"), { backend: counting });
  const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-bert-packed-"));
  try {
    const file = path.join(tmp, "bert-f16.gguf");
    writeEncoderGguf(file, hf, "f16");
    for (const from of [path.join(DIR, "base"), file]) {
      const packed = loadEncoder(from, { backend: counting }), plain = loadEncoder(from, { backend: counting, packWeights: false });
      try {
        const n = sequences.reduce((t, q) => t + q.ids.length, 0);
        assert.ok(n >= 16, `the batch has ${n} tokens: the packed products need at least 16 (f16) or 9 (f32)`);
        const want = hidden(plain.model, sequences);
        const before = packedCalls();
        const got = hidden(packed.model, sequences);
        // four products (q/k/v as one group, o, up, down) per layer, each at least one row-range call on panels
        assert.ok(packedCalls() - before >= 4 * packed.model.config.numLayers, `${from}: the products did not run on packed panels`);
        assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array(want.buffer), `${from}: packed ≠ unpacked bits`);
        const again = packedCalls();
        assert.deepEqual(hidden(packed.model, sequences), got, `${from}: the second pass (panels reused)`);
        assert.ok(packedCalls() > again);
      } finally {
        packed.dispose();
        plain.dispose();
      }
    }
  } finally {
    hf.dispose();
  }
});

test("fused encoder layer: a bad spec is refused naming the field", { skip }, () => {
  const run = base.fused!("encoder-layer-forward", { norm: "post-layernorm", attention: "bidirectional-mha", mlp: "dense" })!;
  const m = (rows: number, cols: number) => ({ data: new Uint8Array(rows * cols * 4), type: "f32" as const, rows, cols });
  const v = (n: number) => new Float32Array(n);
  const spec = {
    n: 3, hidden: 8, nHead: 2, headDim: 4, ffn: 16, eps: 1e-12, attnScale: 0.5, act: "gelu_erf" as const,
    seqStarts: Int32Array.of(0), seqLengths: Int32Array.of(3), q: m(8, 8), k: m(8, 8), v: m(8, 8), o: m(8, 8), up: m(16, 8), down: m(8, 16),
    bq: v(8), bk: v(8), bv: v(8), bo: v(8), bUp: v(16), bDown: v(8), ln1Weight: v(8), ln1Bias: v(8), ln2Weight: v(8), ln2Bias: v(8),
  };
  const x = new Float32Array(24);
  run(x, spec); // well-formed: runs
  assert.throws(() => run(x, { ...spec, up: m(8, 8) }), /up must be \[16, 8\]/);
  assert.throws(() => run(x, { ...spec, seqLengths: Int32Array.of(4) }), /sequence 0: rows \[0, 4\).*n = 3/);
  assert.throws(() => run(x, { ...spec, bUp: v(8) }), /bUp has 8 elements, needs 16/);
  assert.throws(() => run(x, { ...spec, nHead: 3 }), /nHead × headDim/);
  assert.throws(() => run(new Float32Array(8), spec), /x has 8 elements, needs 24/);
  assert.throws(() => run(x, { ...spec, q: { ...m(8, 8), panels: { data: new Uint8Array(16), type: "f32" as const } } }),
    /q\.panels must hold a \[8, 8\] matrix packed by gemmPackWeights.*at least 1024 bytes, got 16/);
  assert.throws(() => run(x, { ...spec, q: { ...m(8, 8), panels: { data: new Uint8Array(1024), type: "f16" as const } } }),
    /q\.panels must hold a \[8, 8\] matrix.*panels of f32 or the weight's own f16 \/ bf16 type, got f16/);
});

test("packed panels: the unpacked fused layer's bits with several column passes per thread (f32 and f16, 1 to 3 threads)", { skip: panelsSkip }, () => {
  // ffn 1600 gives each thread more than one 256-column pass of the up product (the epilogue runs per pass) and
  // hidden 416 two KC blocks (the next block's 16-bit panels are prefetched); 100 rows: eight full row tiles and a partial one.
  const a = loadNative()!;
  const defaultThreads = base.info().threads;
  const run = base.fused!("encoder-layer-forward", { norm: "post-layernorm", attention: "bidirectional-mha", mlp: "dense" })!;
  let s = 12345;
  const r = () => { s = (s * 1103515245 + 12345) >>> 0; return s / 2 ** 32 - 0.5; };
  const n = 100, hidden = 416, ffn = 1600, heads = 4;
  const v = (len: number, scale = 1) => new Float32Array(len).map(() => r() * scale);
  for (const type of ["f32", "f16"] as const) {
    const matrix = (rows: number, cols: number, withPanels: boolean) => {
      const w = v(rows * cols, 0.1);
      let data = new Uint8Array(w.buffer);
      if (type === "f16") { const h = new Uint16Array(rows * cols); a.opsCast!(w, 0, h, 2, rows * cols); data = new Uint8Array(h.buffer); }
      const m = { data, type, rows, cols };
      return { plain: m, packed: withPanels ? { ...m, panels: { data: a.gemmPackWeights!(data, type, rows, cols, type)!, type } } : m };
    };
    const ms = { q: matrix(hidden, hidden, true), k: matrix(hidden, hidden, true), v: matrix(hidden, hidden, true),
      o: matrix(hidden, hidden, true), up: matrix(ffn, hidden, true), down: matrix(hidden, ffn, true) };
    const common = {
      n, hidden, nHead: heads, headDim: hidden / heads, ffn, eps: 1e-12, attnScale: 1 / Math.sqrt(hidden / heads), act: "gelu_erf" as const,
      seqStarts: Int32Array.of(0, 60), seqLengths: Int32Array.of(60, 40),
      bq: v(hidden), bk: v(hidden), bv: v(hidden), bo: v(hidden), bUp: v(ffn), bDown: v(hidden),
      ln1Weight: v(hidden), ln1Bias: v(hidden), ln2Weight: v(hidden), ln2Bias: v(hidden),
    };
    const x0 = v(n * hidden);
    // 2 threads split the 100 rows (50 each, native/encoder_layer.c layer_rows); 3 threads (33 rows each, under the
    // split's 48) run the fused regions, their columns split over the threads
    for (const threads of [1, 2, 3]) {
      base.setThreads(threads);
      const want = x0.slice(), got = x0.slice();
      run(want, { ...common, q: ms.q.plain, k: ms.k.plain, v: ms.v.plain, o: ms.o.plain, up: ms.up.plain, down: ms.down.plain });
      const before = packedCalls();
      run(got, { ...common, q: ms.q.packed, k: ms.k.packed, v: ms.v.packed, o: ms.o.packed, up: ms.up.packed, down: ms.down.packed });
      assert.ok(packedCalls() - before >= 4, `${type}, ${threads} thread(s): the products did not run on packed panels`);
      assert.ok(want.every(Number.isFinite), `${type}: the reference pass is finite`);
      assert.deepEqual(new Uint32Array(got.buffer), new Uint32Array(want.buffer), `${type}, ${threads} thread(s): packed ≠ unpacked bits`);
    }
  }
  base.setThreads(defaultThreads);
});

// Decoder prefill on f16 projections packed once into GEMM panels (QuantWeight.packPanels, set by loadModel for
// GGUF files; native/gemm_packed.c) against the same model loaded with repack: false (every matrix in the file's
// layout, products through quantMatmul — the path tested against llama.cpp in gguf-goldens.test.ts): the logits of a
// 40-token prompt (long enough for the panel GEMM) and of the decode steps after it are bit-identical, and the
// prefill really ran on panels (the addon's gemmPackedCalls counter) while the decode steps did not pack anything.
// Skips without the native addon or on CPUs without AVX-512 (no panels there).
// Leaves out: speed (zhiyu bench infer), f32 decoder weights (dense tensors: the f32 GEMM packs per call).
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { loadNative } from "../../src/backend/native.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";

const FILE = path.resolve("../shared/testdata/gguf/dev-llama-tok512-f16.gguf");
const backend = createBackend();
setDefaultBackend(backend);
const addon = loadNative();
const skip = !addon?.gemmPackedCalls || !addon.quantMatmulPanels ? "native addon with packed panels not built"
  : !backend.packPanels?.(new Uint8Array(4), "f32", 1, 1) ? "this CPU has no AVX-512: no GEMM panels" : false;

test("f16 decoder prefill on packed panels = the unpacked path, bit for bit, and runs on panels", { skip }, async () => {
  const packed = await loadModel(FILE, { contextLength: 256 }), plain = await loadModel(FILE, { contextLength: 256, repack: false });
  const prompt = Array.from({ length: 40 }, (_, i) => (i * 37 + 11) % 512);
  const run = (model: typeof packed): { logits: Float32Array[]; calls: number } => {
    const seq = model.createSequence();
    const before = addon!.gemmPackedCalls!();
    const logits = [model.forward([{ seq, tokens: prompt }])[0]!];
    const calls = addon!.gemmPackedCalls!() - before;
    for (const t of [5, 77, 300]) logits.push(model.forward([{ seq, tokens: [t] }])[0]!);
    return { logits, calls };
  };
  const want = run(plain), got = run(packed);
  assert.equal(want.calls, 0, "repack: false must not use panels");
  assert.ok(got.calls > 0, "the prefill did not run on packed panels");
  got.logits.forEach((l, i) =>
    assert.deepEqual(new Uint32Array(l.buffer, l.byteOffset, l.length), new Uint32Array(want.logits[i]!.buffer, want.logits[i]!.byteOffset, l.length),
      `step ${i} (0: the prompt): packed ≠ unpacked logits`));
  packed.dispose?.();
  plain.dispose?.();
});

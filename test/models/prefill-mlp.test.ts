// A decoder prompt's SwiGLU MLP sublayer as one backend call on packed f16 panels, rows split over 2 threads
// (prefillSwigluMlp → native/prefill_mlp.c), and a Qwen3 prompt's q/k/v and gate/up products on stacked matrices
// (DecoderModel): against the same GGUF loaded with repack: false (every product through quantMatmul in the file's
// layout, the path gguf-goldens.test.ts and families.test.ts hold against llama.cpp and transformers), the logits of
// a prompt long enough for the split (≥ 48 rows per thread; and one past a thread's 512-row chunk) and of decode
// steps after it are bit-identical, and the op really ran (on the packed model only). Files: ../shared/testdata/gguf/dev-llama-tok512-f16.gguf as
// shipped; ../shared/testdata/hf/qwen3's f32 GGUF with its matrices rounded to f16 (written to a temp folder).
// The whole-layer ops (prefillLayerPanels / prefillStackPanels, which run the MLP sublayer inside) are off here.
// Skips without the native addon's op or on CPUs without AVX-512 (no panels there).
// Leaves out: speed (zhiyu bench infer), bf16 files (the same kernels), prompts the op leaves to the tensor path
// (their products are decoder-panels.test.ts's).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { loadNative } from "../../src/backend/native.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { HF_DIR } from "./families-reference.js";
import { f16Copy } from "./f16-gguf-copy.js";

const LLAMA = path.resolve("../shared/testdata/gguf/dev-llama-tok512-f16.gguf");
const QWEN3_F32 = path.join(HF_DIR, "qwen3", "gguf", "model-f32.gguf");
const backend = createBackend({ threads: 2 });
setDefaultBackend(backend);
const addon = loadNative();
const skip = !addon?.prefillMlpPanels ? "native addon without prefillMlpPanels"
  : !backend.packPanels?.(new Uint8Array(4), "f32", 1, 1) ? "this CPU has no AVX-512: no GEMM panels" : false;

/** Counts the backend's prefillMlpPanels calls that ran (returned true). */
const ran = { calls: 0 };
if (!skip) {
  // The whole-layer op (prefill-layer.test.ts) would run these prompts' layers without the MLP op: off here.
  Object.defineProperty(backend, "prefillLayerPanels", { value: undefined });
  Object.defineProperty(backend, "prefillStackPanels", { value: undefined });
  const run = backend.prefillMlpPanels!;
  Object.defineProperty(backend, "prefillMlpPanels", {
    value: (...args: Parameters<typeof run>) => {
      const done = run.apply(backend, args);
      if (done) ran.calls++;
      return done;
    },
  });
}

async function packedEqualsPlain(file: string, vocab: number, tokens = 100): Promise<void> {
  const contextLength = tokens + 16;
  const packed = await loadModel(file, { contextLength }), plain = await loadModel(file, { contextLength, repack: false });
  const prompt = Array.from({ length: tokens }, (_, i) => (i * 37 + 11) % vocab);
  const run = (model: typeof packed): { logits: Float32Array[]; calls: number } => {
    const seq = model.createSequence();
    const before = ran.calls;
    const logits = [model.forward([{ seq, tokens: prompt }])[0]!];
    const calls = ran.calls - before;
    for (const t of [5, 77, 300]) logits.push(model.forward([{ seq, tokens: [t % vocab] }])[0]!);
    return { logits, calls };
  };
  const want = run(plain), got = run(packed);
  assert.equal(want.calls, 0, "repack: false must not run the MLP op (no panels)");
  assert.ok(got.calls > 0, "the prompt's MLP did not run as one native call");
  got.logits.forEach((l, i) =>
    assert.deepEqual(new Uint32Array(l.buffer, l.byteOffset, l.length), new Uint32Array(want.logits[i]!.buffer, want.logits[i]!.byteOffset, l.length),
      `step ${i} (0: the prompt): MLP op on packed panels ≠ the tensor path's logits`));
  packed.dispose?.();
  plain.dispose?.();
}

test("llama f16: a 100-token prompt's MLP in one call at 2 threads = the tensor path, bit for bit", { skip }, async () => {
  await packedEqualsPlain(LLAMA, 512);
});

test("llama f16: a 1,100-token prompt (each thread's 550 rows in chunks of 512) = the tensor path, bit for bit", { skip }, async () => {
  await packedEqualsPlain(LLAMA, 512, 1100);
});

test("qwen3 f16: stacked q/k/v and gate/up and the MLP op = separate products, bit for bit", { skip }, async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-prefill-mlp-"));
  try {
    const file = path.join(dir, "qwen3-f16.gguf");
    f16Copy(QWEN3_F32, file);
    await packedEqualsPlain(file, 1000);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

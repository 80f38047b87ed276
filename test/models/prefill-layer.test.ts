// A decoder prompt's layers as one backend call on packed f16 panels or r16 quantized matrices (or one call a layer), rows split over 2
// threads (prefillDecoderLayers → native/prefill_layer.c: norm, stacked q/k/v, Qwen3's head norms, RoPE from a table computed
// once per prompt, cache writes, the attention kernel, the output product, the MLP sublayer): against the same GGUF
// loaded with repack: false (every product through quantMatmul in the file's layout and every layer through the
// tensor ops, the path gguf-goldens.test.ts and families.test.ts hold against llama.cpp and transformers), the logits
// of a prompt and of decode steps after it are bit-identical — f32 and f16 caches, a prompt in two pieces (the second
// at pos0 > 0), one past a thread's 512-row chunk, the products split by weight columns (prompts up to 160 rows unless
// threads keep arriving late) and by rows (ZHIYU_PREFILL_SPLIT forces each) — and the op really ran (on the packed model only). Two mutations
// show the comparison can fail: the op given q's and k's head norms swapped (Qwen3), or RoPE rows one position off.
// Files: ../shared/testdata/gguf/dev-llama-tok512-f16.gguf as shipped; ../shared/testdata/hf/qwen3's f32 GGUF with its
// matrices rounded to f16 (written to a temp folder). Skips without the op or on CPUs without AVX-512 (no panels).
// Quantized files (the shipped q4_0 and q8_0 llama, repacked to r16 on load): the op against the same model with the
// layer ops hidden (the tensor path on the same r16 matrices), bit for bit, with RoPE one position off and the two
// norms swapped as mutations; and a prompt every layer declines (too few rows) tries the stack once, no layer retries.
// Leaves out: speed (zhiyu bench infer), bf16 files (the same kernels).
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import type { PrefillLayerSpec } from "../../src/backend/backend.js";
import { loadNative } from "../../src/backend/native.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import type { KvCacheType } from "../../src/models/kv-cache.js";
import { HF_DIR } from "./families-reference.js";
import { f16Copy } from "./f16-gguf-copy.js";

const LLAMA = path.resolve("../shared/testdata/gguf/dev-llama-tok512-f16.gguf");
const LLAMA_Q4_0 = path.resolve("../shared/testdata/gguf/dev-llama-tok512-q4_0-pure.gguf");
const LLAMA_Q8_0 = path.resolve("../shared/testdata/gguf/dev-llama-tok512-q8_0.gguf");
const QWEN3_F32 = path.join(HF_DIR, "qwen3", "gguf", "model-f32.gguf");
const backend = createBackend({ threads: 2 });
setDefaultBackend(backend);
const addon = loadNative();
const skip = !addon?.prefillLayerPanels ? "native addon without prefillLayerPanels"
  : !backend.packPanels?.(new Uint8Array(4), "f32", 1, 1) ? "this CPU has no AVX-512: no GEMM panels" : false;

/** Counts the layers the ops ran (a stack call counts its layers); `mutate` alters each spec the ops get (the
 *  mutation tests); `stack: false` hides prefillStackPanels (the layer-at-a-time path). */
const ran = { layers: 0, stackCalls: 0, tried: 0, stack: true, off: false, mutate: null as ((spec: PrefillLayerSpec) => PrefillLayerSpec) | null };
if (!skip) {
  const one = backend.prefillLayerPanels!, stack = backend.prefillStackPanels!;
  const spec = (s: PrefillLayerSpec) => ran.mutate ? ran.mutate(s) : s;
  Object.defineProperty(backend, "prefillLayerPanels", {
    get: () => ran.off ? undefined : (x: Float32Array, m: number, s: PrefillLayerSpec) => {
      ran.tried++;
      const done = one.call(backend, x, m, spec(s));
      if (done) ran.layers++;
      return done;
    },
  });
  Object.defineProperty(backend, "prefillStackPanels", {
    get: () => ran.stack && !ran.off ? (x: Float32Array, m: number, specs: PrefillLayerSpec[]) => {
      ran.tried++;
      const done = stack.call(backend, x, m, specs.map(spec));
      if (done) ran.layers += specs.length, ran.stackCalls++;
      return done;
    } : undefined,
  });
}

const bits = (l: Float32Array) => new Uint32Array(l.buffer, l.byteOffset, l.length);

/** One sequence: `pieces` prompts in turn (deterministic ids) and three decode steps after — every step's logits, and
 *  how many layer calls the prompt pieces ran. */
function promptThenDecode(model: Awaited<ReturnType<typeof loadModel>>, vocab: number, pieces: number[]): { logits: Float32Array[]; calls: number } {
  const seq = model.createSequence();
  const before = ran.layers, logits: Float32Array[] = [];
  let at = 0;
  for (const n of pieces) {
    logits.push(model.forward([{ seq, tokens: Array.from({ length: n }, (_, i) => ((at + i) * 37 + 11) % vocab) }])[0]!);
    at += n;
  }
  const calls = ran.layers - before;
  for (const t of [5, 77, 300]) logits.push(model.forward([{ seq, tokens: [t % vocab] }])[0]!);
  seq.dispose();
  return { logits, calls };
}

/** The logits of `pieces` prompts in turn (one sequence) and three decode steps after, on the packed model and on
 *  the repack: false one; how many layer calls ran on each. */
async function bothWays(file: string, vocab: number, pieces: number[], kvCacheType: KvCacheType = "f32") {
  const total = pieces.reduce((a, b) => a + b, 0), contextLength = total + 16;
  const packed = await loadModel(file, { contextLength, kvCacheType }), plain = await loadModel(file, { contextLength, kvCacheType, repack: false });
  const want = promptThenDecode(plain, vocab, pieces), got = promptThenDecode(packed, vocab, pieces);
  packed.dispose?.();
  plain.dispose?.();
  return { want, got };
}

async function packedEqualsPlain(file: string, vocab: number, pieces: number[], kvCacheType: KvCacheType = "f32"): Promise<void> {
  const { want, got } = await bothWays(file, vocab, pieces, kvCacheType);
  assert.equal(want.calls, 0, "repack: false must not run the layer op (no panels)");
  assert.ok(got.calls > 0, "the prompt's layers did not run in the native op");
  got.logits.forEach((l, i) => assert.deepEqual(bits(l), bits(want.logits[i]!),
    `step ${i} (< ${pieces.length}: the prompt's pieces): layer op on packed panels ≠ the tensor path's logits`));
}

/** A quantized file (its matrices repacked to r16 on load): the logits of `pieces` prompts and three decode steps
 *  with the layer ops (got) and with them hidden (want: every layer through the tensor ops, quantMatmul on the same
 *  r16 matrices — the path gguf-goldens.test.ts holds against llama.cpp); how many layer calls ran. */
async function opsOnAndOff(file: string, vocab: number, pieces: number[], kvCacheType: KvCacheType = "f32") {
  const contextLength = pieces.reduce((a, b) => a + b, 0) + 16;
  const model = await loadModel(file, { contextLength, kvCacheType });
  const run = () => promptThenDecode(model, vocab, pieces);
  ran.off = true;
  let want: ReturnType<typeof run>;
  try {
    want = run();
  } finally {
    ran.off = false;
  }
  const got = run();
  model.dispose?.();
  return { want, got };
}

async function quantOpEqualsTensorPath(file: string, pieces: number[], kvCacheType: KvCacheType = "f32"): Promise<void> {
  const { want, got } = await opsOnAndOff(file, 512, pieces, kvCacheType);
  assert.equal(want.calls, 0, "the layer ops were hidden but ran");
  assert.ok(got.calls > 0, "the prompt's layers did not run in the native op (r16 matrices)");
  got.logits.forEach((l, i) => assert.deepEqual(bits(l), bits(want.logits[i]!),
    `step ${i} (< ${pieces.length}: the prompt's pieces): layer op on r16 matrices ≠ the tensor path's logits`));
}

async function withQwen3F16(body: (file: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-prefill-layer-"));
  try {
    const file = path.join(dir, "qwen3-f16.gguf");
    f16Copy(QWEN3_F32, file);
    await body(file);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

test("llama f16: a 100-token prompt's layers in one native call at 2 threads = the tensor path, bit for bit", { skip }, async () => {
  const stacks = ran.stackCalls;
  await packedEqualsPlain(LLAMA, 512, [100]);
  assert.equal(ran.stackCalls, stacks + 1, "the prompt did not run as one prefillStackPanels call");
});

test("llama f16: the same prompt one layer call at a time (no prefillStackPanels) = the tensor path", { skip }, async () => {
  ran.stack = false;
  try {
    await packedEqualsPlain(LLAMA, 512, [100]);
  } finally {
    ran.stack = true;
  }
});

test("llama f16: the row split around every product and the column split inside them (ZHIYU_PREFILL_SPLIT=rows / cols) = the tensor path", { skip }, async () => {
  for (const split of ["rows", "cols"]) {
    process.env.ZHIYU_PREFILL_SPLIT = split;
    try {
      const stacks = ran.stackCalls;
      await packedEqualsPlain(LLAMA, 512, [100, 110], "f16");
      assert.equal(ran.stackCalls, stacks + 2, `${split}: the pieces did not run as prefillStackPanels calls`);
    } finally {
      delete process.env.ZHIYU_PREFILL_SPLIT;
    }
  }
});

test("llama f16, f16 cache: a prompt in two pieces (100 then 110 tokens at pos0 100) = the tensor path", { skip }, async () => {
  await packedEqualsPlain(LLAMA, 512, [100, 110], "f16");
});

test("llama f16: a 1,100-token prompt (each thread's 550 rows in chunks of 512) = the tensor path, bit for bit", { skip }, async () => {
  await packedEqualsPlain(LLAMA, 512, [1100]);
});

test("qwen3 f16 (per-head q/k norms): the layer op = the tensor path on separate products, bit for bit", { skip }, async () => {
  await withQwen3F16((file) => packedEqualsPlain(file, 1000, [100]));
});

test("llama q4_0 and q8_0 (repacked r16): a 100-token prompt's layers in one native call = the tensor path on the same matrices, bit for bit", { skip }, async () => {
  for (const file of [LLAMA_Q4_0, LLAMA_Q8_0]) {
    const stacks = ran.stackCalls;
    await quantOpEqualsTensorPath(file, [100]);
    assert.equal(ran.stackCalls, stacks + 1, `${path.basename(file)}: the prompt did not run as one prefillStackPanels call`);
  }
});

test("llama q4_0, f16 cache: a prompt in two pieces (100 then 110 tokens at pos0 100), one layer call at a time too = the tensor path", { skip }, async () => {
  await quantOpEqualsTensorPath(LLAMA_Q4_0, [100, 110], "f16");
  ran.stack = false;
  try {
    await quantOpEqualsTensorPath(LLAMA_Q4_0, [100]);
  } finally {
    ran.stack = true;
  }
});

test("a prompt every layer declines (60 rows: under 48 a thread at 2 threads): one stack call tried, no per-layer retries", { skip }, async () => {
  const tried = ran.tried;
  const { want, got } = await opsOnAndOff(LLAMA_Q4_0, 512, [60]);
  assert.equal(got.calls, 0, "60 rows ran in the layer op");
  assert.equal(ran.tried - tried, 1, "the layers were retried one call at a time after the stack declined for a reason they share");
  got.logits.forEach((l, i) => assert.deepEqual(bits(l), bits(want.logits[i]!), `step ${i}: the declined prompt's logits changed`));
});

test("the comparison fails when the op computes something else (q/k norms swapped; RoPE one position off)", { skip }, async () => {
  const differs = async (file: string, vocab: number, mutate: (s: PrefillLayerSpec) => PrefillLayerSpec) => {
    ran.mutate = mutate;
    try {
      const { want, got } = await bothWays(file, vocab, [100]);
      assert.ok(got.calls > 0, "the mutated op did not run");
      assert.notDeepEqual(bits(got.logits[0]!), bits(want.logits[0]!), "a mutated layer op still matched the tensor path");
    } finally {
      ran.mutate = null;
    }
  };
  await withQwen3F16((file) => differs(file, 1000, (s) => ({ ...s, qNorm: s.kNorm, kNorm: s.qNorm })));
  const ropeOff = (s: PrefillLayerSpec) => {
    const row = s.rope.length / 100, shifted = s.rope.slice(); // row i gets position i + 1's cos | sin (the last keeps its own)
    shifted.set(s.rope.subarray(row), 0);
    return { ...s, rope: shifted };
  };
  await differs(LLAMA, 512, ropeOff);
  // the quantized op against its own tensor path: RoPE one position off; the attention and MLP norms swapped
  for (const mutate of [ropeOff, (s: PrefillLayerSpec) => ({ ...s, attnNorm: s.ffnNorm, ffnNorm: s.attnNorm })]) {
    ran.mutate = mutate;
    try {
      const { want, got } = await opsOnAndOff(LLAMA_Q4_0, 512, [100]);
      assert.ok(got.calls > 0, "the mutated quantized op did not run");
      assert.notDeepEqual(bits(got.logits[0]!), bits(want.logits[0]!), "a mutated quantized layer op still matched the tensor path");
    } finally {
      ran.mutate = null;
    }
  }
});

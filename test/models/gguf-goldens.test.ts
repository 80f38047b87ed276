// End-to-end conformance with llama.cpp (../shared/testdata/gguf): for every model there, feed each reference
// prompt's token ids, compare the last-position logits (F32/F16: max |Δ| ≤ 1e-3 × max |ref|; quantized:
// cosine ≥ 0.999) and decode greedily, expecting llama.cpp's ids exactly, with an f32 KV cache and (several models)
// an f16 one. The HF folders holding the same
// weights must meet the same tolerances (exact-float engines: cosine for the quantized qwen2 reference).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import type { TextModel } from "../../src/infer/model-api.js";

const dir = path.resolve("../shared/testdata/gguf");
const backend = createBackend();
setDefaultBackend(backend);

interface Reference {
  n_vocab: number;
  tensor_types: Record<string, unknown>;
  prompts: Array<{ prompt_tokens: number[]; greedy_tokens: number[] }>;
}

function compare(got: Float32Array, want: Float32Array) {
  let maxAbs = 0, maxDiff = 0, dot = 0, na = 0, nb = 0;
  for (let i = 0; i < want.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(want[i]));
    maxDiff = Math.max(maxDiff, Math.abs(want[i] - got[i]));
    dot += want[i] * got[i];
    na += want[i] * want[i];
    nb += got[i] * got[i];
  }
  return { rel: maxDiff / maxAbs, cosine: dot / Math.sqrt(na * nb) };
}

function argmax(x: Float32Array): number {
  let best = 0;
  for (let i = 1; i < x.length; i++) if (x[i] > x[best]) best = i;
  return best;
}

async function check(name: string, modelPath: string, opts: { quantized: boolean; greedy: boolean; kvCacheType?: "f32" | "f16"; hugePages?: boolean }) {
  const ref = JSON.parse(readFileSync(path.join(dir, `${name}.json`), "utf8")) as Reference;
  const all = float32s(readFileSync(path.join(dir, `${name}.logits.bin`)));
  const model: TextModel = await loadModel(modelPath, { contextLength: 256, kvCacheType: opts.kvCacheType, hugePages: opts.hugePages });
  const v = ref.n_vocab;
  assert.equal(model.vocabSize, v);
  for (const [pi, p] of ref.prompts.entries()) {
    const seq = model.createSequence();
    let logits = model.forward([{ seq, tokens: p.prompt_tokens }])[0];
    const { rel, cosine } = compare(logits, all.subarray(pi * v, (pi + 1) * v));
    if (opts.quantized) assert.ok(cosine >= 0.999, `${name} prompt ${pi}: cosine ${cosine} < 0.999`);
    else assert.ok(rel <= 1e-3, `${name} prompt ${pi}: max |Δ| = ${rel.toExponential(2)} × max |logit| > 1e-3`);
    if (opts.greedy) {
      const ids: number[] = [];
      for (let s = 0; s < p.greedy_tokens.length; s++) {
        ids.push(argmax(logits));
        if (s + 1 < p.greedy_tokens.length) logits = model.forward([{ seq, tokens: [ids[s]] }])[0];
      }
      assert.deepEqual(ids, p.greedy_tokens, `${name} prompt ${pi}: greedy ids differ`);
    }
    seq.dispose();
  }
  model.dispose();
}

const GGUF_MODELS: Array<[string, boolean]> = [
  ["stories260K", false],
  ["dev-llama-tok512-f32", false],
  ["dev-llama-tok512-f16", false],
  ["dev-gpt2-e32-f16", false],
  ["dev-llama-tok512-q8_0", true],
  ["dev-llama-tok512-q4_0-pure", true],
  ["dev-llama-tok512-e256-q4_k_m-pure", true],
  ["dev-llama-tok512-e256-q6_k-pure", true],
  ["dev-qwen2-e32-f16emb-q8_0", true],
];

for (const [name, quantized] of GGUF_MODELS) {
  test(`${name}.gguf reproduces llama.cpp's logits and greedy ids`, async () => {
    await check(name, path.join(dir, `${name}.gguf`), { quantized, greedy: true });
  });
}

// With an f16 KV cache. The references reproduce Zhiyu's f32 cache to ~1e-7 (attention at f32 precision), so a cache
// that rounds k and v to 11 significant bits is held to the cosine rule (≥ 0.999) instead of 1e-3 × max |logit|;
// greedy ids for the llama and GPT-2 files (qwen2's near-ties flip, as for its HF folder). Covers attendCached
// (prefill), the fused decode layer (llama, qwen2 biases) and GPT-2's path.
for (const [name, greedy] of [["dev-llama-tok512-f32", true], ["dev-llama-tok512-f16", true], ["dev-gpt2-e32-f16", true],
  ["dev-llama-tok512-q8_0", true], ["dev-qwen2-e32-f16emb-q8_0", false]] as const) {
  test(`${name}.gguf with an f16 KV cache stays within cosine 0.999 of llama.cpp's logits${greedy ? " and greedy ids" : ""}`, async () => {
    await check(name, path.join(dir, `${name}.gguf`), { quantized: true, greedy, kvCacheType: "f16" });
  });
}

// The weights' buffer left on ordinary pages (hugePages: false; the tests above load with the default, advised onto
// 2 MiB pages): the advice is a hint about memory, never about values.
for (const name of ["dev-llama-tok512-f16", "dev-llama-tok512-q4_0-pure"]) {
  test(`${name}.gguf with its weights on ordinary pages reproduces llama.cpp's logits and greedy ids`, async () => {
    await check(name, path.join(dir, `${name}.gguf`), { quantized: name.includes("q4_0"), greedy: true, hugePages: false });
  });
}

// HF folders: exact float weights. llama F32 and gpt2 F16 match llama.cpp within the float tolerance (greedy
// too); qwen2's reference used quantized activations, so only the cosine rule applies (README: an exact-
// activation engine legitimately departs from some greedy runs).
test("dev-llama-tok512-f32.hf (HF names, rotate_half RoPE) gives llama.cpp's logits and greedy ids", async () => {
  await check("dev-llama-tok512-f32", path.join(dir, "dev-llama-tok512-f32.hf"), { quantized: false, greedy: true });
});
test("dev-gpt2-e32-f16.hf (Conv1D layout) gives llama.cpp's logits and greedy ids", async () => {
  await check("dev-gpt2-e32-f16", path.join(dir, "dev-gpt2-e32-f16.hf"), { quantized: false, greedy: true });
});
test("dev-qwen2-e32-f16emb-q8_0.hf (BF16, Q/K/V biases) gives llama.cpp's logits within cosine 0.999", async () => {
  await check("dev-qwen2-e32-f16emb-q8_0", path.join(dir, "dev-qwen2-e32-f16emb-q8_0.hf"), { quantized: true, greedy: false });
});

/** The file's bytes as float32 (copying: a Buffer may be a view into a larger shared pool). */
function float32s(b: Buffer): Float32Array {
  return new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));
}

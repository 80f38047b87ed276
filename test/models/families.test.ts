// The decoder families added for issue 22, each from its Hugging Face folder and from the GGUF llama.cpp's converter
// wrote of it (../shared/testdata/hf/<case>): logits at every position within 1e-4 × max|transformers' logits|,
// greedy ids identical to transformers' generate with the KV cache (step logits compared first), llama.cpp's own
// logits as a second check, and the tokenizer's sample text giving transformers' ids.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { checkGreedy, checkLogits, readCase } from "./families-reference.js";

setDefaultBackend(createBackend());

const TOL = 1e-4;
/** llama.cpp against transformers: float noise, except Gemma 2's f16 GELU table (README: up to ~3.4e-3). */
const LLAMA_CPP_TOL: Record<string, number> = { gemma2: 1e-3 };

const CASES = ["qwen3", "qwen3_moe", "mixtral", "gemma2", "phi3", "llama_yarn", "glm4"];

for (const name of CASES) {
  for (const format of ["hf", "gguf"] as const) {
    test(`${name} (${format}): logits at every position and greedy ids match transformers`, async () => {
      const c = readCase(name);
      const file = format === "hf" ? path.join(c.dir, "model") : path.join(c.dir, "gguf", "model-f32.gguf");
      const model = await loadModel(file);
      try {
        checkLogits(model, c, TOL);
        checkGreedy(model, c, TOL);
        checkLogits(model, c, LLAMA_CPP_TOL[name] ?? TOL, "llama_cpp_");
        assert.deepEqual(model.tokenizer.encode(c.sampleText), c.sampleIds, "tokenizer sample text");
      } finally {
        model.dispose();
      }
    });
  }
}

// An f16 KV cache (LoadModelOptions.kvCacheType): Gemma 2's soft-capped, windowed attention reads it through the
// general path, Qwen3 through the fused/rotary one. k and v rounded to 11 significant bits keep the step logits within
// 1e-2 × max|transformers' logits| (f32 cache: 1e-4) and the greedy ids identical.
for (const name of ["gemma2", "qwen3"]) {
  test(`${name} (gguf) with an f16 KV cache: greedy ids still match transformers`, async () => {
    const c = readCase(name);
    const model = await loadModel(path.join(c.dir, "gguf", "model-f32.gguf"), { kvCacheType: "f16" });
    try {
      checkGreedy(model, c, 1e-2);
    } finally {
      model.dispose();
    }
  });
}

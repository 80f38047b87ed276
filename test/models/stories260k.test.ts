// stories260K (Karpathy's real 260K-parameter TinyStories model, converted to GGUF by llama.cpp) tells the same
// greedy story as llama2.c's run.c: ids and text byte for byte (../shared/data/stories260K/reference/), through
// the whole stack — GGUF loader, tokenizer, generation loop with streaming decode.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { generate } from "../../src/infer/generate.js";

setDefaultBackend(createBackend());
const refDir = path.resolve("../shared/data/stories260K/reference");
const ref = JSON.parse(readFileSync(path.join(refDir, "token_ids_and_logits.json"), "utf8")) as Record<string,
  { prompt: string; steps: number; prompt_token_ids: number[]; token_ids: number[] }>;

for (const [key, file] of [["greedy_t0_n256_noprompt", "greedy_t0_n256_noprompt.txt"],
  ["greedy_t0_n64_once_upon_a_time", "greedy_t0_n64_once_upon_a_time.txt"]] as const) {
  test(`stories260K ${key} equals llama2.c`, async () => {
    // The GGUF says context 128 (the converter's default); the model was trained on 512.
    const model = await loadModel(path.resolve("../shared/testdata/gguf/stories260K.gguf"), { contextLength: 512 });
    const r = ref[key];
    const promptIds = r.prompt ? model.tokenizer.encode(r.prompt) : [model.tokenizer.bosTokenId!];
    assert.deepEqual(promptIds, r.prompt_token_ids);
    let streamed = "";
    // run.c's -n counts positions including the prompt (the last sampled token is printed but never fed);
    // it stops early on BOS (id 1).
    const out = generate(model, promptIds, {
      temperature: 0, maxTokens: r.steps + 1 - promptIds.length, stopTokenIds: [1], onText: (t) => { streamed += t; },
    });
    assert.deepEqual([...promptIds, ...out.ids], r.token_ids);
    const text = readFileSync(path.join(refDir, file), "utf8");
    // run.c prints the prompt's text (without the BOS-added leading space) then the continuation, and a newline.
    const promptText = r.prompt ? model.tokenizer.decode(promptIds, { skipSpecialTokens: true }) : "";
    assert.equal(promptText + streamed + "\n", text);
    model.dispose();
  });
}

// Counts read from files are checked before anything is allocated or expanded from them (issue 14 item 4): a GGUF
// claiming 2^31 layers (or more layers than it has tensors), a config.json with 2^31 hidden layers, and a
// tokenizer.json whose token id is 2^31−1 each fail at once with an error naming the field — they used to expand
// every layer or allocate every slot up to the id (V8 out-of-memory abort). Variants of dev-llama-tok512-f32 are
// written to a temp folder.
import { after, test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { readGguf, readTensorBytes, type GgufValueType } from "../../src/io/gguf.js";
import { writeGguf } from "../../src/io/gguf-writer.js";
import { llamaConfigFromHf } from "../../src/models/llama/config.js";
import { gpt2ConfigFromHf } from "../../src/models/gpt2/config.js";
import { tokenizerFromHfJson } from "../../src/tokenizers/hf-json.js";

setDefaultBackend(createBackend({ kind: "ref" }));
const source = path.resolve("../shared/testdata/gguf/dev-llama-tok512-f32.gguf");
const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-counts-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function variant(name: string, metadata: Record<string, [number, GgufValueType]>): string {
  const f = readGguf(source);
  const meta = [...f.metadata].map(([k, v]) => (metadata[k] ? [k, metadata[k][0], metadata[k][1]] as const : [k, v, f.metadataTypes.get(k)] as const));
  const tensors = f.tensors.map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: readTensorBytes(f, t) }));
  const out = path.join(tmp, name);
  writeGguf(out, { metadata: meta, tensors });
  return out;
}

async function rejectsFast(p: Promise<unknown>, pattern: RegExp): Promise<void> {
  const t0 = performance.now();
  const heap0 = process.memoryUsage().heapUsed;
  await assert.rejects(p, pattern);
  assert.ok(performance.now() - t0 < 3000, "rejected only after seconds");
  assert.ok(process.memoryUsage().heapUsed - heap0 < 256 * 2 ** 20, "allocated over 256 MiB before rejecting");
}

test("a GGUF with llama.block_count = 2^31 is refused before any layer is expanded, naming the field", async () => {
  await rejectsFast(loadModel(variant("layers-2p31.gguf", { "llama.block_count": [2 ** 31, "u32"] })), /'llama\.block_count' = 2147483648/);
  // Within the absolute limit but more layers than the file has tensors.
  await rejectsFast(loadModel(variant("layers-1000.gguf", { "llama.block_count": [1000, "u32"] })), /'llama\.block_count' = 1000 layers, but the file holds only \d+ tensors/);
  await rejectsFast(loadModel(variant("ctx.gguf", { "llama.context_length": [2 ** 32 - 1, "u32"] })), /'llama\.context_length'/);
});

test("config.json counts are bounded and named: num_hidden_layers = 2^31, n_layer = 1e8", () => {
  const base = { model_type: "llama", vocab_size: 512, hidden_size: 64, intermediate_size: 192, num_attention_heads: 4 };
  assert.throws(() => llamaConfigFromHf({ ...base, num_hidden_layers: 2 ** 31 }), /'num_hidden_layers' = 2147483648 is over the limit/);
  assert.throws(() => llamaConfigFromHf({ ...base, num_hidden_layers: 2, vocab_size: 2 ** 40 }), /'vocab_size'/);
  assert.throws(() => gpt2ConfigFromHf({ vocab_size: 512, n_embd: 64, n_head: 4, n_layer: 1e8 }), /'n_layer' = 100000000/);
});

test("a tokenizer.json token id of 2^31−1 is refused without allocating its slots, naming the field", () => {
  const vocab: Record<string, number> = { a: 0, b: 1, ab: 2 };
  const t0 = performance.now();
  assert.throws(() => tokenizerFromHfJson({ model: { type: "BPE", vocab: { ...vocab, evil: 2 ** 31 - 1 }, merges: ["a b"] } }),
    /model\.vocab\.evil is 2147483647, beyond/);
  assert.throws(() => tokenizerFromHfJson({ model: { type: "BPE", vocab, merges: ["a b"] },
    added_tokens: [{ id: 2 ** 31 - 1, content: "<evil>", special: true }] }), /added_tokens\[0\]\.id is 2147483647/);
  assert.throws(() => tokenizerFromHfJson({ model: { type: "BPE", vocab, merges: ["a b"] } },
    { config: { added_tokens_decoder: { "2000000000": { content: "<x>", special: true } } } }), /added_tokens_decoder\.2000000000 has the id 2000000000/);
  assert.ok(performance.now() - t0 < 2000);
  // A dense vocabulary with a few reserved holes still loads.
  const ok = tokenizerFromHfJson({ model: { type: "BPE", vocab: { ...vocab, "<r>": 40 }, merges: ["a b"] } });
  assert.deepEqual(ok.encode("ab", { addSpecialTokens: false }), [2]);
});

// Qwen2-MoE with a shared expert (issue 22) against Hugging Face transformers and llama.cpp: test/fixtures/hf/qwen2_moe,
// made by dev/models/make-qwen2moe-reference.py (a tiny random Qwen2MoeForCausalLM: 4 routed experts top-2 without
// renormalising, a shared expert scaled by sigmoid(shared_expert_gate · x); its GGUF by llama.cpp's own converter,
// and llama.cpp's logits and greedy ids from that GGUF). From the HF folder and from llama.cpp's GGUF: every position
// and every greedy step within 1e-4 × max|transformers|, the ids identical to transformers' and llama.cpp's; then
// `zhiyu convert` both ways (llama.cpp's tensor names, shapes and keys); a GGUF without a layer's shared expert, or
// whose shared-expert size disagrees with its tensors, is refused naming the tensor.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { readGguf, readTensorBytes } from "../../src/io/gguf.js";
import { writeGguf } from "../../src/io/gguf-writer.js";
import { loadModel } from "../../src/infer/load.js";
import { ModelLoadError } from "../../src/models/weights.js";
import { DecoderModel } from "../../src/models/decoder/model.js";
import { argmax, checkGreedy, checkLogits, convertQuietly, readCase } from "./families-reference.js";

setDefaultBackend(createBackend());
const FIXTURES = path.resolve("test/fixtures/hf");
const tmp = mkdtempSync(path.join(tmpdir(), "zhiyu-qwen2moe-"));
test.after(() => rmSync(tmp, { recursive: true, force: true }));
const c = readCase("qwen2_moe", FIXTURES);
const ref = JSON.parse(readFileSync(path.join(c.dir, "reference.json"), "utf8"));
const LLAMA_GGUF = path.join(c.dir, "gguf", "model-f32.gguf");

/** llama.cpp's greedy ids from its own GGUF (reference.json → gguf.results), by plain greedy decoding here. */
function checkLlamaCppIds(model: Awaited<ReturnType<typeof loadModel>>): void {
  c.inputs.forEach((ids, i) => {
    const want: number[] = ref.gguf.results[i].new_tokens;
    const seq = model.createSequence();
    let logits = model.forward([{ seq, tokens: ids }])[0]!;
    const got: number[] = [];
    while (got.length < want.length) {
      got.push(argmax(logits));
      logits = model.forward([{ seq, tokens: [got.at(-1)!] }])[0]!;
    }
    seq.dispose();
    assert.deepEqual(got, want, `input ${i}: llama.cpp's greedy ids`);
  });
}

for (const format of ["hf", "gguf"] as const) {
  test(`qwen2_moe (${format}): every position and greedy ids match transformers and llama.cpp`, async () => {
    const model = await loadModel(format === "hf" ? path.join(c.dir, "model") : LLAMA_GGUF);
    try {
      const net = model.model;
      assert.ok(net instanceof DecoderModel && net.config.moe?.sharedExpertFfn === ref.config.shared_expert_intermediate_size);
      assert.equal(net.config.moe!.normTopK, false);
      checkLogits(model, c, 1e-4);
      checkGreedy(model, c, 1e-4);
      checkLogits(model, c, 1e-4, "llama_cpp_");
      checkLlamaCppIds(model);
    } finally {
      model.dispose();
    }
  });
}

test("qwen2_moe: convert HF → GGUF (llama.cpp's names, shapes, keys) and llama.cpp's GGUF → HF, both still match", async () => {
  const gguf = path.join(tmp, "qwen2moe.gguf");
  await convertQuietly(["--from", path.join(c.dir, "model"), "--to", gguf, "--type", "f32"]);
  const ours = readGguf(gguf), theirs = readGguf(LLAMA_GGUF);
  const shapes = (f: typeof ours) => new Map(f.tensors.map((t) => [t.name, t.dims.join("x")]));
  assert.deepEqual(shapes(ours), shapes(theirs));
  for (const t of ours.tensors.filter((x) => /_(exps|shexp)\.weight$/.test(x.name))) {
    const other = theirs.tensorByName.get(t.name)!;
    assert.ok(Buffer.from(readTensorBytes(ours, t)).equals(Buffer.from(readTensorBytes(theirs, other))), `${t.name}: llama.cpp's bytes`);
  }
  for (const key of ["expert_count", "expert_used_count", "expert_feed_forward_length", "expert_shared_feed_forward_length"]) {
    assert.equal(ours.metadata.get(`qwen2moe.${key}`), theirs.metadata.get(`qwen2moe.${key}`), key);
  }
  const model = await loadModel(gguf);
  try { checkLogits(model, c, 1e-4); } finally { model.dispose(); }
  const hf = path.join(tmp, "qwen2moe-hf");
  await convertQuietly(["--from", LLAMA_GGUF, "--to", hf]);
  const back = await loadModel(hf);
  try { checkGreedy(back, c, 1e-4); } finally { back.dispose(); }
});

test("a qwen2moe GGUF without a layer's shared expert, or with the wrong shared size, is refused naming the tensor", async () => {
  const f = readGguf(LLAMA_GGUF);
  const rewrite = (name: string, keep: (t: (typeof f.tensors)[number]) => boolean, meta: (k: string, v: unknown) => unknown = (_k, v) => v) => {
    const file = path.join(tmp, name);
    writeGguf(file, {
      metadata: [...f.metadata].map(([k, v]) => [k, meta(k, v), f.metadataTypes.get(k)] as never),
      tensors: f.tensors.filter(keep).map((t) => ({ name: t.name, dims: t.dims, type: t.type, data: readTensorBytes(f, t) })),
    });
    return file;
  };
  const missing = rewrite("no-shexp.gguf", (t) => t.name !== "blk.1.ffn_down_shexp.weight");
  await assert.rejects(loadModel(missing), (e: Error) => e instanceof ModelLoadError && /blk\.1\.ffn_down_shexp\.weight/.test(e.message));
  const wrong = rewrite("bad-shexp.gguf", () => true, (k, v) => (k === "qwen2moe.expert_shared_feed_forward_length" ? (v as number) + 8 : v));
  await assert.rejects(loadModel(wrong), (e: Error) => e instanceof ModelLoadError && /ffn_(gate|up|down)_shexp\.weight/.test(e.message));
});

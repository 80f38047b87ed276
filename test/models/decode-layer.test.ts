// The native composite decode layer (Backend.llamaDecodeLayer) against its specification, the tensor path of
// src/models/llama.ts: the same GGUF models from ../shared/testdata (LLaMA Q8_0 / Q4_0 / Q4_K / F16, Qwen2 with
// q/k/v biases) decode the same tokens for several sequences at once, with the op and with the op hidden from
// the model; the logits of every step must be bit-identical. Skipped when the addon lacks the op.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend, type Backend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";

const dir = path.resolve("../shared/testdata/gguf");
const base = createBackend();
/** The backend as it is, counting calls of the composite op (the comparison means nothing if it never runs). */
let opCalls = 0;
const native = new Proxy(base, {
  get: (t, p, r) => {
    const v = Reflect.get(t, p, r) as unknown;
    if (p !== "llamaDecodeLayer" || typeof v !== "function") return v;
    return (...args: unknown[]) => { opCalls++; return (v as (...a: unknown[]) => void).apply(t, args); };
  },
}) as Backend;
/** The same backend without the composite op: the model falls back to the tensor path. */
const withoutOp = new Proxy(base, {
  get: (t, p, r) => (p === "llamaDecodeLayer" ? undefined : Reflect.get(t, p, r)),
}) as Backend;

async function decodeLogits(file: string, backend: Backend): Promise<Float32Array[]> {
  setDefaultBackend(backend);
  const model = await loadModel(path.join(dir, file), { backend });
  try {
    const prompts = [[1, 15, 27, 3], [1, 99], [1, 7, 7]];
    const seqs = prompts.map(() => model.createSequence());
    let logits = model.forward(seqs.map((seq, i) => ({ seq, tokens: prompts[i]! })));
    const out: Float32Array[] = [];
    for (let step = 0; step < 5; step++) {
      // All three decode together, then only the first two (a finished sequence leaves the batch).
      const live = step < 3 ? seqs : seqs.slice(0, 2);
      logits = model.forward(live.map((seq, i) => ({ seq, tokens: [(step * 31 + i * 7 + 5) % model.vocabSize] })));
      out.push(...logits.map((l) => l.slice()));
    }
    for (const s of seqs) s.dispose();
    return out;
  } finally {
    model.dispose();
  }
}

const MODELS = ["dev-llama-tok512-q8_0.gguf", "dev-llama-tok512-q4_0-pure.gguf", "dev-llama-tok512-e256-q4_k_m-pure.gguf",
  "dev-llama-tok512-f16.gguf", "dev-qwen2-e32-f16emb-q8_0.gguf"];

test("native decode layer = tensor path, bit for bit", { skip: base.llamaDecodeLayer ? false : "addon without llamaDecodeLayer" }, async () => {
  for (const file of MODELS) {
    const before = opCalls;
    const a = await decodeLogits(file, native);
    assert.ok(opCalls > before, `${file}: the composite decode layer never ran`);
    const b = await decodeLogits(file, withoutOp);
    assert.equal(a.length, b.length);
    a.forEach((row, i) => {
      const j = row.findIndex((v, k) => !Object.is(v, b[i]![k]));
      assert.equal(j, -1, `${file}: logits row ${i} differ at ${j}: ${row[j]} vs ${b[i]![j]}`);
    });
  }
});

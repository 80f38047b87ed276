// The native fused decode layer (the backend's "decoder-layer-decode" op) on the shared decoder's families against
// its specification, the tensor path of src/models/decoder/model.ts: q8_0 copies of the qwen3 (per-head q/k
// norms), qwen3_moe and mixtral (MoE MLPs: router, routing through routeTokens, experts grouped by expert) and
// phi3 (fused q/k/v and gate/up) cases of ../shared/testdata/hf decode the same tokens for several sequences at
// once, with the op and with the op hidden from the model; the prompts' and every step's logits must be
// bit-identical (f32 and f16 KV cache), and the op must have run (for the MoE cases also its MoE MLP alone over
// the prompt rows). Skipped when the addon lacks the op.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createBackend, type Backend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { DecoderModel } from "../../src/models/decoder/model.js";
import { fusedOpBackends } from "./fused-op-backends.js";
import { HF_DIR, q8Copy } from "./families-reference.js";

const base = createBackend();
const hasOp = base.fused?.("decoder-layer-decode", { norm: "pre-rms", attention: "rotary-gqa-qk-norm", mlp: "moe-swiglu" }) ? false
  : "backend without the decoder-layer-decode fused op for q/k-normed MoE layers (addon not built or built before it)";
const { native, withoutOp, calls: opCount, moeCalls } = fusedOpBackends(base);

async function decodeLogits(file: string, backend: Backend, kvCacheType: "f32" | "f16" = "f32"): Promise<Float32Array[]> {
  setDefaultBackend(backend);
  const model = await loadModel(file, { backend, kvCacheType });
  assert.ok(model.model instanceof DecoderModel, `${file}: runs on the shared decoder`);
  try {
    const prompts = [[1, 15, 27, 3], [1, 99], [1, 7, 7]];
    const seqs = prompts.map(() => model.createSequence());
    // The prompts' logits too: an MoE layer's MLP runs through the op over all 9 prompt rows at once.
    let logits = model.forward(seqs.map((seq, i) => ({ seq, tokens: prompts[i]! })));
    const out: Float32Array[] = logits.map((l) => l.slice());
    for (let step = 0; step < 5; step++) {
      const live = step < 3 ? seqs : seqs.slice(0, 2); // a finished sequence leaves the batch
      logits = model.forward(live.map((seq, i) => ({ seq, tokens: [(step * 31 + i * 7 + 5) % model.vocabSize] })));
      out.push(...logits.map((l) => l.slice()));
    }
    for (const s of seqs) s.dispose();
    return out;
  } finally {
    model.dispose();
  }
}

function assertSameBits(a: Float32Array[], b: Float32Array[], what: string): void {
  assert.equal(a.length, b.length);
  a.forEach((row, i) => {
    const j = row.findIndex((v, k) => !Object.is(v, b[i]![k]));
    assert.equal(j, -1, `${what}: logits row ${i} differ at ${j}: ${row[j]} vs ${b[i]![j]}`);
  });
}

for (const name of ["qwen3", "qwen3_moe", "mixtral", "phi3"]) {
  test(`${name} q8_0: native decode layer = tensor path, bit for bit (f32 and f16 KV cache)`, { skip: hasOp }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-fused-"));
    try {
      const file = path.join(dir, "model-q8_0.gguf");
      q8Copy(path.join(HF_DIR, name, "gguf", "model-f32.gguf"), file);
      for (const kv of ["f32", "f16"] as const) {
        const before = opCount(), moeBefore = moeCalls();
        const a = await decodeLogits(file, native, kv);
        assert.ok(opCount() > before, `${name}: the composite decode layer never ran`);
        if (name === "qwen3_moe" || name === "mixtral") assert.ok(moeCalls() > moeBefore, `${name}: the prompt's MoE MLPs never ran through the op`);
        assertSameBits(a, await decodeLogits(file, withoutOp, kv), `${name} (${kv} cache)`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

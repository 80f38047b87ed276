// The native fused decode layer (the backend's "decoder-layer-decode" op) on the shared decoder's families against
// its specification, the tensor path of src/models/decoder/model.ts: q8_0 copies of the qwen3 (per-head q/k
// norms), qwen3_moe and mixtral (MoE MLPs: router, routing through routeTokens, experts grouped by expert) and
// phi3 (fused q/k/v and gate/up) cases of ../shared/testdata/hf decode the same tokens for several sequences at
// once, with the op and with the op hidden from the model; the prompts' and every step's logits must be
// bit-identical (f32 and f16 KV cache), and the op must have run (for the MoE cases also its MoE MLP alone over
// the prompt rows). Also Qwen2-MoE with its sigmoid-gated shared expert (a `zhiyu init` model; its tensor path is
// checked against transformers in qwen2moe.test.ts). Skipped when the addon lacks the op.
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
import { run as init } from "../../src/cli/commands/init.js";

const quiet = async (fn: () => Promise<unknown>) => {
  const log = console.log;
  console.log = () => {};
  try {
    await fn();
  } finally {
    console.log = log;
  }
};

const base = createBackend();
const hasOp = base.fused?.("decoder-layer-decode", { norm: "pre-rms", attention: "rotary-gqa-qk-norm", mlp: "moe-swiglu" }) ? false
  : "backend without the decoder-layer-decode fused op for q/k-normed MoE layers (addon not built or built before it)";
const hasSharedOp = base.fused?.("decoder-layer-decode", { norm: "pre-rms", attention: "rotary-gqa", mlp: "moe-swiglu-shared" }) ? false
  : "backend without the decoder-layer-decode fused op for MoE layers with a shared expert (addon built before it)";
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

// Qwen2-MoE's shared expert: `zhiyu init --arch qwen2moe --preset tiny` (every matrix's rows whole q8_0 blocks) as
// q8_0, with the shared expert's gate row q8_0 too, or kept f32 as llama-quantize keeps ffn_gate_inp tensors.
for (const gateRow of ["q8_0", "f32"] as const) {
  test(`qwen2moe q8_0, shared gate row ${gateRow}: native decode layer (shared expert) = tensor path, bit for bit`, { skip: hasSharedOp }, async () => {
    const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-fused-"));
    try {
      const f32 = path.join(dir, "model-f32.gguf"), file = path.join(dir, "model-q8_0.gguf");
      await quiet(() => init(["--arch", "qwen2moe", "--preset", "tiny", "--seed", "5", "--out", f32]));
      q8Copy(f32, file, (name) => gateRow === "f32" && name.endsWith("ffn_gate_inp_shexp.weight"));
      for (const kv of ["f32", "f16"] as const) {
        const before = opCount(), moeBefore = moeCalls();
        const a = await decodeLogits(file, native, kv);
        assert.ok(opCount() > before, "qwen2moe: the composite decode layer never ran");
        assert.ok(moeCalls() > moeBefore, "qwen2moe: the prompt's MoE MLPs never ran through the op");
        assertSameBits(a, await decodeLogits(file, withoutOp, kv), `qwen2moe (${kv} cache)`);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

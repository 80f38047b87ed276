// MoE on the CPU (issue 22): a q8_0 conversion of the qwen3_moe and mixtral cases (every matrix whose rows are whole
// q8_0 blocks re-encoded, as llama-quantize would) keeps its expert weights encoded as views into the stacked GGUF
// tensor; the grouped path (tokens grouped by expert, one matmul per routed expert) gives the per-token path's logits;
// a prefill runs each routed expert once per layer; a decode step reads only the experts its token routes to.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend, isQuantWeight } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { DecoderModel } from "../../src/models/decoder/model.js";
import { maxAbs, q8Copy, readCase } from "./families-reference.js";

setDefaultBackend(createBackend());

for (const name of ["qwen3_moe", "mixtral"]) {
  test(`${name} q8_0: experts stay encoded; grouped by expert = token by token; only routed experts are read`, async () => {
    const c = readCase(name);
    const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-moe-"));
    try {
      const file = path.join(dir, "model-q8_0.gguf");
      q8Copy(path.join(c.dir, "gguf", "model-f32.gguf"), file);
      const model = await loadModel(file);
      const net = model.model;
      assert.ok(net instanceof DecoderModel && net.config.moe, "an MoE model on the shared decoder");
      const moe = net.config.moe!;
      // Expert matrices: q8_0 views into one stacked buffer per layer and matrix kind (no per-expert copies), each
      // repacked in place into q8_0_r16 where the backend repacks.
      const experts = [...net.params].filter(([n]) => /experts\.\d+\./.test(n));
      assert.equal(experts.length, net.config.numLayers * moe.numExperts * 3);
      const repacks = createBackend().repackWeight !== undefined;
      for (const [n, w] of experts) assert.ok(isQuantWeight(w) && w.type === (repacks ? "q8_0_r16" : "q8_0"), `${n}: ${isQuantWeight(w) && w.type}`);
      const firstTwo = experts.slice(0, 2).map(([, w]) => (isQuantWeight(w) ? w.data.buffer : null));
      assert.equal(firstTwo[0], firstTwo[1], "experts 0 and 1 of a layer share the stacked tensor's buffer");

      c.inputs.forEach((ids, i) => {
        const run = (grouping: "by-expert" | "per-token") => {
          net.moeGrouping = grouping;
          const trace = { expertRuns: 0, rows: 0, bytesRead: 0 };
          net.moeTrace = trace;
          const seq = model.createSequence();
          const prefill = model.forward([{ seq, tokens: ids }])[0]!;
          const prefillTrace = { ...trace };
          Object.assign(trace, { expertRuns: 0, rows: 0, bytesRead: 0 });
          const step = model.forward([{ seq, tokens: [ids[0]!] }])[0]!;
          seq.dispose();
          net.moeTrace = null;
          return { prefill, step, prefillTrace, stepTrace: trace };
        };
        const grouped = run("by-expert"), perToken = run("per-token");
        const scale = maxAbs(perToken.prefill);
        for (const k of ["prefill", "step"] as const) {
          let d = 0;
          for (let j = 0; j < grouped[k].length; j++) d = Math.max(d, Math.abs(grouped[k][j]! - perToken[k][j]!));
          assert.ok(d <= 1e-5 * scale, `input ${i} ${k}: grouped vs per-token max |Δ| ${d}`);
        }
        // Prefill: each routed expert runs once per layer over all its tokens; per token: k runs per token per layer.
        const L = net.config.numLayers;
        assert.ok(grouped.prefillTrace.expertRuns <= L * moe.numExperts);
        assert.equal(perToken.prefillTrace.expertRuns, L * ids.length * moe.topK);
        assert.equal(grouped.prefillTrace.rows, L * ids.length * moe.topK);
        // Decode: exactly k experts per layer, and only their bytes.
        assert.equal(grouped.stepTrace.expertRuns, L * moe.topK);
        const perExpert = experts.slice(0, 3).reduce((a, [, w]) => a + (isQuantWeight(w) ? w.data.length : 0), 0);
        assert.equal(grouped.stepTrace.bytesRead, L * moe.topK * perExpert);
      });
      // The q8_0 model still tracks transformers closely.
      const ref = c.output("logits_0");
      const seq = model.createSequence();
      const last = model.forward([{ seq, tokens: c.inputs[0]! }])[0]!;
      seq.dispose();
      const want = ref.data.subarray((c.inputs[0]!.length - 1) * ref.shape[1]!, c.inputs[0]!.length * ref.shape[1]!);
      let dot = 0, na = 0, nb = 0;
      for (let j = 0; j < want.length; j++) { dot += want[j]! * last[j]!; na += want[j]! ** 2; nb += last[j]! ** 2; }
      assert.ok(dot / Math.sqrt(na * nb) > 0.999, `q8_0 vs transformers cosine ${dot / Math.sqrt(na * nb)}`);
      model.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

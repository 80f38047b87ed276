// The native fused decode layer (the backend's "decoder-layer-decode" op) against its specification, the tensor path of
// src/models/llama/model.ts: the same GGUF models from ../shared/testdata (LLaMA Q8_0 / Q4_0 / Q4_K / F16, Qwen2 with
// q/k/v biases) decode the same tokens for several sequences at once, with the op and with the op hidden from
// the model; the logits of every step must be bit-identical, with an f32, an f16 and a q8_0 KV cache. Skipped when the
// addon lacks the op.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend, type Backend } from "../../src/backend/index.js";
import type { DecoderLayerRun } from "../../src/backend/backend.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { readGguf, readTensorBytes } from "../../src/io/gguf.js";
import { writeGguf } from "../../src/io/gguf-writer.js";
import { refDequantize, refQuantize } from "../../src/backend/ref/quant.js";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { fusedOpBackends } from "./fused-op-backends.js";
import type { LlamaModel } from "../../src/models/llama/model.js";
import { presetConfig, randomParam } from "../../src/models/presets.js";
import { writeModelGguf } from "../../src/infer/export.js";
import { Rng } from "../../src/core/rng.js";
import { loadNative } from "../../src/backend/native.js";

const dir = path.resolve("../shared/testdata/gguf");
const base = createBackend();
const hasOp = base.fused?.("decoder-layer-decode", { norm: "pre-rms", attention: "rotary-gqa", mlp: "swiglu" }) ? false
  : "backend without the decoder-layer-decode fused op (addon not built or built before it)";
const { native, perLayer, withoutOp, calls: opCount, stackCalls, headCalls } = fusedOpBackends(base);

async function decodeLogits(file: string, backend: Backend, check?: (m: LlamaModel) => void,
  kvCacheType: "f32" | "f16" | "q8_0" = "f32"): Promise<Float32Array[]> {
  setDefaultBackend(backend);
  const model = await loadModel(path.resolve(dir, file), { backend, kvCacheType });
  check?.(model.model as LlamaModel);
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

test("native decode layer = tensor path, bit for bit", { skip: hasOp }, async () => {
  for (const file of MODELS) {
    const before = opCount();
    const a = await decodeLogits(file, native);
    assert.ok(opCount() > before, `${file}: the composite decode layer never ran`);
    const b = await decodeLogits(file, withoutOp);
    assert.equal(a.length, b.length);
    a.forEach((row, i) => {
      const j = row.findIndex((v, k) => !Object.is(v, b[i]![k]));
      assert.equal(j, -1, `${file}: logits row ${i} differ at ${j}: ${row[j]} vs ${b[i]![j]}`);
    });
  }
});

test("with an f16 KV cache: native decode layer = tensor path bit for bit, and near the f32-cache logits", { skip: hasOp }, async () => {
  for (const file of ["dev-llama-tok512-q8_0.gguf", "dev-qwen2-e32-f16emb-q8_0.gguf"]) {
    const before = opCount();
    const a = await decodeLogits(file, native, undefined, "f16");
    assert.ok(opCount() > before, `${file}: the composite decode layer never ran`);
    const b = await decodeLogits(file, withoutOp, undefined, "f16");
    const f32 = await decodeLogits(file, withoutOp);
    a.forEach((row, i) => {
      const j = row.findIndex((v, k) => !Object.is(v, b[i]![k]));
      assert.equal(j, -1, `${file}: f16 cache, logits row ${i} differ at ${j}: ${row[j]} vs ${b[i]![j]}`);
      // k/v rounded to 11 significant bits: close to the f32 cache's logits, and not equal (the f16 cache was used).
      let dot = 0, na = 0, nb = 0, diff = 0;
      row.forEach((v, k) => { const w = f32[i]![k]!; dot += v * w; na += v * v; nb += w * w; diff = Math.max(diff, Math.abs(v - w)); });
      const cosine = dot / Math.sqrt(na * nb);
      assert.ok(diff > 0 && cosine >= 0.999, `${file}: row ${i}, f16 vs f32 cache: cosine ${cosine}, max |Δ| ${diff}`);
    });
  }
});

/** Greedy decode of one sequence for `steps` tokens past a 4-token prompt (70 crosses a cache's first growth, 64
 *  positions, so the step's cache views are made again) with a second sequence joining for the last 3 steps. */
async function longDecodeLogits(file: string, backend: Backend, kvCacheType: "f32" | "f16" | "q8_0", steps = 70): Promise<Float32Array[]> {
  setDefaultBackend(backend);
  const model = await loadModel(file, { backend, kvCacheType });
  try {
    const a = model.createSequence(), b = model.createSequence();
    let logits = model.forward([{ seq: a, tokens: [1, 15, 27, 3] }, { seq: b, tokens: [1, 99] }]);
    const out: Float32Array[] = [];
    for (let step = 0; step < steps; step++) {
      const next = (l: Float32Array) => l.reduce((best, v, k) => (v > l[best]! ? k : best), 0);
      const batch = step < steps - 3 ? [{ seq: a, tokens: [next(logits[0]!)] }]
        : [{ seq: a, tokens: [next(logits[0]!)] }, { seq: b, tokens: [(step * 13) % model.vocabSize] }];
      logits = model.forward(batch);
      out.push(...logits.map((l) => l.slice()));
    }
    a.dispose(), b.dispose();
    return out;
  } finally {
    model.dispose();
  }
}

test("the whole layer stack and head in one call = a call per layer = tensor path, bit for bit (f32, f16, q8_0 caches; a cache that grows)",
  { skip: hasOp || (base.fused?.("decoder-layer-decode", { norm: "pre-rms", attention: "rotary-gqa", mlp: "swiglu" })?.stack ? false
    : "addon without decoderStackStep") }, async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "zy-stack-"));
    try {
      const cases: Array<[string, "f32" | "f16" | "q8_0"]> = [[path.resolve(dir, "dev-llama-tok512-q4_0-pure.gguf"), "f32"],
        [path.resolve(dir, "dev-qwen2-e32-f16emb-q8_0.gguf"), "f16"], ...headDimModels(tmp).map((f) => [f, "q8_0"] as [string, "q8_0"])];
      for (const [file, kv] of cases) {
        const name = `${path.basename(file)} (${kv} cache)`;
        const [s0, c0, h0] = [stackCalls(), opCount(), headCalls()];
        const stacked = await longDecodeLogits(file, native, kv);
        assert.ok(stackCalls() - s0 >= 70, `${name}: the stack call ran ${stackCalls() - s0} times`);
        assert.equal(headCalls() - h0, stackCalls() - s0, `${name}: every stack call ended with the output norm and head`);
        const [s1, c1] = [stackCalls(), opCount()];
        const layered = await longDecodeLogits(file, perLayer, kv);
        assert.equal(stackCalls(), s1, `${name}: the per-layer backend made stack calls`);
        assert.equal(opCount() - c1, c1 - c0, `${name}: both ran the same layer steps`);
        const tensor = await longDecodeLogits(file, withoutOp, kv);
        assert.equal(stacked.length, 67 + 3 * 2);
        for (const [other, what] of [[layered, "per layer"], [tensor, "tensor path"]] as const) {
          stacked.forEach((row, i) => {
            const j = row.findIndex((v, k) => !Object.is(v, other[i]![k]));
            assert.equal(j, -1, `${name}: stack vs ${what}, logits row ${i} differ at ${j}: ${row[j]} vs ${other[i]![j]}`);
          });
        }
      }
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

// `backend` whose decoder-layer op's stack() is called with this rows argument ("always": the rows path even on a
// loaded machine, where it would step aside for a while; false: a dispatch per product). One wrapper per run
// object: a model keeps its prepared layers per run.
function stackWithRows(backend: Backend, rows: "always" | false): Backend {
  const wrappers = new WeakMap<object, DecoderLayerRun>();
  return new Proxy(backend, {
    get: (t, p, r) => {
      const v = Reflect.get(t, p, r) as unknown;
      if (p !== "fused" || typeof v !== "function") return v;
      return (...args: Parameters<NonNullable<Backend["fused"]>>) => {
        const run = (v as NonNullable<Backend["fused"]>).apply(t, args) as DecoderLayerRun | null;
        if (!run?.stack || args[0] !== "decoder-layer-decode") return run;
        let w = wrappers.get(run);
        if (!w) {
          const stack = run.stack;
          w = Object.assign((x: Float32Array, spec: Parameters<DecoderLayerRun>[1]) => run(x, spec), run, {
            stack: (...s: Parameters<NonNullable<DecoderLayerRun["stack"]>>) => stack(s[0], s[1], s[2], s[3], s[4], s[5], s[6], rows),
          });
          wrappers.set(run, w);
        }
        return w;
      };
    },
  }) as Backend;
}

// The stack call's rows path (native/decode_layer.c stack_rows: every product of the step split by fixed row ranges
// inside one pool task between attention calls) needs ≥ 2 threads; at 2 and 3 (row ranges that cut the products
// differently), told to run always, it must run every step and give the tensor path's logits bit for bit — with the
// addon's default place for attention, between the task's dispatches at every step (decoderOptions attnInTaskKeys
// 0), and inside the task until 40 keys, then between (the switch mid-run); stack(…, rows = false), the
// dispatch-per-product path, must give them too.
test("the stack call's rows path at 2 and 3 threads = its dispatch-per-product path = tensor path, bit for bit (f32, f16, q8_0 caches; two sequences at the end)",
  { skip: hasOp || (base.fused?.("decoder-layer-decode", { norm: "pre-rms", attention: "rotary-gqa", mlp: "swiglu" })?.stack ? false
    : "addon without decoderStackStep") }, async () => {
    const tmp = mkdtempSync(path.join(tmpdir(), "zy-rows-"));
    const before = base.info?.().threads;
    try {
      const cases: Array<[string, "f32" | "f16" | "q8_0"]> = [[path.resolve(dir, "dev-llama-tok512-q4_0-pure.gguf"), "f32"],
        [path.resolve(dir, "dev-qwen2-e32-f16emb-q8_0.gguf"), "f16"], ...headDimModels(tmp).map((f) => [f, "q8_0"] as [string, "q8_0"])];
      for (const threads of [2, 3]) {
        const backends = fusedOpBackends(createBackend({ threads }));
        const always = stackWithRows(backends.native, "always"), callsOnly = stackWithRows(backends.native, false);
        for (const [file, kv] of cases) {
          const name = `${path.basename(file)} (${kv} cache, ${threads} threads)`;
          const [s0, r0] = [backends.stackCalls(), backends.rowsCalls()];
          const rows = await longDecodeLogits(file, always, kv);
          assert.ok(backends.stackCalls() - s0 >= 70, `${name}: the stack call ran ${backends.stackCalls() - s0} times`);
          assert.equal(backends.rowsCalls() - r0, backends.stackCalls() - s0, `${name}: every stack call took the rows path`);
          const knobs = loadNative()?.decoderOptions;
          const apart = [];
          if (knobs) {
            const defaults = knobs();
            try {
              for (const keys of [0, 40]) {
                knobs({ attnInTaskKeys: keys });
                apart.push([await longDecodeLogits(file, always, kv), `rows path, attention inside up to ${keys} keys`] as const);
              }
            } finally {
              knobs(defaults);
            }
          }
          const r1 = backends.rowsCalls();
          const calls = await longDecodeLogits(file, callsOnly, kv);
          assert.equal(backends.rowsCalls(), r1, `${name}: stack(…, rows = false) took the rows path`);
          const tensor = await longDecodeLogits(file, backends.withoutOp, kv);
          assert.equal(rows.length, 67 + 3 * 2);
          for (const [other, what] of [[calls, "dispatch per product"], [tensor, "tensor path"], ...apart] as const) {
            rows.forEach((row, i) => {
              const j = row.findIndex((v, k) => !Object.is(v, other[i]![k]));
              assert.equal(j, -1, `${name}: rows path vs ${what}, logits row ${i} differ at ${j}: ${row[j]} vs ${other[i]![j]}`);
            });
          }
        }
      }
    } finally {
      if (before !== undefined) createBackend({ threads: before });
      rmSync(tmp, { recursive: true, force: true });
    }
  });

/** A random q8_0 model whose head dim fits a q8_0 cache (the shared dev files have head dim 16): llama with heads 4/2 of
 *  32, qwen2 (q/k/v biases) with heads 2/2 of 64. */
function headDimModels(dirOut: string): string[] {
  return ([["llama", 4, 2], ["qwen2", 2, 2]] as const).map(([arch, heads, kv]) => {
    const config = { ...presetConfig(arch, "tiny"), hiddenSize: 128, numHeads: heads, numKvHeads: kv, headDim: 128 / heads };
    const file = path.join(dirOut, `${arch}-d${128 / heads}-q8_0.gguf`);
    writeModelGguf(file, config, randomParam(new Rng(7), 0.05), { type: "q8_0", name: file, extraMetadata: [["tokenizer.ggml.model", "no_vocab"]] });
    return file;
  });
}

test("with a q8_0 KV cache: native decode layer = tensor path bit for bit, and near the f32-cache logits", { skip: hasOp }, async () => {
  // The op quantizes each new k/v row into the cache (zy_quantize) where the tensor path calls backend.quantize, and
  // both attend over the blocks with the same kernel: the logits must agree bit for bit, and sit near the f32 cache's.
  // The shared dev files' rows (head dim 16) do not fill q8_0 blocks: refused at load, naming the file and the fix.
  await assert.rejects(loadModel(path.resolve(dir, "dev-llama-tok512-q8_0.gguf"), { backend: native, kvCacheType: "q8_0" }),
    /dev-llama-tok512-q8_0\.gguf: kvCacheType q8_0: a q8_0 cache needs headDim a multiple of 32 .* kv heads of 16: use an f16 or f32 cache/);
  const tmp = mkdtempSync(path.join(tmpdir(), "zy-q8kv-"));
  try {
    for (const file of headDimModels(tmp)) {
      const before = opCount();
      const a = await decodeLogits(file, native, undefined, "q8_0");
      assert.ok(opCount() > before, `${file}: the composite decode layer never ran`);
      const b = await decodeLogits(file, withoutOp, undefined, "q8_0");
      const f32 = await decodeLogits(file, withoutOp);
      a.forEach((row, i) => {
        const j = row.findIndex((v, k) => !Object.is(v, b[i]![k]));
        assert.equal(j, -1, `${file}: q8_0 cache, logits row ${i} differ at ${j}: ${row[j]} vs ${b[i]![j]}`);
        let dot = 0, na = 0, nb = 0, diff = 0;
        row.forEach((v, k) => { const w = f32[i]![k]!; dot += v * w; na += v * v; nb += w * w; diff = Math.max(diff, Math.abs(v - w)); });
        const cosine = dot / Math.sqrt(na * nb);
        assert.ok(diff > 0 && cosine >= 0.99, `${file}: row ${i}, q8_0 vs f32 cache: cosine ${cosine}, max |Δ| ${diff}`);
      });
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("a file whose layers mix types (as Q4_K_M does) fuses layer by layer, and the composite layer still = tensor path",
  { skip: hasOp }, async () => {
    // dev-llama-tok512-q8_0 with layer 0's v and gate requantized to q4_0: layer 0 runs q/k/v and gate/up apart.
    const src = readGguf(path.join(dir, "dev-llama-tok512-q8_0.gguf"));
    const tensors = src.tensors.map((t) => {
      const data = readTensorBytes(src, t);
      if (t.name !== "blk.0.attn_v.weight" && t.name !== "blk.0.ffn_gate.weight") return { name: t.name, dims: t.dims, type: t.type, data };
      const x = new Float32Array(t.elementCount);
      refDequantize(data, "q8_0", x, x.length);
      const q = new Uint8Array((x.length / 32) * 18);
      refQuantize(x, "q4_0", q, x.length);
      return { name: t.name, dims: t.dims, type: "q4_0" as const, data: q };
    });
    const tmp = mkdtempSync(path.join(tmpdir(), "zhiyu-mixed-"));
    try {
      const file = path.join(tmp, "mixed.gguf");
      writeGguf(file, { metadata: [...src.metadata].map(([k, v]) => [k, v, src.metadataTypes.get(k)] as const), tensors });
      const before = opCount();
      const a = await decodeLogits(file, native, (m) => {
        assert.equal(m.fused?.qkv[0], null, "layer 0: q8_0 q/k with a q4_0 v are not stacked");
        assert.equal(m.fused?.gateUp[0], null);
        assert.ok(m.fused?.qkv[1] && m.fused?.gateUp[1], "layer 1 is stacked");
      });
      assert.ok(opCount() > before, "the composite decode layer ran");
      const b = await decodeLogits(file, withoutOp);
      a.forEach((row, i) => {
        const j = row.findIndex((v, k) => !Object.is(v, b[i]![k]));
        assert.equal(j, -1, `mixed: logits row ${i} differ at ${j}: ${row[j]} vs ${b[i]![j]}`);
      });
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

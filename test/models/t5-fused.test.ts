// The native fused T5 decoder layer (the backend's "cross-decoder-layer-decode" op) against its specification, the
// tensor path of src/models/t5/model.ts: the ../shared/testdata/hf T5 cases (v1.0: ReLU; v1.1: gated GELU), f32 as
// transformers saved them and f16 through `zhiyu convert` to GGUF (encoded matrices), decode the same tokens for
// several sequences at once (at different positions, one leaving the batch), with the op and with the op hidden
// from the model. Attention sums run in another order than the tensor path's matmuls, so logits must agree within
// 1e-5 × max|logit| (f16: 1e-3, as the matmuls round their inputs to f16, where a last-bit difference can become
// half an f16 ulp, 2^-12) and pick the same argmax. Also: the op refuses a bad spec by field. Skipped when the addon lacks
// the op.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { createBackend, type Backend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadAnyModel } from "../../src/infer/load.js";
import { requireKind } from "../../src/infer/model-api.js";

const SHAPE = { norm: "pre-rms", attention: "biased-unscaled", mlp: "gated" } as const;
const base = createBackend();
const skip = base.fused?.("cross-decoder-layer-decode", SHAPE) ? false : "backend without the cross-decoder-layer-decode fused op";
let opCalls = 0;
const native = new Proxy(base, {
  get: (t, p, r) => {
    const v = Reflect.get(t, p, r) as unknown;
    if (p !== "fused" || typeof v !== "function") return v;
    return (...args: Parameters<NonNullable<Backend["fused"]>>) => {
      const run = (v as NonNullable<Backend["fused"]>).apply(t, args) as ((x: Float32Array, s: unknown) => void) | null;
      return run && ((x: Float32Array, spec: unknown) => { opCalls++; run(x, spec); });
    };
  },
}) as Backend;
const withoutOp = new Proxy(base, { get: (t, p, r) => (p === "fused" ? undefined : Reflect.get(t, p, r)) }) as Backend;

function sources(name: string): number[][] {
  const ref = JSON.parse(readFileSync(path.resolve("../shared/testdata/hf", name, "reference.json"), "utf8")) as {
    inputs: { encoder_input_ids: number[][] };
  };
  return ref.inputs.encoder_input_ids;
}

/** Logits of 7 decode steps: three sequences together, the third leaving after step 3. */
async function decodeLogits(model: string, srcs: number[][], backend: Backend): Promise<Float32Array[]> {
  setDefaultBackend(backend);
  const s2s = requireKind(await loadAnyModel(model, { backend }), ["seq2seq"], "test");
  try {
    const seqs = [0, 1, 2].map((i) => s2s.createSequence(srcs[i % srcs.length]!));
    const out: Float32Array[] = [];
    let live = seqs;
    for (let step = 0; step < 7; step++) {
      if (step === 4) live = seqs.slice(0, 2);
      // The third sequence skips step 1, so the batch holds sequences at different positions.
      const batch = live.filter((_, i) => !(step === 1 && i === 2));
      const logits = s2s.forward(batch.map((seq, i) => ({ seq, tokens: [step === 0 ? s2s.decoderStartTokenId : (step * 31 + i * 7 + 5) % s2s.vocabSize] })));
      out.push(...logits.map((l) => l.slice()));
    }
    for (const s of seqs) s.dispose();
    return out;
  } finally {
    s2s.dispose();
  }
}

function assertNear(a: Float32Array[], b: Float32Array[], what: string, tolerance = 1e-5): void {
  assert.equal(a.length, b.length, `${what}: rows`);
  a.forEach((row, i) => {
    let max = 0, diff = 0, am = 0, bm = 0;
    row.forEach((v, k) => {
      const w = b[i]![k]!;
      max = Math.max(max, Math.abs(w));
      diff = Math.max(diff, Math.abs(v - w));
      if (v > row[am]!) am = k;
      if (w > b[i]![bm]!) bm = k;
    });
    assert.ok(diff <= tolerance * max, `${what}: row ${i}: max |Δ| ${diff} > ${tolerance} × ${max}`);
    assert.equal(am, bm, `${what}: row ${i}: argmax`);
  });
}

test("fused T5 decoder layer = tensor path (f32 HF weights, v1.0 and v1.1)", { skip }, async () => {
  for (const name of ["t5_v1_0", "t5_v1_1"]) {
    const model = path.resolve("../shared/testdata/hf", name, "model");
    const before = opCalls;
    const a = await decodeLogits(model, sources(name), native);
    assert.ok(opCalls > before, `${name}: the fused layer never ran`);
    assertNear(a, await decodeLogits(model, sources(name), withoutOp), name);
  }
});

test("fused T5 decoder layer = tensor path with encoded (f16 GGUF) matrices", { skip }, async () => {
  const { run: convert } = await import("../../src/cli/commands/convert.js");
  const tmp = mkdtempSync(path.join(tmpdir(), "zhiyu-t5-fused-"));
  const log = console.log, err = process.stderr.write;
  try {
    for (const name of ["t5_v1_0", "t5_v1_1"]) {
      const gguf = path.join(tmp, `${name}.gguf`);
      console.log = () => {};
      process.stderr.write = (() => true) as typeof process.stderr.write;
      try { await convert(["--from", path.resolve("../shared/testdata/hf", name, "model"), "--to", gguf, "--type", "f16"]); } finally {
        console.log = log;
        process.stderr.write = err;
      }
      const before = opCalls;
      const a = await decodeLogits(gguf, sources(name), native);
      assert.ok(opCalls > before, `${name} f16: the fused layer never ran`);
      assertNear(a, await decodeLogits(gguf, sources(name), withoutOp), `${name} f16`, 1e-3);
    }
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

test("the fused op refuses a bad spec, naming the op and the field", { skip }, () => {
  const run = base.fused!("cross-decoder-layer-decode", SHAPE)!;
  const m = (rows: number, cols: number) => ({ data: new Uint8Array(rows * cols * 4), type: "f32" as const, rows, cols });
  const spec = {
    m: 1, hidden: 8, nHead: 2, headDim: 4, ffn: 16, eps: 1e-6, act: "gelu_tanh" as const, gated: true,
    selfNorm: new Float32Array(8), crossNorm: new Float32Array(8), ffnNorm: new Float32Array(8),
    q: m(8, 8), k: m(8, 8), v: m(8, 8), o: m(8, 8), crossQ: m(8, 8), crossO: m(8, 8), wi0: m(16, 8), wi1: m(16, 8), wo: m(8, 16),
    relBias: new Float32Array(4 * 2), kCaches: [new Float32Array(4 * 8)], vCaches: [new Float32Array(4 * 8)], capacities: [4],
    positions: [0], crossK: [new Float32Array(3 * 8)], crossV: [new Float32Array(3 * 8)], sourceLengths: [3],
  };
  run(new Float32Array(8), spec); // well-formed: runs
  assert.throws(() => run(new Float32Array(8), { ...spec, wo: m(8, 8) }), /crossDecoderLayerDecode: wo must be \[8, 16\]/);
  assert.throws(() => run(new Float32Array(8), { ...spec, positions: [4] }), /crossDecoderLayerDecode: sequence 0: position 4 must be below/);
  assert.throws(() => run(new Float32Array(8), { ...spec, crossK: [new Float32Array(8)] }), /crossDecoderLayerDecode: crossK\[0\] has 8 elements, needs 24/);
  assert.throws(() => run(new Float32Array(8), { ...spec, act: "tanh" as "relu" }), /crossDecoderLayerDecode: act must be/);
});

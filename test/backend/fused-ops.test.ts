// The optional fused ops of the backend interface: asked for by name and layer shape, offered only for the shape a
// backend implements (the cpu backend's native decoder layer: pre-norm RMS, rotary GQA, SwiGLU), never by model
// family; the reference backend offers none (callers compose the primitives, which is the ops' specification).
// Leaves out: the fused op's numerics (test/models/decode-layer.test.ts compares it bit for bit with the tensor path).
import { test } from "node:test";
import assert from "node:assert/strict";
import type { DecoderLayerShape } from "../../src/backend/backend.js";
import { cpu, ref, skipCpu } from "./harness.js";

const LAYER: DecoderLayerShape = { norm: "pre-rms", attention: "rotary-gqa", mlp: "swiglu" };

test("the reference backend has no fused ops", () => {
  assert.equal(ref.fused, undefined);
});

test("cpu: decoder-layer-decode is offered for the pre-rms / rotary-gqa / swiglu layer and refused for any other shape", { skip: skipCpu }, () => {
  assert.equal(typeof cpu!.fused?.("decoder-layer-decode", LAYER), "function");
  for (const other of [{ ...LAYER, norm: "post-layernorm" }, { ...LAYER, attention: "learned-positions-mha" }, { ...LAYER, mlp: "gelu" }]) {
    assert.equal(cpu!.fused?.("decoder-layer-decode", other as unknown as DecoderLayerShape), null, JSON.stringify(other));
  }
});

test("cpu: the fused op validates its spec in the addon, naming the op and the field", { skip: skipCpu }, () => {
  const run = cpu!.fused!("decoder-layer-decode", LAYER)!;
  assert.throws(() => run(new Float32Array(4), { m: -1 } as never), (err: Error) => err instanceof TypeError &&
    /^decoderLayerDecode: m must be a non-negative integer/.test(err.message));
});

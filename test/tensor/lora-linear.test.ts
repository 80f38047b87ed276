// The fused LoRA linear op (src/tensor/lora-linear.ts) against its specification, the composed ops (base linear +
// scale · B(A·dropout(x)) as separate nodes), on both backends: outputs and the gradients of x, A and B for an f32
// base with and without bias and LoRA dropout, an encoded (q8_0) base (quantized product, or its f32 decode), rank-3 inputs and awkward sizes; the base gets
// no gradient; the cases the fused op leaves out (row factors, two adapters, bf16) still give the composed result.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/tensor/index.js";
import { composedAdaptedLinear } from "../../src/tensor/lora-linear.js";
import { assertClose, describeBackends, values } from "./helpers.js";

interface Case {
  n: number[]; inDim: number; out: number; r: number; scale: number; bias?: boolean; dropout?: boolean; q8?: boolean;
  /** AdaptedWeight.dequantizeBase: the encoded base multiplied as its f32 decode (QLoRA training). */
  decode?: boolean;
}

/** A q8_0 matrix [rows, cols] (cols a multiple of 32): per block the f16 scale 1/64, then 32 int8 quants. */
function q8Weight(rows: number, cols: number, seed: number): T.QuantWeight {
  const blocks = (rows * cols) / 32;
  const data = new Uint8Array(blocks * 34);
  const q = values(rows * cols, seed, -127, 127);
  for (let b = 0; b < blocks; b++) {
    data[b * 34] = 0x00, data[b * 34 + 1] = 0x24; // f16 0x2400 = 2^-6, little-endian
    for (let i = 0; i < 32; i++) data[b * 34 + 2 + i] = Math.round(q[b * 32 + i]!) & 0xff;
  }
  return { type: "q8_0", rows, cols, data };
}

/** y and the gradients of x, A, B (and bias) of Σ u·y for a fixed u, through `lin`. */
function run(c: Case, lin: (x: T.Tensor, w: T.AdaptedWeight, bias: T.Tensor | null) => T.Tensor) {
  return T.tidy(() => {
    const rows = c.n.reduce((a, b) => a * b, 1);
    const x = T.fromTypedArray(values(rows * c.inDim, 1), [...c.n, c.inDim], { requiresGrad: true });
    const a = T.fromTypedArray(values(c.r * c.inDim, 2, -0.5, 0.5), [c.r, c.inDim], { requiresGrad: true });
    const b = T.fromTypedArray(values(c.out * c.r, 3, -0.5, 0.5), [c.out, c.r], { requiresGrad: true });
    const base = c.q8 ? q8Weight(c.out, c.inDim, 4) : T.fromTypedArray(values(c.out * c.inDim, 4), [c.out, c.inDim]);
    const bias = c.bias ? T.fromTypedArray(values(c.out, 5), [c.out], { requiresGrad: true }) : null;
    // The same mask for both twins: a fixed pattern of zeros and 1/(1−p).
    const mask = T.fromTypedArray(values(rows * c.inDim, 6).map((v) => (v < -0.6 ? 0 : 1 / 0.8)), [...c.n, c.inDim]);
    const dropout = c.dropout ? (t: T.Tensor) => T.mul(t, mask) : undefined;
    const y = lin(x, { base, adapters: [{ a, b, scale: c.scale, dropout }], dequantizeBase: c.decode }, bias);
    const op = y.node?.op ?? null;
    y.backward(T.fromTypedArray(values(y.size, 7, 0.5, 1.5), [...y.shape]));
    return {
      op, shape: [...y.shape], y: y.toFloat32Array(), dx: x.grad!.toFloat32Array(), da: a.grad!.toFloat32Array(),
      db: b.grad!.toFloat32Array(), dbias: bias ? bias.grad!.toFloat32Array() : null, baseGrad: c.q8 ? null : (base as T.Tensor).grad,
    };
  });
}

const cases: [string, Case][] = [
  ["f32 base, rank-2 x", { n: [9], inDim: 7, out: 5, r: 3, scale: 2 }],
  ["f32 base, rank-3 x, bias", { n: [2, 13], inDim: 33, out: 17, r: 4, scale: 0.5, bias: true }],
  ["f32 base, LoRA dropout", { n: [3, 5], inDim: 20, out: 12, r: 2, scale: 1.5, dropout: true }],
  ["q8_0 base", { n: [11], inDim: 64, out: 9, r: 5, scale: 2, q8: true }],
  ["q8_0 base, dropout, bias", { n: [2, 6], inDim: 32, out: 7, r: 8, scale: 4, dropout: true, bias: true, q8: true }],
  ["q8_0 base multiplied as its f32 decode", { n: [2, 7], inDim: 64, out: 10, r: 3, scale: 2, q8: true, decode: true }],
  ["rank 1, one row", { n: [1], inDim: 16, out: 3, r: 1, scale: 1 }],
];

describeBackends("fused LoRA linear vs composed", () => {
  for (const [what, c] of cases) {
    test(what, () => {
      const fused = run(c, (x, w, bias) => T.linear(x, w, bias));
      const spec = run(c, (x, w, bias) => composedAdaptedLinear(x, w, bias));
      if (!c.bias && c.n.length === 1) assert.equal(fused.op, "loraLinear", "the fused op ran");
      assert.deepEqual(fused.shape, spec.shape);
      assertClose(fused.y, spec.y, 1e-5, 1e-5, `${what}: y`);
      assertClose(fused.dx, spec.dx, 1e-5, 1e-5, `${what}: dx`);
      assertClose(fused.da, spec.da, 1e-5, 1e-5, `${what}: dA`);
      assertClose(fused.db, spec.db, 1e-5, 1e-5, `${what}: dB`);
      if (c.bias) assertClose(fused.dbias!, spec.dbias!, 1e-5, 1e-5, `${what}: dbias`);
      assert.equal(fused.baseGrad ?? null, null, "the frozen base gets no gradient");
      if (c.decode) { // the decode is not the quantized product (whose activations are rounded to q8)
        const quantized = run({ ...c, decode: false }, (x, w, bias) => T.linear(x, w, bias));
        assert.ok(fused.y.some((v, i) => v !== quantized.y[i]), "dequantizeBase changes the base's product");
      }
    });
  }

  test("what the fused op leaves out runs composed: row factors, two adapters, bf16, a base that requires grad", () => {
    T.tidy(() => {
      const x = T.fromTypedArray(values(4 * 8, 11), [4, 8], { requiresGrad: true });
      const base = T.fromTypedArray(values(6 * 8, 12), [6, 8]);
      const ad = (seed: number, rowScale?: T.Tensor) => ({
        a: T.fromTypedArray(values(2 * 8, seed), [2, 8]), b: T.fromTypedArray(values(6 * 2, seed + 1), [6, 2]), scale: 1.5, rowScale,
      });
      const rowScale = T.fromTypedArray(Float32Array.from([1, 0, 2, 0.5]), [4, 1]);
      const trainedBase = T.fromTypedArray(values(6 * 8, 12), [6, 8], { requiresGrad: true });
      const variants: [string, T.AdaptedWeight, T.MatmulOptions | undefined][] = [
        ["row factors", { base, adapters: [ad(13, rowScale)] }, undefined],
        ["two adapters", { base, adapters: [ad(13), ad(15)] }, undefined],
        ["bf16", { base, adapters: [ad(13)] }, { dtype: "bf16" }],
        ["trained base", { base: trainedBase, adapters: [ad(13)] }, undefined],
      ];
      for (const [name, w, opts] of variants) {
        const y = T.linear(x, w, null, opts);
        assert.notEqual(y.node?.op, "loraLinear", name);
        assertClose(y.toFloat32Array(), composedAdaptedLinear(x, w, null, opts).toFloat32Array(), 0, 0, name);
      }
    });
  });
});

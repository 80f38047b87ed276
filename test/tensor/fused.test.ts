// Fused ops against their composed twins (forward and backward, STYLE lesson 7) on awkward shapes, known
// answers worked by hand for the transformer ops, and attention with a KV cache against full causal attention.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/tensor/index.js";
import { assertClose, describeBackends, values } from "./helpers.js";

/** Forward outputs and input gradients of Σ w·f(inputs) for a fixed random w. */
function run(f: (xs: T.Tensor[]) => T.Tensor, inputs: { shape: number[]; data: Float32Array }[]): { y: Float32Array; grads: Float32Array[] } {
  return T.tidy(() => {
    const leaves = inputs.map((x) => T.fromTypedArray(x.data, x.shape, { requiresGrad: true }));
    const y = f(leaves);
    y.backward(T.fromTypedArray(values(y.size, 7, 0.5, 1.5), y.shape));
    const res = { y: y.toFloat32Array(), grads: leaves.map((l) => l.grad!.toFloat32Array()) };
    for (const l of leaves) l.zeroGrad();
    return res;
  });
}

function compareTwins(what: string, fused: (xs: T.Tensor[]) => T.Tensor, composed: (xs: T.Tensor[]) => T.Tensor,
  inputs: { shape: number[]; data: Float32Array }[], tol = 2e-5): void {
  const a = run(fused, inputs);
  const b = run(composed, inputs);
  assertClose(a.y, b.y, tol, tol * 10, `${what} forward`);
  a.grads.forEach((g, i) => assertClose(g, b.grads[i], tol, tol * 10, `${what} grad ${i}`));
}

const inp = (shape: number[], seed: number, lo = -2, hi = 2) => ({ shape, data: values(shape.reduce((x, y) => x * y, 1), seed, lo, hi) });

describeBackends("fused vs composed", ({ name }) => {
  {
    test("softmax and logSoftmax", () => {
      for (const shape of [[1, 1], [3, 7], [2, 31], [33], [2, 3, 33]]) {
        compareTwins(`softmax ${shape}`, ([x]) => T.softmax(x), ([x]) => T.composed.softmax(x), [inp(shape, 1, -4, 4)]);
        compareTwins(`logSoftmax ${shape}`, ([x]) => T.logSoftmax(x), ([x]) => T.composed.logSoftmax(x), [inp(shape, 2, -4, 4)]);
      }
    });

    test("layerNorm and rmsNorm", () => {
      for (const cols of [1, 7, 31, 33]) {
        const x = inp([3, cols], 3);
        compareTwins(`layerNorm ${cols}`, ([x, w, b]) => T.layerNorm(x, w, b), ([x, w, b]) => T.composed.layerNorm(x, w, b),
          [x, inp([cols], 4), inp([cols], 5)], 1e-4);
        compareTwins(`rmsNorm ${cols}`, ([x, w]) => T.rmsNorm(x, w, 1e-5), ([x, w]) => T.composed.rmsNorm(x, w, 1e-5),
          [x, inp([cols], 6)], 1e-4);
      }
      compareTwins("layerNorm without affine", ([x]) => T.layerNorm(x), ([x]) => T.composed.layerNorm(x), [inp([2, 2, 33], 7)], 1e-4);
    });

    test("swiglu", () => {
      for (const n of [1, 7, 33]) {
        compareTwins(`swiglu ${n}`, ([g, u]) => T.swiglu(g, u), ([g, u]) => T.composed.swiglu(g, u), [inp([n], 8), inp([n], 9)]);
      }
    });

    test("crossEntropy with ignore index", () => {
      const targets = T.fromArray([3, -100, 0, 32, 5, -100, 1], [7], { dtype: "i32" });
      for (const reduction of ["mean", "sum", "none"] as const) {
        compareTwins(`crossEntropy ${reduction}`, ([x]) => T.crossEntropy(x, targets, { reduction }),
          ([x]) => T.composed.crossEntropy(x, targets, { reduction }), [inp([7, 33], 10, -3, 3)]);
      }
      const ignoredOnly = T.fromArray([-1, -1], [2], { dtype: "i32" });
      compareTwins("crossEntropy all ignored", ([x]) => T.crossEntropy(x, ignoredOnly, { ignoreIndex: -1 }),
        ([x]) => T.composed.crossEntropy(x, ignoredOnly, { ignoreIndex: -1 }), [inp([2, 5], 11)]);
    });

    test("attention: causal, grouped-query, Tk > Tq", () => {
      const cases: [number[], number[], boolean][] = [
        [[1, 1, 1, 1], [1, 1, 1, 1], true],
        [[2, 7, 4, 8], [2, 7, 2, 8], true],
        [[1, 3, 2, 5], [1, 9, 1, 5], true],
        [[2, 5, 3, 4], [2, 6, 3, 4], false],
        [[1, 33, 2, 3], [1, 33, 1, 3], true],
      ];
      for (const [qs, ks, causal] of cases) {
        compareTwins(`attention q${qs} k${ks}`, ([q, k, v]) => T.attention(q, k, v, { causal }),
          ([q, k, v]) => T.composed.attention(q, k, v, { causal }), [inp(qs, 12, -1, 1), inp(ks, 13, -1, 1), inp(ks, 14, -1, 1)], 5e-5);
      }
    });

    test("attention with a KV cache equals full causal attention", () => {
      for (const b of [1, 2]) {
        const [t, nHead, nKv, d] = [7, 4, 2, 8];
        const q = T.fromTypedArray(values(b * t * nHead * d, 15), [b, t, nHead, d]);
        const k = T.fromTypedArray(values(b * t * nKv * d, 16), [b, t, nKv, d]);
        const v = T.fromTypedArray(values(b * t * nKv * d, 17), [b, t, nKv, d]);
        const full = T.attention(q, k, v).toFloat32Array();
        const cache = new T.KvCache(b, 16, nKv, d);
        const got = new Float32Array(full.length);
        T.noGrad(() => {
          // Prefill 3 positions, then decode one at a time.
          const steps = [[0, 3], [3, 1], [4, 1], [5, 2]];
          for (const [s, n] of steps) {
            const o = T.attention(T.narrow(q, 1, s, n), T.narrow(k, 1, s, n), T.narrow(v, 1, s, n), { cache });
            const ov = o.toFloat32Array();
            for (let bi = 0; bi < b; bi++) got.set(ov.subarray(bi * n * nHead * d, (bi + 1) * n * nHead * d), (bi * t + s) * nHead * d);
          }
        });
        assert.equal(cache.length, 7);
        assertClose(got, full, 1e-5, 1e-4, `cached attention b=${b}`);
        cache.truncate(2);
        assert.equal(cache.length, 2);
        cache.dispose();
      }
    });

    test("attendCached (packed sequences, RoPE, cache writes) equals rope + full causal attention per sequence", () => {
      const [nHead, nKv, d] = [4, 2, 8];
      const freqs = T.ropeFrequencies(d);
      const lens = [7, 5]; // two sequences, stepped in different chunk sizes
      const seqs = lens.map((t, i) => ({
        q: T.fromTypedArray(values(t * nHead * d, 30 + i), [1, t, nHead, d]),
        k: T.fromTypedArray(values(t * nKv * d, 40 + i), [1, t, nKv, d]),
        v: T.fromTypedArray(values(t * nKv * d, 50 + i), [1, t, nKv, d]),
      }));
      const full = seqs.map((s) => T.attention(T.rope(s.q, { freqs, layout: "neox" }), T.rope(s.k, { freqs, layout: "neox" }), s.v).toFloat32Array());
      const caches = seqs.map(() => ({ k: T.zeros([1, 16, nKv, d]), v: T.zeros([1, 16, nKv, d]) }));
      const got = lens.map((t) => new Float32Array(t * nHead * d));
      // Each step packs both sequences' new rows: prefill chunks, then single-token decode steps.
      const steps = [[[0, 3], [0, 2]], [[3, 1], [2, 1]], [[4, 2], [3, 1]], [[6, 1], [4, 1]]];
      T.noGrad(() => {
        for (const step of steps) {
          const rows = (which: "q" | "k" | "v", w: number) => T.concat(step.map(([s, n], i) =>
            T.reshape(T.narrow(seqs[i]![which], 1, s!, n!), [n!, w])), 0);
          const segs = step.map(([s, n], i) => ({ start: i === 0 ? 0 : step[0]![1]!, t: n!, pos0: s!, k: caches[i]!.k, v: caches[i]!.v }));
          const o = T.attendCached(rows("q", nHead * d), rows("k", nKv * d), rows("v", nKv * d), segs,
            { numHeads: nHead, numKvHeads: nKv, headDim: d, freqs, layout: "neox" }).toFloat32Array();
          segs.forEach((seg, i) => got[i]!.set(o.subarray(seg.start * nHead * d, (seg.start + seg.t) * nHead * d), seg.pos0 * nHead * d));
        }
      });
      lens.forEach((_, i) => assertClose(got[i]!, full[i]!, 1e-5, 1e-4, `attendCached sequence ${i}`));
      for (const c of caches) { c.k.dispose(); c.v.dispose(); }
    });

    test("known answers", () => {
      assertClose(T.softmax(T.fromArray([1, 2, 3])).toArray(), [0.09003057317, 0.24472847105, 0.66524095577], 1e-7, 1e-6, "softmax [1,2,3]");
      assertClose(T.softmax(T.fromArray([-Infinity, -Infinity])).toArray(), [0, 0], 0, 0, "softmax of an all -inf row");
      assertClose(T.logSoftmax(T.fromArray([1, 2, 3])).toArray(), [-2.40760596445, -1.40760596445, -0.40760596445], 1e-6, 1e-6, "logSoftmax");
      const ce = T.crossEntropy(T.fromArray([1, 2, 3, 1, 2, 3], [2, 3]), T.fromArray([0, 2], [2], { dtype: "i32" }));
      assertClose([ce.item()], [(2.40760596445 + 0.40760596445) / 2], 1e-6, 1e-6, "crossEntropy");
      const s = Math.sqrt(1.25 + 1e-5);
      assertClose(T.layerNorm(T.fromArray([1, 2, 3, 4], [1, 4])).toArray(), [-1.5 / s, -0.5 / s, 0.5 / s, 1.5 / s], 1e-6, 1e-6, "layerNorm");
      const r = Math.sqrt(7.5 + 1e-6);
      assertClose(T.rmsNorm(T.fromArray([1, 2, 3, 4], [1, 4]), T.fromArray([1, 1, 2, 2])).toArray(), [1 / r, 2 / r, 6 / r, 8 / r], 1e-6, 1e-6, "rmsNorm");
      assertClose(T.gelu(T.fromArray([1, -1])).toArray(), [0.8411919906, -0.1588080094], 1e-6, 1e-5, "gelu tanh");
      assertClose(T.gelu(T.fromArray([1, -1]), "none").toArray(), [0.8413447461, -0.1586552539], 1e-6, 1e-5, "gelu erf");
      assertClose(T.silu(T.fromArray([1, 0])).toArray(), [0.7310585786, 0], 1e-6, 1e-6, "silu");
      assertClose(T.swiglu(T.fromArray([1]), T.fromArray([2])).toArray(), [1.4621171573], 1e-6, 1e-6, "swiglu");
      // RoPE: head [1, 0, 0, 1] at position 1 with freqs [1, 0.5] (neox pairs (0,2) and (1,3)).
      const freqs = new Float32Array([1, 0.5]);
      const x = T.fromArray([1, 0, 0, 1, /* pos 1 */ 1, 0, 0, 1], [1, 2, 1, 4]);
      const y = T.rope(x, { freqs }).toArray().slice(4);
      assertClose(y, [Math.cos(1), -Math.sin(0.5), Math.sin(1), Math.cos(0.5)], 1e-6, 1e-6, "rope neox");
      const yi = T.rope(x, { freqs, layout: "interleaved" }).toArray().slice(4);
      assertClose(yi, [Math.cos(1), Math.sin(1), -Math.sin(0.5), Math.cos(0.5)], 1e-6, 1e-6, "rope interleaved");
      // Attention with one key returns its value; with equal scores, the mean of the visible values.
      const o = T.attention(T.fromArray([0, 0, 0, 0], [1, 2, 1, 2]), T.fromArray([0, 0, 0, 0], [1, 2, 1, 2]),
        T.fromArray([1, 2, 3, 6], [1, 2, 1, 2])).toArray();
      assertClose(o, [1, 2, 2, 4], 1e-6, 1e-6, "attention");
    });

    test("ropeFrequencies: plain, linear and llama3 scaling", () => {
      assertClose(T.ropeFrequencies(4, 10000), [1, 0.01], 0, 1e-6, "theta^(-2i/d)");
      assertClose(T.ropeFrequencies(4, 10000, { type: "linear", factor: 2 }), [0.5, 0.005], 0, 1e-6, "linear scaling");
      // Llama 3.1 (factor 8, low 1, high 4, 8192 positions): high frequencies kept, low ones divided by 8,
      // the band between interpolated.
      const f = T.ropeFrequencies(128, 500000, { type: "llama3", factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositions: 8192 });
      const plain = T.ropeFrequencies(128, 500000);
      assert.equal(f[0], plain[0]);
      assertClose([f[63]], [plain[63] / 8], 0, 1e-6, "lowest frequency divided by factor");
      const i = 30; // wavelength 2π/f between 2048 and 8192: smoothed
      const wl = (2 * Math.PI) / plain[i];
      assert.ok(wl > 2048 && wl < 8192);
      const smooth = (8192 / wl - 1) / 3;
      assertClose([f[i]], [(1 - smooth) * (plain[i] / 8) + smooth * plain[i]], 0, 1e-5, "smoothed band");
    });
  }
});

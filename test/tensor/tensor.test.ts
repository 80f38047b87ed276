// Tensor basics on every backend: creation, views sharing storage, disposal (and errors after it), tidy
// scopes, autograd accumulation and noGrad, dtype casts, matmul against a float64 triple loop (incl. transposed
// views, broadcast batches and the bf16 mode against bf16-rounded operands), and errors naming op and shapes.
import { test } from "node:test";
import assert from "node:assert/strict";
import * as T from "../../src/tensor/index.js";
import { bf16ToF32, f32ToBf16 } from "../../src/core/dtype.js";
import { Rng } from "../../src/core/rng.js";
import { assertClose, describeBackends, values } from "./helpers.js";

/** C = A·B in float64: A [m, k], B [k, n] row-major. */
function naiveMatmul(a: ArrayLike<number>, b: ArrayLike<number>, m: number, k: number, n: number): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) for (let j = 0; j < n; j++) {
    let s = 0;
    for (let p = 0; p < k; p++) s += a[i * k + p] * b[p * n + j];
    c[i * n + j] = s;
  }
  return c;
}

function transposeArray(a: ArrayLike<number>, r: number, c: number): Float32Array {
  const out = new Float32Array(r * c);
  for (let i = 0; i < r; i++) for (let j = 0; j < c; j++) out[j * r + i] = a[i * c + j];
  return out;
}

describeBackends("tensor", ({ name, backend }) => {
  {
    test("creation and reading", () => {
      assert.deepEqual(T.zeros([2, 3]).toArray(), [0, 0, 0, 0, 0, 0]);
      assert.deepEqual(T.ones([2]).toArray(), [1, 1]);
      assert.deepEqual(T.full([2], 2.5, { dtype: "bf16" }).toArray(), [2.5, 2.5]);
      assert.deepEqual(T.arange(0, 5, 2).toArray(), [0, 2, 4]);
      assert.deepEqual(T.arange(3, 0, -1, { dtype: "i32" }).toArray(), [3, 2, 1]);
      assert.equal(T.scalar(7).item(), 7);
      const t = T.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
      assert.deepEqual(t.shape, [2, 3]);
      assert.deepEqual(t.strides, [3, 1]);
      assert.equal(t.backend, backend);
      assert.deepEqual([...T.fromTypedArray(new Int32Array([7, -8])).toTypedArray()], [7, -8]);
      const half = T.fromTypedArray(new Uint16Array([0x3c00, 0xc000]), [2], { dtype: "f16" });
      assert.deepEqual(half.toArray(), [1, -2]);
      assert.throws(() => T.fromTypedArray(new Uint16Array(2)), /\[fromTypedArray\] a Uint16Array holds bf16 or f16 bits/);
      assert.throws(() => T.fromArray([1, 2, 3], [2, 2]), /\[fromArray\] 3 values do not fill shape \[2, 2\]/);
      const r1 = T.randn([4], new Rng(5)).toArray();
      assert.deepEqual(T.randn([4], new Rng(5)).toArray(), r1);
      for (const u of T.uniform([50], new Rng(6), 2, 3).toArray()) assert.ok(u >= 2 && u < 3);
    });

    test("views share storage; reshape copies only when it must", () => {
      const t = T.fromArray([1, 2, 3, 4, 5, 6], [2, 3]);
      const tt = T.transpose(t);
      assert.deepEqual(tt.shape, [3, 2]);
      assert.deepEqual(tt.strides, [1, 3]);
      assert.deepEqual(tt.toArray(), [1, 4, 2, 5, 3, 6]);
      assert.equal(tt.storage(), t.storage());
      const row = T.select(t, 0, 1);
      assert.deepEqual(row.toArray(), [4, 5, 6]);
      assert.equal(row.offset, 3);
      const col = T.narrow(t, 1, 1, 2);
      assert.deepEqual(col.toArray(), [2, 3, 5, 6]);
      assert.deepEqual(T.expand(T.fromArray([1, 2], [2, 1]), [2, 3]).toArray(), [1, 1, 1, 2, 2, 2]);
      assert.deepEqual(T.slice(T.arange(0, 10), 0, -3).toArray(), [7, 8, 9]);
      assert.equal(T.reshape(t, [3, 2]).storage(), t.storage()); // contiguous: a view
      const flat = T.reshape(tt, [6]); // transposed: must copy
      assert.notEqual(flat.storage(), t.storage());
      assert.deepEqual(flat.toArray(), [1, 4, 2, 5, 3, 6]);
      assert.throws(() => T.view(tt, [6]), /\[view\] cannot view \[3, 2\] with strides \[1, 3\] as \[6\] without a copy/);
      assert.deepEqual(T.contiguous(tt).strides, [2, 1]);
      assert.deepEqual(T.concat([t, t], 0).shape, [4, 3]);
      assert.deepEqual(T.stack([T.fromArray([1, 2]), T.fromArray([3, 4])], 1).toArray(), [1, 3, 2, 4]);
      // assign writes through a view.
      const buf = T.zeros([2, 4]);
      T.assign(T.narrow(buf, 1, 1, 2), T.fromArray([7, 8, 9, 10], [2, 2]));
      assert.deepEqual(buf.toArray(), [0, 7, 8, 0, 0, 9, 10, 0]);
    });

    test("disposal is deterministic and reference counted", () => {
      const t = T.fromArray([1, 2, 3]);
      const v = T.reshape(t, [3, 1]);
      t.dispose();
      assert.deepEqual(v.toArray(), [1, 2, 3]); // the view keeps the storage alive
      assert.throws(() => t.toArray(), /\[toArray\] tensor was disposed/);
      assert.throws(() => T.add(t, 1), /tensor was disposed/);
      v.dispose();
      v.dispose(); // twice is harmless
      assert.throws(() => T.exp(v), /\[exp\] tensor was disposed/);
      {
        using u = T.ones([2]);
        assert.equal(u.size, 2);
      }
    });

    test("tidy disposes intermediates and keeps the result", () => {
      let inner: T.Tensor | null = null;
      const kept = T.ones([1]);
      const out = T.tidy(() => {
        const a = T.ones([3]);
        inner = T.mul(a, 2);
        T.keep(T.add(kept, 0));
        return { y: T.add(inner, 1) };
      });
      assert.ok(inner!.disposed);
      assert.deepEqual(out.y.toArray(), [3, 3, 3]);
      assert.ok(!out.y.disposed);
      // Nested tidies pass results outward; an error still disposes.
      const outer = T.tidy(() => T.tidy(() => T.ones([2])));
      assert.ok(!outer.disposed);
      let leaked: T.Tensor | null = null;
      assert.throws(() => T.tidy(() => { leaked = T.ones([2]); throw new Error("boom"); }), /boom/);
      assert.ok(leaked!.disposed);
    });

    test("autograd: accumulation across backward calls, zeroGrad, noGrad, graph freed", () => {
      const w = T.fromArray([1, 2, 3], [3], { requiresGrad: true });
      const lossOf = () => T.sum(T.mul(T.mul(w, w), 0.5)); // d/dw = w
      lossOf().backward();
      assert.deepEqual(w.grad!.toArray(), [1, 2, 3]);
      lossOf().backward();
      assert.deepEqual(w.grad!.toArray(), [2, 4, 6]);
      w.zeroGrad();
      assert.equal(w.grad, null);
      const y = T.noGrad(() => T.mul(w, 3));
      assert.equal(y.requiresGrad, false);
      assert.equal(y.node, null);
      assert.throws(() => y.backward(), /\[backward\] tensor does not require grad/);
      const loss = lossOf();
      assert.ok(loss.node);
      loss.backward();
      assert.equal(loss.node, null); // the graph's saved buffers were released
      assert.throws(() => T.mul(w, 2).backward(), /\[backward\] a gradient is needed for non-scalar output of shape \[3\]/);
      // A leaf used through two paths sums both contributions; detach stops the gradient.
      w.zeroGrad();
      T.sum(T.add(T.mul(w, 2), T.mul(T.detach(w), w))).backward();
      assert.deepEqual(w.grad!.toArray(), [3, 4, 5]);
    });

    test("dtype casts", () => {
      const x = T.fromArray([1, 1 + 2 ** -8, -3.5, 65520]);
      const b = T.to(x, "bf16");
      assert.equal(b.dtype, "bf16");
      assert.deepEqual([...b.toTypedArray()], [1, 1 + 2 ** -8, -3.5, 65520].map(f32ToBf16));
      assert.deepEqual(T.to(b, "f32").toArray(), [1, 1, -3.5, 65536]);
      const h = T.to(x, "f16");
      assert.deepEqual(T.to(h, "f32").toArray(), [1, 1 + 2 ** -8, -3.5, Infinity]); // f16 has 10 mantissa bits
      assert.deepEqual(T.to(T.fromArray([2.7, -1.2]), "i32").toArray(), [2, -1]);
    });

    test("matmul against a float64 triple loop: plain, transposed views, broadcast batches", () => {
      for (const [m, k, n] of [[1, 1, 1], [3, 7, 5], [7, 31, 33], [33, 17, 2]]) {
        const a = values(m * k, m + 1);
        const b = values(k * n, n + 2);
        const want = naiveMatmul(a, b, m, k, n);
        const A = T.fromTypedArray(a, [m, k]);
        const B = T.fromTypedArray(b, [k, n]);
        assertClose(T.matmul(A, B).toArray(), want, 1e-5, 1e-5, `matmul ${m}x${k}x${n}`);
        // Operands stored transposed and read through transpose views (transA / transB, no copies).
        const At = T.transpose(T.fromTypedArray(transposeArray(a, m, k), [k, m]));
        const Bt = T.transpose(T.fromTypedArray(transposeArray(b, k, n), [n, k]));
        assertClose(T.matmul(At, Bt).toArray(), want, 1e-5, 1e-5, `matmul transposed ${m}x${k}x${n}`);
        assertClose(T.linear(A, T.fromTypedArray(transposeArray(b, k, n), [n, k])).toArray(), want, 1e-5, 1e-5, "linear");
      }
      // Batched: a [2, 3, 4, 5] · b [3, 5, 2] (b broadcast over the first batch dim).
      const a = values(2 * 3 * 4 * 5, 9);
      const b = values(3 * 5 * 2, 10);
      const out = T.matmul(T.fromTypedArray(a, [2, 3, 4, 5]), T.fromTypedArray(b, [3, 5, 2])).toArray();
      for (let i = 0; i < 2; i++) for (let j = 0; j < 3; j++) {
        const want = naiveMatmul(a.subarray((i * 3 + j) * 20, (i * 3 + j + 1) * 20), b.subarray(j * 10, (j + 1) * 10), 4, 5, 2);
        assertClose(out.slice((i * 3 + j) * 8, (i * 3 + j + 1) * 8), want, 1e-5, 1e-5, `batch ${i},${j}`);
      }
    });

    test("matmul bf16 mode = float64 product of bf16-rounded operands", () => {
      const [m, k, n] = [5, 33, 7];
      const a = values(m * k, 11);
      const b = values(k * n, 12);
      const round = (x: Float32Array) => x.map((v) => bf16ToF32(f32ToBf16(v)));
      const want = naiveMatmul(round(a), round(b), m, k, n);
      const got = T.matmul(T.fromTypedArray(a, [m, k]), T.fromTypedArray(b, [k, n]), { dtype: "bf16" }).toArray();
      assertClose(got, want, 1e-5, 1e-5, "bf16 matmul");
      // linear reads w [n, k] through a transposed view: rounded in place, still the same product.
      const viaLinear = T.linear(T.fromTypedArray(a, [m, k]), T.fromTypedArray(transposeArray(b, k, n), [n, k]), null, { dtype: "bf16" });
      assertClose(viaLinear.toArray(), want, 1e-5, 1e-5, "bf16 linear");
      // Its gradient also runs in bf16 and stays close to the f32 one.
      const A = T.fromTypedArray(a, [m, k], { requiresGrad: true });
      T.sum(T.matmul(A, T.fromTypedArray(b, [k, n]), { dtype: "bf16" })).backward();
      const rowSums = Array.from({ length: k }, (_, p) => { let s = 0; for (let j = 0; j < n; j++) s += b[p * n + j]; return s; });
      assertClose(A.grad!.toArray().slice(0, k), rowSums, 0.02, 0.02, "bf16 matmul grad");
    });

    test("errors name the op, the shapes and what was expected", () => {
      const a = T.zeros([2, 3]);
      assert.throws(() => T.matmul(a, T.zeros([4, 5])),
        /\[matmul\] inner dims differ: a \[2, 3\] · b \[4, 5\] \(3 vs 4\); expected b.shape\[-2\] == a.shape\[-1\]/);
      assert.throws(() => T.matmul(a, T.zeros([3])), /\[matmul\] operands need rank ≥ 2/);
      assert.throws(() => T.add(a, T.zeros([4])), /\[add\] shapes \[2, 3\] and \[4\] cannot be broadcast/);
      assert.throws(() => T.exp(T.zeros([2], { dtype: "bf16" })), /\[exp\] input must be f32, got bf16 with shape \[2\]; convert with .to\("f32"\)/);
      assert.throws(() => T.linear(a, T.zeros([4, 2])), /\[linear\] weight \[4, 2\] does not fit input \[2, 3\]; expected \[out, 3\]/);
      assert.throws(() => T.embedding(T.zeros([3, 2]), T.fromArray([0, 3], [2], { dtype: "i32" })),
        /\[embedding\] id 3 at position 1 is outside \[0, 3\)/);
      assert.throws(() => T.embedding(T.zeros([3, 2]), T.fromArray([0, 1])), /\[embedding\] ids must be i32, got f32/);
      assert.throws(() => T.crossEntropy(T.zeros([2, 3]), T.fromArray([0], [1], { dtype: "i32" })),
        /\[crossEntropy\] targets \[1\] do not match logits \[2, 3\]; expected \[2\]/);
      assert.throws(() => T.narrow(a, 1, 2, 2), /\[narrow\] range \[2, 4\) is outside dim 1 of size 3/);
      assert.throws(() => T.permute(a, [0]), /\[permute\] got 1 dims/);
      assert.throws(() => T.rmsNorm(a, T.ones([2])), /\[rmsNorm\] weight \[2\] does not match input \[2, 3\]; expected \[3\]/);
      assert.throws(() => T.attention(T.zeros([1, 2, 3, 4]), T.zeros([1, 2, 2, 4]), T.zeros([1, 2, 2, 4])),
        /\[attention\] shapes do not fit/);
      assert.throws(() => T.zeros([2]).item(), /\[item\] expected a tensor with one element/);
    });
  }
});

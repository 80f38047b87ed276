// Memory: a small transformer training step (embedding, rmsNorm, attention with rope, SwiGLU MLP, cross-entropy)
// run under tidy returns every intermediate buffer to the backend pool, backward frees the graph's saved
// buffers, repeated steps allocate nothing new beyond the gradients, and a freed graph cannot be reused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { BufferPool, createBackend } from "../../src/backend/index.js";
import { nativeUnavailableReason } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import * as T from "../../src/tensor/index.js";
import { AdamW } from "../../src/optim/index.js";

for (const kind of ["ref", "cpu"] as const) {
  test(`a training step leaks no buffers (${kind} backend)`, { skip: kind === "cpu" && nativeUnavailableReason() !== "" }, () => {
    const pool = new BufferPool();
    const backend = createBackend({ kind, pool, threads: 2 });
    T.setDefaultBackend(backend);
    const [vocab, dim, nHead, nKv, hidden, b, t] = [13, 8, 2, 1, 12, 2, 5];
    const headDim = dim / nHead;
    const rng = new Rng(3);
    const params = new Map<string, T.Tensor>();
    const add = (name: string, t: T.Tensor) => { t.requiresGrad = true; params.set(name, t); };
    const p = (name: string, shape: number[], std = 0.3) => add(name, T.randn(shape, rng, { std }));
    p("embed", [vocab, dim]);
    add("norm", T.ones([dim]));
    p("q", [dim, dim]); p("k", [nKv * headDim, dim]); p("v", [nKv * headDim, dim]); p("o", [dim, dim]);
    p("gate", [hidden, dim]); p("up", [hidden, dim]); p("down", [dim, hidden]);
    const freqs = T.ropeFrequencies(headDim);
    const ids = T.fromArray(Array.from({ length: b * t }, (_, i) => (i * 7) % vocab), [b, t], { dtype: "i32" });
    const targets = T.fromArray(Array.from({ length: b * t }, (_, i) => (i % 4 === 3 ? -100 : (i * 5) % vocab)), [b, t], { dtype: "i32" });
    const g = (n: string) => params.get(n)!;
    const step = () => T.tidy(() => {
      const x = T.embedding(g("embed"), ids); // [B, T, D]
      const h = T.rmsNorm(x, g("norm"));
      const q = T.rope(T.reshape(T.linear(h, g("q")), [b, t, nHead, headDim]), { freqs });
      const k = T.rope(T.reshape(T.linear(h, g("k")), [b, t, nKv, headDim]), { freqs });
      const v = T.reshape(T.linear(h, g("v")), [b, t, nKv, headDim]);
      const att = T.reshape(T.attention(q, k, v), [b, t, dim]);
      const x2 = T.add(x, T.linear(att, g("o")));
      const y = T.add(x2, T.linear(T.swiglu(T.linear(x2, g("gate")), T.linear(x2, g("up"))), g("down")));
      const loss = T.crossEntropy(T.linear(y, g("embed")), targets); // tied output head
      loss.backward();
      return loss.item();
    });
    const opt = new AdamW(params, { lr: 0.05 });
    const base = pool.stats().live;
    const l0 = step();
    const withGrads = pool.stats().live;
    assert.equal(withGrads - base, params.size, "after one step only the gradients stay allocated");
    opt.step();
    opt.zeroGrad();
    // AdamW allocates its moments (m and v per parameter) on its first step; nothing else stays.
    assert.equal(pool.stats().live, base + 2 * params.size);
    const steady = pool.stats().live;
    let last = l0;
    for (let i = 0; i < 3; i++) {
      last = step();
      opt.step();
      opt.zeroGrad();
      assert.equal(pool.stats().live, steady, `step ${i + 2} leaves the live count unchanged`);
    }
    assert.ok(last < l0, `loss goes down on a fixed batch (${l0} → ${last})`);
    assert.equal([...params.values()].reduce((n, t) => n + t.size, 0), vocab * dim + dim + 4 * dim * dim - 2 * dim * dim + 2 * nKv * headDim * dim + 3 * hidden * dim);
    opt.dispose();
    for (const t of params.values()) t.dispose();
    ids.dispose();
    targets.dispose();
    assert.equal(pool.stats().live, 0, "everything returned to the pool");
  });
}

test("backward through a freed graph throws instead of treating intermediates as leaves", () => {
  T.setDefaultBackend(createBackend({ kind: "ref" }));
  const w = T.fromArray([1, 2], [2], { requiresGrad: true });
  const h = T.mul(w, 2);
  const loss = T.sum(h);
  loss.backward();
  assert.throws(() => loss.backward(), /\[backward\] this graph was already freed/);
  assert.throws(() => T.sum(T.exp(h)).backward(), /\[backward\] part of this graph was already freed/);
  const unused = T.sum(T.mul(w, w));
  T.releaseGraph(unused);
  assert.equal(unused.node, null);
});

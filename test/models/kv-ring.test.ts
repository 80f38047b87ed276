// The sliding-window KV cache (issue 22): a layer with a window keeps a ring buffer of that many positions, so its
// memory is bounded by the window, not the context. Against the masked full cache (every position kept, the window a
// mask: the path transformers' logits check in families.test.ts) on Gemma 2's alternating layers
// (../shared/testdata/hf/gemma2: window from its config) and Gemma 3's five-to-one layers (test/fixtures/hf/gemma3):
// a sequence several windows long, fed as chunks shorter and longer than the window and token by token, in one batch
// with the full-cache copy, gives bit-identical logits (f32, f16 and — where the head dim fits its blocks — q8_0
// caches); a fork of a wrapped ring continues
// identically; truncating past what a ring still holds is refused, so the scheduler's prefix reuse skips a wrapped
// ring (and still reuses one it can extend), with the same greedy ids as fresh sequences.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { DecoderModel } from "../../src/models/decoder/model.js";
import { KvCache, type KvCacheType } from "../../src/models/kv-cache.js";
import { Sampler } from "../../src/infer/sampler.js";
import { Scheduler } from "../../src/infer/scheduler.js";
import { readCase } from "./families-reference.js";

setDefaultBackend(createBackend());

const MODELS = [path.join(readCase("gemma2").dir, "model"), path.join(readCase("gemma3", path.resolve("test/fixtures/hf")).dir, "model")];

for (const dir of MODELS) {
  for (const dtype of ["f32", "f16", "q8_0"] as KvCacheType[]) {
    test(`${path.basename(path.dirname(dir))} (${dtype} cache): ring-buffer windows = the masked full cache, bit for bit`, async (t) => {
      const model = await loadModel(dir);
      try {
        const net = model.model;
        assert.ok(net instanceof DecoderModel);
        const { numKvHeads, headDim } = net.cacheShape(16);
        if (dtype === "q8_0" && (headDim % 32 !== 0 || ((numKvHeads * headDim) / 32) % 2 !== 0)) {
          t.skip(`head dim ${headDim} × ${numKvHeads} kv heads does not fit q8_0 blocks`);
          return;
        }
        const windows = net.config.slidingWindows;
        const w = Math.max(...windows.map((x) => x ?? 0));
        assert.ok(w > 0 && windows.includes(null), "the case alternates windowed and global layers");
        const ctx = net.config.contextLength;
        const ring = new KvCache({ ...net.cacheShape(ctx), dtype });
        const full = new KvCache({ ...net.cacheShape(ctx), windows: undefined, dtype });
        windows.forEach((win, l) => assert.equal(ring.ring(l), win, `layer ${l}'s ring`));
        // A sequence of 4 windows + 3 tokens: chunks of 1, w − 1, w + 2 (longer than the window), 2, then one by one.
        let seed = 12345;
        const next = () => 3 + ((seed = (seed * 1103515245 + 12345) % 2147483648) % (net.config.vocabSize - 3));
        const chunks = [1, w - 1, w + 2, 2, ...Array(2 * w - 1).fill(1), w, 1];
        for (const [i, size] of chunks.entries()) {
          const ids = Array.from({ length: size }, next);
          const logits = noGrad(() => net.forwardSegments([{ ids, cache: ring }, { ids, cache: full }]).toFloat32Array());
          const v = net.config.vocabSize;
          const a = logits.subarray(0, v), b = logits.subarray(v, 2 * v);
          assert.ok(a.every((x, j) => x === b[j]), `chunk ${i} (${size} tokens, up to position ${ring.length}): ring ≠ full cache`);
        }
        assert.ok(ring.length > 4 * w);
        // Memory: each windowed layer holds w positions; the global layers (and the full cache) hold them all.
        windows.forEach((win, l) => {
          assert.equal(ring.k[l]!.shape[1], win === null ? full.k[l]!.shape[1] : win, `layer ${l} positions held`);
        });
        assert.ok(ring.bytes < full.bytes, `${ring.bytes} vs ${full.bytes} bytes`);
        // A fork of the wrapped ring continues as the original does.
        const fork = ring.clone();
        const ids = [next(), next()];
        const x = noGrad(() => net.forwardSegments([{ ids, cache: ring }, { ids, cache: fork }]).toFloat32Array());
        const v = net.config.vocabSize;
        assert.ok(x.subarray(0, v).every((y, j) => y === x[v + j]), "fork ≠ original");
        // The ring holds only the last w positions: truncating further back is refused by name.
        assert.equal(ring.minTruncate, ring.length - 1);
        assert.throws(() => ring.truncate(ring.length - 2), /ring buffers no longer hold/);
        ring.truncate(ring.length - 1);
        assert.equal(full.minTruncate, 0);
        for (const c of [ring, full, fork]) c.dispose();
      } finally {
        model.dispose();
      }
    });
  }
}

test("a ring that has not wrapped truncates anywhere; a window as long as the context keeps a plain cache", () => {
  const c = new KvCache({ numLayers: 2, numKvHeads: 1, headDim: 4, maxLength: 64, windows: [8, null] });
  c.reserve(6);
  c.length = 6;
  assert.equal(c.minTruncate, 0);
  c.truncate(2);
  assert.equal(c.ring(0), 8);
  assert.equal(new KvCache({ numLayers: 1, numKvHeads: 1, headDim: 4, maxLength: 64, windows: [64] }).ring(0), null);
  assert.throws(() => new KvCache({ numLayers: 2, numKvHeads: 1, headDim: 4, maxLength: 64, windows: [8] }), /1 windows for 2 layers/);
});

test("prefix reuse on gemma2: a wrapped ring is not cut back, an extendable one is reused; ids equal fresh runs", async () => {
  const model = await loadModel(MODELS[0]!);
  try {
    const net = model.model;
    assert.ok(net instanceof DecoderModel);
    const w = Math.max(...net.config.slidingWindows.map((x) => x ?? 0));
    const run = async (s: Scheduler, promptIds: number[]) => {
      const ids: number[] = [];
      const r = await s.submit({ promptIds, maxTokens: 4, sampler: new Sampler({ temperature: 0 }), stopTokenIds: new Set(),
        onToken: (e) => { ids.push(e.id); } });
      return { ids, cached: r.cachedTokens };
    };
    const fresh = async (promptIds: number[]) => {
      const s = new Scheduler(model, { parallel: 1, maxQueue: 4 });
      try { return (await run(s, promptIds)).ids; } finally { s.releaseIdle(); }
    };
    const p = Array.from({ length: 2 * w + 4 }, (_, i) => 3 + ((i * 37) % (net.config.vocabSize - 3)));
    const s = new Scheduler(model, { parallel: 1, maxQueue: 4 });
    try {
      const a = await run(s, p);
      // Shares 2w tokens with the cached sequence, whose rings have wrapped: no reuse, the answer of a fresh run.
      const cut = [...p.slice(0, 2 * w), 5, 6, 7];
      const b = await run(s, cut);
      assert.equal(b.cached, 0, "a wrapped ring is not truncated back");
      assert.deepEqual(b.ids, await fresh(cut));
      // Extends the sequence just cached (prompt + its reply + more): reused, and the same ids as a fresh run.
      const bPrompt = [...cut, ...b.ids.slice(0, -1)];
      const longer = [...bPrompt, b.ids.at(-1)!, 9, 10];
      const c = await run(s, longer);
      assert.ok(c.cached > 0, `reused ${c.cached} tokens`);
      assert.deepEqual(c.ids, await fresh(longer));
      assert.ok(a.ids.length === 4);
    } finally {
      s.releaseIdle();
    }
  } finally {
    model.dispose();
  }
});

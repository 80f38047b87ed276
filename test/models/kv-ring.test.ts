// The sliding-window KV cache (issue 22): a layer with a window keeps a ring buffer of that many positions, so its
// memory is bounded by the window, not the context. Against the masked full cache (every position kept, the window a
// mask: the path transformers' logits check in families.test.ts) on Gemma 2's alternating layers
// (../shared/testdata/hf/gemma2: window from its config) and Gemma 3's five-to-one layers (test/fixtures/hf/gemma3):
// a sequence several windows long, fed as chunks shorter and longer than the window and token by token, in one batch
// with the full-cache copy, gives bit-identical logits (f32 and f16 caches); a fork of a wrapped ring continues
// identically; truncating past what a ring still holds is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend } from "../../src/tensor/index.js";
import { loadModel } from "../../src/infer/load.js";
import { DecoderModel } from "../../src/models/decoder/model.js";
import { KvCache, type KvCacheType } from "../../src/models/kv-cache.js";
import { readCase } from "./families-reference.js";

setDefaultBackend(createBackend());

const MODELS = [path.join(readCase("gemma2").dir, "model"), path.join(readCase("gemma3", path.resolve("test/fixtures/hf")).dir, "model")];

for (const dir of MODELS) {
  for (const dtype of ["f32", "f16"] as KvCacheType[]) {
    test(`${path.basename(path.dirname(dir))} (${dtype} cache): ring-buffer windows = the masked full cache, bit for bit`, async () => {
      const model = await loadModel(dir);
      try {
        const net = model.model;
        assert.ok(net instanceof DecoderModel);
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

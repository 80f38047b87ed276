// Sentence embeddings for retrieval from a BERT encoder (src/infer/text-embedder.ts) against transformers' mean-pooled,
// L2-normalised sentence embeddings of ../shared/testdata/hf/bert (cosine ≥ 0.9999), and the hybrid BM25 + dense
// ranking (src/tools/hybrid-search.ts): dense weight 0 keeps BM25's order, weight 1 orders by the cosines recomputed
// here from the embedder's vectors, and every blended score is (1 − w)·bm25/max + w·cos.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadTextEmbedder } from "../../src/infer/text-embedder.js";
import { DocumentIndex } from "../../src/tools/search.js";
import { HybridSearch } from "../../src/tools/hybrid-search.js";

setDefaultBackend(createBackend());
const CASE = path.resolve("../shared/testdata/hf/bert");
const ref = JSON.parse(readFileSync(path.join(CASE, "reference.json"), "utf8")) as {
  inputs: { texts: string[][] }; outputs: Record<string, { file: string; shape: number[] }>;
};

test("encoder text embeddings match transformers' mean-pooled sentence embeddings", async () => {
  const embedder = loadTextEmbedder(path.join(CASE, "base"), { pooling: "mean" });
  const [rows, dim] = ref.outputs.sentence_embedding!.shape as [number, number];
  assert.equal(embedder.dim, dim);
  const buf = readFileSync(path.join(CASE, ref.outputs.sentence_embedding!.file));
  const want = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  // Single-text rows without special-token spellings (a pair row needs its second segment's token types; user text
  // is never parsed for "[MASK]").
  const single = ref.inputs.texts.map((t, r) => [t, r] as const).filter(([t]) => t.length === 1 && !/\[[A-Z]+\]/.test(t[0]!));
  assert.ok(single.length >= 1 && single.length <= rows);
  const got = await embedder.embed(single.map(([t]) => t[0]!));
  single.forEach(([, r], i) => {
    const w = want.subarray(r * dim, (r + 1) * dim), g = got[i]!;
    const cos = w.reduce((a, x, j) => a + x * g[j]!, 0) / (Math.hypot(...w) * Math.hypot(...g));
    assert.ok(cos >= 0.9999, `row ${r}: cosine ${cos}`);
  });
});

test("hybrid search: weight 0 is BM25's order, weight 1 is cosine order, scores blend as documented", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "hybrid-"));
  try {
    const docs = ["the man went to the store and bought a gallon of milk .", "how old are you ? i am six years old .",
      "the store is old and the man is six .", "milk and bread at the store ."];
    docs.forEach((d, i) => writeFileSync(path.join(dir, `d${i}.txt`), d));
    const index = new DocumentIndex({ dbPath: ":memory:" });
    index.indexFolder(dir);
    const embedder = loadTextEmbedder(path.join(CASE, "base"));
    const query = "the old man at the store";
    const bm25 = index.search(query, 10);
    const dense0 = await new HybridSearch(index, embedder, { denseWeight: 0 }).search(query, 10);
    assert.deepEqual(dense0.map((h) => h.path), bm25.map((h) => h.path));
    const hits = await new HybridSearch(index, embedder, { denseWeight: 1 }).search(query, 10);
    const [q] = await embedder.embed([query]);
    const cos = (t: string) => embedder.embed([t]).then(([v]) => v!.reduce((a, x, j) => a + x * q![j]!, 0));
    const expected = await Promise.all(hits.map((h) => cos(h.text)));
    for (let i = 0; i < hits.length; i++) assert.ok(Math.abs(hits[i]!.cosine - expected[i]!) < 1e-5);
    for (let i = 1; i < hits.length; i++) assert.ok(hits[i - 1]!.score >= hits[i]!.score);
    const mixed = await new HybridSearch(index, embedder, { denseWeight: 0.3 }).search(query, 10);
    const top = Math.max(...mixed.map((h) => h.bm25));
    for (const h of mixed) assert.ok(Math.abs(h.score - (0.7 * h.bm25 / top + 0.3 * h.cosine)) < 1e-9);
    assert.throws(() => new HybridSearch(index, embedder, { denseWeight: 2 }), /denseWeight 2 must be in \[0, 1\]/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Sparse n-gram TF-IDF features (src/tokenizers/sparse-ngrams.ts) against scikit-learn's TfidfVectorizer: the
// vocabularies (with min_df and a max_features cap), idf and the vectors of held-out texts come from sklearn itself
// (test/fixtures/sklearn/sparse-ngrams.json, made by dev/bert/make-sparse-ngrams-reference.py); plus the feature
// file's round trip and its checks.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { fitSparseNgrams, parseNgramSpec, readSparseNgrams, SparseNgramsError } from "../../src/tokenizers/sparse-ngrams.js";

interface RefAnalyzer { analyzer: "word" | "char_wb"; ngram_range: [number, number]; max_features: number | null; terms: string[]; idf: number[]; vectors: Record<string, number>[] }
const ref = JSON.parse(readFileSync("test/fixtures/sklearn/sparse-ngrams.json", "utf8")) as {
  train: string[]; held_out: string[]; cases: { min_df: number; analyzers: RefAnalyzer[] }[];
};

for (const c of ref.cases) {
  test(`TF-IDF features match scikit-learn (min_df ${c.min_df}, caps ${c.analyzers.map((a) => a.max_features).join("/")})`, () => {
    // One featurizer per analyzer, as the cap is per vectorizer in sklearn's FeatureUnion.
    for (const a of c.analyzers) {
      const spec = parseNgramSpec(`${a.analyzer}:${a.ngram_range[0]}-${a.ngram_range[1]}`);
      const f = fitSparseNgrams(ref.train, spec, { minDf: c.min_df, maxFeatures: a.max_features });
      const fitted = f.analyzers[0]!;
      assert.deepEqual(fitted.terms, a.terms, `${a.analyzer}: vocabulary`);
      assert.equal(f.dimension, a.terms.length);
      ref.held_out.forEach((text, k) => {
        const v = f.transform(text);
        const got: Record<string, number> = {};
        v.indices.forEach((i, j) => { if (v.values[j] !== 0) got[fitted.terms[i]!] = v.values[j]!; });
        const want = a.vectors[k]!;
        assert.deepEqual(Object.keys(got).sort(), Object.keys(want).sort(), `${a.analyzer}: terms of ${JSON.stringify(text)}`);
        for (const [term, w] of Object.entries(want)) assert.ok(Math.abs(got[term]! - w) < 1e-6, `${a.analyzer} ${JSON.stringify(text)} '${term}': ${got[term]} vs sklearn ${w}`);
      });
    }
  });
}

test("two analyzers concatenate, each block L2-normalised on its own (sklearn's FeatureUnion)", () => {
  const c = ref.cases[0]!;
  const f = fitSparseNgrams(ref.train, parseNgramSpec("word:1-2,char:1-5"));
  const words = c.analyzers[0]!.terms.length;
  assert.equal(f.dimension, words + c.analyzers[1]!.terms.length);
  const v = f.transform(ref.held_out[0]!);
  let w2 = 0, c2 = 0;
  v.indices.forEach((i, j) => { if (i < words) w2 += v.values[j]! ** 2; else c2 += v.values[j]! ** 2; });
  assert.ok(Math.abs(w2 - 1) < 1e-6 && Math.abs(c2 - 1) < 1e-6, `block norms² ${w2}, ${c2}`);
  const dense = f.denseRows([v]);
  assert.equal(dense.length, f.dimension);
  v.indices.forEach((i, j) => assert.equal(dense[i], v.values[j]));
});

test("sparse_ngrams.json round trip and its checks", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-ngrams-"));
  try {
    const f = fitSparseNgrams(ref.train, parseNgramSpec("word:1-2,char_wb:2-4"), { minDf: 1, maxFeatures: 50 });
    const file = path.join(dir, "sparse_ngrams.json");
    writeFileSync(file, f.toJson({ head_scale: 100 }));
    const back = readSparseNgrams(file);
    assert.equal(back.json.head_scale, 100);
    for (const t of ref.held_out) assert.deepEqual(back.ngrams.transform(t), f.transform(t));
    const j = JSON.parse(readFileSync(file, "utf8"));
    const broken = (edit: (x: any) => void, message: RegExp) => {
      const copy = JSON.parse(JSON.stringify(j));
      edit(copy);
      writeFileSync(file, JSON.stringify(copy));
      assert.throws(() => readSparseNgrams(file), (e: Error) => e instanceof SparseNgramsError && message.test(e.message) && e.message.includes(file));
    };
    broken((x) => x.analyzers[0].df.pop(), /terms and df must be lists of equal length/);
    broken((x) => { x.analyzers[1].df[0] = x.documents + 1; }, /df must be integers in \[1, documents/);
    broken((x) => { x.analyzers[0].ngram_range = [3, 2]; }, /ngram_range/);
    broken((x) => { x.documents = -1; }, /documents must be a positive integer/);
    broken((x) => { x.format = "other"; }, /format must be/);
    writeFileSync(file, "{not json");
    assert.throws(() => readSparseNgrams(file), /not valid JSON/);
    assert.throws(() => parseNgramSpec("word:2-1"), /ANALYZER:MIN-MAX/);
    assert.throws(() => parseNgramSpec("bigram:1-2"), /ANALYZER:MIN-MAX/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

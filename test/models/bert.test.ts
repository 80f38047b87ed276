// BERT against Hugging Face transformers (../shared/testdata/hf/bert, see its README): BertModel's last hidden
// states and pooler output, BertForMaskedLM's logits, BertForSequenceClassification's logits (within 1e-4 ×
// max|reference| at the valid positions, f32), the mean-pooled L2-normalised sentence embedding (cosine ≥ 0.9999),
// the tokenizer's ids for the reference texts (tokenizer.json and vocab.txt), and llama.cpp's llama-embedding
// output for the GGUF that llama.cpp's converter made of the same model. Every shape comes from reference.json.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, symlinkSync, copyFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend } from "../../src/tensor/index.js";
import { loadEncoder } from "../../src/infer/encoder.js";
import { packPadded } from "../../src/models/bert/model.js";

setDefaultBackend(createBackend());
const DIR = path.resolve("../shared/testdata/hf/bert");
interface Output { file: string; shape: number[] }
const ref = JSON.parse(readFileSync(path.join(DIR, "reference.json"), "utf8")) as {
  inputs: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][]; texts: string[][] };
  outputs: Record<string, Output>;
  gguf: { file: string; embedding_text: string; texts: string[]; llama_token_ids: number[][] };
};
const { input_ids: ids, token_type_ids: typeIds, attention_mask: mask } = ref.inputs;

function bin(name: string): { data: Float32Array; shape: number[] } {
  const o = ref.outputs[name];
  const buf = readFileSync(path.join(DIR, o.file));
  const data = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  assert.equal(data.length, o.shape.reduce((a, b) => a * b, 1), `${o.file} size vs shape ${o.shape}`);
  return { data, shape: o.shape };
}

/** Rows of the reference at the packed rows' flat indices (b·T + t), each `width` wide. */
function pickRows(data: Float32Array, rows: Int32Array, width: number): Float32Array {
  const out = new Float32Array(rows.length * width);
  rows.forEach((r, i) => out.set(data.subarray(r * width, (r + 1) * width), i * width));
  return out;
}

function assertClose(actual: Float32Array, expected: Float32Array, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < expected.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(expected[i]));
    maxDiff = Math.max(maxDiff, Math.abs(actual[i] - expected[i]));
  }
  assert.ok(maxRef > 0, `${what}: reference is all zeros`);
  assert.ok(maxDiff <= 1e-4 * maxRef, `${what}: max |diff| ${maxDiff} > 1e-4 × ${maxRef}`);
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let ab = 0, aa = 0, bb = 0;
  for (let i = 0; i < a.length; i++) { ab += a[i] * b[i]; aa += a[i] * a[i]; bb += b[i] * b[i]; }
  return ab / Math.sqrt(aa * bb);
}

/** The valid (mask = 1) prefix of each row as an unpadded sequence. */
const sequences = ids.map((row, b) => ({ ids: row.filter((_, t) => mask[b][t] === 1), typeIds: typeIds[b].filter((_, t) => mask[b][t] === 1) }));

test("BertModel: last hidden states and pooler output match transformers (padded batch)", () => {
  const enc = loadEncoder(path.join(DIR, "base"));
  const lhs = bin("last_hidden_state");
  const d = lhs.shape[2];
  assert.equal(enc.config.hiddenSize, d);
  const { batch, rows } = packPadded(enc.config, ids, mask, typeIds);
  noGrad(() => {
    const h = enc.model.encode(batch);
    assertClose(h.toFloat32Array(), pickRows(lhs.data, rows, d), "last_hidden_state");
    assertClose(enc.model.pooler(h, batch).toFloat32Array(), bin("pooler_output").data, "pooler_output");
  });
  // The same through the unpadded API, one sequence at a time.
  const hidden = enc.hidden(sequences);
  const t = lhs.shape[1];
  hidden.forEach((hRow, b) => {
    const want = lhs.data.subarray(b * t * d, b * t * d + hRow.length);
    assertClose(hRow, want, `last_hidden_state row ${b} alone`);
  });
  enc.dispose();
});

test("sentence embedding: mean over valid positions, L2-normalised, cosine ≥ 0.9999", () => {
  const enc = loadEncoder(path.join(DIR, "base"));
  const want = bin("sentence_embedding");
  const d = want.shape[1];
  const got = enc.embedSequences(sequences, "mean", true);
  got.forEach((v, b) => {
    const c = cosine(v, want.data.subarray(b * d, (b + 1) * d));
    assert.ok(c >= 0.9999, `row ${b}: cosine ${c}`);
  });
  enc.dispose();
});

test("BertForMaskedLM logits and BertForSequenceClassification logits match transformers", () => {
  const mlm = loadEncoder(path.join(DIR, "mlm"));
  const logits = bin("mlm_logits");
  const v = logits.shape[2];
  assert.equal(mlm.config.vocabSize, v);
  const { batch, rows } = packPadded(mlm.config, ids, mask, typeIds);
  noGrad(() => assertClose(mlm.model.mlmLogits(mlm.model.encode(batch)).toFloat32Array(), pickRows(logits.data, rows, v), "mlm_logits"));
  mlm.dispose();

  const cls = loadEncoder(path.join(DIR, "seqcls"));
  const want = bin("seqcls_logits");
  assert.equal(cls.config.numLabels, want.shape[1]);
  const got = cls.classify(sequences);
  assertClose(Float32Array.from(got.flatMap((r) => [...r.logits])), want.data, "seqcls_logits");
  got.forEach((r, b) => {
    const row = [...want.data.subarray(b * want.shape[1], (b + 1) * want.shape[1])];
    assert.equal(r.label, cls.config.labels[row.indexOf(Math.max(...row))]);
  });
  cls.dispose();
});

test("tokenizer: tokenizer.json and vocab.txt give the reference ids and token_type_ids", () => {
  const enc = loadEncoder(path.join(DIR, "base"));
  // A folder with vocab.txt only (no tokenizer.json): BertTokenizer's rules from tokenizer_config.json.
  const bare = mkdtempSync(path.join(os.tmpdir(), "zhiyu-bert-vocab-"));
  for (const f of ["config.json", "vocab.txt", "tokenizer_config.json"]) copyFileSync(path.join(DIR, "base", f), path.join(bare, f));
  symlinkSync(path.join(DIR, "base", "model.safetensors"), path.join(bare, "model.safetensors"));
  const fromVocab = loadEncoder(bare);
  ref.inputs.texts.forEach((texts, b) => {
    for (const e of [enc, fromVocab]) {
      const s = e.tokenize(texts[0], texts[1]);
      assert.deepEqual(s.ids, sequences[b].ids, `row ${b} ids (${e === enc ? "tokenizer.json" : "vocab.txt"})`);
      assert.deepEqual(s.typeIds, sequences[b].typeIds, `row ${b} token_type_ids`);
    }
  });
  enc.dispose();
  fromVocab.dispose();
});

test("GGUF (llama.cpp's converter): llama-embedding's output, cosine ≥ 0.9999 and |diff| ≤ 1e-4", () => {
  const enc = loadEncoder(path.join(DIR, ref.gguf.file));
  const text = readFileSync(path.join(DIR, ref.gguf.embedding_text), "utf8");
  const llama = JSON.parse(text) as number[][];
  assert.equal(llama.length, ref.gguf.texts.length);
  const seqs = ref.gguf.texts.map((t) => enc.tokenize(t));
  seqs.forEach((s, i) => assert.deepEqual(s.ids, ref.gguf.llama_token_ids[i], `text ${i}: GGUF tokenizer ids`));
  const got = enc.embedSequences(seqs, "mean", true);
  const hf = bin("gguf_hf_sentence_embedding");
  got.forEach((v, i) => {
    const c = cosine(v, llama[i]);
    assert.ok(c >= 0.9999, `text ${i}: cosine with llama.cpp ${c}`);
    const maxDiff = Math.max(...v.map((x, k) => Math.abs(x - llama[i][k])));
    assert.ok(maxDiff <= 1e-4, `text ${i}: max |diff| with llama.cpp ${maxDiff}`);
  });
  assertClose(Float32Array.from(got.flatMap((v) => [...v])), hf.data, "GGUF vs HF sentence embedding");
  enc.dispose();
});

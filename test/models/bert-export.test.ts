// Zhiyu's BERT export both ways, checked against the references in ../shared/testdata/hf/bert: the GGUF written
// from the HF folder has llama.cpp's converter's tensor names, shapes and vocabulary spelling (compared with the
// converter's own bert-f32.gguf) and reproduces transformers' outputs in f32; f16, bf16 and q8_0 files load back
// within tolerances for their precision; GGUF → HF gives a folder (vocab.txt included) with the same outputs.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend } from "../../src/tensor/index.js";
import { loadEncoder, type BertEncoder } from "../../src/infer/encoder.js";
import { type EncoderExportType, writeEncoderGguf, writeEncoderHf } from "../../src/infer/encoder-export.js";
import { packPadded } from "../../src/models/bert/model.js";
import { readGguf } from "../../src/io/gguf.js";

setDefaultBackend(createBackend());
const DIR = path.resolve("../shared/testdata/hf/bert");
const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-bert-export-"));
const ref = JSON.parse(readFileSync(path.join(DIR, "reference.json"), "utf8")) as {
  inputs: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][]; texts: string[][] };
  outputs: Record<string, { file: string; shape: number[] }>;
  gguf: { file: string };
};
const { input_ids: ids, token_type_ids: typeIds, attention_mask: mask } = ref.inputs;

function bin(name: string): Float32Array {
  const buf = readFileSync(path.join(DIR, ref.outputs[name].file));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** max |ours − reference| / max |reference| over the valid positions of `output`, with ours from `run`. */
function relError(enc: BertEncoder, output: string, run: (enc: BertEncoder, b: ReturnType<typeof packPadded>["batch"]) => Float32Array): number {
  const shape = ref.outputs[output].shape;
  const width = shape[shape.length - 1];
  const want = bin(output);
  const packed = packPadded(enc.config, ids, mask, typeIds);
  const batch = packed.batch;
  // Per-position outputs [B, T, X] are compared at the valid positions, per-sequence ones [B, X] row by row.
  const rows = shape.length === 3 ? packed.rows : Int32Array.from(ids.keys());
  const got = noGrad(() => run(enc, batch));
  let maxRef = 0, maxDiff = 0;
  rows.forEach((r, i) => {
    for (let k = 0; k < width; k++) {
      maxRef = Math.max(maxRef, Math.abs(want[r * width + k]));
      maxDiff = Math.max(maxDiff, Math.abs(got[i * width + k] - want[r * width + k]));
    }
  });
  return maxDiff / maxRef;
}
const hidden = (enc: BertEncoder, b: ReturnType<typeof packPadded>["batch"]) => enc.model.encode(b).toFloat32Array();

function minCosine(enc: BertEncoder): number {
  const want = bin("sentence_embedding");
  const d = ref.outputs.sentence_embedding.shape[1];
  const seqs = ids.map((row, b) => ({ ids: row.filter((_, t) => mask[b][t] === 1), typeIds: typeIds[b].filter((_, t) => mask[b][t] === 1) }));
  return Math.min(...enc.embedSequences(seqs, "mean", true).map((v, b) => {
    const w = want.subarray(b * d, (b + 1) * d);
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i < d; i++) { ab += v[i] * w[i]; aa += v[i] * v[i]; bb += w[i] * w[i]; }
    return ab / Math.sqrt(aa * bb);
  }));
}

test("HF → GGUF f32: llama.cpp's names, shapes and vocabulary; transformers' outputs", () => {
  const hf = loadEncoder(path.join(DIR, "base"), { repack: false });
  const out = path.join(tmp, "base-f32.gguf");
  writeEncoderGguf(out, hf, "f32");
  const ours = readGguf(out), theirs = readGguf(path.join(DIR, ref.gguf.file));
  // The same tensors, plus the pooler as llama.cpp's `cls` (its converter drops it; its loader takes it as optional).
  const shapes = (f: ReturnType<typeof readGguf>) => new Map(f.tensors.filter((t) => !t.name.startsWith("cls.")).map((t) => [t.name, t.dims.join("x")]));
  assert.deepEqual(shapes(ours), shapes(theirs));
  assert.deepEqual(ours.tensors.filter((t) => t.name.startsWith("cls.")).map((t) => t.name).sort(), hf.config.hasPooler ? ["cls.bias", "cls.weight"] : []);
  for (const key of ["tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.model", "bert.block_count", "bert.context_length",
    "bert.embedding_length", "bert.feed_forward_length", "bert.attention.head_count", "tokenizer.ggml.unknown_token_id",
    "tokenizer.ggml.seperator_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.mask_token_id", "bert.attention.causal"]) {
    assert.deepEqual(ours.metadata.get(key), theirs.metadata.get(key), key);
  }
  const back = loadEncoder(out);
  assert.ok(relError(back, "last_hidden_state", hidden) <= 1e-4);
  back.dispose();
  hf.dispose();
});

test("GGUF f16 / bf16 / q8_0 load back within their precision", () => {
  const hf = loadEncoder(path.join(DIR, "base"), { repack: false });
  // Tolerances: f16 keeps ~11 significant bits, bf16 ~8, q8_0 8 bits per 32-block (and q8_0 activations).
  const limits: Record<Exclude<EncoderExportType, "f32" | "q4_0">, { rel: number; cos: number }> = {
    f16: { rel: 2e-3, cos: 0.99999 }, bf16: { rel: 1.5e-2, cos: 0.9999 }, q8_0: { rel: 4e-2, cos: 0.9995 },
  };
  for (const [type, lim] of Object.entries(limits) as [keyof typeof limits, { rel: number; cos: number }][]) {
    const out = path.join(tmp, `base-${type}.gguf`);
    writeEncoderGguf(out, hf, type);
    assert.ok(readGguf(out).tensors.some((t) => t.type === type), `${type}: some tensor is ${type}`);
    const back = loadEncoder(out);
    const rel = relError(back, "last_hidden_state", hidden);
    const cos = minCosine(back);
    assert.ok(rel <= lim.rel && rel > 0, `${type}: relative error ${rel} (limit ${lim.rel})`);
    assert.ok(cos >= lim.cos, `${type}: sentence-embedding cosine ${cos} (limit ${lim.cos})`);
    back.dispose();
  }
  hf.dispose();
});

test("MLM and sequence-classification heads survive HF → GGUF → HF", () => {
  for (const [folder, output, run] of [
    ["mlm", "mlm_logits", (e: BertEncoder, b: ReturnType<typeof packPadded>["batch"]) => e.model.mlmLogits(e.model.encode(b)).toFloat32Array()],
    ["seqcls", "seqcls_logits", (e: BertEncoder, b: ReturnType<typeof packPadded>["batch"]) => e.model.sequenceLogits(e.model.encode(b), b).toFloat32Array()],
  ] as const) {
    const hf = loadEncoder(path.join(DIR, folder), { repack: false });
    const gguf = path.join(tmp, `${folder}.gguf`);
    writeEncoderGguf(gguf, hf, "f32");
    const fromGguf = loadEncoder(gguf, { repack: false });
    assert.equal(fromGguf.config.head, hf.config.head);
    assert.deepEqual(fromGguf.config.labels, hf.config.labels);
    assert.ok(relError(fromGguf, output, run) <= 1e-4, `${folder} via GGUF`);
    const dir = path.join(tmp, `${folder}-hf`);
    writeEncoderHf(dir, fromGguf);
    const again = loadEncoder(dir);
    assert.ok(relError(again, output, run) <= 1e-4, `${folder} via GGUF → HF`);
    for (const e of [hf, fromGguf, again]) e.dispose();
  }
});

test("GGUF → HF folder: vocab.txt gives the reference ids, outputs unchanged", () => {
  const gguf = loadEncoder(path.join(DIR, ref.gguf.file), { repack: false });
  const dir = path.join(tmp, "from-gguf");
  writeEncoderHf(dir, gguf);
  const hf = loadEncoder(dir);
  assert.ok(relError(hf, "last_hidden_state", hidden) <= 1e-4);
  ref.inputs.texts.forEach((texts, b) => {
    const s = hf.tokenize(texts[0], texts[1]);
    assert.deepEqual(s.ids, ids[b].filter((_, t) => mask[b][t] === 1), `row ${b}`);
  });
  gguf.dispose();
  hf.dispose();
});

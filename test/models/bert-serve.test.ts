// zhiyu serve with BERT encoders: the official openai client's embeddings.create against --embedding-model alone
// (vectors equal transformers' mean-pooled, L2-normalised sentence embeddings of ../shared/testdata/hf/bert; base64
// too), next to a chat model (each answers by its own name); /v1/rerank with a one-label cross-encoder orders a known
// set (its scores equal the classifier's logits, which the test computes the HF way through zhiyu classify's path);
// and clear errors: an empty document list, an unknown model, chat on an encoders-only server, token_type_ids
// beyond a model's segments, a folder with missing weights, a vocabulary larger than the embedding matrix.
import { test, after } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import OpenAI from "openai";
import { createBackend } from "../../src/backend/index.js";
import { setDefaultBackend } from "../../src/tensor/index.js";
import { loadEncoder } from "../../src/infer/encoder.js";
import { loadModel } from "../../src/infer/load.js";
import { startServer, type RunningServer } from "../../src/serve/server.js";
import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.js";

setDefaultBackend(createBackend());
const DIR = path.resolve("../shared/testdata/hf/bert");
const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-bert-serve-"));
const ref = JSON.parse(readFileSync(path.join(DIR, "reference.json"), "utf8")) as {
  inputs: { texts: string[][] }; outputs: Record<string, { file: string; shape: number[] }>;
};
const servers: RunningServer[] = [];
after(async () => { for (const s of servers) await s.close(); });

function bin(name: string): Float32Array {
  const buf = readFileSync(path.join(DIR, ref.outputs[name].file));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** A one-label cross-encoder made from seqcls/: its classifier row 0 (transformers' BertForSequenceClassification
 *  with num_labels 1 computes exactly that row's logit). */
function crossEncoderFolder(): string {
  const dir = path.join(tmp, "cross-encoder");
  mkdirSync(dir);
  const cfg = JSON.parse(readFileSync(path.join(DIR, "seqcls", "config.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...cfg, id2label: { 0: "LABEL_0" }, label2id: { LABEL_0: 0 }, num_labels: 1 }));
  for (const f of ["vocab.txt", "tokenizer_config.json"]) copyFileSync(path.join(DIR, "base", f), path.join(dir, f));
  const st = openSafetensors(path.join(DIR, "seqcls", "model.safetensors"));
  writeSafetensors(path.join(dir, "model.safetensors"), [...st.tensors.values()].map((t) => {
    const data = st.readTensorBytes(t.name);
    if (t.name === "classifier.weight") return { name: t.name, dtype: "F32" as const, shape: [1, t.shape[1]], data: data.subarray(0, t.shape[1] * 4) };
    if (t.name === "classifier.bias") return { name: t.name, dtype: "F32" as const, shape: [1], data: data.subarray(0, 4) };
    return { name: t.name, dtype: "F32" as const, shape: t.shape, data };
  }));
  return dir;
}

test("openai embeddings.create against an encoders-only server: transformers' sentence embeddings", async () => {
  const srv = await startServer({ model: null, embeddingModel: loadEncoder(path.join(DIR, "base")), port: 0 });
  servers.push(srv);
  const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "x", maxRetries: 0 });
  const texts = ref.inputs.texts.filter((t) => t.length === 1).map((t) => t[0]);
  const want = bin("sentence_embedding");
  const d = ref.outputs.sentence_embedding.shape[1];
  const rows = ref.inputs.texts.map((t, i) => [t, i] as const).filter(([t]) => t.length === 1).map(([, i]) => i);
  for (const format of ["float", "base64"] as const) {
    const res = await client.embeddings.create({ model: "base", input: texts, encoding_format: format });
    assert.equal(res.data.length, texts.length);
    res.data.forEach((e, k) => {
      const bytes = typeof e.embedding === "string" ? Buffer.from(e.embedding, "base64") : null;
      const v = bytes ? [...new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length))] : e.embedding as number[];
      const w = want.subarray(rows[k] * d, (rows[k] + 1) * d);
      assert.ok(Math.max(...v.map((x, j) => Math.abs(x - w[j]))) <= 1e-4 * Math.max(...[...w].map(Math.abs)), `${format} ${k}`);
    });
    assert.ok(res.usage.prompt_tokens > 0);
  }
  const models = await client.models.list();
  assert.deepEqual(models.data.map((m) => m.id), ["base"]);
  await assert.rejects(client.chat.completions.create({ model: "base", messages: [{ role: "user", content: "hi" }] }),
    (e: unknown) => e instanceof OpenAI.BadRequestError && /without a chat model/.test((e as Error).message));
  await assert.rejects(client.embeddings.create({ model: "nope", input: "x" }), (e: unknown) => e instanceof OpenAI.NotFoundError);
});

test("an encoder next to a chat model: each answers embeddings by its own name", async () => {
  const chat = await loadModel(path.resolve("../shared/testdata/gguf/stories260K.gguf"));
  const srv = await startServer({ model: chat, embeddingModel: loadEncoder(path.join(DIR, "base")), port: 0 });
  servers.push(srv);
  const client = new OpenAI({ baseURL: `${srv.url}/v1`, apiKey: "x", maxRetries: 0 });
  const a = await client.embeddings.create({ model: "base", input: "how old are you ?" });
  const b = await client.embeddings.create({ model: "stories260K", input: "how old are you ?" });
  assert.equal(a.data[0].embedding.length, ref.outputs.sentence_embedding.shape[1]);
  assert.equal(b.data[0].embedding.length, chat.embeddingDim);
  // The chat model is listed under its own name (src/infer/model-info.ts), as zhiyu serve lists it.
  assert.deepEqual((await client.models.list()).data.map((m) => m.id).sort(), ["base", "stories260K"]);
});

test("/v1/rerank: a cross-encoder's scores, best first, top_n; bad requests named", async () => {
  const dir = crossEncoderFolder();
  const reranker = loadEncoder(dir);
  const srv = await startServer({ model: null, rerankModel: reranker, port: 0 });
  servers.push(srv);
  const query = "how old are you ?";
  const documents = ["i am six years old , and you ?", "the man went to the store .", "我是中国人", "you are old"];
  // The scores the model gives each pair, through the classification path tested against transformers.
  const expected = reranker.classify(documents.map((d) => reranker.tokenize(query, d))).map((c) => c.logits[0]);
  const order = expected.map((s, i) => [s, i] as const).sort((x, y) => y[0] - x[0]).map(([, i]) => i);
  const post = (body: unknown, route = "/v1/rerank") => fetch(`${srv.url}${route}`, { method: "POST", body: JSON.stringify(body) });
  const res = await post({ model: "cross-encoder", query, documents, top_n: 3 });
  assert.equal(res.status, 200);
  const out = await res.json() as { results: { index: number; relevance_score: number }[] };
  assert.deepEqual(out.results.map((r) => r.index), order.slice(0, 3));
  out.results.forEach((r) => assert.ok(Math.abs(r.relevance_score - expected[r.index]) < 1e-6));
  const plain = await (await post({ query, documents }, "/rerank")).json() as { results: unknown[] };
  assert.equal(plain.results.length, documents.length);
  const empty = await post({ query, documents: [] });
  assert.equal(empty.status, 400);
  const err = await empty.json() as { error: { param: string; message: string } };
  assert.equal(err.error.param, "documents");
  assert.match(err.error.message, /empty/);
  const noQuery = await post({ documents });
  assert.equal(noQuery.status, 400);
  assert.equal((await noQuery.json() as { error: { param: string } }).error.param, "query");
});

test("load errors: a folder with missing weights, a vocabulary larger than the embedding matrix", () => {
  const noWeights = path.join(tmp, "no-weights");
  mkdirSync(noWeights);
  copyFileSync(path.join(DIR, "base", "config.json"), path.join(noWeights, "config.json"));
  assert.throws(() => loadEncoder(noWeights), /no-weights: the model's weights are missing .*model\.safetensors/);
  // A weight file without one layer's tensor: named in both spellings.
  const partial = path.join(tmp, "partial");
  mkdirSync(partial);
  copyFileSync(path.join(DIR, "base", "config.json"), path.join(partial, "config.json"));
  const st = openSafetensors(path.join(DIR, "base", "model.safetensors"));
  writeSafetensors(path.join(partial, "model.safetensors"), [...st.tensors.values()].filter((t) => t.name !== "encoder.layer.1.output.dense.weight")
    .map((t) => ({ name: t.name, dtype: "F32" as const, shape: t.shape, data: st.readTensorBytes(t.name) })));
  assert.throws(() => loadEncoder(partial), /missing tensor 'encoder\.layer\.1\.output\.dense\.weight'/);
  // vocab.txt with more tokens than the embedding matrix has rows.
  const bigVocab = path.join(tmp, "big-vocab");
  mkdirSync(bigVocab);
  copyFileSync(path.join(DIR, "base", "config.json"), path.join(bigVocab, "config.json"));
  symlinkSync(path.join(DIR, "base", "model.safetensors"), path.join(bigVocab, "model.safetensors"));
  const vocab = readFileSync(path.join(DIR, "base", "vocab.txt"), "utf8");
  writeFileSync(path.join(bigVocab, "vocab.txt"), vocab + Array.from({ length: 24 }, (_, i) => `extra${i}`).join("\n") + "\n");
  assert.throws(() => loadEncoder(bigVocab), /vocab\.txt: the vocabulary has \d+ tokens but the word-embedding matrix has \d+ rows/);
});

// zhiyu embed / classify / generate on BERT models, checked against transformers' outputs in
// ../shared/testdata/hf/bert: embeddings from texts (mean pooling, --normalize) and per-token hidden states
// (--pooling none), classification logits from {"ids", "token_type_ids"} lines, MLM logits of every position from
// generate --logits-out; and the clear errors for bad input lines and for token_type_ids on a model without them.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, mkdirSync, copyFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { run as embed } from "../../src/cli/commands/embed.js";
import { run as classify } from "../../src/cli/commands/classify.js";
import { run as generate } from "../../src/cli/commands/generate.js";
import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { captureCliOutput } from "../cli-output.js";

const DIR = path.resolve("../shared/testdata/hf/bert");
const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-bert-cli-"));
const ref = JSON.parse(readFileSync(path.join(DIR, "reference.json"), "utf8")) as {
  inputs: { input_ids: number[][]; token_type_ids: number[][]; attention_mask: number[][]; texts: string[][] };
  outputs: Record<string, { file: string; shape: number[] }>;
};
const { input_ids: ids, token_type_ids: typeIds, attention_mask: mask } = ref.inputs;
const valid = (row: number[], b: number) => row.filter((_, t) => mask[b][t] === 1);

function bin(name: string): Float32Array {
  const buf = readFileSync(path.join(DIR, ref.outputs[name].file));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}

/** Runs a command, returning the non-empty lines it printed. */
async function capture(fn: () => Promise<unknown>): Promise<string[]> {
  return (await captureCliOutput(fn)).text.split("\n").filter((l) => l !== "");
}

function jsonl(name: string, rows: unknown[]): string {
  const f = path.join(tmp, name);
  writeFileSync(f, rows.map((r) => JSON.stringify(r)).join("\n") + "\n");
  return f;
}

function maxRelDiff(got: ArrayLike<number>, want: ArrayLike<number>): number {
  let maxRef = 0, maxDiff = 0;
  for (let i = 0; i < want.length; i++) {
    maxRef = Math.max(maxRef, Math.abs(want[i]));
    maxDiff = Math.max(maxDiff, Math.abs(got[i] - want[i]));
  }
  return maxDiff / maxRef;
}

test("embed: texts → normalised mean embeddings; --pooling none → every token's hidden state", async () => {
  const texts = jsonl("texts.jsonl", ref.inputs.texts.map((t) => (t.length > 1 ? { text: t[0], text_pair: t[1] } : { text: t[0] })));
  const lines = await capture(() => embed(["--model", path.join(DIR, "base"), "--input-jsonl", texts, "--pooling", "mean", "--normalize", "--json"]));
  const want = bin("sentence_embedding");
  const d = ref.outputs.sentence_embedding.shape[1];
  assert.equal(lines.length, ids.length);
  lines.forEach((l, b) => {
    const v = (JSON.parse(l) as { embedding: number[] }).embedding;
    assert.equal(v.length, d);
    assert.ok(maxRelDiff(v, want.subarray(b * d, (b + 1) * d)) <= 1e-4, `row ${b}`);
  });
  const hidden = await capture(() => embed(["--model", path.join(DIR, "base"), "--input-jsonl", texts, "--pooling", "none", "--json"]));
  const lhs = bin("last_hidden_state");
  const [, t] = ref.outputs.last_hidden_state.shape;
  hidden.forEach((l, b) => {
    const rows = (JSON.parse(l) as { hidden: number[][] }).hidden;
    assert.equal(rows.length, valid(ids[b], b).length);
    assert.ok(maxRelDiff(rows.flat(), lhs.subarray(b * t * d, b * t * d + rows.length * d)) <= 1e-4, `row ${b} hidden`);
  });
});

test("classify: {ids, token_type_ids} lines → transformers' logits, label and softmax confidence", async () => {
  const input = jsonl("ids.jsonl", ids.map((row, b) => ({ ids: valid(row, b), token_type_ids: valid(typeIds[b], b) })));
  const lines = await capture(() => classify(["--model", path.join(DIR, "seqcls"), "--input-jsonl", input, "--json"]));
  const want = bin("seqcls_logits");
  const l = ref.outputs.seqcls_logits.shape[1];
  lines.forEach((line, b) => {
    const r = JSON.parse(line) as { logits: number[]; label: string; confidence: number };
    const row = want.subarray(b * l, (b + 1) * l);
    assert.ok(maxRelDiff(r.logits, row) <= 1e-4);
    const best = row.indexOf(Math.max(...row));
    assert.equal(r.label, `LABEL_${best}`);
    const z = [...row].reduce((a, x) => a + Math.exp(x), 0);
    assert.ok(Math.abs(r.confidence - Math.exp(row[best]) / z) < 1e-5);
  });
  await assert.rejects(classify(["--model", path.join(DIR, "base"), "--input-jsonl", input]), /no classification head/);
});

test("generate on BertForMaskedLM: --logits-out holds the MLM logits of every position", async () => {
  const out = path.join(tmp, "mlm.bin");
  const b = 0;
  await capture(() => generate(["--model", path.join(DIR, "mlm"), "--prompt-ids", valid(ids[b], b).join(","), "--logits-out", out, "--json"]));
  const bytes = readFileSync(out);
  const got = new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length));
  const [, t, v] = ref.outputs.mlm_logits.shape;
  const n = valid(ids[b], b).length;
  assert.equal(got.length, n * v);
  assert.ok(maxRelDiff(got, bin("mlm_logits").subarray(b * t * v, b * t * v + n * v)) <= 1e-4);
});

test("bad input lines and token_type_ids on a model without segment embeddings are named", async () => {
  await assert.rejects(embed(["--model", path.join(DIR, "base"), "--input-jsonl", jsonl("bad1.jsonl", [{ ids: [101, 99999] }])]),
    /bad1\.jsonl:1: token id 99999 is outside the vocabulary/);
  await assert.rejects(embed(["--model", path.join(DIR, "base"), "--input-jsonl", jsonl("bad2.jsonl", [{ text: "a" }, { words: "b" }])]),
    /bad2\.jsonl:2: expected "text"/);
  // A copy of base/ with one segment embedding (type_vocab_size 1, as RoBERTa-style models have).
  const dir = path.join(tmp, "one-segment");
  mkdirSync(dir);
  const cfg = JSON.parse(readFileSync(path.join(DIR, "base", "config.json"), "utf8")) as Record<string, unknown>;
  writeFileSync(path.join(dir, "config.json"), JSON.stringify({ ...cfg, type_vocab_size: 1 }));
  for (const f of ["vocab.txt", "tokenizer_config.json"]) copyFileSync(path.join(DIR, "base", f), path.join(dir, f));
  const st = openSafetensors(path.join(DIR, "base", "model.safetensors"));
  writeSafetensors(path.join(dir, "model.safetensors"), [...st.tensors.values()].map((t) => {
    const data = st.readTensorBytes(t.name);
    return t.name === "embeddings.token_type_embeddings.weight"
      ? { name: t.name, dtype: "F32" as const, shape: [1, t.shape[1]], data: data.subarray(0, t.shape[1] * 4) }
      : { name: t.name, dtype: t.dtype as "F32", shape: t.shape, data };
  }));
  await assert.rejects(embed(["--model", dir, "--input-jsonl", jsonl("types.jsonl", [{ ids: [101, 223, 102], token_type_ids: [0, 1, 1] }])]),
    /types\.jsonl:1: "token_type_ids" has non-zero values, but one-segment has no segment embeddings \(type_vocab_size 1\)/);
  const ok = await capture(() => embed(["--model", dir, "--input-jsonl", jsonl("ok.jsonl", [{ text: "how old are you ?" }]), "--json"]));
  assert.equal(ok.length, 1);
});

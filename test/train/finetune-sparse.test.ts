// `zhiyu finetune --task classify --sparse-ngrams` (a DIET-style sparse head beside the encoder) on the reference
// BERT MLM checkpoint (../shared/testdata/hf/bert) — the CLI test first: its quieted stdout would swallow the report
// of a test before it: the sparse head's gradient equals the hand-written softmax
// cross-entropy gradient scale · (p − onehot)ᵀ x / B; the finished folder's logits equal the encoder-only logits of the
// same weights plus scale · W·x computed here from the saved tensor and the (sklearn-checked) TF-IDF vectors, and
// `zhiyu classify` prints them;
// --freeze-encoder leaves every encoder weight as loaded; a run resumes with its sparse head; and the bad inputs
// (ids without text, a head tensor of the wrong shape, --sparse-ngrams on another task, a bad SPEC) are refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { crossEntropy, fromTypedArray, setDefaultBackend } from "../../src/tensor/index.js";
import { Rng } from "../../src/core/rng.js";
import { openSafetensors, writeSafetensors } from "../../src/io/safetensors.js";
import { SPARSE_HEAD_WEIGHT, TrainModel } from "../../src/train/model.js";
import { classLogits, FrozenEncoderCache, softmaxT } from "../../src/train/objectives/classify.js";
import { fitSparseNgrams, parseNgramSpec } from "../../src/tokenizers/sparse-ngrams.js";
import { loadEncoder } from "../../src/infer/encoder.js";
import { run as finetune } from "../../src/cli/commands/finetune.js";
import { run as classify } from "../../src/cli/commands/classify.js";
import { captureCliOutput } from "../cli-output.js";

setDefaultBackend(createBackend({ kind: "ref" }));
const CASE = path.resolve("../shared/testdata/hf/bert");
const tmp = (p: string) => mkdtempSync(path.join(os.tmpdir(), `zhiyu-sparse-${p}-`));

function mlmFolder(): string {
  const dir = tmp("mlm");
  for (const f of ["config.json", "model.safetensors"]) copyFileSync(path.join(CASE, "mlm", f), path.join(dir, f));
  for (const f of ["vocab.txt", "tokenizer.json", "tokenizer_config.json"]) copyFileSync(path.join(CASE, "base", f), path.join(dir, f));
  return dir;
}

async function quiet<T>(fn: () => Promise<T>): Promise<T> {
  return (await captureCliOutput(fn)).value;
}

async function captured(fn: () => Promise<unknown>): Promise<string> {
  return (await captureCliOutput(fn)).text;
}

const INTENTS = [["i want a refund for my order", "refund"], ["give my money back", "refund"], ["where is my parcel", "track"],
  ["when will my order arrive", "track"], ["hello there", "greet"], ["good morning", "greet"]] as const;
const lines = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";

test("finetune --sparse-ngrams --freeze-encoder: the folder's logits are the encoder's plus scale · W·x; resume; bad input", async () => {
  const model = mlmFolder(), dir = tmp("run");
  try {
    writeFileSync(path.join(dir, "train.jsonl"), lines(Array.from({ length: 36 }, (_, i) => ({ text: INTENTS[i % 6]![0], label: INTENTS[i % 6]![1] }))));
    writeFileSync(path.join(dir, "val.jsonl"), lines([...INTENTS.map(([text, label]) => ({ text, label })), { text: "what is the weather", label: "oos" }]));
    const out = path.join(dir, "cls");
    const args = ["--task", "classify", "--model", model, "--train", path.join(dir, "train.jsonl"), "--val", path.join(dir, "val.jsonl"), "--out", out,
      "--batch", "6", "--lr", "2e-3", "--oos-label", "oos", "--sparse-ngrams", "word:1-2,char_wb:2-4", "--sparse-min-df", "1", "--sparse-scale", "50",
      "--freeze-encoder", "--steps", "24", "--checkpoint-every", "6", "--keep-last", "10"];
    assert.equal(await quiet(() => finetune(args)), 0);
    const folder = path.join(out, "model");
    const finished = openSafetensors(path.join(folder, "model.safetensors")).readTensor(SPARSE_HEAD_WEIGHT) as Float32Array;
    // Resumed from step 12 (its sparse head and AdamW moments), the run ends where the uninterrupted one did.
    for (const step of [18, 24]) rmSync(path.join(out, "checkpoints", `step-${String(step).padStart(8, "0")}`), { recursive: true });
    rmSync(folder, { recursive: true });
    assert.equal(await quiet(() => finetune(args)), 0);
    assert.deepEqual(openSafetensors(path.join(folder, "model.safetensors")).readTensor(SPARSE_HEAD_WEIGHT), finished);
    const report = JSON.parse(readFileSync(path.join(folder, "finetune_report.json"), "utf8"));
    assert.ok(report.val_uncalibrated.accuracy === 1, `validation accuracy ${JSON.stringify(report)}`);
    const ngramsJson = JSON.parse(readFileSync(path.join(folder, "sparse_ngrams.json"), "utf8"));
    assert.equal(ngramsJson.head_scale, 50);

    // Frozen: every encoder tensor is the MLM checkpoint's, bit for bit.
    const before = openSafetensors(path.join(model, "model.safetensors")), after = openSafetensors(path.join(folder, "model.safetensors"));
    let compared = 0;
    for (const name of after.tensors.keys()) {
      if (/classifier|pooler|zhiyu_sparse/.test(name)) continue;
      const was = [...before.tensors.keys()].find((n) => n.replace(/^bert\./, "") === name.replace(/^bert\./, ""));
      assert.ok(was, `${name} is not in the MLM checkpoint`);
      assert.deepEqual(after.readTensor(name), before.readTensor(was), name);
      compared++;
    }
    assert.ok(compared > 10, `${compared} encoder tensors compared`);

    // Logits = encoder-only logits of the same folder + scale · W·x (W from the file, x from the TF-IDF vectors).
    const enc = loadEncoder(folder);
    assert.ok(enc.sparse);
    const w = after.readTensor(SPARSE_HEAD_WEIGHT) as Float32Array;
    const texts = ["where is my refund", "hello good morning", "completely new words"];
    const joint = enc.classify(texts.map((t) => enc.tokenize(t)));
    renameSync(path.join(folder, "sparse_ngrams.json"), path.join(dir, "kept.json"));
    const plain = loadEncoder(folder);
    assert.equal(plain.sparse, null);
    const dense = plain.classify(texts.map((t) => plain.tokenize(t)));
    const k = enc.config.numLabels, f = enc.sparse!.ngrams.dimension;
    texts.forEach((t, i) => {
      const x = enc.sparse!.ngrams.transform(t);
      for (let c = 0; c < k; c++) {
        let z = dense[i]!.logits[c]!;
        x.indices.forEach((j, n) => { z += 50 * w[c * f + j]! * x.values[n]!; });
        assert.ok(Math.abs(joint[i]!.logits[c]! - z) < 1e-4, `${t} class ${c}: ${joint[i]!.logits[c]} vs ${z}`);
      }
    });
    assert.ok(joint.some((j, i) => Math.abs(j.logits[0]! - dense[i]!.logits[0]!) > 1e-3), "the sparse head changed the logits");
    assert.equal(typeof joint[0]!.inScope, "boolean"); // the calibration still applies
    plain.dispose();
    renameSync(path.join(dir, "kept.json"), path.join(folder, "sparse_ngrams.json"));

    // zhiyu classify: text lines get the joint logits; an ids line is refused.
    const inputs = path.join(dir, "in.jsonl");
    writeFileSync(inputs, lines(texts.map((text) => ({ text }))));
    const printed = await captured(() => classify(["--model", folder, "--input-jsonl", inputs, "--json"]));
    printed.trim().split("\n").forEach((l, i) => {
      const o = JSON.parse(l);
      o.logits.forEach((z: number, c: number) => assert.ok(Math.abs(z - joint[i]!.logits[c]!) < 1e-5, `zhiyu classify line ${i}`));
      assert.equal(typeof o.in_scope, "boolean");
    });
    writeFileSync(inputs, lines([{ ids: enc.tokenize("hello").ids }]));
    await assert.rejects(captured(() => classify(["--model", folder, "--input-jsonl", inputs, "--json"])), /has ids but no text/);
    // ids without text are refused; a head tensor of the wrong shape is refused on load.
    assert.throws(() => enc.classify([{ ids: enc.tokenize("hello there").ids }]), /has ids but no text.*sparse_ngrams\.json/);
    enc.dispose();
    const tensors = [...after.tensors.keys()].map((name) => {
      const info = after.info(name);
      const data = after.readTensor(name) as Float32Array;
      return name === SPARSE_HEAD_WEIGHT ? { name, dtype: "F32" as const, shape: [info.shape[0]!, info.shape[1]! - 1], data: data.slice(0, info.shape[0]! * (info.shape[1]! - 1)) }
        : { name, dtype: "F32" as const, shape: info.shape, data };
    });
    writeSafetensors(path.join(folder, "model.safetensors"), tensors, { format: "pt" });
    assert.throws(() => loadEncoder(folder), /zhiyu_sparse_head\.weight' is \[3, \d+\], expected \[3 labels, \d+ features of sparse_ngrams\.json\]/);

    await assert.rejects(quiet(() => finetune(["--task", "tag", "--model", model, "--train", path.join(dir, "train.jsonl"), "--out", path.join(dir, "t"),
      "--sparse-ngrams", "word:1-2"])), /--sparse-ngrams is for --task classify/);
    await assert.rejects(quiet(() => finetune([...args.slice(0, 10), "--out", path.join(dir, "c2"), "--sparse-ngrams", "words:1-2"])), /'words:1-2' is not ANALYZER:MIN-MAX/);
  } finally {
    rmSync(model, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

test("the sparse head's gradient is scale · (softmax − onehot)ᵀ x / B", () => {
  const dir = mlmFolder();
  try {
    const labels = ["greet", "refund", "track"];
    const base = TrainModel.fromHfFolder(dir, "f32", { rng: new Rng(3), head: { head: "sequence-classification", labels } });
    const ngrams = fitSparseNgrams(INTENTS.map((x) => x[0]), parseNgramSpec("word:1-2,char_wb:2-3"), { minDf: 1 });
    const rng = new Rng(5);
    const w0 = Float32Array.from({ length: labels.length * ngrams.dimension }, () => rng.normal(0, 0.05));
    const model = base.withSparseHead(ngrams.dimension, w0);
    model.freezeEncoder();
    const tok = JSON.parse(readFileSync(path.join(dir, "tokenizer.json"), "utf8")).model.vocab as Record<string, number>;
    const ids = (t: string) => [tok["[CLS]"]!, ...t.split(" ").map((w) => tok[w] ?? tok["[UNK]"]!), tok["[SEP]"]!];
    const rows = INTENTS.map(([t]) => ids(t)), seq = Math.max(...rows.map((r) => r.length)), B = rows.length;
    const inputs = new Int32Array(B * seq);
    rows.forEach((r, i) => inputs.set(r, i * seq));
    const gold = INTENTS.map(([, l]) => labels.indexOf(l));
    const scale = 7;
    const batch = { inputs, rows: B, seq, sparse: INTENTS.map(([t]) => ngrams.transform(t)), examples: rows.map((r, i) => ({ ids: Int32Array.from(r), label: gold[i]! })) };
    // The frozen encoder's cached first-token states give the full forward pass's logits.
    const full = classLogits(model, batch, 0, { dimension: ngrams.dimension, scale }).toFloat32Array();
    const cache = new FrozenEncoderCache(0);
    classLogits(model, batch, 0, { dimension: ngrams.dimension, scale }, cache);
    const logits = classLogits(model, batch, 0, { dimension: ngrams.dimension, scale }, cache);
    logits.toFloat32Array().forEach((z, i) => assert.ok(Math.abs(z - full[i]!) < 1e-5, `cached logit ${i}: ${z} vs ${full[i]}`));
    const z = logits.toFloat32Array();
    // cross-entropy by hand on the logits, then its gradient with respect to W_sparse
    crossEntropy(logits, fromTypedArray(Int32Array.from(gold), [B])).backward();
    const grad = model.params.get(SPARSE_HEAD_WEIGHT)!.grad!.toFloat32Array();
    const want = new Float64Array(labels.length * ngrams.dimension);
    for (let r = 0; r < B; r++) {
      const p = softmaxT(z.subarray(r * labels.length, (r + 1) * labels.length), 1);
      const v = batch.sparse[r]!;
      for (let c = 0; c < labels.length; c++) {
        const d = (p[c]! - (c === gold[r] ? 1 : 0)) * scale / B;
        v.indices.forEach((j, n) => { want[c * ngrams.dimension + j] += d * v.values[n]!; });
      }
    }
    const maxRef = Math.max(...want.map(Math.abs));
    assert.ok(maxRef > 1e-3);
    want.forEach((x, i) => assert.ok(Math.abs(grad[i]! - x) <= 1e-5 * maxRef, `grad[${i}] ${grad[i]} vs ${x}`));
    // The frozen encoder got no gradients.
    for (const s of model.specs) if (!/classifier|pooler|zhiyu_sparse/.test(s.name)) assert.equal(model.params.get(s.name)!.grad, null, s.name);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// zhiyu finetune --task classify|tag|embed. Expected values are computed here independently of the code under test:
// the class-weighted cross-entropy from a softmax of transformers' BertForSequenceClassification logits
// (../shared/testdata/hf/bert), temperature scaling against a brute-force grid, the out-of-scope threshold on a
// hand-made case, word-piece alignment from the reference's own WordPiece tokens, seqeval's span reading on hand
// cases, InfoNCE from a hand-written softmax; then the three tasks end to end through the CLI on the reference
// model (output folder loads, calibration applied), and bad input rejected with FILE:LINE.
import { test } from "node:test";
import assert from "node:assert/strict";
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { createBackend } from "../../src/backend/index.js";
import { fromTypedArray, noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";
import { TrainModel } from "../../src/train/model.js";
import { ClassifyObjective, balancedClassWeights, chooseOosThreshold, fitTemperature, meanNll } from "../../src/train/objectives/classify.js";
import { alignWords, bioSpans, frameWords, spanScores, IGNORE_LABEL } from "../../src/train/objectives/tag.js";
import { infoNceLoss } from "../../src/train/objectives/contrastive.js";
import { FinetuneDataError, readClassifyFile, readPairFile, readTagFile } from "../../src/train/finetune-data.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { openSafetensors } from "../../src/io/safetensors.js";
import { loadEncoder } from "../../src/infer/encoder.js";
import { run as finetune } from "../../src/cli/commands/finetune.js";
import { captureCliOutput } from "../cli-output.js";

setDefaultBackend(createBackend({ kind: "ref" }));
const CASE = path.resolve("../shared/testdata/hf/bert");
interface Ref { inputs: { input_ids: number[][]; attention_mask: number[][]; token_type_ids: number[][]; tokens: string[][] }; outputs: Record<string, { file: string; shape: number[] }> }
const ref = JSON.parse(readFileSync(path.join(CASE, "reference.json"), "utf8")) as Ref;
function readBin(name: string): Float32Array {
  const buf = readFileSync(path.join(CASE, ref.outputs[name]!.file));
  return new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
}
const tmp = (name: string) => mkdtempSync(path.join(os.tmpdir(), `ft-${name}-`));

test("classify loss with balanced class weights equals the weighted softmax cross-entropy of transformers' logits", () => {
  const model = TrainModel.fromHfFolder(path.join(CASE, "seqcls"), "f32");
  const k = ref.outputs.seqcls_logits!.shape[1]!;
  const all = readBin("seqcls_logits");
  // The single-segment reference rows (the objective feeds no token_type_ids), one of them twice: classes 1, 1, 4.
  const single = ref.inputs.input_ids.map((_, r) => r).filter((r) => !ref.inputs.token_type_ids[r]!.some((t) => t !== 0));
  const pick = [single[0]!, single[0]!, single[1]!];
  const rows = pick.length;
  const labels = [1, 1, 4];
  const z = Float32Array.from(pick.flatMap((r) => Array.from(all.subarray(r * k, (r + 1) * k))));
  const examples = pick.map((r, i) => ({ ids: Int32Array.from(ref.inputs.input_ids[r]!.filter((_, t) => ref.inputs.attention_mask[r]![t] === 1)), label: labels[i]! }));
  const weights = balancedClassWeights(labels, k);
  // sklearn's balanced weights: n / (classes present · n_c) = 3 / (2·2) and 3 / (2·1).
  assert.ok(Math.abs(weights[1]! - 0.75) < 1e-7 && Math.abs(weights[4]! - 1.5) < 1e-7 && weights[0] === 0);
  let num = 0, den = 0;
  for (let r = 0; r < rows; r++) {
    const row = Array.from(z.subarray(r * k, (r + 1) * k));
    const m = Math.max(...row);
    const lse = m + Math.log(row.reduce((a, v) => a + Math.exp(v - m), 0));
    num += weights[labels[r]!]! * (lse - row[labels[r]!]!);
    den += weights[labels[r]!]!;
  }
  const objective = new ClassifyObjective(examples, [], rows, 0, 64, 1, weights);
  const batch = objective.nextBatch();
  const got = noGrad(() => tidy(() => objective.loss(model, batch).loss.item()));
  assert.ok(Math.abs(got - num / den) < 1e-5, `weighted loss ${got} vs ${num / den}`);
});

test("temperature scaling finds the NLL minimum of a brute-force grid; the OOS threshold keeps the accuracy budget", () => {
  const logits = [[4, 0, 0], [3, 1, 0], [0, 5, 0], [2, 2.5, 0], [0, 0, 6], [1, 0, 0.8], [3, 0, 2.9], [0, 4, 3]];
  const gold = [0, 1, 1, 0, 2, 2, 0, 1];
  const nll = (t: number) => logits.reduce((a, z, i) => {
    const e = z.map((v) => Math.exp(v / t));
    return a - Math.log(e[gold[i]!]! / e.reduce((x, y) => x + y, 0));
  }, 0) / logits.length;
  let best = 1, bestNll = Infinity;
  for (let t = 0.05; t <= 20; t += 0.001) if (nll(t) < bestNll) { bestNll = nll(t); best = t; }
  const t = fitTemperature(logits, gold);
  assert.ok(Math.abs(t - best) < 2e-3, `T ${t} vs grid ${best}`);
  assert.ok(Math.abs(meanNll(logits, gold, t) - bestNll) < 1e-6);
  // Hand case at T = 1: right answers with top probabilities 0.9, 0.8, 0.6 (and one wrong): budget 0 keeps all three
  // (threshold 0.6); a budget of one in three lets the least confident go (threshold 0.8).
  const p = (q: number) => [Math.log(q), Math.log((1 - q) / 2), Math.log((1 - q) / 2)];
  const z2 = [p(0.9), p(0.8), p(0.6), p(0.7)];
  const g2 = [0, 0, 0, 1];
  assert.ok(Math.abs(chooseOosThreshold(z2, g2, 1, null, 0) - 0.6) < 1e-9);
  assert.ok(Math.abs(chooseOosThreshold(z2, g2, 1, null, 0.25) - 0.8) < 1e-9);
});

test("tagging aligns tags to first word pieces (the reference's own WordPiece split) and reads spans as seqeval does", () => {
  const tok = loadTokenizer(path.join(CASE, "base"));
  const tokens = ref.inputs.tokens[0]!;
  const id = (t: string) => tok.tokenToId(t)!;
  const words = ["bought", "a", "gallon", "of", "milk"];
  const ex = alignWords(words, [1, 0, 2, 0, 3], (w) => tok.encode(w, { addSpecialTokens: false }), id("[CLS]"), id("[SEP]"), 64, "test");
  // From the reference tokens: bought = b ##o ##u ##g ##h ##t, gallon = g ##a ##l ##l ##o ##n, milk = mi ##l ##k.
  const expectTokens = ["[CLS]", ...tokens.slice(8, 25), "[SEP]"];
  assert.deepEqual(Array.from(ex.ids, (i) => tok.idToToken(i)), expectTokens);
  const I = IGNORE_LABEL;
  assert.deepEqual(Array.from(ex.labels), [I, 1, I, I, I, I, I, 0, 2, I, I, I, I, I, 0, 3, I, I, I]);
  assert.deepEqual(Array.from(ex.firstPiece), [1, 7, 8, 14, 15]);
  const cut = alignWords(words, [1, 0, 2, 0, 3], (w) => tok.encode(w, { addSpecialTokens: false }), id("[CLS]"), id("[SEP]"), 10, "test");
  assert.deepEqual(Array.from(cut.firstPiece), [1, 7, -1, -1, -1], "truncation keeps a prefix of the words, as transformers' tokenizers do");
  assert.throws(() => alignWords(["a", ""], [0, 0], (w) => tok.encode(w, { addSpecialTokens: false }), id("[CLS]"), id("[SEP]"), 10, "f.jsonl:3"), /f\.jsonl:3: token 1 "" has no word pieces/);
  const skipped = frameWords(["a", "", "milk"], (w) => tok.encode(w, { addSpecialTokens: false }), id("[CLS]"), id("[SEP]"), 64, "skip", "desk");
  assert.deepEqual(Array.from(skipped.firstPiece), [1, -1, 2], "the desk's reading skips a word with no pieces");
  assert.deepEqual(bioSpans(["B-city", "I-city", "O", "I-date", "B-city", "B-city", "I-date"]), ["city:0:2", "date:3:4", "city:4:5", "city:5:6", "date:6:7"]);
  const s = spanScores([["B-x", "I-x", "O", "B-y"]], [["B-x", "I-x", "O", "O"]]);
  assert.deepEqual([s.precision, s.recall, s.wordAccuracy], [1, 0.5, 0.75]);
});

test("InfoNCE with in-batch negatives equals a hand-computed softmax over scaled similarities", () => {
  const a = [[1, 0], [0.6, 0.8]], b = [[0.8, 0.6], [0, 1]];
  const scale = 5;
  let expected = 0;
  for (let i = 0; i < 2; i++) {
    const s = b.map((v) => scale * (a[i]![0]! * v[0]! + a[i]![1]! * v[1]!));
    expected += (Math.log(s.reduce((x, y) => x + Math.exp(y), 0)) - s[i]!) / 2;
  }
  const got = noGrad(() => infoNceLoss(fromTypedArray(Float32Array.from(a.flat()), [2, 2]), fromTypedArray(Float32Array.from(b.flat()), [2, 2]), scale).item());
  assert.ok(Math.abs(got - expected) < 1e-5, `${got} vs ${expected}`);
});

test("bad fine-tuning data is refused with FILE:LINE and what to write", () => {
  const dir = tmp("bad");
  try {
    const f = (name: string, text: string) => { writeFileSync(path.join(dir, name), text); return path.join(dir, name); };
    assert.throws(() => readClassifyFile(f("a.jsonl", '{"text":"hi","label":"greet"}\n{"text":"x"}\n')), (e: Error) => e instanceof FinetuneDataError && /a\.jsonl:2: no label field/.test(e.message));
    assert.throws(() => readClassifyFile(f("b.jsonl", '{"text":"hi","label":"g"}\n\nnot json\n')), /b\.jsonl:3: not valid JSON/);
    assert.deepEqual(readClassifyFile(f("c.csv", 'label,text\ngreet,"hello, you"\nbye,"say ""bye"""\n')).map((e) => [e.text, e.label]), [["hello, you", "greet"], ['say "bye"', "bye"]]);
    assert.throws(() => readClassifyFile(f("d.tsv", "hi\tgreet\nbye\n")), /d\.tsv:2: 1 fields, but the first row has 2/);
    assert.throws(() => readTagFile(f("e.jsonl", '{"tokens":["a","b"],"tags":["O"]}\n')), /e\.jsonl:1: 2 tokens but 1 tags/);
    assert.throws(() => readTagFile(f("g.conll", "a O\nb X-city\n")), /g\.conll:1: tag 1 is "X-city"; BIO tags/);
    assert.deepEqual(readTagFile(f("h.conll", "a O\nb B-x\n\nc I-x\n")).map((s) => s.where), [`${dir}/h.conll:1`, `${dir}/h.conll:4`]);
    assert.throws(() => readPairFile(f("i.jsonl", '{"query":"a","positive":""}\n')), /i\.jsonl:1: "positive" is ""/);
    assert.throws(() => readClassifyFile(f("j.xml", "<x/>")), /unknown file type '\.xml'/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

/** The reference MLM checkpoint with the base folder's tokenizer: what a user fine-tunes. */
function mlmFolder(): string {
  const dir = tmp("mlm");
  for (const f of ["config.json", "model.safetensors"]) copyFileSync(path.join(CASE, "mlm", f), path.join(dir, f));
  for (const f of ["vocab.txt", "tokenizer.json", "tokenizer_config.json"]) copyFileSync(path.join(CASE, "base", f), path.join(dir, f));
  return dir;
}

async function quiet<T>(fn: () => Promise<T>): Promise<T> {
  return (await captureCliOutput(fn)).value;
}

test("zhiyu finetune: classify (calibrated, out of scope), tag and embed train, write OUT/model, and load back", async () => {
  const model = mlmFolder(), dir = tmp("run");
  try {
    const lines = (rows: object[]) => rows.map((r) => JSON.stringify(r)).join("\n") + "\n";
    const intents = [["i want a refund for my order", "refund"], ["give my money back", "refund"], ["where is my parcel", "track"],
      ["when will my order arrive", "track"], ["hello there", "greet"], ["good morning", "greet"]];
    writeFileSync(path.join(dir, "train.jsonl"), lines(Array.from({ length: 36 }, (_, i) => ({ text: intents[i % 6]![0], label: intents[i % 6]![1] }))));
    writeFileSync(path.join(dir, "val.jsonl"), lines([...intents.map(([text, label]) => ({ text, label })), { text: "what is the weather", label: "oos" }]));
    const out = path.join(dir, "cls");
    assert.equal(await quiet(() => finetune(["--task", "classify", "--model", model, "--train", path.join(dir, "train.jsonl"), "--val", path.join(dir, "val.jsonl"),
      "--out", out, "--batch", "6", "--epochs", "4", "--lr", "2e-3", "--oos-label", "oos", "--oos-budget", "0"])), 0);
    const report = JSON.parse(readFileSync(path.join(out, "model", "finetune_report.json"), "utf8"));
    const losses = readFileSync(path.join(out, "metrics.jsonl"), "utf8").split("\n").filter((l) => l.includes('"loss"')).map((l) => JSON.parse(l).loss as number);
    assert.ok(losses[losses.length - 1]! < losses[0]!, `loss ${losses[0]} → ${losses[losses.length - 1]}`);
    assert.ok(report.temperature > 0 && report.oos_threshold > 0 && report.val.examples === 7);
    const enc = loadEncoder(path.join(out, "model"));
    assert.deepEqual(enc.config.labels, ["greet", "refund", "track"]);
    assert.equal(enc.calibration?.temperature, report.temperature);
    const [c] = enc.classify([{ ids: enc.tokenizer.encode("hello there", { addSpecialTokens: true }) }]);
    assert.equal(typeof c!.inScope, "boolean");
    enc.dispose();
    // An unknown label in the validation file names its line.
    writeFileSync(path.join(dir, "val2.jsonl"), lines([{ text: "hi", label: "greet" }, { text: "bye", label: "farewell" }]));
    await assert.rejects(quiet(() => finetune(["--task", "classify", "--model", model, "--train", path.join(dir, "train.jsonl"), "--val", path.join(dir, "val2.jsonl"),
      "--out", path.join(dir, "cls2"), "--steps", "1"])), /val2\.jsonl:2: label "farewell" does not occur in the training data/);

    const tagRows = [{ tokens: ["book", "a", "table", "in", "london"], tags: ["O", "O", "O", "O", "B-city"] },
      { tokens: ["fly", "to", "new", "york", "tomorrow"], tags: ["O", "O", "B-city", "I-city", "B-date"] }];
    writeFileSync(path.join(dir, "tag.jsonl"), lines(Array.from({ length: 12 }, (_, i) => tagRows[i % 2]!)));
    assert.equal(await quiet(() => finetune(["--task", "tag", "--model", model, "--train", path.join(dir, "tag.jsonl"), "--val", path.join(dir, "tag.jsonl"),
      "--out", path.join(dir, "tag"), "--batch", "4", "--epochs", "4", "--lr", "3e-3"])), 0);
    const tagEnc = loadEncoder(path.join(dir, "tag", "model"));
    assert.deepEqual(tagEnc.config.labels, ["O", "B-city", "B-date", "I-city"]);
    assert.equal(tagEnc.config.head, "token-classification");
    tagEnc.dispose();
    // --freeze-encoder --train-top-layers 1: only the last encoder layer (and the head) moves; the rest stays bit-identical.
    assert.equal(await quiet(() => finetune(["--task", "tag", "--model", model, "--train", path.join(dir, "tag.jsonl"), "--val", path.join(dir, "tag.jsonl"),
      "--out", path.join(dir, "tag-top"), "--batch", "4", "--epochs", "2", "--lr", "3e-3", "--freeze-encoder", "--train-top-layers", "1"])), 0);
    const before = openSafetensors(path.join(model, "model.safetensors")), after = openSafetensors(path.join(dir, "tag-top", "model", "model.safetensors"));
    const top = `encoder.layer.${JSON.parse(readFileSync(path.join(model, "config.json"), "utf8")).num_hidden_layers - 1}.`;
    let moved = 0;
    for (const name of after.tensors.keys()) {
      const bare = name.replace(/^bert\./, "");
      const src = [bare, `bert.${bare}`].find((n) => before.tensors.has(n));
      if (!src) continue;
      const same = (after.readTensor(name) as Float32Array).every((v, i) => v === (before.readTensor(src) as Float32Array)[i]);
      if (name.includes(top)) moved += same ? 0 : 1;
      else assert.ok(same, `${name} changed under --freeze-encoder`);
    }
    assert.ok(moved > 0, "the top layer trained");
    await assert.rejects(quiet(() => finetune(["--task", "tag", "--model", model, "--train", path.join(dir, "tag.jsonl"), "--out", path.join(dir, "tag-x"),
      "--train-top-layers", "1"])), /--train-top-layers K goes with --freeze-encoder/);

    writeFileSync(path.join(dir, "pairs.tsv"), Array.from({ length: 12 }, (_, i) => [["how old are you", "i am six years old"], ["where is my parcel", "track my order"],
      ["good morning", "hello there"]][i % 3]!.join("\t")).join("\n") + "\n");
    assert.equal(await quiet(() => finetune(["--task", "embed", "--model", model, "--train", path.join(dir, "pairs.tsv"), "--val-fraction", "0.25",
      "--out", path.join(dir, "emb"), "--batch", "3", "--epochs", "2", "--lr", "1e-3"])), 0);
    const embEnc = loadEncoder(path.join(dir, "emb", "model"));
    assert.equal(embEnc.config.head, "none");
    assert.equal(embEnc.defaultPooling, "mean");
    assert.equal(embEnc.normalizeByDefault, true);
    const [v] = embEnc.embedSequences([{ ids: embEnc.tokenizer.encode("good morning", { addSpecialTokens: true }) }]);
    assert.ok(Math.abs(Math.hypot(...v!) - 1) < 1e-5);
    embEnc.dispose();
  } finally {
    rmSync(model, { recursive: true, force: true });
    rmSync(dir, { recursive: true, force: true });
  }
});

// The masked-LM objective: 15% of the maskable tokens per row, split 80/10/10 into [MASK] / random / unchanged,
// never a special token, whole words together (WordPiece "##" pieces; Chinese words cut by jieba, as BERT-wwm);
// its loss through the training model of a BERT checkpoint equals the cross-entropy computed from transformers'
// own MLM logits (../shared/testdata/hf/bert) at the trained positions; and the shared training loop runs it
// (zhiyu train --objective mlm): the loss falls and the checkpoint loads back as a BERT MLM model.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Jieba } from "@node-rs/jieba";
import { dict } from "@node-rs/jieba/dict.js";
import { Rng } from "../../src/core/rng.js";
import { createBackend } from "../../src/backend/index.js";
import { noGrad, setDefaultBackend } from "../../src/tensor/index.js";
import { IGNORE, maskTokens, mlmLoss, wordStartsFromVocabulary } from "../../src/train/objectives/mlm.js";
import { TrainModel } from "../../src/train/model.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { DEFAULT_OPTIONS, validateOptions } from "../../src/train/options.js";
import { runTraining } from "../../src/train/trainer.js";
import { loadEncoder } from "../../src/infer/encoder.js";

setDefaultBackend(createBackend({ kind: "ref" }));
const DIR = path.resolve("../shared/testdata/hf/bert");
const ref = JSON.parse(readFileSync(path.join(DIR, "reference.json"), "utf8")) as {
  inputs: { input_ids: number[][]; attention_mask: number[][] }; outputs: Record<string, { file: string; shape: number[] }>;
};
const specials = new Set([0, 100, 101, 102, 103]);

test("masking: 15% per row, 80/10/10, specials never chosen, targets are the originals", () => {
  const rng = new Rng(7);
  const rows = 200, seq = 128, vocab = 1000;
  const ids = new Int32Array(rows * seq);
  for (let r = 0; r < rows; r++) for (let t = 0; t < seq; t++) ids[r * seq + t] = t === 0 ? 101 : t === seq - 1 ? 102 : 104 + rng.int(vocab - 104);
  const { inputs, targets } = maskTokens(ids, seq, new Rng(1), { maskId: 103, vocabSize: vocab, specialIds: specials });
  let chosen = 0, masked = 0, kept = 0;
  for (let r = 0; r < rows; r++) {
    let inRow = 0;
    for (let t = 0; t < seq; t++) {
      const i = r * seq + t;
      if (targets[i] === IGNORE) { assert.equal(inputs[i], ids[i]); continue; }
      assert.ok(!specials.has(ids[i]), "a special token was chosen");
      assert.equal(targets[i], ids[i]);
      inRow++;
      if (inputs[i] === 103) masked++;
      else if (inputs[i] === ids[i]) kept++;
    }
    assert.equal(inRow, Math.round((seq - 2) * 0.15));
    chosen += inRow;
  }
  assert.ok(Math.abs(masked / chosen - 0.8) < 0.03, `[MASK] share ${masked / chosen}`);
  assert.ok(Math.abs(kept / chosen - 0.1) < 0.02, `unchanged share ${kept / chosen}`);
  // The same seed gives the same masks (resumable runs).
  assert.deepEqual(maskTokens(ids, seq, new Rng(1), { maskId: 103, vocabSize: vocab, specialIds: specials }).targets, targets);
});

test("whole-word masking: WordPiece pieces and jieba's Chinese words are chosen together", () => {
  const tok = loadTokenizer(path.join(DIR, "base"));
  const jieba = Jieba.withDict(dict);
  const starts = wordStartsFromVocabulary((id) => tok.idToToken(id), (text) => jieba.cut(text, false));
  // "bought" = b ##o ##u ##g ##h ##t, and 大学生 one jieba word.
  const en = Int32Array.from(tok.encode("he bought milk", { addSpecialTokens: true }));
  const zh = Int32Array.from(tok.encode("我有大学生", { addSpecialTokens: true }));
  const enTokens = [...en].map((id) => tok.idToToken(id) ?? "");
  assert.ok(enTokens.includes("##o"), `"bought" splits into pieces: ${enTokens.join(" ")}`);
  assert.deepEqual([...starts(en)], enTokens.map((t) => (t.startsWith("##") ? 0 : 1)));
  const chars = [...zh].map((id) => tok.idToToken(id));
  const da = chars.indexOf("大");
  assert.deepEqual(chars.slice(da - 2, da + 3), ["我", "有", "大", "学", "生"]);
  assert.deepEqual([...starts(zh)].slice(da - 2, da + 3), [1, 1, 1, 0, 0], "jieba: 我 / 有 / 大学生");
  for (let seed = 0; seed < 50; seed++) {
    const { targets } = maskTokens(en, en.length, new Rng(seed), { maskId: 103, vocabSize: 1000, specialIds: specials, probability: 0.5, wordStart: starts });
    const s = starts(en);
    for (let t = 1; t < en.length; t++) {
      if (s[t] === 0 && !specials.has(en[t])) assert.equal(targets[t] === IGNORE, targets[t - 1] === IGNORE, `seed ${seed}: piece ${t} split from its word`);
    }
  }
});

test("MLM loss through the BERT training model equals the cross-entropy of transformers' logits", () => {
  const model = TrainModel.fromHfFolder(path.join(DIR, "mlm"), "f32");
  const b = ref.inputs.attention_mask.findIndex((m) => m.every((x) => x === 1)); // an unpadded row
  const row = Int32Array.from(ref.inputs.input_ids[b]);
  const seq = row.length;
  // Train on the [MASK] position and two others, with made-up targets.
  const targets = new Int32Array(seq).fill(IGNORE);
  const picks = [row.indexOf(103), 2, seq - 2];
  picks.forEach((t, k) => { targets[t] = [370, 225, 142][k]; });
  const loss = noGrad(() => mlmLoss(model, row, targets, 1, seq).item());
  const buf = readFileSync(path.join(DIR, ref.outputs.mlm_logits.file));
  const logits = new Float32Array(buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength));
  const v = ref.outputs.mlm_logits.shape[2];
  let want = 0;
  for (const t of picks) {
    const l = logits.subarray((b * seq + t) * v, (b * seq + t + 1) * v);
    const m = Math.max(...l);
    const lse = m + Math.log(l.reduce((a, x) => a + Math.exp(x - m), 0));
    want += lse - l[targets[t]];
  }
  want /= picks.length;
  assert.ok(Math.abs(loss - want) < 1e-4 * Math.abs(want), `loss ${loss} vs ${want}`);
});

test("zhiyu train's loop with --objective mlm: a BERT checkpoint trains, its MLM loss falls, the checkpoint loads back", async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-bert-mlm-"));
  const tok = loadTokenizer(path.join(DIR, "base"));
  // A small corpus from the reference texts, as token rows ([CLS] … [SEP] per text), raw uint16.
  const texts = ["the man went to the store and bought a gallon of milk .", "how old are you ? i am six years old , and you ?",
    "我是中国人，我有大学生。", "the man is old and the milk is new ."];
  const ids = Array.from({ length: 40 }, (_, i) => tok.encode(texts[i % texts.length], { addSpecialTokens: true })).flat();
  const data = path.join(dir, "tokens.u16");
  writeFileSync(data, Buffer.from(Uint16Array.from(ids).buffer));
  const out = path.join(dir, "run");
  const specialIds = new Set<number>();
  for (let id = 0; id < tok.vocabSize; id++) if (tok.isSpecial(id)) specialIds.add(id);
  const quiet = { write: () => {}, isTTY: false };
  const options = validateOptions({
    ...DEFAULT_OPTIONS, init: path.join(DIR, "mlm"), data, tokenizer: path.join(DIR, "base"), out, objective: "mlm",
    batch: 4, seq: 16, steps: 12, lr: 3e-3, warmup: 0, schedule: "constant", weightDecay: 0, gradClip: 1, evalEvery: 0, keepLast: 1,
  });
  const r = await runTraining({
    options, backend: createBackend(), stdout: quiet, stderr: quiet,
    masking: { maskId: tok.tokenToId("[MASK]")!, vocabSize: tok.vocabSize, specialIds },
  });
  assert.equal(r.losses.length, 12);
  assert.ok(r.losses.every(Number.isFinite));
  const first = (r.losses[0] + r.losses[1] + r.losses[2]) / 3, last = (r.losses[9] + r.losses[10] + r.losses[11]) / 3;
  assert.ok(last < first, `MLM loss ${first} → ${last}`);
  const saved = loadEncoder(r.lastCheckpoint!.dir);
  assert.equal(saved.config.head, "mlm");
  assert.equal(saved.mlmLogits([{ ids: [101, 223, 103, 102] }])[0].length, 4 * saved.config.vocabSize);
  await assert.rejects(runTraining({ options: { ...options, objective: "causal-lm" }, backend: createBackend(), stdout: quiet, stderr: quiet }),
    /bert is an encoder model; train it with --objective mlm/);
  rmSync(dir, { recursive: true, force: true });
});

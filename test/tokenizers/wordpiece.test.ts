// WordPiece training against Hugging Face tokenizers' WordPieceTrainer (wordpiece-hf/reference.json, made by
// make_reference.py with Python tokenizers 0.23.2 from 40 runs, since HF breaks ties in a random order): the same
// special tokens and alphabet at the same ids, the same "##c" set, every token all HF runs learned and nothing no
// run learned; BertWordPieceTokenizer's ids under HF's vocabulary reproduced by our loader; our trained
// tokenizer.json giving @huggingface/tokenizers (an independent implementation) the ids ours gives; and the CLI.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { tokenizerFromHfJson } from "../../src/tokenizers/hf-json.js";
import { WordPieceTrainer, wordPieceTokenizerConfig, wordPieceTokenizerJson } from "../../src/tokenizers/train-wordpiece.js";
import { run as tokenizerCommand } from "../../src/cli/commands/tokenizer.js";

const DIR = path.resolve("test/tokenizers/wordpiece-hf");
interface Ref {
  vocab_size: number; min_frequency: number; lowercase: boolean; trained_sizes: number[];
  specials_and_alphabet: string[]; continuations: string[]; always: string[]; sometimes: string[]; ids: number[][];
}
const ref = JSON.parse(readFileSync(path.join(DIR, "reference.json"), "utf8")) as Ref;
const lines = readFileSync(path.join(DIR, "corpus.txt"), "utf8").split("\n").filter((l) => l.length > 0);

function trainOurs() {
  const trainer = new WordPieceTrainer({ vocabSize: ref.vocab_size, minFrequency: ref.min_frequency, lowercase: ref.lowercase });
  for (const l of lines) trainer.addText(l);
  return trainer.train();
}

test("the trained vocabulary agrees with HF's WordPieceTrainer wherever HF's own runs agree", () => {
  const t = trainOurs();
  const n = ref.specials_and_alphabet.length;
  assert.deepEqual(t.vocab.slice(0, n), ref.specials_and_alphabet, "special tokens and alphabet, in id order");
  assert.deepEqual(t.vocab.filter((s) => /^##.$/u.test(s)).sort(), [...ref.continuations].sort());
  assert.ok(ref.trained_sizes.includes(t.vocab.length), `size ${t.vocab.length}, HF: ${ref.trained_sizes.join(" or ")}`);
  const ours = new Set(t.vocab);
  for (const tok of ref.always) assert.ok(ours.has(tok), `every HF run learned ${JSON.stringify(tok)}`);
  const possible = new Set([...ref.always, ...ref.sometimes]);
  for (const tok of t.vocab) assert.ok(possible.has(tok), `no HF run learned ${JSON.stringify(tok)}`);
  // CJK characters are words of their own: none is merged with a neighbour.
  assert.ok(!t.vocab.some((s) => /\p{Script=Han}.*\p{Script=Han}/u.test(s)));
});

test("HF's vocab.txt through our loader gives BertWordPieceTokenizer's ids", () => {
  const tok = loadTokenizer(path.join(DIR, "hf-vocab.txt"));
  assert.equal(ref.ids.length, lines.length);
  lines.forEach((l, i) => assert.deepEqual(tok.encode(l, { addSpecialTokens: true }), ref.ids[i], `line ${i}`));
});

test("our trained tokenizer.json gives @huggingface/tokenizers the same ids as ours, held-out text included", () => {
  const t = trainOurs();
  const json = wordPieceTokenizerJson(t);
  const config = wordPieceTokenizerConfig(t);
  const ours = tokenizerFromHfJson(json, { config });
  const hf = new HfTokenizer(json as object, config as object);
  // The [CLS] A [SEP] / [CLS] A [SEP] B [SEP] templates of a transformers-saved BERT tokenizer.json (Python tokenizers
  // refuses a TemplateProcessing without `pair`).
  const hfBert = JSON.parse(readFileSync(path.resolve("../shared/testdata/hf/bert/base/tokenizer.json"), "utf8")) as { post_processor: Record<string, unknown> };
  const post = (json as { post_processor: Record<string, unknown> }).post_processor;
  assert.deepEqual([post.type, post.single, post.pair], [hfBert.post_processor.type, hfBert.post_processor.single, hfBert.post_processor.pair]);
  const extra = ["An unseen sentence about refunds and 包裹快递!", "ÀCCÉNTS and UPPER case", "数字 2026 与 email a@b.co"];
  for (const l of [...lines, ...extra]) {
    assert.deepEqual(ours.encode(l, { addSpecialTokens: true }), hf.encode(l).ids, `on ${JSON.stringify(l)}`);
  }
});

test("zhiyu tokenizer train --type wordpiece writes vocab.txt that loads; bad options are refused by name", async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), "wp-cli-"));
  try {
    const log = console.log;
    console.log = () => {};
    try {
      assert.equal(await tokenizerCommand(["train", "--type", "wordpiece", "--input", path.join(DIR, "corpus.txt"),
        "--vocab-size", String(ref.vocab_size), "--min-frequency", String(ref.min_frequency), "--out", out]), 0);
    } finally {
      console.log = log;
    }
    const vocab = readFileSync(path.join(out, "vocab.txt"), "utf8").split("\n").filter((l) => l);
    assert.deepEqual(vocab, trainOurs().vocab);
    const fromTxt = loadTokenizer(path.join(out, "vocab.txt"));
    const fromJson = loadTokenizer(out);
    for (const l of lines) assert.deepEqual(fromTxt.encode(l, { addSpecialTokens: true }), fromJson.encode(l, { addSpecialTokens: true }));
    await assert.rejects(tokenizerCommand(["train", "--type", "unigram", "--input", path.join(DIR, "corpus.txt"), "--vocab-size", "100", "--out", out]), /--type must be bpe or wordpiece/);
    await assert.rejects(tokenizerCommand(["train", "--type", "wordpiece", "--input", path.join(DIR, "corpus.txt"), "--vocab-size", "3", "--out", out]), /vocab size 3/);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

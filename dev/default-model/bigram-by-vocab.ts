// Bits per byte of the add-k token bigram on the recipe's held-out text, for a tokenizer folder and the recipe's
// training text: shows how the bigram baseline of issue 6 moves with the vocabulary size.
// Usage: node --import tsx dev/default-model/bigram-by-vocab.ts TOKENIZER_DIR TEXT_DIR
// Leaves out: the model side (use `zhiyu eval`).
import { readFileSync } from "node:fs";
import path from "node:path";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { bestBigram, fitBigram, readEvalDocuments, scoredStream } from "../../src/train/eval.js";

const [tokDir, textDir] = process.argv.slice(2);
const tok = loadTokenizer(tokDir!);
const ids: number[] = [];
for (const f of ["train_zh.txt", "train_en.txt"]) {
  for (const doc of readFileSync(path.join(textDir!, f), "utf8").split("\n\n")) {
    for (const id of tok.encode(doc)) ids.push(id);
  }
}
const counts = fitBigram(Int32Array.from(ids), tok.vocabSize);
for (const f of ["val_zh.txt", "val_en.txt"]) {
  const s = scoredStream(tok, readEvalDocuments(path.join(textDir!, f)));
  const b = bestBigram(counts, s);
  console.log(`${f}: vocab ${tok.vocabSize}, ${(s.bytes / b.figures.tokens).toFixed(2)} bytes/token, bigram ${b.figures.bitsPerByte.toFixed(4)} bits/byte (k ${b.k})`);
}

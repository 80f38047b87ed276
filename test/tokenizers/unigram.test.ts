// The SentencePiece Unigram tokenizer (T5's) from a tokenizer.json trained by dev/t5/train-unigram.py on the licensed
// text of ../shared/data (Python sentencepiece, then the `tokenizers` package's Unigram with byte fallback, NFKC,
// Metaspace and T5's sentinels): on every line of every data set in ../shared/data the ids equal what the Rust
// `tokenizers` library computed (one SHA-256 per set over the ids, saved by the dev script), a strided sample equals
// @huggingface/tokenizers (tokenizers.js, the JS port) line by line where no byte fallback is involved (tokenizers.js
// 0.2's Unigram has no byte fallback: it gives <unk> where the Rust library gives <0xXX> bytes), and the saved
// samples — with </s> and sentinels — equal the Rust ids in the clear. Sentinels <extra_id_N> are single special ids at the top of the range.
import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import path from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { fileLines, textSets } from "../../dev/tokenizers/shared-text.js";

const DIR = path.resolve("test/tokenizers/data/unigram");
const ref = JSON.parse(readFileSync(path.join(DIR, "reference.json"), "utf8")) as {
  sentinels: number; sets: Record<string, { lines: number; tokens: number; sha256: string }>;
  samples: Array<{ text: string; ids: number[] }>;
};
const ours = loadTokenizer(DIR);
const hf = new HfTokenizer(JSON.parse(readFileSync(path.join(DIR, "tokenizer.json"), "utf8")),
  JSON.parse(readFileSync(path.join(DIR, "tokenizer_config.json"), "utf8")));

test("unigram: the saved samples (with </s> and sentinels) equal the Rust tokenizers' ids", () => {
  assert.ok(ref.samples.length >= 10);
  for (const s of ref.samples) assert.deepEqual(ours.encode(s.text, { parseSpecial: true }), s.ids, JSON.stringify(s.text.slice(0, 80)));
});

test("unigram: sentinels are single special ids, <extra_id_0> the highest", () => {
  const top = ours.vocabSize - 1;
  assert.equal(ours.tokenToId("<extra_id_0>"), top);
  assert.equal(ours.tokenToId(`<extra_id_${ref.sentinels - 1}>`), top - ref.sentinels + 1);
  const ids = ours.encode("a <extra_id_0> b <extra_id_1>", { parseSpecial: true });
  assert.ok(ids.includes(top) && ids.includes(top - 1));
  assert.ok(ours.isSpecial(top));
  assert.equal(ours.decode(ours.encode("Hello world, 你好 🤖", { addSpecialTokens: false })), "Hello world, 你好 🤖");
});

test("unigram: every line of ../shared/data gives the Rust tokenizers' ids (per-set SHA-256), a sample also @huggingface/tokenizers'", () => {
  const sets = textSets();
  assert.deepEqual(sets.map((s) => s.name).sort(), Object.keys(ref.sets).sort(), "the data sets the reference covers");
  const isByte = new Uint8Array(ours.vocabSize);
  for (let id = 0; id < ours.vocabSize; id++) if (/^<0x[0-9A-F]{2}>$/.test(ours.idToToken(id) ?? "")) isByte[id] = 1;
  let compared = 0;
  for (const set of sets) {
    const want = ref.sets[set.name]!;
    const h = createHash("sha256");
    // Each line's ids then −1, little-endian int32, hashed in chunks.
    let chunk = new Int32Array(1 << 16), used = 0, lines = 0, tokens = 0;
    const flush = () => { h.update(new Uint8Array(chunk.buffer, 0, used * 4)); used = 0; };
    for (const file of set.files) {
      for (const line of fileLines(file)) {
        const ids = ours.encode(line, { addSpecialTokens: false });
        if (used + ids.length + 1 > chunk.length) {
          flush();
          if (ids.length + 1 > chunk.length) chunk = new Int32Array(ids.length + 1);
        }
        chunk.set(ids, used);
        chunk[used + ids.length] = -1;
        used += ids.length + 1;
        tokens += ids.length;
        if (lines++ % 61 === 0 && !ids.some((id) => isByte[id])) {
          assert.deepEqual(ids, hf.encode(line, { add_special_tokens: false }).ids, `${set.name} line ${lines - 1}: ${JSON.stringify(line.slice(0, 80))}`);
          compared++;
        }
      }
    }
    flush();
    assert.deepEqual({ lines, tokens, sha256: h.digest("hex") }, want, `${set.name}: ids differ from the Rust tokenizers' (dev/t5/unigram-parity.ts lists the lines)`);
  }
  assert.ok(compared > 10_000, `${compared} lines compared with @huggingface/tokenizers`);
});

test("unigram → GGUF `t5` vocabulary (llama.cpp's layout) → the same ids where llama.cpp's UGM rules agree with tokenizer.json's", async () => {
  const { mkdtempSync, rmSync } = await import("node:fs");
  const os = await import("node:os");
  const { writeGguf } = await import("../../src/io/gguf-writer.js");
  const { readGguf } = await import("../../src/io/gguf.js");
  const { ggufTokenizerMetadata } = await import("../../src/tokenizers/gguf-export.js");
  const tmp = mkdtempSync(path.join(os.tmpdir(), "zhiyu-unigram-gguf-"));
  try {
    const meta = ggufTokenizerMetadata({ tokenizerJson: JSON.parse(readFileSync(path.join(DIR, "tokenizer.json"), "utf8")),
      tokenizerConfig: JSON.parse(readFileSync(path.join(DIR, "tokenizer_config.json"), "utf8")) });
    const file = path.join(tmp, "vocab.gguf");
    writeGguf(file, { metadata: [["general.architecture", "t5"], ...meta], tensors: [] });
    const g = readGguf(file);
    assert.equal(g.metadata.get("tokenizer.ggml.model"), "t5");
    const types = g.metadata.get("tokenizer.ggml.token_type") as number[];
    const tokens = g.metadata.get("tokenizer.ggml.tokens") as string[];
    assert.equal(types[tokens.indexOf("<unk>")], 2);
    assert.equal(types[tokens.indexOf("</s>")], 3);
    assert.equal(types[tokens.indexOf("<0x41>")], 6);
    assert.equal(tokens.indexOf("<extra_id_0>"), tokens.length - 1);
    const fromGguf = loadTokenizer(file);
    assert.equal(fromGguf.vocabSize, ours.vocabSize);
    // llama.cpp's UGM has no byte fallback and drops leading/trailing spaces: compare where neither applies.
    const isByte = (id: number) => /^<0x[0-9A-F]{2}>$/.test(ours.idToToken(id) ?? "");
    let compared = 0;
    for (const set of textSets()) {
      const lines = set.files.flatMap((f) => fileLines(f)).filter((_, i) => i % 211 === 0);
      for (const line of lines) {
        if (line !== line.trim() || / {2}|[\t\n\r]/.test(line)) continue;
        const want = ours.encode(line, { parseSpecial: true });
        if (want.some(isByte)) continue;
        assert.deepEqual(fromGguf.encode(line, { parseSpecial: true }), want, `${set.name}: ${JSON.stringify(line.slice(0, 80))}`);
        compared++;
      }
    }
    assert.ok(compared > 1000, `${compared} lines compared`);
    const sentinel = ours.tokenToId("<extra_id_0>")!;
    assert.deepEqual(fromGguf.encode("The<extra_id_0>walks", { parseSpecial: true }), ours.encode("The<extra_id_0>walks", { parseSpecial: true }));
    assert.ok(fromGguf.encode("The<extra_id_0>walks", { parseSpecial: true }).includes(sentinel));
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
});

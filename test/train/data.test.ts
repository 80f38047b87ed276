// Token files (Zhiyu shards, llm.c files, nanoGPT raw uint16), the batch iterator (llm.c's order and the seeded
// shuffle) and `data prepare` document handling. Known answers: the llm.c fixture's 33 ids in both of its
// formats, and batch offsets worked out by hand from llm.c's loader rule.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import { spawnSync } from "node:child_process";
import path from "node:path";
import {
  encodeTokenFile, parseTokenFile, readTokenFile, tokenStreamFromFiles, writeTokenFile, resolveTokenPaths, openTokenStream,
} from "../../src/train/token-file.js";
import { BatchIterator, seededPermutation } from "../../src/train/batches.js";
import { extractDocuments, prepareData, isValidationDocument } from "../../src/train/data-prepare.js";
import type { Tokenizer } from "../../src/tokenizers/tokenizer.js";

const LLMC = path.resolve("../shared/testdata/llmc");

function tmp(): string {
  return mkdtempSync(path.join(os.tmpdir(), "zhiyu-train-data-"));
}

test("llm.c token file and raw uint16 file give the same 33 ids", () => {
  const a = readTokenFile(path.join(LLMC, "tokens.bin"));
  const b = readTokenFile(path.join(LLMC, "tokens.u16"));
  assert.equal(a.format, "llmc");
  assert.equal(b.format, "raw-u16");
  assert.equal(a.tokens.length, 33);
  assert.deepEqual([...a.tokens], [...b.tokens]);
  // The ids are "uniformly random in [0, 1000)".
  assert.ok([...a.tokens].every((t) => t < 1000));
  // Header values by hand: {20240520, 1, 33}.
  const raw = readFileSync(path.join(LLMC, "tokens.bin"));
  assert.equal(raw.readInt32LE(0), 20240520);
  assert.equal(raw.readInt32LE(8), 33);
});

test("Zhiyu shard: uint16 when the vocabulary fits, uint32 otherwise; header fields round-trip", () => {
  const small = encodeTokenFile([0, 5, 65535], 65536);
  assert.equal(small.byteLength, 32 + 3 * 2);
  assert.equal(new TextDecoder().decode(small.subarray(0, 8)), "ZHIYUTOK");
  const f = parseTokenFile(small, "small");
  assert.equal(f.format, "zhiyu");
  assert.ok(f.tokens instanceof Uint16Array);
  assert.deepEqual([...f.tokens], [0, 5, 65535]);
  assert.equal(f.vocabSize, 65536);
  const big = encodeTokenFile([70000, 1, 151935], 151936);
  assert.equal(big.byteLength, 32 + 3 * 4);
  const g = parseTokenFile(big, "big");
  assert.ok(g.tokens instanceof Uint32Array);
  assert.deepEqual([...g.tokens], [70000, 1, 151935]);
  assert.throws(() => encodeTokenFile([1000], 1000), /outside \[0, 1000\)/);
});

test("token file validation errors say what is wrong", () => {
  const good = encodeTokenFile([1, 2, 3, 4], 100);
  assert.throws(() => parseTokenFile(good.subarray(0, good.byteLength - 2), "t.bin"), /header says 4 tokens.*truncated/);
  const badVersion = good.slice();
  new DataView(badVersion.buffer).setUint32(8, 7, true);
  assert.throws(() => parseTokenFile(badVersion, "t.bin"), /version 7; this build reads version 1/);
  const badId = good.slice();
  new DataView(badId.buffer).setUint16(32 + 2, 500, true);
  assert.throws(() => parseTokenFile(badId, "t.bin"), /id 500, not below the vocabulary size 100/);
  const llmc = new Uint8Array(readFileSync(path.join(LLMC, "tokens.bin")));
  assert.throws(() => parseTokenFile(llmc.subarray(0, 500), "l.bin"), /shorter than its 1024-byte header/);
  assert.throws(() => parseTokenFile(llmc.subarray(0, llmc.byteLength - 2), "l.bin"), /llm.c header says 33 tokens/);
  const v2 = llmc.slice();
  new DataView(v2.buffer).setInt32(4, 2, true);
  assert.throws(() => parseTokenFile(v2, "l.bin"), /version 2; only version 1/);
  assert.throws(() => parseTokenFile(new Uint8Array(7), "odd.bin"), /read as raw uint16.*odd/);
});

test("sequential batches follow llm.c's loader: p = k·B·T, wrap when p + B·T + 1 > n", () => {
  const ids = Uint16Array.from({ length: 100 }, (_, i) => i);
  const stream = tokenStreamFromFiles([{ path: "x", format: "raw-u16", tokens: ids, vocabSize: null }]);
  const it = new BatchIterator(stream, { batch: 2, seq: 4, shuffle: null });
  // B·T = 8; p = 0, 8, …, 88 fit (88 + 9 = 97 ≤ 100); p = 96 does not, so batch 12 starts again at 0.
  const expectedP = [0, 8, 16, 24, 32, 40, 48, 56, 64, 72, 80, 88, 0, 8];
  for (const p of expectedP) {
    const b = it.next();
    assert.equal(b.position.index, p);
    assert.deepEqual([...b.inputs], [p, p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7]);
    assert.deepEqual([...b.targets], [p + 1, p + 2, p + 3, p + 4, p + 5, p + 6, p + 7, p + 8]);
  }
  // A file of exactly B·T + 1 ids gives the same batch every step (the llm.c fixture).
  const fixture = openTokenStream([path.join(LLMC, "tokens.bin")]);
  const it2 = new BatchIterator(fixture, { batch: 2, seq: 16, shuffle: null });
  const first = it2.next();
  const second = it2.next();
  assert.deepEqual(first.inputs, second.inputs);
  assert.equal(second.position.index, 0);
  assert.throws(() => new BatchIterator(fixture, { batch: 4, seq: 16, shuffle: null }),
    /batch larger than the data: --batch 4 × --seq 16 \+ 1 = 65 tokens, but the data has 33/);
});

test("shuffled batches: every row once per epoch, seeded, resumable from a position", () => {
  const ids = Uint16Array.from({ length: 161 }, (_, i) => i);
  const stream = tokenStreamFromFiles([{ path: "x", format: "raw-u16", tokens: ids, vocabSize: null }]);
  const mk = (seed: number) => new BatchIterator(stream, { batch: 4, seq: 10, shuffle: seededPermutation(seed) });
  const it = mk(1);
  assert.equal(it.batchesPerEpoch(), 4); // 16 rows of 11 tokens at stride 10, 4 per batch
  const starts = new Set<number>();
  const epoch0: number[][] = [];
  for (let k = 0; k < 4; k++) {
    const b = it.next();
    assert.equal(b.position.epoch, 0);
    for (let r = 0; r < 4; r++) {
      const row = [...b.inputs.subarray(r * 10, r * 10 + 10)];
      assert.equal(row[0]! % 10, 0);
      assert.deepEqual(row, Array.from({ length: 10 }, (_, i) => row[0]! + i));
      assert.equal(b.targets[r * 10 + 9], row[0]! + 10);
      starts.add(row[0]!);
    }
    epoch0.push([...b.inputs]);
  }
  assert.equal(starts.size, 16);
  const e1 = it.next();
  assert.deepEqual(e1.position, { epoch: 1, index: 0 });
  assert.notDeepEqual([...e1.inputs], epoch0[0]);
  // Same seed → same order; a new iterator started at a saved position continues identically.
  const again = mk(1);
  assert.deepEqual([...again.next().inputs], epoch0[0]);
  const saved = it.position;
  const a = it.next();
  const resumed = new BatchIterator(stream, { batch: 4, seq: 10, shuffle: seededPermutation(1), position: saved });
  assert.deepEqual([...resumed.next().inputs], [...a.inputs]);
  assert.notDeepEqual([...mk(2).next().inputs], epoch0[0]);
  // skip(k) = k calls of next().
  const s1 = mk(3);
  const s2 = mk(3);
  s1.skip(5);
  for (let i = 0; i < 5; i++) s2.next();
  assert.deepEqual(s1.position, s2.position);
});

test("document extraction from text, JSON and JSONL shapes in ../shared/data", () => {
  assert.deepEqual(extractDocuments("a\n\nb\n \nc", "x.txt", { split: "blank-line" }), ["a", "b", "c"]);
  assert.deepEqual(extractDocuments("a\n\nb", "x.txt"), ["a\n\nb"]);
  assert.deepEqual(extractDocuments('{"text":"one"}\n\n{"content":"two","x":1}\n"three"\n', "x.jsonl"), ["one", "two", "three"]);
  // alpaca-style records: all string fields joined.
  assert.deepEqual(extractDocuments('[{"instruction":"Do","input":"","output":"Done"}]', "a.json"), ["Do\nDone"]);
  // lccc-style: {"train": [[turn, turn], …]} → one document per dialogue.
  assert.deepEqual(extractDocuments('{"valid":[["你好","再见"],["x"]]}', "l.json"), ["你好\n再见", "x"]);
  assert.deepEqual(extractDocuments('{"chosen":"c","rejected":"r"}', "h.jsonl", { field: "chosen" }), ["c"]);
  assert.throws(() => extractDocuments('{"a":"c"}', "h.jsonl", { field: "chosen" }), /no field "chosen".*--field/);
  assert.throws(() => extractDocuments("{oops", "h.jsonl"), /h.jsonl:1: not valid JSON/);
  // Chat records: the turns' text, not the role names; ShareGPT turns with the record's other strings in field order.
  assert.deepEqual(extractDocuments('{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}],"label":true}', "k.jsonl"),
    ["hi\nyo"]);
  assert.deepEqual(extractDocuments('[{"conversations":[{"from":"human","value":"q"},{"from":"gpt","value":"a"}],"tools":"[]"}]', "g.json"),
    ["q\na\n[]"]);
  const kto = extractDocuments(readFileSync("../shared/data/llamafactory-demo/kto_en_demo.json", "utf8"), "kto_en_demo.json");
  const ktoFirst = JSON.parse(readFileSync("../shared/data/llamafactory-demo/kto_en_demo.json", "utf8"))[0].messages as { content: string }[];
  assert.equal(kto[0], ktoFirst.map((m) => m.content).join("\n"));
  const alpaca = extractDocuments(readFileSync("../shared/data/llamafactory-demo/alpaca_en_demo.json", "utf8"), "alpaca_en_demo.json");
  assert.ok(alpaca.length > 100);
});

/** A byte-level tokenizer: id = UTF-8 byte, 256 = EOS. Enough to test data preparation. */
function byteTokenizer(withBos: boolean): Tokenizer {
  const enc = new TextEncoder();
  return {
    kind: "bpe", vocabSize: 257, bosTokenId: withBos ? 256 : null, eosTokenId: 256, stopTokenIds: [256], padTokenId: null,
    encode: (text) => [...enc.encode(text)],
    decode: (ids) => new TextDecoder().decode(Uint8Array.from(ids.filter((i) => i < 256))),
    createStreamDecoder: () => ({ push: () => "", flush: () => "" }),
    idToToken: (id) => String(id), tokenToId: (t) => Number(t), tokenBytes: () => new Uint8Array(), isSpecial: (id) => id === 256,
    protectSpecialText: (text) => text,
  };
}

test("prepareData writes shards with a delimiter before each document and a spread validation split", () => {
  const dir = tmp();
  try {
    const input = path.join(dir, "docs.jsonl");
    const docs = Array.from({ length: 20 }, (_, i) => `doc${i}`);
    writeFileSync(input, docs.map((d) => JSON.stringify({ text: d })).join("\n"));
    const stats = prepareData(byteTokenizer(false), { inputs: [input], outDir: path.join(dir, "out"), valFraction: 0.1, shardTokens: 50 });
    assert.equal(stats.train.documents + stats.val.documents, 20);
    assert.equal(stats.val.documents, 2);
    assert.equal(stats.bytesPerToken, 2);
    assert.equal(stats.delimiterId, 256);
    const totalTokens = docs.reduce((n, d) => n + d.length + 1, 0);
    assert.equal(stats.train.tokens + stats.val.tokens, totalTokens);
    assert.ok(stats.train.shards.length > 1);
    const trainStream = openTokenStream(resolveTokenPaths(path.join(dir, "out"), "train"));
    assert.equal(trainStream.length, stats.train.tokens);
    assert.equal(trainStream.vocabSize, 257);
    const ids = new Int32Array(8);
    trainStream.copyTo(0, 8, ids);
    assert.deepEqual([...ids], [256, ..."doc0".split("").map((c) => c.charCodeAt(0)), 256, 100, 111]);
    assert.equal([...Array(20).keys()].filter((i) => isValidationDocument(i, 0.1)).length, 2);
    // One text document and a fraction: the token stream is cut instead.
    const one = path.join(dir, "one.txt");
    writeFileSync(one, "x".repeat(99));
    const s2 = prepareData(byteTokenizer(true), { inputs: [one], outDir: path.join(dir, "out2"), valFraction: 0.1 });
    assert.equal(s2.train.tokens, 90);
    assert.equal(s2.val.tokens, 10);
    assert.ok(Math.abs(s2.charsPerToken - 99 / 100) < 1e-9);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("writeTokenFile then readTokenFile round-trips", () => {
  const dir = tmp();
  try {
    const p = path.join(dir, "a.bin");
    writeTokenFile(p, [3, 1, 4, 1, 5], 10);
    assert.deepEqual([...readTokenFile(p).tokens], [3, 1, 4, 1, 5]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("zhiyu data prepare with GPT-2's vocabulary writes llama.cpp's token ids, each document after <|endoftext|>", () => {
  const vocabDir = path.resolve("../shared/testdata/llama-vocab");
  const inputs = readFileSync(path.join(vocabDir, "ggml-vocab-gpt-2.gguf.inp"), "utf8").split("\n__ggml_vocab_test__\n");
  const outputs = readFileSync(path.join(vocabDir, "ggml-vocab-gpt-2.gguf.out"), "utf8").split("\n");
  const docs: string[] = [];
  const expected: number[] = [];
  for (let i = 0; i < 20; i++) {
    if (inputs[i]!.trim() === "") continue; // data prepare drops empty documents
    docs.push(inputs[i]!);
    expected.push(50256, ...outputs[i]!.trim().split(/\s+/).map(Number));
  }
  const dir = tmp();
  try {
    const input = path.join(dir, "docs.jsonl");
    writeFileSync(input, docs.map((d) => JSON.stringify({ text: d })).join("\n") + "\n");
    const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", "data", "prepare", "--tokenizer",
      path.join(vocabDir, "ggml-vocab-gpt-2.gguf"), "--input", input, "--out", path.join(dir, "out"), "--json"], { encoding: "utf8" });
    assert.equal(r.status, 0, r.stderr);
    const stats = JSON.parse(r.stdout) as { train: { documents: number; tokens: number }; vocabSize: number; bytesPerToken: number };
    assert.equal(stats.train.documents, docs.length);
    assert.equal(stats.vocabSize, 50257);
    assert.equal(stats.bytesPerToken, 2);
    const shard = readTokenFile(path.join(dir, "out", "train_000000.bin"));
    assert.equal(shard.vocabSize, 50257);
    assert.deepEqual([...shard.tokens], expected);
    const bad = spawnSync(process.execPath, ["bin/zhiyu.mjs", "data", "prepare", "--tokenizer", "x", "--out", dir], { encoding: "utf8" });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /at least one --input FILE is required/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

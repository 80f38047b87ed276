// BERT GGUF files that llama.cpp can load: `zhiyu convert --drop-mlm-head` writes the bare encoder of a masked-LM
// checkpoint (no mlm.* tensors, which llama.cpp refuses) with the same sentence embeddings, a plain conversion says
// on stderr how to get such a file, and `zhiyu init --arch bert --vocab-from` takes a BERT vocabulary GGUF (which
// carries tokenizer.ggml.token_type_count, a key the model writes too) and gives a model that embeds text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readGguf } from "../../src/io/gguf.js";
import { loadEncoder } from "../../src/infer/encoder.js";

const CASE = path.resolve("../shared/testdata/hf/bert");
const zhiyu = (...args: string[]) => spawnSync(process.execPath, ["bin/zhiyu.mjs", ...args], { encoding: "utf8" });

test("convert --drop-mlm-head: no mlm.* tensors, head none, the same embeddings; without it stderr names the flag", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-bert-gguf-"));
  try {
    const kept = path.join(dir, "kept.gguf"), bare = path.join(dir, "bare.gguf");
    const a = zhiyu("convert", "--from", path.join(CASE, "mlm"), "--to", kept, "--type", "f32");
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stderr, /--drop-mlm-head/);
    assert.ok(readGguf(kept).tensors.some((t) => t.name.startsWith("mlm.")));
    const b = zhiyu("convert", "--from", path.join(CASE, "mlm"), "--to", bare, "--type", "f32", "--drop-mlm-head");
    assert.equal(b.status, 0, b.stderr);
    assert.match(b.stdout, /head none/);
    const names = readGguf(bare).tensors.map((t) => t.name);
    assert.ok(!names.some((n) => n.startsWith("mlm.")), names.join(", "));
    assert.equal(names.length, readGguf(kept).tensors.length - readGguf(kept).tensors.filter((t) => t.name.startsWith("mlm.")).length);
    const seq = [{ ids: [2, 7, 11, 13, 3] }];
    const [ea, eb] = [kept, bare].map((f) => {
      const enc = loadEncoder(f);
      try {
        return enc.embedSequences(seq)[0]!;
      } finally {
        enc.dispose();
      }
    });
    assert.deepEqual(Array.from(eb!), Array.from(ea!));
    const hf = zhiyu("convert", "--from", path.join(CASE, "mlm"), "--to", path.join(dir, "hf"), "--drop-mlm-head");
    assert.notEqual(hf.status, 0);
    assert.match(hf.stderr, /--drop-mlm-head applies to GGUF output/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("init --arch bert --vocab-from a BERT GGUF: written once per key, and the model embeds text", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-bert-init-"));
  try {
    const out = path.join(dir, "tiny.gguf");
    const r = zhiyu("init", "--arch", "bert", "--preset", "tiny", "--seed", "3", "--vocab-from", path.join(CASE, "gguf", "bert-f32.gguf"), "--out", out);
    assert.equal(r.status, 0, r.stderr);
    const keys = [...readGguf(out).metadata.keys()];
    assert.equal(keys.filter((k) => k === "tokenizer.ggml.token_type_count").length, 1);
    const enc = loadEncoder(out), folder = loadEncoder(path.join(CASE, "base"));
    try {
      const seq = enc.tokenize("the cat was here");
      assert.deepEqual(seq.ids, folder.tokenize("the cat was here").ids, "the vocabulary GGUF tokenises as the HF folder of the same vocabulary");
      assert.equal(enc.embedSequences([seq])[0]!.length, enc.config.hiddenSize);
    } finally {
      enc.dispose();
      folder.dispose();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// Every llama.cpp tokenizer test vector (../shared/testdata/llama-vocab/*.inp/.out, produced by Hugging Face
// transformers) must come out exactly, with the GGUF vocabulary and — where a tokenizer.json of the same
// tokenizer exists — with the tokenizer.json too. Also llama.cpp's own tokenization of the model prompts in
// ../shared/testdata/gguf (BOS included exactly when the vocabulary adds it).
import { test } from "node:test";
import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import path from "node:path";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import type { Tokenizer } from "../../src/tokenizers/tokenizer.js";
import { LLAMA3_JSON_DIR, QWEN_JSON_DIR, VOCAB_DIR, readVocabCases, vocabFor } from "./helpers.js";

const names = readdirSync(VOCAB_DIR).filter((f) => f.endsWith(".gguf.inp")).map((f) => f.slice("ggml-vocab-".length, -".gguf.inp".length)).sort();
const cache = new Map<string, Tokenizer>();
const load = (p: string): Tokenizer => {
  let t = cache.get(p);
  if (!t) cache.set(p, (t = loadTokenizer(p)));
  return t;
};

function checkAll(tok: Tokenizer, name: string, roundTrip: boolean): void {
  for (const [i, c] of readVocabCases(name).entries()) {
    const got = tok.encode(c.text, { addSpecialTokens: false });
    assert.deepEqual(got, c.ids, `${name} case ${i} ${JSON.stringify(c.text)}`);
    if (roundTrip) assert.equal(tok.decode(got), c.text, `${name} case ${i} decode`);
  }
}

for (const name of names) {
  const vocab = vocabFor(name);
  test(`llama-vocab ${name} (GGUF)`, { skip: vocab === null ? "no vocabulary file for this set in ../shared" : false }, () => {
    const tok = load(vocab!);
    // BERT lowercases and drops spaces, so only the byte-exact tokenizers must round-trip.
    checkAll(tok, name, tok.kind !== "wordpiece");
  });
}

for (const [name, dir] of [["qwen2", QWEN_JSON_DIR], ["deepseek-r1-qwen", QWEN_JSON_DIR], ["llama-bpe", LLAMA3_JSON_DIR]] as const) {
  test(`llama-vocab ${name} (tokenizer.json from ${path.basename(path.dirname(dir))})`, () => {
    checkAll(load(path.join(dir, "tokenizer.json")), name, true);
  });
}

test("model prompts tokenize as llama.cpp did (add_special=true, parse_special=false)", () => {
  const dir = path.resolve("../shared/testdata/gguf");
  const refs = readdirSync(dir).filter((f) => f.endsWith(".json"));
  assert.ok(refs.length > 0);
  for (const ref of refs) {
    const data = JSON.parse(readFileSync(path.join(dir, ref), "utf8")) as { model: string; prompts: { prompt_text: string; prompt_tokens: number[] }[] };
    const tok = load(path.join(dir, data.model));
    for (const p of data.prompts) {
      assert.deepEqual(tok.encode(p.prompt_text), p.prompt_tokens, `${data.model}: ${JSON.stringify(p.prompt_text)}`);
    }
  }
});

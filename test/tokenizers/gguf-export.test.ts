// tokenizer.json → tokenizer.ggml.* (src/tokenizers/gguf-export.ts) against what llama.cpp's own converter wrote
// for the same Hugging Face folders (../shared/testdata/hf/<case>/gguf/model-f32.gguf): every tokenizer key the
// reference has, with the same values — except those llama.cpp's per-model converter code adds by hand (GLM-4's
// end-of-turn and unknown ids). And a GGUF vocabulary written this way tokenizes like the tokenizer.json.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { readGguf } from "../../src/io/gguf.js";
import { ggufTokenizerMetadata, UnsupportedTokenizerExport } from "../../src/tokenizers/gguf-export.js";
import { tokenizerFromGguf } from "../../src/tokenizers/gguf-vocab.js";
import { loadTokenizer } from "../../src/tokenizers/load.js";

const HF = "../shared/testdata/hf";
const readJson = (f: string) => (existsSync(f) ? JSON.parse(readFileSync(f, "utf8")) as unknown : undefined);
// Keys llama.cpp's model-specific converter code sets beyond the generic SpecialVocab rules.
const BY_HAND: Record<string, string[]> = { glm4: ["tokenizer.ggml.eot_token_id", "tokenizer.ggml.unknown_token_id", "tokenizer.ggml.bos_token_id"] };

function filesOf(dir: string) {
  return { tokenizerJson: readJson(path.join(dir, "tokenizer.json")), tokenizerConfig: readJson(path.join(dir, "tokenizer_config.json")),
    modelConfig: readJson(path.join(dir, "config.json")) };
}

const cases = existsSync(HF) ? ["qwen3", "qwen3_moe", "glm4", "llama_yarn", "mixtral", "phi3"].filter((c) => existsSync(path.join(HF, c, "gguf"))) : [];

test("byte-level BPE folders: the same tokenizer.* keys and values as llama.cpp's converter", { skip: cases.length === 0 && "no reference GGUFs" }, () => {
  for (const c of cases) {
    const ref = readGguf(path.join(HF, c, "gguf", "model-f32.gguf"));
    const ours = new Map(ggufTokenizerMetadata(filesOf(path.join(HF, c, "model"))).map(([k, v]) => [k, v]));
    for (const [key, value] of ref.metadata) {
      if (!key.startsWith("tokenizer.") || BY_HAND[c]?.includes(key)) continue;
      assert.deepEqual(ours.get(key), value, `${c}: ${key}`);
    }
    for (const key of ours.keys()) {
      if (!BY_HAND[c]?.includes(key)) assert.ok(ref.metadata.has(key), `${c}: ${key} is not in llama.cpp's file`);
    }
  }
});

test("zhiyu-mini's vocabulary as GGUF metadata tokenizes exactly like its tokenizer.json", () => {
  const dir = "models/zhiyu-mini";
  const entries = ggufTokenizerMetadata({ ...filesOf(dir), chatTemplate: "{{ messages }}" });
  const metadata = new Map(entries.map(([k, v]) => [k, v]));
  assert.equal(metadata.get("tokenizer.ggml.pre"), "zhiyu");
  const fromGguf = tokenizerFromGguf({ path: "memory", metadata } as unknown as Parameters<typeof tokenizerFromGguf>[0]);
  const fromJson = loadTokenizer(dir);
  for (const text of ["你好，今天上海天气怎么样？", "Hello world! It's 2026.", "<|im_start|>user\n混合 text 和中文<|im_end|>\n", "ｶﾀｶﾅ 한국어 ①②"]) {
    assert.deepEqual(fromGguf.encode(text, { parseSpecial: true }), fromJson.encode(text, { parseSpecial: true }), text);
  }
  assert.equal(fromGguf.eosTokenId, fromJson.eosTokenId);
});

test("a SentencePiece-style tokenizer.json is refused by name (the caller writes no vocabulary)", { skip: !existsSync(path.join(HF, "gemma2")) && "no gemma2 case" }, () => {
  assert.throws(() => ggufTokenizerMetadata(filesOf(path.join(HF, "gemma2", "model"))), UnsupportedTokenizerExport);
});

// tokenizer.json → tokenizer.ggml.* (src/tokenizers/gguf-export.ts) against what llama.cpp's own converter wrote
// for the same Hugging Face folders (../shared/testdata/hf/<case>/gguf/model-f32.gguf): every tokenizer key the
// reference has, with the same values — except those llama.cpp's per-model converter code adds by hand (GLM-4's
// end-of-turn and unknown ids). And a GGUF vocabulary written this way tokenizes like the tokenizer.json.
// SentencePiece folders (tokenizer.model, or a byte-fallback BPE tokenizer.json alone) become `llama` vocabularies.
import { test } from "node:test";
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import path from "node:path";
import { readGguf } from "../../src/io/gguf.js";
import { ggufTokenizerMetadata, UnsupportedTokenizerExport } from "../../src/tokenizers/gguf-export.js";
import { tokenizerFromGguf } from "../../src/tokenizers/gguf-vocab.js";
import { readSentencePieceModel, SentencePieceModelError } from "../../src/tokenizers/sentencepiece-model.js";
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

// SentencePiece. gemma2/model has tokenizer.model and tokenizer.json (transformers' GemmaTokenizer) and a GGUF that
// llama.cpp's converter made of it (through tokenizer.model); reference.json holds transformers' ids for a sample.
const GEMMA = path.join(HF, "gemma2");
const gemmaRef = existsSync(GEMMA) ? JSON.parse(readFileSync(path.join(GEMMA, "reference.json"), "utf8")) as
  { tokenizer: { sample_text: string; sample_ids: number[] } } : null;
// transformers' tokenizer.json and SentencePiece (so llama.cpp) part ways on a piece whose halves are not pieces
// ("▁—" here: tokenizer.json has no merge for it, SentencePiece merges it): such text is compared with llama.cpp's
// own file only (LLAMA_ONLY).
const LLAMA_ONLY = ["42 — 你好"];
const SAMPLES = ["Hello world! The quick brown fox jumps over the lazy dog.", "  two  spaces, then\ttab\nnewline", "Café naïve über 42, 你好",
  "<bos>not parsed as special", "emoji 🦙 and ℌ𝔢𝔩𝔩𝔬"];
const asTokenizer = (entries: ReturnType<typeof ggufTokenizerMetadata>) =>
  tokenizerFromGguf({ path: "memory", metadata: new Map(entries.map(([k, v]) => [k, v])) });

test("tokenizer.model (gemma2): the same tokenizer.* keys and values as llama.cpp's converter; transformers' ids", { skip: !gemmaRef && "no gemma2 case" }, () => {
  const dir = path.join(GEMMA, "model");
  const entries = ggufTokenizerMetadata({ ...filesOf(dir), sentencePieceModel: readFileSync(path.join(dir, "tokenizer.model")) });
  const ours = new Map(entries.map(([k, v]) => [k, v]));
  const ref = readGguf(path.join(GEMMA, "gguf", "model-f32.gguf"));
  const refKeys = [...ref.metadata.keys()].filter((k) => k.startsWith("tokenizer."));
  assert.deepEqual([...ours.keys()].sort(), refKeys.sort());
  for (const key of refKeys) assert.deepEqual(ours.get(key), ref.metadata.get(key), key);
  // The scores are float32 in both files; the writer must declare them so.
  assert.deepEqual(entries.find(([k]) => k === "tokenizer.ggml.scores")?.[2], "array:f32");
  const tok = asTokenizer(entries);
  assert.deepEqual(tok.encode(gemmaRef!.tokenizer.sample_text), gemmaRef!.tokenizer.sample_ids);
  const hf = loadTokenizer(dir);
  for (const text of SAMPLES) assert.deepEqual(tok.encode(text), hf.encode(text), text);
});

test("tokenizer.json alone (gemma2 without tokenizer.model): llama.cpp's tokens and types, merge-rank scores, transformers' ids", { skip: !gemmaRef && "no gemma2 case" }, () => {
  const dir = path.join(GEMMA, "model");
  const entries = ggufTokenizerMetadata(filesOf(dir));
  const ours = new Map(entries.map(([k, v]) => [k, v]));
  const ref = readGguf(path.join(GEMMA, "gguf", "model-f32.gguf"));
  for (const [key, value] of ref.metadata) {
    if (key.startsWith("tokenizer.") && key !== "tokenizer.ggml.scores") assert.deepEqual(ours.get(key), value, key);
  }
  const tok = asTokenizer(entries);
  assert.deepEqual(tok.encode(gemmaRef!.tokenizer.sample_text), gemmaRef!.tokenizer.sample_ids);
  const hf = loadTokenizer(dir);
  for (const text of SAMPLES) assert.deepEqual(tok.encode(text), hf.encode(text), text);
  const llamaCpp = tokenizerFromGguf(ref);
  for (const text of [...SAMPLES, ...LLAMA_ONLY]) assert.deepEqual(tok.encode(text), llamaCpp.encode(text), text);
});

test("a WordPiece tokenizer.json in a decoder folder, or no tokenizer at all, is refused by name", () => {
  assert.throws(() => ggufTokenizerMetadata({ tokenizerJson: { model: { type: "WordPiece", vocab: { "[UNK]": 0 } } } }),
    /a WordPiece vocabulary that is neither byte-level BPE nor SentencePiece/);
  assert.throws(() => ggufTokenizerMetadata({ tokenizerJson: undefined }), UnsupportedTokenizerExport);
});

test("a truncated or foreign tokenizer.model is an error naming the field and the byte", { skip: !existsSync(path.join(GEMMA, "model")) && "no gemma2 case" }, () => {
  const bytes = readFileSync(path.join(GEMMA, "model", "tokenizer.model"));
  assert.throws(() => readSentencePieceModel(bytes.subarray(0, 1001)), (e: Error) =>
    e instanceof SentencePieceModelError && /tokenizer\.model: .* at byte \d+: .*(past the end|are left)/.test(e.message));
  assert.throws(() => readSentencePieceModel(new TextEncoder().encode('{"model": "json"}')), SentencePieceModelError);
  assert.equal(readSentencePieceModel(bytes).pieces.length, 1000);
});

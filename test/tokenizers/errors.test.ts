// Malformed tokenizer.json files and GGUF vocabularies fail with an error that names the wrong field.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { tokenizerFromHfJson } from "../../src/tokenizers/hf-json.js";
import { loadTokenizer, tokenizerFromGguf } from "../../src/tokenizers/load.js";

/** A tiny valid byte-level BPE tokenizer.json: 256 bytes + "ab" + "abc". */
function tinyJson(): Record<string, any> {
  const vocab: Record<string, number> = {};
  // Printable ASCII maps to itself in the byte-level alphabet, which is all this test needs to be valid.
  for (let b = 33; b < 127; b++) vocab[String.fromCharCode(b)] = b;
  vocab["ab"] = 256;
  vocab["abc"] = 257;
  return {
    version: "1.0",
    added_tokens: [{ id: 258, content: "<|endoftext|>", special: true }],
    normalizer: null,
    pre_tokenizer: { type: "Sequence", pretokenizers: [{ type: "Split", pattern: { Regex: "\\p{L}+" }, behavior: "Isolated", invert: false }, { type: "ByteLevel", add_prefix_space: false, use_regex: false }] },
    post_processor: null,
    decoder: { type: "ByteLevel" },
    model: { type: "BPE", vocab, merges: ["a b", ["ab", "c"]] },
  };
}

test("a valid tiny tokenizer.json loads, with both merges spellings", () => {
  const tok = tokenizerFromHfJson(tinyJson());
  assert.deepEqual(tok.encode("abcab"), [257, 256]); // merges "a b" then ["ab","c"]
  assert.deepEqual(tok.encode("ba"), [98, 97]);
});

const jsonCases: [string, (j: Record<string, any>) => void, RegExp][] = [
  ["merge that is neither spelling", (j) => (j.model.merges[1] = 42), /tokenizer\.json: model\.merges\[1\] is 42, not "a b" or \["a","b"\]/],
  ["merge with three parts", (j) => (j.model.merges[0] = "a b c"), /model\.merges\[0\] is "a b c"/],
  ["merge of an unknown token", (j) => (j.model.merges[0] = ["a", "zz"]), /model\.merges\[0\] merges "a" \+ "zz", but "zz" is not in model\.vocab/],
  ["vocab id that is not an integer", (j) => (j.model.vocab.ab = "x"), /model\.vocab\.ab is "x", expected a non-negative integer/],
  ["unknown pre-tokenizer", (j) => (j.pre_tokenizer.pretokenizers[0].type = "Bogus"), /pre_tokenizer\.pretokenizers\[0\]\.type is "Bogus"/],
  ["regex that cannot compile", (j) => (j.pre_tokenizer.pretokenizers[0].pattern.Regex = "(\\p{L}"), /pre_tokenizer\.pretokenizers\[0\]\.pattern/],
  ["added token without an id", (j) => delete j.added_tokens[0].id, /added_tokens\[0\]\.id is missing/],
  ["Unigram model with a BPE-style vocab", (j) => (j.model.type = "Unigram"), /model\.vocab is \{.*, expected an array/],
  ["Unigram piece that is not [piece, score]", (j) => { j.model = { type: "Unigram", unk_id: 0, vocab: [["<unk>", 0], ["a", "x"]] }; }, /model\.vocab\[1\] is \["a","x"\], expected \[piece, score\]/],
  ["Unigram unk_id past the vocabulary", (j) => { j.model = { type: "Unigram", unk_id: 5, vocab: [["<unk>", 0]] }; }, /model\.unk_id is 5, beyond the 1 pieces/],
  ["unknown model type", (j) => (j.model.type = "WordLevel"), /model\.type is "WordLevel", expected "BPE", "WordPiece" or "Unigram"/],
  ["model missing", (j) => delete j.model, /tokenizer\.json: model is missing, expected an object/],
  ["bad split behaviour", (j) => (j.pre_tokenizer.pretokenizers[0].behavior = "Sideways"), /pretokenizers\[0\]\.behavior is "Sideways"/],
];

for (const [what, corrupt, message] of jsonCases) {
  test(`tokenizer.json: ${what} → error names the field`, () => {
    const j = tinyJson();
    corrupt(j);
    assert.throws(() => tokenizerFromHfJson(j), message);
  });
}

test("tokenizer_config.json naming a token that does not exist", () => {
  assert.throws(() => tokenizerFromHfJson(tinyJson(), { config: { eos_token: "</nope>" } }), /tokenizer_config\.json: eos_token is "<\/nope>", which is not a token/);
});

function tinyGgufMeta(): Map<string, unknown> {
  return new Map<string, unknown>([
    ["tokenizer.ggml.model", "gpt2"],
    ["tokenizer.ggml.pre", "gpt-2"],
    ["tokenizer.ggml.tokens", ["a", "b", "ab", "<|endoftext|>"]],
    ["tokenizer.ggml.token_type", [1, 1, 1, 3]],
    ["tokenizer.ggml.merges", ["a b"]],
    ["tokenizer.ggml.eos_token_id", 3],
  ]);
}

test("a valid tiny GGUF vocabulary loads", () => {
  const tok = tokenizerFromGguf({ path: "tiny.gguf", metadata: tinyGgufMeta() });
  assert.deepEqual(tok.encode("abab"), [2, 2]);
});

const ggufCases: [string, (m: Map<string, unknown>) => void, RegExp][] = [
  ["token_type of the wrong length", (m) => m.set("tokenizer.ggml.token_type", [1, 1]), /tiny\.gguf: tokenizer\.ggml\.token_type has 2 entries but tokenizer\.ggml\.tokens has 4/],
  ["token_type out of range", (m) => m.set("tokenizer.ggml.token_type", [1, 9, 1, 3]), /tokenizer\.ggml\.token_type\[1\] is 9, expected 1\.\.6/],
  ["merge without a space", (m) => m.set("tokenizer.ggml.merges", ["ab"]), /tokenizer\.ggml\.merges\[0\] is "ab", not "a b"/],
  ["merge of unknown tokens", (m) => m.set("tokenizer.ggml.merges", ["a b", "b c"]), /tokenizer\.ggml\.merges\[1\] merges "b" \+ "c", but "c" is not in tokenizer\.ggml\.tokens/],
  ["missing tokens", (m) => m.delete("tokenizer.ggml.tokens"), /tokenizer\.ggml\.tokens is missing/],
  ["a token that is not a string", (m) => m.set("tokenizer.ggml.tokens", ["a", 7, "ab", "x"]), /tokenizer\.ggml\.tokens\[1\] is 7, expected a string/],
  ["unknown model", (m) => m.set("tokenizer.ggml.model", "rwkv"), /tokenizer\.ggml\.model is "rwkv"; Zhiyu reads "gpt2", "llama", "bert" and "t5"/],
  ["unknown pre-tokenizer", (m) => m.set("tokenizer.ggml.pre", "klingon"), /tokenizer\.ggml\.pre is "klingon"/],
];

for (const [what, corrupt, message] of ggufCases) {
  test(`GGUF vocabulary: ${what} → error names the field`, () => {
    const m = tinyGgufMeta();
    corrupt(m);
    assert.throws(() => tokenizerFromGguf({ path: "tiny.gguf", metadata: m }), message);
  });
}

/** A minimal GGUF v3 file with only string / string-array / u32-array metadata and no tensors. */
function writeGguf(file: string, kv: [string, string | string[] | number[]][]): void {
  const parts: Buffer[] = [];
  const u32 = (v: number): Buffer => { const b = Buffer.alloc(4); b.writeUInt32LE(v); return b; };
  const u64 = (v: number): Buffer => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(v)); return b; };
  const str = (s: string): Buffer => Buffer.concat([u64(Buffer.byteLength(s)), Buffer.from(s)]);
  parts.push(Buffer.from("GGUF"), u32(3), u64(0), u64(kv.length));
  for (const [k, v] of kv) {
    parts.push(str(k));
    if (typeof v === "string") parts.push(u32(8), str(v));
    else if (typeof v[0] === "string") parts.push(u32(9), u32(8), u64(v.length), ...(v as string[]).map(str));
    else parts.push(u32(9), u32(5), u64(v.length), ...(v as number[]).map((x) => { const b = Buffer.alloc(4); b.writeInt32LE(x); return b; }));
  }
  writeFileSync(file, Buffer.concat(parts));
}

test("a malformed vocabulary in a real .gguf file names the field", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-gguf-"));
  try {
    const file = path.join(dir, "bad.gguf");
    writeGguf(file, [
      ["tokenizer.ggml.model", "gpt2"],
      ["tokenizer.ggml.tokens", ["a", "b", "ab"]],
      ["tokenizer.ggml.token_type", [1, 1]],
      ["tokenizer.ggml.merges", ["a b"]],
    ]);
    assert.throws(() => loadTokenizer(file), /bad\.gguf: tokenizer\.ggml\.token_type has 2 entries but tokenizer\.ggml\.tokens has 3/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

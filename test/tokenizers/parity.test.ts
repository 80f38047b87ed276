// The same tokenizer loaded from its GGUF vocabulary and from its tokenizer.json gives identical ids, on a
// deterministic sample (every 60th line) of every data set in ../shared/data. The whole corpus is checked by
// dev/tokenizers/parity-full.ts (too slow for the unit suite).
import { test } from "node:test";
import assert from "node:assert/strict";
import path from "node:path";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { sampleLines, textSets } from "../../dev/tokenizers/shared-text.js";
import { LLAMA3_JSON_DIR, QWEN_JSON_DIR, VOCAB_DIR } from "./helpers.js";

const pairs = [
  ["qwen2", path.join(VOCAB_DIR, "rebuilt/ggml-vocab-qwen2.gguf"), path.join(QWEN_JSON_DIR, "tokenizer.json")],
  ["llama-bpe", path.join(VOCAB_DIR, "rebuilt/ggml-vocab-llama-bpe.gguf"), path.join(LLAMA3_JSON_DIR, "tokenizer.json")],
] as const;

const sample = textSets().map((s) => ({ name: s.name, lines: sampleLines(s, 60, 7) }));

for (const [name, gguf, json] of pairs) {
  test(`${name}: GGUF and tokenizer.json agree on a sample of every data set`, () => {
    const a = loadTokenizer(gguf);
    const b = loadTokenizer(json);
    let checked = 0;
    for (const set of sample) {
      assert.ok(set.lines.length > 0, `${set.name}: no lines sampled`);
      for (const line of set.lines) {
        const x = a.encode(line, { addSpecialTokens: false });
        const y = b.encode(line, { addSpecialTokens: false });
        assert.deepEqual(x, y, `${name} ${set.name}: ${JSON.stringify(line.slice(0, 80))}`);
        checked++;
      }
    }
    assert.ok(checked > 10000, `only ${checked} lines checked`);
    // A CJK compatibility ideograph (U+2F936, from wenzimengqiu.json) that NFC folds to U+753E.
    const compat = "卽災字。害也。從一壅川。\u{2F936}甾從之。";
    assert.deepEqual(a.encode(compat, { addSpecialTokens: false }), b.encode(compat, { addSpecialTokens: false }));
  });
}

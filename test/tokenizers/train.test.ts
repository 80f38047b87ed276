// Byte-level BPE training: the known minbpe/Wikipedia answer, save → load round trip, identical ids from
// @huggingface/tokenizers on the saved tokenizer.json (an independent implementation), and fewer tokens per
// Chinese character than GPT-2's vocabulary on held-out text.
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, writeFileSync, rmSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { Tokenizer as HfTokenizer } from "@huggingface/tokenizers";
import { loadTokenizer } from "../../src/tokenizers/load.js";
import { tokenizerFromHfJson } from "../../src/tokenizers/hf-json.js";
import { BpeTrainer, trainedTokenizerConfig, trainedTokenizerJson } from "../../src/tokenizers/train-bpe.js";
import { sampleLines, textSets } from "../../dev/tokenizers/shared-text.js";
import { VOCAB_DIR } from "./helpers.js";

test("trainer reproduces the classic aaabdaaabac example (minbpe's known answer)", () => {
  const trainer = new BpeTrainer({ vocabSize: 256 + 3, specialTokens: [] });
  trainer.addText("aaabdaaabac");
  const trained = trainer.train();
  const tok = tokenizerFromHfJson(trainedTokenizerJson(trained), { config: trainedTokenizerConfig(trained) });
  assert.deepEqual(tok.encode("aaabdaaabac"), [258, 100, 258, 97, 99]);
  assert.equal(tok.idToToken(258), "aaab");
});

test("a tokenizer trained on licensed zh+en text: round trip, HF parity, fewer tokens per Chinese char than GPT-2", async () => {
  const sets = textSets(undefined, true);
  const trainer = new BpeTrainer({ vocabSize: 3000 });
  const heldZh: string[] = [];
  const heldEn: string[] = [];
  for (const set of sets) {
    const lines = sampleLines(set, 60);
    lines.forEach((line, i) => {
      if (i % 10 === 9) (set.lang === "zh" ? heldZh : set.lang === "en" ? heldEn : []).push(line);
      else trainer.addText(line + "\n");
    });
  }
  const trained = trainer.train();
  assert.equal(trained.tokens.length, 3000);
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-tok-"));
  try {
    const json = trainedTokenizerJson(trained);
    const config = trainedTokenizerConfig(trained);
    writeFileSync(path.join(dir, "tokenizer.json"), JSON.stringify(json));
    writeFileSync(path.join(dir, "tokenizer_config.json"), JSON.stringify(config));
    const ours = loadTokenizer(dir);
    const hf = new HfTokenizer(json, config);
    assert.deepEqual(ours.encode("<|im_start|>user\n你好<|im_end|>", { parseSpecial: true }).filter((id) => ours.isSpecial(id)).map((id) => ours.idToToken(id)), ["<|im_start|>", "<|im_end|>"]);
    assert.ok(ours.stopTokenIds.includes(ours.tokenToId("<|im_end|>")!));
    for (const line of [...heldZh, ...heldEn]) {
      const ids = ours.encode(line, { addSpecialTokens: false });
      assert.equal(ours.decode(ids), line.normalize("NFC"));
      assert.deepEqual(ids, hf.encode(line, { add_special_tokens: false }).ids, `HF disagrees on ${JSON.stringify(line.slice(0, 60))}`);
    }
    const gpt2 = loadTokenizer(path.join(VOCAB_DIR, "ggml-vocab-gpt-2.gguf"));
    let chars = 0;
    let oursTokens = 0;
    let gpt2Tokens = 0;
    for (const line of heldZh) {
      chars += [...line].length;
      oursTokens += ours.encode(line, { addSpecialTokens: false }).length;
      gpt2Tokens += gpt2.encode(line, { addSpecialTokens: false }).length;
    }
    assert.ok(chars > 10000, `held-out Chinese sample too small (${chars} chars)`);
    assert.ok(oursTokens / chars < gpt2Tokens / chars, `tokens per Chinese char: ours ${oursTokens / chars}, GPT-2 ${gpt2Tokens / chars}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

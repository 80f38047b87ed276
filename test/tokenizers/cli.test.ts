// The tokenizer CLI end to end: tokenize (--text, --input-jsonl), detokenize, tokenizer train.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from "node:fs";
import os from "node:os";
import path from "node:path";
import { QWEN_JSON_DIR } from "./helpers.js";

function zhiyu(...args: string[]): string {
  const r = spawnSync(process.execPath, ["bin/zhiyu.mjs", ...args], { encoding: "utf8" });
  assert.equal(r.status, 0, `zhiyu ${args.join(" ")} failed: ${r.stderr}`);
  return r.stdout;
}

test("tokenize / detokenize / tokenizer train", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "zhiyu-cli-"));
  try {
    // Reference ids: llama.cpp's tokenization of this prompt with the same Qwen vocabulary (testdata/gguf).
    assert.equal(zhiyu("tokenize", "--tokenizer", QWEN_JSON_DIR, "--text", "你好，请问今天几点关门？", "--json").trim(), JSON.stringify({ ids: [108386, 37945, 56007, 100644, 112224, 115493, 11319] }));
    const jsonl = path.join(dir, "in.jsonl");
    writeFileSync(jsonl, ['"Hello world"', '"<|im_start|>"', JSON.stringify("我的订单号是12345，什么时候能到？")].join("\n") + "\n");
    const lines = zhiyu("tokenize", "--tokenizer", QWEN_JSON_DIR, "--input-jsonl", jsonl).trim().split("\n").map((l) => JSON.parse(l).ids);
    assert.equal(lines.length, 3);
    assert.deepEqual(lines[2], [97611, 50410, 17992, 20412, 16, 17, 18, 19, 20, 3837, 105555, 26232, 26939, 11319]);
    assert.ok(lines[1].length > 1, "special-token text is not parsed by default");
    assert.equal(zhiyu("detokenize", "--tokenizer", QWEN_JSON_DIR, "--ids", lines[2].join(",")), "我的订单号是12345，什么时候能到？\n");

    const text = path.join(dir, "train.txt");
    writeFileSync(text, Array.from({ length: 200 }, (_, i) => (i % 2 ? `订单${i}已经发货，请耐心等待。` : `Your order ${i} has shipped.`)).join("\n"));
    const out = zhiyu("tokenizer", "train", "--input", text, "--vocab-size", "300", "--holdout", "5", "--out", path.join(dir, "tok"));
    assert.match(out, /held-out chars per token: Chinese \d+\.\d+ .*English \d+\.\d+/);
    assert.ok(existsSync(path.join(dir, "tok", "tokenizer_config.json")));
    const json = JSON.parse(readFileSync(path.join(dir, "tok", "tokenizer.json"), "utf8"));
    assert.equal(Object.keys(json.model.vocab).length + json.added_tokens.length, 300);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

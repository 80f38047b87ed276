// `zhiyu convert` HF folder → GGUF carries the tokenizer and chat template: the GGUF alone (no --tokenizer)
// generates the same prompt ids and greedy ids as the folder it came from; an output path whose extension is not
// a format is refused.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { readGguf } from "../../src/io/gguf.js";
import { chatTemplateFromFolder } from "../../src/infer/chat-template.js";

const MODEL = "models/zhiyu-mini";
const zhiyu = (...args: string[]) => spawnSync(process.execPath, ["bin/zhiyu.mjs", ...args], { encoding: "utf8" });

test("HF → GGUF (f32) → generate: same prompt ids, ids and text as the HF folder, tokenizer included", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-convert-"));
  try {
    const out = path.join(dir, "zhiyu-mini.gguf");
    const conv = zhiyu("convert", "--from", MODEL, "--to", out, "--type", "f32");
    assert.equal(conv.status, 0, conv.stderr);
    assert.match(conv.stdout, /tokenizer gpt2/);
    const file = readGguf(out);
    assert.equal(file.metadata.get("tokenizer.chat_template"), chatTemplateFromFolder(MODEL) ?? undefined);
    for (const prompt of ["<|im_start|>user\n你好，你是谁？<|im_end|>\n<|im_start|>assistant\n", "Once upon a time"]) {
      const run = (model: string) => {
        const r = zhiyu("generate", "--model", model, "--prompt", prompt, "--temperature", "0", "--max-tokens", "40", "--json");
        assert.equal(r.status, 0, r.stderr);
        return JSON.parse(r.stdout.trim()) as { prompt_ids: number[]; ids: number[]; text: string };
      };
      const hf = run(MODEL);
      const gguf = run(out);
      assert.ok(hf.ids.length > 0);
      assert.deepEqual(gguf, hf, prompt);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test("convert --to x.bin is an error naming the formats; nothing is written", () => {
  const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-convert-"));
  try {
    const bad = path.join(dir, "x.bin");
    const r = zhiyu("convert", "--from", MODEL, "--to", bad);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /'\.bin' is not an output format; write a GGUF file \(--to .*x\.gguf\) or a Hugging Face folder/);
    assert.equal(existsSync(bad), false);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

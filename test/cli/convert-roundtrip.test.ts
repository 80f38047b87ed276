// `zhiyu convert` HF folder → GGUF carries the tokenizer and chat template: the GGUF alone (no --tokenizer)
// generates the same prompt ids and greedy ids as the folder it came from; an output path whose extension is not
// a format is refused. SentencePiece (tokenizer.model) and WordPiece (BERT) folders carry theirs too, checked against
// the GGUF files llama.cpp made of the same weights and against transformers' and llama.cpp's ids.
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from "node:fs";
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

// SentencePiece and WordPiece folders, converted by the CLI and used without --tokenizer. The llama weights of
// ../shared/testdata/gguf/dev-llama-tok512-f32.hf with stories260K's tok512.model beside them (a SentencePiece BPE
// model) must give llama.cpp's vocabulary of dev-llama-tok512-f32.gguf and llama.cpp's prompt ids and greedy ids.
const TOK512 = "../shared/testdata/gguf/dev-llama-tok512-f32";
const SPM_MODEL = "../shared/data/stories260K/tok512.model";
const BERT = "../shared/testdata/hf/bert";

test("SentencePiece folder (llama + tokenizer.model) → GGUF: llama.cpp's vocabulary, prompt ids and greedy ids without --tokenizer",
  { skip: !(existsSync(`${TOK512}.hf`) && existsSync(SPM_MODEL)) && "no tok512 folder" }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-convert-spm-"));
    try {
      const folder = path.join(dir, "tok512");
      mkdirSync(folder);
      for (const f of readdirSync(`${TOK512}.hf`)) symlinkSync(path.resolve(`${TOK512}.hf`, f), path.join(folder, f));
      symlinkSync(path.resolve(SPM_MODEL), path.join(folder, "tokenizer.model"));
      const out = path.join(dir, "tok512.gguf");
      const conv = zhiyu("convert", "--from", folder, "--to", out, "--type", "f32");
      assert.equal(conv.status, 0, conv.stderr);
      assert.match(conv.stdout, /tokenizer llama/);
      assert.equal(conv.stderr, "");
      const ours = readGguf(out), theirs = readGguf(`${TOK512}.gguf`);
      // Not unknown_token_id: the folder names no unk (no tokenizer.json or tokenizer_config.json), so llama.cpp's
      // converter writes none either; llama2c's converter, which made the reference, always writes 0.
      for (const key of ["tokenizer.ggml.model", "tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type",
        "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"]) {
        assert.deepEqual(ours.metadata.get(key), theirs.metadata.get(key), key);
      }
      const ref = JSON.parse(readFileSync(`${TOK512}.json`, "utf8")) as { prompts: { prompt_text: string; prompt_tokens: number[]; greedy_tokens: number[] }[] };
      for (const p of ref.prompts) {
        const t = zhiyu("tokenize", "--tokenizer", out, "--text", p.prompt_text, "--json");
        assert.equal(t.status, 0, t.stderr);
        assert.deepEqual((JSON.parse(t.stdout) as { ids: number[] }).ids, p.prompt_tokens, p.prompt_text);
        // Exact ids (--prompt-ids): sampling unmasked, as llama.cpp samples (a text prompt keeps replies valid UTF-8).
        const r = zhiyu("generate", "--model", out, "--prompt-ids", p.prompt_tokens.join(","), "--temperature", "0", "--max-tokens", "8", "--json");
        assert.equal(r.status, 0, r.stderr);
        assert.deepEqual((JSON.parse(r.stdout.trim()) as { ids: number[] }).ids, p.greedy_tokens.slice(0, 8), p.prompt_text);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

test("WordPiece folder (BERT) → GGUF: llama.cpp's vocabulary and special ids; the file alone gives transformers' ids",
  { skip: !existsSync(BERT) && "no bert case" }, () => {
    const dir = mkdtempSync(path.join(tmpdir(), "zhiyu-convert-bert-"));
    try {
      const out = path.join(dir, "bert.gguf");
      const conv = zhiyu("convert", "--from", path.join(BERT, "base"), "--to", out, "--type", "f32");
      assert.equal(conv.status, 0, conv.stderr);
      const ours = readGguf(out), theirs = readGguf(path.join(BERT, "gguf", "bert-f32.gguf"));
      for (const [key, value] of theirs.metadata) if (key.startsWith("tokenizer.")) assert.deepEqual(ours.metadata.get(key), value, key);
      // llama.cpp's file has no cls id (its converter has no writer for it); its bert vocabulary defaults to 101.
      assert.deepEqual([...ours.metadata.keys()].filter((k) => k.startsWith("tokenizer.") && !theirs.metadata.has(k)), ["tokenizer.ggml.cls_token_id"]);
      assert.equal(ours.metadata.get("tokenizer.ggml.cls_token_id"), 101);
      const ref = JSON.parse(readFileSync(path.join(BERT, "reference.json"), "utf8")) as { inputs: { texts: string[][]; input_ids: number[][]; attention_mask: number[][] } };
      ref.inputs.texts.forEach((texts, row) => {
        if (texts.length !== 1) return; // a sentence pair needs segment ids, which the CLI does not take
        const r = zhiyu("tokenize", "--tokenizer", out, "--text", texts[0]!, "--parse-special", "--json");
        assert.equal(r.status, 0, r.stderr);
        const want = ref.inputs.input_ids[row]!.filter((_, t) => ref.inputs.attention_mask[row]![t] === 1);
        assert.deepEqual((JSON.parse(r.stdout) as { ids: number[] }).ids, want, texts[0]);
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

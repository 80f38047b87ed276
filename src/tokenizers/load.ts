// loadTokenizer(path): the one entry point for getting a Tokenizer from disk — a .gguf file (its vocabulary), a
// tokenizer.json, or a model folder holding tokenizer.json (+ tokenizer_config.json, generation_config.json) or a
// BERT vocab.txt (+ tokenizer_config.json).
// This is the only tokenizer file that touches the file system or the GGUF reader.
// Leaves out: downloading from a hub, and folders that only carry a SentencePiece .model file.
import { existsSync, readFileSync, readdirSync, statSync } from "node:fs";
import path from "node:path";
import { readGguf } from "../io/gguf.js";
import { tokenizerFromGguf } from "./gguf-vocab.js";
import { TokenizerFormatError, tokenizerFromHfJson } from "./hf-json.js";
import { tokenizerFromVocabTxt } from "./vocab-txt.js";
import type { Tokenizer } from "./tokenizer.js";

export { tokenizerFromGguf } from "./gguf-vocab.js";

function readJson(file: string): unknown {
  const text = readFileSync(file, "utf8");
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new TokenizerFormatError(`${file}: not valid JSON (${(err as Error).message})`);
  }
}

/** Loads the tokenizer at `p`: a .gguf file, a tokenizer.json, or a folder containing one. */
export function loadTokenizer(p: string): Tokenizer {
  if (!existsSync(p)) throw new Error(`loadTokenizer: ${p} does not exist (expected a .gguf file, a tokenizer.json or a model folder)`);
  if (statSync(p).isDirectory()) {
    const json = path.join(p, "tokenizer.json");
    if (existsSync(json)) return loadHfJson(json);
    if (existsSync(path.join(p, "vocab.txt"))) return loadVocabTxt(path.join(p, "vocab.txt"));
    const ggufs = readdirSync(p).filter((f) => f.endsWith(".gguf")).sort();
    if (ggufs.length > 0) return tokenizerFromGguf(readGguf(path.join(p, ggufs[0])));
    throw new Error(`loadTokenizer: folder ${p} has no tokenizer.json, no vocab.txt and no .gguf file`);
  }
  if (p.endsWith(".gguf")) return tokenizerFromGguf(readGguf(p));
  if (p.endsWith(".txt")) return loadVocabTxt(p);
  return loadHfJson(p);
}

/** A tokenizer.json, with tokenizer_config.json and generation_config.json from the same folder if present. */
function loadHfJson(file: string): Tokenizer {
  const dir = path.dirname(file);
  const cfgPath = path.join(dir, "tokenizer_config.json");
  const genPath = path.join(dir, "generation_config.json");
  return tokenizerFromHfJson(readJson(file), {
    config: existsSync(cfgPath) ? readJson(cfgPath) : undefined,
    generationConfig: existsSync(genPath) ? readJson(genPath) : undefined,
    source: file,
  });
}

/** A BERT vocab.txt, with tokenizer_config.json from the same folder if present. */
function loadVocabTxt(file: string): Tokenizer {
  const cfgPath = path.join(path.dirname(file), "tokenizer_config.json");
  return tokenizerFromVocabTxt(readFileSync(file, "utf8"), existsSync(cfgPath) ? readJson(cfgPath) : undefined, file);
}

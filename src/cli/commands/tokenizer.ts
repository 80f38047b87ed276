// `zhiyu tokenizer train --input FILE... --vocab-size N --out DIR`: trains a byte-level BPE tokenizer on UTF-8
// text files and writes DIR/tokenizer.json + DIR/tokenizer_config.json. With `--type wordpiece`: a BERT WordPiece
// vocabulary (HF's WordPieceTrainer: BERT normalizer and pre-tokenizer, CJK characters split, lowercased unless
// --cased) written as DIR/vocab.txt + tokenizer.json + tokenizer_config.json. Every --holdout-th line is kept out of
// training and used for the summary's characters-per-token figures (Chinese and English lines separately).
// Leaves out: other sub-commands (tokenize/detokenize are their own commands).
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import path from "node:path";
import { tokenizerFromHfJson } from "../../tokenizers/hf-json.js";
import { BpeTrainer, DEFAULT_SPECIAL_TOKENS, trainedTokenizerConfig, trainedTokenizerJson } from "../../tokenizers/train-bpe.js";
import { BERT_SPECIAL_TOKENS, WordPieceTrainer, wordPieceTokenizerConfig, wordPieceTokenizerJson, wordPieceVocabTxt } from "../../tokenizers/train-wordpiece.js";
import { writeFileAtomic } from "../../train/atomic.js";
import { UsageError } from "../errors.js";
import { parseFlags } from "../flags.js";

const USAGE = `usage: zhiyu tokenizer train --input FILE... --vocab-size N --out DIR [--type bpe|wordpiece]
  [--special-tokens "<|endoftext|>,<|im_start|>,<|im_end|>,<|pad|>"] [--min-frequency 2] [--holdout 50]
  --type wordpiece: BERT WordPiece (vocab.txt + tokenizer.json), special tokens [PAD],[UNK],[CLS],[SEP],[MASK] by
  default, lowercased unless --cased; CJK characters are always single tokens' words`;

/** Share of CJK characters that makes a line "Chinese" for the summary. */
const CJK = /[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]/gu;

export async function run(argv: string[]): Promise<number> {
  const [sub, ...rest] = argv;
  if (!sub || sub === "--help" || sub === "-h") {
    console.log(USAGE);
    return sub ? 0 : 2;
  }
  if (sub !== "train") throw new UsageError(`unknown sub-command 'tokenizer ${sub}'\n${USAGE}`);
  const { values, positionals } = parseFlags({
    args: rest,
    allowPositionals: true,
    options: {
      input: { type: "string", multiple: true },
      "vocab-size": { type: "string" },
      out: { type: "string" },
      "special-tokens": { type: "string" },
      "min-frequency": { type: "string", default: "2" },
      holdout: { type: "string", default: "50" },
      type: { type: "string", default: "bpe" },
      cased: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  }, USAGE);
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const inputs = [...(values.input ?? []), ...positionals];
  if (inputs.length === 0 || !values["vocab-size"] || !values.out) throw new UsageError(`--input, --vocab-size and --out are required\n${USAGE}`);
  const vocabSize = Number(values["vocab-size"]);
  const minFrequency = Number(values["min-frequency"]);
  const holdout = Number(values.holdout);
  if (!Number.isInteger(vocabSize)) throw new UsageError(`--vocab-size must be an integer, got ${values["vocab-size"]}`);
  if (!Number.isInteger(minFrequency) || minFrequency < 1) throw new UsageError(`--min-frequency must be a positive integer, got ${values["min-frequency"]}`);
  if (!Number.isInteger(holdout) || holdout < 0) throw new UsageError(`--holdout must be 0 (none) or a positive integer, got ${values.holdout}`);
  if (values.type !== "bpe" && values.type !== "wordpiece") throw new UsageError(`--type must be bpe or wordpiece, got ${values.type}`);
  const specialTokens = values["special-tokens"] !== undefined ? values["special-tokens"].split(",").filter((s) => s.length > 0)
    : values.type === "wordpiece" ? BERT_SPECIAL_TOKENS : DEFAULT_SPECIAL_TOKENS;
  if (values.type === "wordpiece") return trainWordPiece(inputs, values.out, { vocabSize, minFrequency, specialTokens, lowercase: !values.cased });

  const t0 = performance.now();
  const trainer = new BpeTrainer({
    vocabSize,
    specialTokens,
    minFrequency,
    progressEvery: 5000,
    onProgress: (done, wanted) => process.stderr.write(`  merges ${done}/${wanted}\n`),
  });
  const heldOut: string[] = [];
  let trainChars = 0;
  let lineNo = 0;
  for (const file of inputs) {
    for (const line of readFileSync(file, "utf8").split("\n")) {
      if (line.length === 0) continue;
      if (holdout > 0 && lineNo++ % holdout === holdout - 1) {
        heldOut.push(line);
        continue;
      }
      trainer.addText(line + "\n");
      trainChars += line.length + 1;
    }
  }
  const t1 = performance.now();
  process.stderr.write(`counted ${trainer.uniqueWords} unique words in ${trainChars} characters (${((t1 - t0) / 1000).toFixed(1)} s)\n`);
  const trained = trainer.train();
  const t2 = performance.now();

  mkdirSync(values.out, { recursive: true });
  const json = trainedTokenizerJson(trained);
  const config = trainedTokenizerConfig(trained);
  writeFileSync(path.join(values.out, "tokenizer.json"), JSON.stringify(json));
  writeFileSync(path.join(values.out, "tokenizer_config.json"), JSON.stringify(config, null, 2) + "\n");

  // Summary: chars per token on held-out lines, by language.
  const tok = tokenizerFromHfJson(json, { config });
  const stats = { zh: { chars: 0, tokens: 0, lines: 0 }, en: { chars: 0, tokens: 0, lines: 0 } };
  for (const line of heldOut) {
    const cjk = line.match(CJK)?.length ?? 0;
    const s = cjk / line.length >= 0.3 ? stats.zh : stats.en;
    s.chars += [...line].length;
    s.tokens += tok.encode(line, { addSpecialTokens: false }).length;
    s.lines++;
  }
  const cpt = (s: { chars: number; tokens: number }): string => (s.tokens > 0 ? (s.chars / s.tokens).toFixed(3) : "n/a");
  console.log(`trained ${trained.tokens.length} tokens (${trained.merges.length} merges + 256 bytes + ${trained.specialTokens.length} special) in ${((t2 - t0) / 1000).toFixed(1)} s (counting ${((t1 - t0) / 1000).toFixed(1)} s, merging ${((t2 - t1) / 1000).toFixed(1)} s)`);
  if (trained.tokens.length < vocabSize) {
    console.log(`stopped at ${trained.tokens.length} of ${vocabSize} tokens: no pair occurs --min-frequency (${minFrequency}) times any more`);
  }
  console.log(`wrote ${path.join(values.out, "tokenizer.json")} and tokenizer_config.json`);
  console.log(`held-out chars per token: Chinese ${cpt(stats.zh)} (${stats.zh.lines} lines), English ${cpt(stats.en)} (${stats.en.lines} lines)`);
  return 0;
}

/** --type wordpiece: counts every non-empty line of the inputs, trains, writes vocab.txt + tokenizer files. */
function trainWordPiece(inputs: string[], out: string, o: { vocabSize: number; minFrequency: number; specialTokens: string[]; lowercase: boolean }): number {
  const t0 = performance.now();
  let trainer: WordPieceTrainer;
  try {
    trainer = new WordPieceTrainer({ vocabSize: o.vocabSize, minFrequency: o.minFrequency, specialTokens: o.specialTokens, lowercase: o.lowercase });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  for (const file of inputs) for (const line of readFileSync(file, "utf8").split("\n")) if (line.length > 0) trainer.addText(line);
  const trained = trainer.train();
  mkdirSync(out, { recursive: true });
  writeFileAtomic(path.join(out, "vocab.txt"), wordPieceVocabTxt(trained));
  writeFileAtomic(path.join(out, "tokenizer.json"), JSON.stringify(wordPieceTokenizerJson(trained)));
  writeFileAtomic(path.join(out, "tokenizer_config.json"), JSON.stringify(wordPieceTokenizerConfig(trained), null, 2) + "\n");
  console.log(`trained a WordPiece vocabulary of ${trained.vocab.length} tokens (${trained.merges} merges, ${trainer.uniqueWords} unique words) ` +
    `in ${((performance.now() - t0) / 1000).toFixed(1)} s` + (trained.vocab.length < o.vocabSize ? `; stopped below ${o.vocabSize}: no pair occurs --min-frequency (${o.minFrequency}) times` : ""));
  console.log(`wrote ${path.join(out, "vocab.txt")}, tokenizer.json and tokenizer_config.json`);
  return 0;
}

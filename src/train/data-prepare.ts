// Data preparation: text files and JSON/JSONL records → documents → token ids → Zhiyu token shards
// (train_000000.bin …, val_000000.bin …) plus stats. Each document is preceded by the tokenizer's BOS id (or EOS
// when it has no BOS, as GPT-2's <|endoftext|> is used), so documents are delimited the way llm.c and nanoGPT do.
//
// Document extraction:
//   - .txt (and anything not JSON): the whole file is one document, or one per blank-line-separated block
//     (`split: "blank-line"`) or per line (`split: "line"`).
//   - .jsonl: one record per line; .json: an array of records, or an object whose array values are record lists.
//     A record that is a string is the document; an object gives its `field` (if named) or else its "text" /
//     "content" / "value" field, or else its string values and nested records joined by newlines in field order
//     (alpaca-style instruction/input/output; chat "messages" and ShareGPT "conversations" give their turns' text);
//     an array is joined by newlines (dialogue turns). Gzipped files (.gz) are decompressed.
// documentTokenStream does the same in memory (no shards) for PPO-ptx's pretraining text.
// Leaves out: deduplication, quality filtering, chat-template rendering of dialogues (that is SFT's job).
import { existsSync, mkdirSync, readFileSync, statSync } from "node:fs";
import { gunzipSync } from "node:zlib";
import path from "node:path";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { bytesPerTokenFor, openTokenStream, resolveTokenPaths, tokenStreamFromFiles, writeTokenFile, type TokenStream } from "./token-file.js";

export type TextSplit = "none" | "blank-line" | "line";

export interface ExtractOptions {
  split?: TextSplit;
  /** JSON record field to take the text from (default: text/content/all strings). */
  field?: string;
}

function recordText(rec: unknown, field: string | undefined, where: string): string | null {
  if (typeof rec === "string") return rec;
  if (Array.isArray(rec)) {
    const parts = rec.map((r) => recordText(r, field, where)).filter((s): s is string => s !== null && s !== "");
    return parts.length > 0 ? parts.join("\n") : null;
  }
  if (rec && typeof rec === "object") {
    const obj = rec as Record<string, unknown>;
    if (field !== undefined) {
      if (!(field in obj)) {
        throw new Error(`${where}: record has no field "${field}" (fields: ${Object.keys(obj).join(", ")}); ` +
          "choose another --field");
      }
      return recordText(obj[field], undefined, where);
    }
    for (const key of ["text", "content", "value"]) if (typeof obj[key] === "string") return obj[key] as string;
    // Strings, and the turns of nested dialogues (chat "messages", ShareGPT "conversations"), in field order.
    const parts = Object.values(obj)
      .map((v) => (typeof v === "string" ? v : v !== null && typeof v === "object" ? recordText(v, undefined, where) : null))
      .filter((s): s is string => s !== null && s !== "");
    return parts.length > 0 ? parts.join("\n") : null;
  }
  return null;
}

function jsonRecords(value: unknown): unknown[] {
  if (Array.isArray(value)) return value;
  if (value && typeof value === "object") {
    const lists = Object.values(value as Record<string, unknown>).filter(Array.isArray) as unknown[][];
    if (lists.length > 0) return lists.flat();
  }
  return [value];
}

/** Splits one input file's contents into documents (see the header comment). */
export function extractDocuments(content: string, fileName: string, options: ExtractOptions = {}): string[] {
  const name = fileName.replace(/\.gz$/, "").toLowerCase();
  const docs: string[] = [];
  if (name.endsWith(".jsonl")) {
    const lines = content.split(/\r?\n/);
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!.trim();
      if (line === "") continue;
      let rec: unknown;
      try {
        rec = JSON.parse(line);
      } catch (err) {
        throw new Error(`${fileName}:${i + 1}: not valid JSON (${(err as Error).message})`);
      }
      const text = recordText(rec, options.field, `${fileName}:${i + 1}`);
      if (text) docs.push(text);
    }
    return docs;
  }
  if (name.endsWith(".json")) {
    let value: unknown;
    try {
      value = JSON.parse(content);
    } catch (err) {
      throw new Error(`${fileName}: not valid JSON (${(err as Error).message}); use .jsonl for one record per line`);
    }
    for (const rec of jsonRecords(value)) {
      const text = recordText(rec, options.field, fileName);
      if (text) docs.push(text);
    }
    return docs;
  }
  const split = options.split ?? "none";
  if (split === "none") return content.length > 0 ? [content] : [];
  const pieces = split === "line" ? content.split(/\r?\n/) : content.split(/\r?\n[ \t]*\r?\n/);
  for (const p of pieces) if (p.trim() !== "") docs.push(p.trim());
  return docs;
}

export function readInputFile(filePath: string): string {
  const raw = readFileSync(filePath);
  const bytes = filePath.endsWith(".gz") ? gunzipSync(raw) : raw;
  return new TextDecoder("utf-8").decode(bytes);
}

export interface SplitStats {
  documents: number;
  tokens: number;
  chars: number;
  shards: string[];
}

export interface PrepareStats {
  vocabSize: number;
  bytesPerToken: 2 | 4;
  delimiterId: number | null;
  train: SplitStats;
  val: SplitStats;
  /** chars / tokens over both splits. */
  charsPerToken: number;
}

export interface PrepareOptions extends ExtractOptions {
  inputs: readonly string[];
  outDir: string;
  valFraction?: number;
  /** Tokens per shard (default 100M). */
  shardTokens?: number;
  /** Called once per input file with its document count (progress). */
  onFile?: (file: string, documents: number) => void;
}

/** Document i goes to validation when floor((i+1)·f) > floor(i·f): an even spread of the requested fraction. */
export function isValidationDocument(i: number, fraction: number): boolean {
  return fraction > 0 && Math.floor((i + 1) * fraction) > Math.floor(i * fraction);
}

class ShardWriter {
  private ids: number[] = [];
  readonly stats: SplitStats = { documents: 0, tokens: 0, chars: 0, shards: [] };
  constructor(private readonly dir: string, private readonly split: string, private readonly shardTokens: number,
    private readonly vocabSize: number) {}

  add(ids: readonly number[], chars: number): void {
    this.stats.documents++;
    this.stats.chars += chars;
    this.stats.tokens += ids.length;
    for (const id of ids) {
      this.ids.push(id);
      if (this.ids.length >= this.shardTokens) this.flush();
    }
  }

  flush(): void {
    if (this.ids.length === 0) return;
    const file = path.join(this.dir, `${this.split}_${String(this.stats.shards.length).padStart(6, "0")}.bin`);
    writeTokenFile(file, this.ids, this.vocabSize);
    this.stats.shards.push(file);
    this.ids = [];
  }
}

/** Tokenizes the inputs and writes shards into outDir; returns the stats. */
export function prepareData(tokenizer: Tokenizer, options: PrepareOptions): PrepareStats {
  const f = options.valFraction ?? 0;
  if (!(f >= 0 && f < 1)) throw new RangeError(`--val-fraction ${f} must be in [0, 1)`);
  if (options.inputs.length === 0) throw new RangeError("no --input files given");
  const shardTokens = options.shardTokens ?? 100_000_000;
  const vocabSize = tokenizer.vocabSize;
  mkdirSync(options.outDir, { recursive: true });
  const delimiterId = tokenizer.bosTokenId ?? tokenizer.eosTokenId;
  const train = new ShardWriter(options.outDir, "train", shardTokens, vocabSize);
  const val = new ShardWriter(options.outDir, "val", shardTokens, vocabSize);

  const docs: string[] = [];
  for (const input of options.inputs) {
    const found = extractDocuments(readInputFile(input), path.basename(input), options);
    options.onFile?.(input, found.length);
    for (const d of found) docs.push(d);
  }
  if (docs.length === 0) throw new Error(`no documents found in ${options.inputs.join(", ")}`);

  // With too few documents to spread the fraction over, split the last document's tokens instead.
  const byDocument = f === 0 || Math.floor(docs.length * f) >= 1;
  for (let i = 0; i < docs.length; i++) {
    const text = docs[i]!;
    const body = tokenizer.encode(text, { addSpecialTokens: false });
    const ids = delimiterId === null ? body : [delimiterId, ...body];
    if (byDocument || i < docs.length - 1) {
      (isValidationDocument(i, f) ? val : train).add(ids, text.length);
    } else {
      const cut = Math.max(1, Math.floor(ids.length * (1 - f)));
      const cutChars = Math.round(text.length * (cut / ids.length));
      train.add(ids.slice(0, cut), cutChars);
      val.add(ids.slice(cut), text.length - cutChars);
    }
  }
  train.flush();
  val.flush();
  const tokens = train.stats.tokens + val.stats.tokens;
  const chars = train.stats.chars + val.stats.chars;
  return {
    vocabSize, bytesPerToken: bytesPerTokenFor(vocabSize), delimiterId,
    train: train.stats, val: val.stats, charsPerToken: tokens > 0 ? chars / tokens : 0,
  };
}

/**
 * A token stream for an objective that reads pretraining data beside its own (PPO-ptx): a token file or a folder of
 * `train_*.bin` shards (what `zhiyu train` reads) as it is, or a text / JSON / JSONL file tokenized in memory the way
 * prepareData does (each document after the BOS, or EOS, delimiter). `what` names the flag in errors.
 */
export function documentTokenStream(file: string, tokenizer: Tokenizer, what: string): TokenStream {
  if (!existsSync(file)) {
    throw new Error(`${what} ${file} does not exist; give a text, JSON or JSONL file, or a token file / folder written by \`zhiyu data prepare\``);
  }
  if (statSync(file).isDirectory() || /\.bin$/i.test(file)) return openTokenStream(resolveTokenPaths(file, "train"));
  const docs = extractDocuments(readInputFile(file), path.basename(file));
  const delimiterId = tokenizer.bosTokenId ?? tokenizer.eosTokenId;
  const ids: number[] = [];
  for (const d of docs) {
    if (delimiterId !== null) ids.push(delimiterId);
    for (const id of tokenizer.encode(d, { addSpecialTokens: false })) ids.push(id);
  }
  if (ids.length < 2) throw new Error(`${what} ${file}: ${docs.length} documents, ${ids.length} tokens; a pretraining batch needs text`);
  return tokenStreamFromFiles([{ path: file, format: "zhiyu", tokens: Uint32Array.from(ids), vocabSize: tokenizer.vocabSize }]);
}

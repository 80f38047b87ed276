// The input files of `zhiyu finetune`, read with every problem reported as FILE:LINE and what to write instead.
//   classify  .jsonl: {"text": "...", "label": "..."} per line ("intent" / "category" are accepted for label);
//             .csv / .tsv: a header row naming a text column (text, sentence, query, utterance, content) and a label
//             column (label, intent, category, tag), or exactly two columns text,label without a header.
//   tag       .jsonl: {"tokens": ["w1", …], "tags": ["O", "B-x", "I-x", …]} ("words" / "labels" / "ner_tags" as
//             strings accepted); .txt / .conll / .bio: CoNLL, one "word TAG" per line, a blank line between
//             sentences. Tags are BIO: O, B-type, I-type.
//   embed     .jsonl: {"query": "...", "positive": "..."} (also anchor/positive, text_a/text_b, sentence1/sentence2);
//             .tsv / .csv: two columns (no header, or a header naming them as above).
// Leaves out: multi-label classification, IOBES/BILOU tag schemes, hard negatives for embed.
import { readFileSync } from "node:fs";
import path from "node:path";

export class FinetuneDataError extends Error {
  override name = "FinetuneDataError";
}

export interface LabelledText { text: string; label: string; where: string }
export interface TaggedWords { words: string[]; tags: string[]; where: string }
export interface TextPair { a: string; b: string; where: string }

/** Longest input line / field Zhiyu reads (characters) before refusing a file. */
const MAX_FIELD = 1 << 20;

function readLines(file: string): string[] {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new FinetuneDataError(`${file}: cannot read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
  return text.replace(/^\uFEFF/, "").split(/\r?\n/);
}

function kindOf(file: string): "jsonl" | "csv" | "tsv" | "conll" {
  const ext = path.extname(file).toLowerCase();
  if (ext === ".jsonl" || ext === ".json") return "jsonl";
  if (ext === ".csv") return "csv";
  if (ext === ".tsv") return "tsv";
  if (ext === ".txt" || ext === ".conll" || ext === ".bio") return "conll";
  throw new FinetuneDataError(`${file}: unknown file type '${ext || "(none)"}'; use .jsonl, .csv, .tsv (or .conll/.txt for --task tag)`);
}

function jsonLine(line: string, where: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch (err) {
    throw new FinetuneDataError(`${where}: not valid JSON (${(err as Error).message})`);
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) throw new FinetuneDataError(`${where}: expected a JSON object per line`);
  return v as Record<string, unknown>;
}

function stringField(o: Record<string, unknown>, names: readonly string[], where: string, what: string): string {
  const key = names.find((n) => Object.hasOwn(o, n));
  const v = key === undefined ? undefined : o[key];
  if (typeof v === "number" && what === "label") return String(v);
  if (typeof v !== "string" || v.trim().length === 0) {
    throw new FinetuneDataError(`${where}: ${key === undefined ? `no ${what} field` : `"${key}" is ${JSON.stringify(v)}`}; ` +
      `expected a non-empty string in "${names[0]}"${names.length > 1 ? ` (or ${names.slice(1).map((n) => `"${n}"`).join(", ")})` : ""}`);
  }
  if (v.length > MAX_FIELD) throw new FinetuneDataError(`${where}: "${key}" has ${v.length} characters (at most ${MAX_FIELD})`);
  return v;
}

/** RFC 4180 fields of one line (quotes, doubled quotes); a quoted field may not span lines here. */
export function splitDelimited(line: string, delimiter: string, where: string): string[] {
  const out: string[] = [];
  let i = 0;
  for (;;) {
    let field = "";
    if (line[i] === '"') {
      i++;
      for (;;) {
        if (i >= line.length) throw new FinetuneDataError(`${where}: a quoted field is not closed (a field may not span lines)`);
        if (line[i] === '"') {
          if (line[i + 1] === '"') { field += '"'; i += 2; continue; }
          i++;
          break;
        }
        field += line[i++];
      }
      if (i < line.length && line[i] !== delimiter) throw new FinetuneDataError(`${where}: text after a closing quote`);
    } else {
      const end = line.indexOf(delimiter, i);
      field = line.slice(i, end < 0 ? line.length : end);
      i = end < 0 ? line.length : end;
    }
    out.push(field);
    if (i >= line.length) return out;
    i++; // the delimiter
  }
}

const TEXT_COLUMNS = ["text", "sentence", "query", "utterance", "content"];
const LABEL_COLUMNS = ["label", "intent", "category", "tag"];
const A_COLUMNS = ["query", "anchor", "text_a", "sentence1"];
const B_COLUMNS = ["positive", "text_b", "sentence2", "document"];

/** Rows of a CSV/TSV file with their line numbers, and the column indices of the wanted fields. */
function delimitedRows(file: string, first: readonly string[], second: readonly string[]): Array<{ a: string; b: string; where: string }> {
  const delimiter = kindOf(file) === "tsv" ? "\t" : ",";
  const lines = readLines(file);
  const rows: Array<{ a: string; b: string; where: string }> = [];
  let cols: [number, number] | null = null;
  let width = 0;
  lines.forEach((line, i) => {
    if (line.trim().length === 0) return;
    const where = `${file}:${i + 1}`;
    const fields = splitDelimited(line, delimiter, where);
    if (width === 0) {
      width = fields.length;
      const lower = fields.map((f) => f.trim().toLowerCase());
      const ia = lower.findIndex((f) => first.includes(f)), ib = lower.findIndex((f) => second.includes(f));
      if (ia >= 0 && ib >= 0) { cols = [ia, ib]; return; }
      if (fields.length !== 2) {
        throw new FinetuneDataError(`${where}: the header names no ${first[0]} and ${second[0]} columns (accepted: ` +
          `${first.join("/")} and ${second.join("/")}), and the file does not have exactly two columns`);
      }
      cols = [0, 1];
    }
    if (fields.length !== width) {
      throw new FinetuneDataError(`${where}: ${fields.length} fields, but the first row has ${width}; quote fields that contain '${delimiter === "\t" ? "\\t" : delimiter}'`);
    }
    const [ia, ib] = cols!;
    const a = fields[ia]!.trim(), b = fields[ib]!.trim();
    if (!a || !b) throw new FinetuneDataError(`${where}: an empty ${!a ? first[0] : second[0]} field`);
    rows.push({ a, b, where });
  });
  return rows;
}

function nonEmpty<T>(items: T[], file: string, what: string): T[] {
  if (items.length === 0) throw new FinetuneDataError(`${file}: no ${what} found (the file is empty or has only a header)`);
  return items;
}

/** --task classify: text + label per example. */
export function readClassifyFile(file: string): LabelledText[] {
  const kind = kindOf(file);
  if (kind === "conll") throw new FinetuneDataError(`${file}: --task classify reads .jsonl, .csv or .tsv`);
  if (kind !== "jsonl") return nonEmpty(delimitedRows(file, TEXT_COLUMNS, LABEL_COLUMNS).map((r) => ({ text: r.a, label: r.b, where: r.where })), file, "examples");
  const out: LabelledText[] = [];
  readLines(file).forEach((line, i) => {
    if (line.trim().length === 0) return;
    const where = `${file}:${i + 1}`;
    const o = jsonLine(line, where);
    out.push({ text: stringField(o, TEXT_COLUMNS, where, "text"), label: stringField(o, LABEL_COLUMNS, where, "label").trim(), where });
  });
  return nonEmpty(out, file, "examples");
}

const BIO = /^(O|[BI]-\S+)$/;

function checkTags(words: string[], tags: string[], where: string): TaggedWords {
  if (words.length === 0) throw new FinetuneDataError(`${where}: a sentence with no tokens`);
  if (words.length !== tags.length) throw new FinetuneDataError(`${where}: ${words.length} tokens but ${tags.length} tags; give one tag per token`);
  tags.forEach((t, k) => {
    if (!BIO.test(t)) throw new FinetuneDataError(`${where}: tag ${k} is ${JSON.stringify(t)}; BIO tags are O, B-type or I-type`);
    if (!words[k] || /\s/.test(words[k]!)) throw new FinetuneDataError(`${where}: token ${k} is ${JSON.stringify(words[k])}; tokens are non-empty and have no spaces`);
  });
  return { words, tags, where };
}

/** --task tag: words with BIO tags per sentence. */
export function readTagFile(file: string): TaggedWords[] {
  const out: TaggedWords[] = [];
  const lines = readLines(file);
  if (kindOf(file) === "jsonl") {
    lines.forEach((line, i) => {
      if (line.trim().length === 0) return;
      const where = `${file}:${i + 1}`;
      const o = jsonLine(line, where);
      const list = (names: string[], what: string): string[] => {
        const key = names.find((n) => Object.hasOwn(o, n));
        const v = key === undefined ? undefined : o[key];
        if (!Array.isArray(v) || v.length > MAX_FIELD || !v.every((x) => typeof x === "string")) {
          throw new FinetuneDataError(`${where}: "${key ?? names[0]}" must be a list of ${what} strings (as "${names[0]}": [...])`);
        }
        return v as string[];
      };
      out.push(checkTags(list(["tokens", "words"], "token"), list(["tags", "labels", "ner_tags"], "tag"), where));
    });
    return nonEmpty(out, file, "sentences");
  }
  if (kindOf(file) !== "conll") throw new FinetuneDataError(`${file}: --task tag reads .jsonl or CoNLL (.conll, .bio, .txt)`);
  let words: string[] = [], tags: string[] = [], start = 0;
  const flush = () => {
    if (words.length > 0) out.push(checkTags(words, tags, `${file}:${start}`));
    words = []; tags = [];
  };
  lines.forEach((line, i) => {
    if (line.trim().length === 0) { flush(); return; }
    const parts = line.trim().split(/\s+/);
    if (parts.length < 2) throw new FinetuneDataError(`${file}:${i + 1}: expected "token TAG", got ${JSON.stringify(line.slice(0, 80))}`);
    if (words.length === 0) start = i + 1;
    words.push(parts[0]!);
    tags.push(parts[parts.length - 1]!);
  });
  flush();
  return nonEmpty(out, file, "sentences");
}

/** --task embed: (query, positive) pairs. */
export function readPairFile(file: string): TextPair[] {
  const kind = kindOf(file);
  if (kind === "conll") throw new FinetuneDataError(`${file}: --task embed reads .jsonl, .csv or .tsv`);
  if (kind !== "jsonl") return nonEmpty(delimitedRows(file, A_COLUMNS, B_COLUMNS), file, "pairs");
  const out: TextPair[] = [];
  readLines(file).forEach((line, i) => {
    if (line.trim().length === 0) return;
    const where = `${file}:${i + 1}`;
    const o = jsonLine(line, where);
    out.push({ a: stringField(o, A_COLUMNS, where, "query"), b: stringField(o, B_COLUMNS, where, "positive"), where });
  });
  return nonEmpty(out, file, "pairs");
}

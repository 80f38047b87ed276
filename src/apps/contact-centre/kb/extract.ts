// Turning knowledge-base files into text or FAQ entries: Markdown and plain text as they are, HTML without its tags,
// PDF through pdfjs-dist (text items joined per page, pages separated by blank lines), DOCX through mammoth's raw
// text, and FAQ tables — CSV with a `question,answer` header (also 问题/答案) and JSONL lines `{"question", "answer"}`.
// Every failure is a KbFileError naming the file and saying what to do: larger than the limit, not UTF-8, a
// corrupt or encrypted PDF, a DOCX that is not a Word file, an FAQ row without a question or answer (with its line).
// Leaves out: OCR of scanned PDFs (a PDF with no text layer is reported as empty), spreadsheets, images.
import { readFileSync, statSync } from "node:fs";
import path from "node:path";
import { parseCsv } from "../training/datasets.js";

export class KbFileError extends Error {
  override name = "KbFileError";
  constructor(readonly file: string, detail: string) {
    super(`${file}: ${detail}`);
  }
}

export const DOCUMENT_EXTENSIONS = new Set([".md", ".markdown", ".txt", ".text", ".html", ".htm", ".pdf", ".docx"]);
export const FAQ_EXTENSIONS = new Set([".csv", ".jsonl"]);

export interface FaqEntry {
  question: string;
  answer: string;
}

export type Extracted = { kind: "document"; text: string } | { kind: "faq"; entries: FaqEntry[] };

function decodeUtf8(file: string, bytes: Uint8Array): string {
  try {
    return new TextDecoder("utf-8", { fatal: true }).decode(bytes).replace(/^\uFEFF/, "");
  } catch {
    throw new KbFileError(file, "not UTF-8 text (convert it, e.g. `iconv -f GBK -t UTF-8`, and import it again)");
  }
}

export function htmlToText(html: string): string {
  return html.replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ")
    .replace(/<\/(p|div|li|h[1-6]|tr|section|article)>|<br\s*\/?>/gi, "\n\n")
    .replace(/<[^>]+>/g, " ").replace(/&nbsp;/g, " ").replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'").replace(/&amp;/g, "&").replace(/[ \t]+/g, " ").replace(/\n[ \t]+/g, "\n").replace(/\n{3,}/g, "\n\n").trim();
}

async function pdfText(file: string, bytes: Uint8Array): Promise<string> {
  const pdfjs = await import("pdfjs-dist/legacy/build/pdf.mjs");
  let doc;
  try {
    doc = await pdfjs.getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, useSystemFonts: false, verbosity: 0 }).promise;
  } catch (err) {
    throw new KbFileError(file, `not a readable PDF (${(err as Error).message}); re-export it from its source application`);
  }
  try {
    const pages: string[] = [];
    for (let n = 1; n <= doc.numPages; n++) {
      const content = await (await doc.getPage(n)).getTextContent();
      let page = "";
      for (const item of content.items) {
        if (!("str" in item)) continue;
        page += item.str + (item.hasEOL ? "\n" : "");
      }
      pages.push(page.trim());
    }
    return pages.filter((p) => p).join("\n\n");
  } catch (err) {
    throw new KbFileError(file, `PDF is damaged (${(err as Error).message}); re-export it from its source application`);
  } finally {
    await doc.destroy();
  }
}

async function docxText(file: string, bytes: Uint8Array): Promise<string> {
  const mammoth = (await import("mammoth")).default;
  try {
    const r = await mammoth.extractRawText({ buffer: Buffer.from(bytes) });
    return r.value;
  } catch (err) {
    throw new KbFileError(file, `not a readable DOCX (${(err as Error).message.split("\n")[0]}); save it as .docx from Word or LibreOffice`);
  }
}

function faqFromCsv(file: string, text: string): FaqEntry[] {
  const rows = parseCsv(text);
  if (rows.length === 0) throw new KbFileError(file, "empty FAQ file (expected a header `question,answer`)");
  const header = rows[0].map((h) => h.trim().toLowerCase());
  const q = header.findIndex((h) => h === "question" || h === "问题");
  const a = header.findIndex((h) => h === "answer" || h === "答案");
  if (q < 0 || a < 0) throw new KbFileError(file, `line 1: header must name the columns question and answer (or 问题 and 答案), got ${rows[0].join(",")}`);
  return rows.slice(1).map((r, i) => {
    const entry = { question: (r[q] ?? "").trim(), answer: (r[a] ?? "").trim() };
    if (!entry.question || !entry.answer) throw new KbFileError(file, `row ${i + 2}: empty question or answer`);
    return entry;
  });
}

function faqFromJsonl(file: string, text: string): FaqEntry[] {
  const out: FaqEntry[] = [];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let o: { question?: unknown; answer?: unknown };
    try {
      o = JSON.parse(line) as typeof o;
    } catch (err) {
      throw new KbFileError(file, `line ${i + 1}: not JSON (${(err as Error).message})`);
    }
    if (typeof o.question !== "string" || typeof o.answer !== "string" || !o.question.trim() || !o.answer.trim()) {
      throw new KbFileError(file, `line ${i + 1}: expected {"question": "...", "answer": "..."} with non-empty strings`);
    }
    out.push({ question: o.question.trim(), answer: o.answer.trim() });
  });
  return out;
}

/** Whether a file name is importable at all (by extension). */
export function isKbFile(name: string): boolean {
  const ext = path.extname(name).toLowerCase();
  return DOCUMENT_EXTENSIONS.has(ext) || FAQ_EXTENSIONS.has(ext);
}

/** Reads and converts one file; `displayName` is what errors call it. */
export async function extractFile(file: string, maxBytes: number, displayName = file): Promise<Extracted> {
  const size = statSync(file).size;
  if (size > maxBytes) {
    throw new KbFileError(displayName, `${size} bytes is more than knowledge_base.max_file_bytes (${maxBytes}); split the file or raise the limit`);
  }
  return extractBytes(displayName, readFileSync(file));
}

/** Converts the bytes of a file named `name` (uploads go through here too). */
export async function extractBytes(name: string, bytes: Uint8Array): Promise<Extracted> {
  const ext = path.extname(name).toLowerCase();
  switch (ext) {
    case ".pdf":
      return { kind: "document", text: await pdfText(name, bytes) };
    case ".docx":
      return { kind: "document", text: await docxText(name, bytes) };
    case ".html":
    case ".htm":
      return { kind: "document", text: htmlToText(decodeUtf8(name, bytes)) };
    case ".csv":
      return { kind: "faq", entries: faqFromCsv(name, decodeUtf8(name, bytes)) };
    case ".jsonl":
      return { kind: "faq", entries: faqFromJsonl(name, decodeUtf8(name, bytes)) };
    default:
      if (!DOCUMENT_EXTENSIONS.has(ext)) {
        throw new KbFileError(name, `unsupported file type "${ext}" (supported: ${[...DOCUMENT_EXTENSIONS, ...FAQ_EXTENSIONS].join(" ")})`);
      }
      return { kind: "document", text: decodeUtf8(name, bytes) };
  }
}

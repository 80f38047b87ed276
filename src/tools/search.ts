// The document-search tool: BM25 over passages of the text files in a local folder, with Chinese word segmentation
// (segmenter.ts: jieba + a user dictionary), the inverted index stored in SQLite (better-sqlite3@12).
// Indexing is incremental: a file whose size and mtime are unchanged is skipped, one whose content hash is unchanged
// only gets its mtime updated, deleted files leave the index, and a change of user dictionary re-indexes everything
// (the terms would differ). Passages are paragraphs (long ones cut at sentence ends into ≤ ~400 characters).
// Scoring: Okapi BM25 (k1 = 1.2, b = 0.75, idf = ln(1 + (N − df + 0.5)/(df + 0.5))), terms from jieba's search mode
// in the index and its precise mode in the query (a query word absent from the index falls back to its sub-words).
// Other formats are converted by callers and added with replaceDocument (src/apps/contact-centre/kb).
// Leaves out: PDF/Office formats, vector search, phrase queries.
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { createSegmenter, normaliseTerms, TERMS_VERSION, type Segmenter } from "./segmenter.js";

const TEXT_EXTENSIONS = new Set([".txt", ".md", ".markdown", ".rst", ".csv", ".json", ".html", ".htm", ".log", ".org"]);
const MAX_FILE_BYTES = 8 * 1024 * 1024;
const PASSAGE_CHARS = 400;
const K1 = 1.2;
const B = 0.75;

export interface SearchHit {
  /** Path relative to the indexed folder, with "/" separators. */
  path: string;
  /** Passage number inside the file (0-based). */
  passage: number;
  text: string;
  score: number;
}

export interface IndexReport {
  added: number;
  updated: number;
  unchanged: number;
  removed: number;
  passages: number;
}

export interface DocumentIndexOptions {
  /** SQLite file for the index (":memory:" for a throwaway one). */
  dbPath: string;
  /** Domain words that must stay whole. */
  userWords?: readonly string[];
  /** Use the Intl.Segmenter fallback even if jieba loads. */
  forceIntlSegmenter?: boolean;
}

/** Splits text into passages: one per paragraph (headings and very short paragraphs attach to the next one), long
 *  paragraphs cut at sentence ends into pieces of at most PASSAGE_CHARS characters where sentences allow. */
export function splitPassages(text: string, maxChars = PASSAGE_CHARS): string[] {
  const paragraphs = text.replace(/\r\n/g, "\n").split(/\n\s*\n/).map((p) => p.trim()).filter((p) => p.length > 0);
  const passages: string[] = [];
  let carry = "";
  paragraphs.forEach((p, i) => {
    const full = carry ? `${carry}\n${p}` : p;
    carry = "";
    const short = /^#{1,6}\s/.test(p) || p.length < 12;
    if (short && i < paragraphs.length - 1) {
      carry = full;
      return;
    }
    if (full.length <= maxChars) {
      passages.push(full);
      return;
    }
    let current = "";
    for (const sentence of full.match(/[^。！？!?.\n]+[。！？!?.]*\s*|\n/g) ?? [full]) {
      if (current.length > 0 && current.length + sentence.length > maxChars) {
        passages.push(current.trim());
        current = "";
      }
      current += sentence;
    }
    if (current.trim()) passages.push(current.trim());
  });
  if (carry) passages.push(carry);
  return passages;
}

function htmlToText(html: string): string {
  return html.replace(/<(script|style)[\s\S]*?<\/\1>/gi, " ").replace(/<[^>]+>/g, " ").replace(/&nbsp;/g, " ")
    .replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&");
}

function listFiles(root: string, dir = root, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith(".")) continue;
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) listFiles(root, p, out);
    else if (entry.isFile() && TEXT_EXTENSIONS.has(path.extname(entry.name).toLowerCase())) out.push(p);
  }
  return out;
}

export class DocumentIndex {
  readonly segmenter: Segmenter;
  private readonly db: Database.Database;

  constructor(options: DocumentIndexOptions) {
    this.segmenter = createSegmenter({ userWords: options.userWords, forceIntl: options.forceIntlSegmenter });
    this.db = new Database(options.dbPath);
    this.db.pragma("journal_mode = WAL");
    this.db.pragma("foreign_keys = ON");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS docs (id INTEGER PRIMARY KEY, path TEXT NOT NULL UNIQUE, mtime_ms REAL NOT NULL,
        size INTEGER NOT NULL, hash TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS passages (id INTEGER PRIMARY KEY, doc_id INTEGER NOT NULL REFERENCES docs(id) ON DELETE CASCADE,
        ord INTEGER NOT NULL, text TEXT NOT NULL, length INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS passages_doc ON passages(doc_id);
      CREATE TABLE IF NOT EXISTS postings (term TEXT NOT NULL, passage_id INTEGER NOT NULL REFERENCES passages(id) ON DELETE CASCADE,
        tf INTEGER NOT NULL, PRIMARY KEY (term, passage_id)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS postings_passage ON postings(passage_id);
    `);
    // Terms depend on the segmenter and the user dictionary: if either changed, the old postings are wrong.
    const signature = `terms-v${TERMS_VERSION}:${this.segmenter.kind}:${createHash("sha1").update([...(options.userWords ?? [])].sort().join("\n")).digest("hex")}`;
    const old = this.db.prepare("SELECT value FROM meta WHERE key = 'segmenter'").get() as { value: string } | undefined;
    if (old?.value !== signature) {
      this.db.exec("DELETE FROM docs");
      this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('segmenter', ?)").run(signature);
    }
  }

  /** Brings the index up to date with the folder (incremental). */
  indexFolder(folder: string): IndexReport {
    const root = path.resolve(folder);
    const report: IndexReport = { added: 0, updated: 0, unchanged: 0, removed: 0, passages: 0 };
    const seen = new Set<string>();
    const getDoc = this.db.prepare("SELECT id, mtime_ms, size, hash FROM docs WHERE path = ?");
    const touch = this.db.prepare("UPDATE docs SET mtime_ms = ?, size = ? WHERE id = ?");
    for (const file of listFiles(root)) {
      const rel = path.relative(root, file).split(path.sep).join("/");
      seen.add(rel);
      const st = statSync(file);
      if (st.size > MAX_FILE_BYTES) continue;
      const doc = getDoc.get(rel) as { id: number; mtime_ms: number; size: number; hash: string } | undefined;
      if (doc && doc.mtime_ms === st.mtimeMs && doc.size === st.size) {
        report.unchanged++;
        continue;
      }
      const raw = readFileSync(file);
      const hash = createHash("sha256").update(raw).digest("hex");
      if (doc && doc.hash === hash) {
        touch.run(st.mtimeMs, st.size, doc.id);
        report.unchanged++;
        continue;
      }
      let text = raw.toString("utf8");
      if (/\.html?$/i.test(file)) text = htmlToText(text);
      report.passages += this.replaceDocument(rel, st.mtimeMs, st.size, hash, text);
      if (doc) report.updated++;
      else report.added++;
    }
    const all = this.db.prepare("SELECT path FROM docs").all() as { path: string }[];
    const del = this.db.prepare("DELETE FROM docs WHERE path = ?");
    for (const { path: p } of all) {
      if (!seen.has(p)) {
        del.run(p);
        report.removed++;
      }
    }
    return report;
  }

  /** The content hash recorded for a document, or null if it is not indexed. */
  documentHash(rel: string): string | null {
    return (this.db.prepare("SELECT hash FROM docs WHERE path = ?").get(rel) as { hash: string } | undefined)?.hash ?? null;
  }

  /** Paths of every indexed document. */
  documentPaths(): string[] {
    return (this.db.prepare("SELECT path FROM docs ORDER BY path").all() as { path: string }[]).map((r) => r.path);
  }

  /** Removes one document and its passages. */
  removeDocument(rel: string): void {
    this.db.prepare("DELETE FROM docs WHERE path = ?").run(rel);
  }

  /** Replaces (or adds) one document from already-extracted text or passages, in one transaction, for callers that
   *  convert other formats (the contact-centre knowledge base: PDF, DOCX, FAQ rows). Returns the passage count. */
  replaceDocument(rel: string, mtimeMs: number, size: number, hash: string, text: string | readonly string[]): number {
    const passages = typeof text === "string" ? splitPassages(text) : text;
    const tx = this.db.transaction(() => {
      this.db.prepare("DELETE FROM docs WHERE path = ?").run(rel);
      const docId = this.db.prepare("INSERT INTO docs (path, mtime_ms, size, hash) VALUES (?, ?, ?, ?)").run(rel, mtimeMs, size, hash).lastInsertRowid;
      const insPassage = this.db.prepare("INSERT INTO passages (doc_id, ord, text, length) VALUES (?, ?, ?, ?)");
      const insPosting = this.db.prepare("INSERT INTO postings (term, passage_id, tf) VALUES (?, ?, ?)");
      passages.forEach((p, ord) => {
        const terms = normaliseTerms(this.segmenter.cutForSearch(p));
        const tf = new Map<string, number>();
        for (const t of terms) tf.set(t, (tf.get(t) ?? 0) + 1);
        const pid = insPassage.run(docId, ord, p, terms.length).lastInsertRowid;
        for (const [term, n] of tf) insPosting.run(term, pid, n);
      });
    });
    tx();
    return passages.length;
  }

  /** The terms a query is scored with: precise words first (上海交通大学 must not match texts with 上海, 交通, 大学
   *  apart); a word the index has never seen falls back to its sub-words (交通拥堵 → 交通, 拥堵). */
  queryTerms(query: string): string[] {
    const df = this.db.prepare("SELECT COUNT(*) AS n FROM postings WHERE term = ?");
    return [...new Set(normaliseTerms(this.segmenter.cut(query)).flatMap((t) =>
      (df.get(t) as { n: number }).n > 0 ? [t] : normaliseTerms(this.segmenter.cutForSearch(t)).filter((x) => x !== t)))];
  }

  /** The best BM25 score a passage could get for these terms (each term once in a passage of average length: the
   *  sum of their IDFs, with the IDF of a document-frequency-0 term for unseen terms), to put scores on a 0..1 scale. */
  maxScore(terms: readonly string[]): number {
    const n = (this.db.prepare("SELECT COUNT(*) AS n FROM passages").get() as { n: number }).n;
    const df = this.db.prepare("SELECT COUNT(*) AS n FROM postings WHERE term = ?");
    return terms.reduce((sum, t) => sum + Math.log(1 + (n - (df.get(t) as { n: number }).n + 0.5) / ((df.get(t) as { n: number }).n + 0.5)), 0);
  }

  /** The k best passages for a query by BM25 (ties: earlier file, earlier passage). */
  search(query: string, k = 5): SearchHit[] {
    const terms = this.queryTerms(query);
    if (terms.length === 0) return [];
    const stats = this.db.prepare("SELECT COUNT(*) AS n, AVG(length) AS avg FROM passages").get() as { n: number; avg: number | null };
    if (stats.n === 0) return [];
    const avg = stats.avg ?? 1;
    const postings = this.db.prepare("SELECT p.passage_id AS id, p.tf AS tf, s.length AS length FROM postings p JOIN passages s ON s.id = p.passage_id WHERE p.term = ?");
    const scores = new Map<number, number>();
    for (const term of terms) {
      const rows = postings.all(term) as { id: number; tf: number; length: number }[];
      if (rows.length === 0) continue;
      const idf = Math.log(1 + (stats.n - rows.length + 0.5) / (rows.length + 0.5));
      for (const r of rows) {
        const s = idf * (r.tf * (K1 + 1)) / (r.tf + K1 * (1 - B + (B * r.length) / avg));
        scores.set(r.id, (scores.get(r.id) ?? 0) + s);
      }
    }
    const get = this.db.prepare("SELECT d.path AS path, s.ord AS ord, s.text AS text FROM passages s JOIN docs d ON d.id = s.doc_id WHERE s.id = ?");
    return [...scores]
      .map(([id, score]) => ({ id, score, ...(get.get(id) as { path: string; ord: number; text: string }) }))
      .sort((a, b) => b.score - a.score || a.path.localeCompare(b.path) || a.ord - b.ord)
      .slice(0, k)
      .map((h) => ({ path: h.path, passage: h.ord, text: h.text, score: h.score }));
  }

  close(): void {
    this.db.close();
  }
}

/** The OpenAI tool definition for document search. */
export const searchTool = {
  name: "search_documents",
  description: "Search the local document collection (Chinese and English) and return the most relevant passages.",
  parameters: {
    type: "object",
    properties: {
      query: { type: "string", description: "What to look for" },
      top_k: { type: "integer", description: "How many passages (default 3)" },
    },
    required: ["query"],
    additionalProperties: false,
  },
};

// The contact-centre knowledge base (interface and contract: types.ts): imports folders and uploads of documents
// and FAQ files (extract.ts), chunks documents into passages (src/tools/search.ts splitPassages), indexes them for
// BM25 with jieba and the configured user dictionary (src/tools/search.ts DocumentIndex) and, with an Embedder, as
// dense vectors; ranks by a hybrid score; answers with citations and checks generated replies (grounding.ts).
// Storage: two SQLite files in `dir` (bm25.sqlite: the DocumentIndex; kb.sqlite: documents' content hashes,
// passages, FAQ questions/answers and vectors) or both in memory. kb.sqlite is the authority: a document whose hash
// there differs from the file's is re-imported (so a crash between the two writes heals on the next import), and a
// file that fails to import keeps its previous passages.
// Hybrid score of a passage: (1 − w)·bm25/maxBM25(query) + w·max(0, cos(query, passage)), w = dense_weight when an
// embedder is present (else 0), the cosine taken after subtracting the mean passage vector (centerDense); FAQ entries
// are embedded by their question. An answer for an intent with topic words
// (`kb_topic`) may only come from a passage that contains one of them.
// Leaves out: cross-encoder reranking, per-tenant KBs, watching folders for changes (call importFolder again).
import Database from "better-sqlite3";
import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync } from "node:fs";
import path from "node:path";
import { DocumentIndex, splitPassages } from "../../../tools/search.js";
import { normaliseTerms } from "../../../tools/segmenter.js";
import type { Bilingual, KnowledgeBaseConfig } from "../config-schema.js";
import { extractBytes, isKbFile, KbFileError, type Extracted } from "./extract.js";
import { passageLanguage, plainReplyText } from "./reply-text.js";
import { checkGrounding } from "./grounding.js";
import type { Answer, AnswerContext, Citation, Embedder, Generate, ImportReport, SearchResult } from "./types.js";

export interface KnowledgeBaseOptions {
  config: KnowledgeBaseConfig;
  /** Folder for the index files; omitted → in memory. */
  dir?: string;
  embedder?: Embedder;
  /** Dense similarity after subtracting the mean of the KB's passage vectors (default true): a decoder's mean-pooled
   *  states (and, less, an encoder's) share one large common direction, so raw cosines of unrelated texts are
   *  0.4–0.7 and would lift every passage towards the confidence threshold; centred, unrelated texts sit near 0.
   *  A KB of fewer than CENTRE_MIN_PASSAGES vectors is not centred (its mean would be mostly the passages themselves). */
  centerDense?: boolean;
  /** What to say when nothing reaches the threshold (the configuration's `fallback`). */
  fallback?: Bilingual<string>;
}

interface StoredPassage {
  path: string;
  ord: number;
  text: string;
  answer: string | null;
  vec: Float32Array | null;
}

const NOT_FOUND: Required<Bilingual<string>> = {
  zh: "抱歉，知识库里没有找到可靠的答案。需要为您转人工客服吗？",
  en: "Sorry, I couldn't find a reliable answer in our knowledge base. Would you like to talk to a person?",
};

/** Question and function words that do not count against a passage when the index lacks them. */
const QUESTION_WORDS = new Set(("怎么 怎么样 怎样 什么 多少 几 吗 呢 吧 那 那么 它 请问 一下 可以 能 能不能 有没有 有 是不是 如何 哪里 哪儿 为什么 谁 要 想 请 " +
  "how what which where when who why much many do does did you your can could would i my me get is are a an the there this that with " +
  "from about please any have has will to for of in on at it").split(" "));

/** Below this many embedded passages the dense side is not centred (see KnowledgeBaseOptions.centerDense). */
export const CENTRE_MIN_PASSAGES = 16;

function l2normalise(v: Float32Array): Float32Array {
  let n = 0;
  for (const x of v) n += x * x;
  n = Math.sqrt(n) || 1;
  return v.map((x) => x / n);
}

function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < Math.min(a.length, b.length); i++) s += a[i] * b[i];
  return s;
}

export class KnowledgeBase {
  private readonly bm25: DocumentIndex;
  private readonly db: Database.Database;
  /** All passages in memory for dense scoring and citation text (KBs are thousands of passages, not millions). */
  private passages = new Map<string, StoredPassage>();
  /** The passages' centred unit vectors and their mean (computed on the first dense search after a change). */
  private centred: { mean: Float32Array; vecs: Map<string, Float32Array> } | null = null;

  private constructor(private readonly options: KnowledgeBaseOptions) {
    if (options.dir) mkdirSync(options.dir, { recursive: true });
    this.bm25 = new DocumentIndex({ dbPath: options.dir ? path.join(options.dir, "bm25.sqlite") : ":memory:", userWords: options.config.user_words });
    this.db = new Database(options.dir ? path.join(options.dir, "kb.sqlite") : ":memory:");
    this.db.pragma("journal_mode = WAL");
    this.db.exec(`
      CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS docs (path TEXT PRIMARY KEY, hash TEXT NOT NULL);
      CREATE TABLE IF NOT EXISTS passages (path TEXT NOT NULL REFERENCES docs(path) ON DELETE CASCADE, ord INTEGER NOT NULL,
        text TEXT NOT NULL, answer TEXT, vec BLOB, PRIMARY KEY (path, ord));
    `);
    this.db.pragma("foreign_keys = ON");
  }

  /** Opens (or creates) a knowledge base; re-embeds stored passages if the embedder changed. */
  static async open(options: KnowledgeBaseOptions): Promise<KnowledgeBase> {
    const kb = new KnowledgeBase(options);
    await kb.syncEmbeddings();
    kb.loadPassages();
    return kb;
  }

  private loadPassages(): void {
    this.passages.clear();
    this.centred = null;
    for (const r of this.db.prepare("SELECT path, ord, text, answer, vec FROM passages").all() as
      { path: string; ord: number; text: string; answer: string | null; vec: Buffer | null }[]) {
      const vec = r.vec ? new Float32Array(r.vec.buffer.slice(r.vec.byteOffset, r.vec.byteOffset + r.vec.byteLength)) : null;
      this.passages.set(`${r.path}#${r.ord}`, { path: r.path, ord: r.ord, text: r.text, answer: r.answer, vec });
    }
  }

  private async syncEmbeddings(): Promise<void> {
    const id = this.options.embedder?.id ?? "";
    const old = (this.db.prepare("SELECT value FROM meta WHERE key = 'embedder'").get() as { value: string } | undefined)?.value ?? "";
    if (old === id) return;
    const rows = this.db.prepare("SELECT path, ord, text, answer FROM passages").all() as { path: string; ord: number; text: string; answer: string | null }[];
    const vecs = this.options.embedder && rows.length > 0 ? await this.embed(rows.map((r) => this.embeddingText(r.text, r.answer))) : [];
    const put = this.db.prepare("UPDATE passages SET vec = ? WHERE path = ? AND ord = ?");
    this.db.transaction(() => {
      rows.forEach((r, i) => put.run(vecs[i] ? Buffer.from(vecs[i].buffer) : null, r.path, r.ord));
      this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('embedder', ?)").run(id);
    })();
  }

  /** FAQ entries are embedded by their question (the passage text is "question\nanswer"). */
  private embeddingText(text: string, answer: string | null): string {
    return answer === null ? text : text.slice(0, text.length - answer.length).trim();
  }

  private async embed(texts: readonly string[]): Promise<Float32Array[]> {
    const out: Float32Array[] = [];
    for (let i = 0; i < texts.length; i += 32) {
      const batch = await this.options.embedder!.embed(texts.slice(i, i + 32));
      if (batch.length !== Math.min(32, texts.length - i)) throw new Error(`[kb] embedder ${this.options.embedder!.id} returned ${batch.length} vectors for ${Math.min(32, texts.length - i)} texts`);
      out.push(...batch.map(l2normalise));
    }
    return out;
  }

  /** Passages of an extracted file: paragraphs cut to chunk_chars, or one passage per FAQ entry. */
  private passagesOf(x: Extracted): { text: string; answer: string | null }[] {
    if (x.kind === "faq") return x.entries.map((e) => ({ text: `${e.question}\n${e.answer}`, answer: e.answer }));
    return splitPassages(x.text, this.options.config.chunk_chars).map((text) => ({ text, answer: null }));
  }

  /** Stores one converted document under `rel` (replacing an older version). Returns the passage count. */
  private async store(rel: string, hash: string, x: Extracted): Promise<number> {
    const passages = this.passagesOf(x);
    const vecs = this.options.embedder ? await this.embed(passages.map((p) => this.embeddingText(p.text, p.answer))) : [];
    this.bm25.replaceDocument(rel, 0, 0, hash, passages.map((p) => p.text));
    const ins = this.db.prepare("INSERT INTO passages (path, ord, text, answer, vec) VALUES (?, ?, ?, ?, ?)");
    this.db.transaction(() => {
      this.db.prepare("DELETE FROM docs WHERE path = ?").run(rel);
      this.db.prepare("INSERT INTO docs (path, hash) VALUES (?, ?)").run(rel, hash);
      passages.forEach((p, i) => ins.run(rel, i, p.text, p.answer, vecs[i] ? Buffer.from(vecs[i].buffer) : null));
    })();
    for (const key of [...this.passages.keys()]) if (key.startsWith(`${rel}#`)) this.passages.delete(key);
    this.centred = null;
    passages.forEach((p, i) => this.passages.set(`${rel}#${i}`, { path: rel, ord: i, text: p.text, answer: p.answer, vec: vecs[i] ?? null }));
    return passages.length;
  }

  private remove(rel: string): void {
    this.bm25.removeDocument(rel);
    this.db.prepare("DELETE FROM docs WHERE path = ?").run(rel);
    for (const key of [...this.passages.keys()]) if (key.startsWith(`${rel}#`)) this.passages.delete(key);
    this.centred = null;
  }

  /** Passage vectors for dense scoring: centred on their mean and unit length (centerDense), else as stored. */
  private denseVectors(): { mean: Float32Array | null; vecs: Map<string, Float32Array> } {
    if (this.options.centerDense === false || [...this.passages.values()].filter((p) => p.vec).length < CENTRE_MIN_PASSAGES) {
      const vecs = new Map<string, Float32Array>();
      for (const [key, p] of this.passages) if (p.vec) vecs.set(key, p.vec);
      return { mean: null, vecs };
    }
    if (!this.centred) {
      const withVec = [...this.passages].filter(([, p]) => p.vec);
      const mean = new Float32Array(withVec[0]?.[1].vec?.length ?? 0);
      for (const [, p] of withVec) for (let i = 0; i < mean.length; i++) mean[i] += p.vec![i] / withVec.length;
      this.centred = { mean, vecs: new Map(withVec.map(([key, p]) => [key, l2normalise(p.vec!.map((x, i) => x - mean[i]))])) };
    }
    return this.centred;
  }

  private hashOf(bytes: Uint8Array): string {
    return createHash("sha256").update(bytes).update(`chunk=${this.options.config.chunk_chars}`).digest("hex");
  }

  /** Brings the KB up to date with a folder: new and changed files are imported, deleted ones leave; a file that
   *  fails (too large, not UTF-8, corrupt) is reported in `errors` and its previous version stays indexed. Documents
   *  are named "<folder name>/<path inside it>". */
  async importFolder(folder: string): Promise<ImportReport> {
    const root = path.resolve(folder);
    const prefix = path.basename(root);
    const report: ImportReport = { added: 0, updated: 0, unchanged: 0, removed: 0, passages: 0, errors: [] };
    const seen = new Set<string>();
    const walk = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) =>
      e.name.startsWith(".") ? [] : e.isDirectory() ? walk(path.join(dir, e.name)) : e.isFile() && isKbFile(e.name) ? [path.join(dir, e.name)] : []);
    let files: string[];
    try {
      files = walk(root).sort();
    } catch (err) {
      throw new KbFileError(root, `cannot read the knowledge-base folder (${(err as Error).message})`);
    }
    const known = new Map((this.db.prepare("SELECT path, hash FROM docs").all() as { path: string; hash: string }[]).map((r) => [r.path, r.hash]));
    for (const file of files) {
      const rel = `${prefix}/${path.relative(root, file).split(path.sep).join("/")}`;
      seen.add(rel);
      try {
        const size = statSync(file).size;
        if (size > this.options.config.max_file_bytes) {
          throw new KbFileError(rel, `${size} bytes is more than knowledge_base.max_file_bytes (${this.options.config.max_file_bytes}); split the file or raise the limit`);
        }
        const bytes = readFileSync(file);
        const hash = this.hashOf(bytes);
        // The BM25 index is rebuilt from scratch when its term rules change (tools/search.ts): then the passages
        // kept here are not "unchanged" for it, and the file is imported again.
        if (known.get(rel) === hash && this.bm25.documentHash(rel) === hash) {
          report.unchanged++;
          continue;
        }
        report.passages += await this.store(rel, hash, await extractBytes(rel, bytes));
        if (known.has(rel)) report.updated++;
        else report.added++;
      } catch (err) {
        if (!(err instanceof KbFileError)) throw err;
        report.errors.push({ file: err.file, error: err.message });
      }
    }
    for (const rel of known.keys()) {
      if (rel.startsWith(`${prefix}/`) && !seen.has(rel)) {
        this.remove(rel);
        report.removed++;
      }
    }
    return report;
  }

  /** Imports one uploaded file (bytes) as `name` ("uploads/price-list.pdf"); a bad file throws a KbFileError
   *  naming it and leaves the KB as it was. */
  async importUpload(name: string, bytes: Uint8Array): Promise<ImportReport> {
    if (bytes.byteLength > this.options.config.max_file_bytes) {
      throw new KbFileError(name, `${bytes.byteLength} bytes is more than knowledge_base.max_file_bytes (${this.options.config.max_file_bytes}); split the file or raise the limit`);
    }
    const x = await extractBytes(name, bytes);
    const existed = this.bm25.documentHash(name) !== null;
    const passages = await this.store(name, this.hashOf(bytes), x);
    return { added: existed ? 0 : 1, updated: existed ? 1 : 0, unchanged: 0, removed: 0, passages, errors: [] };
  }

  /** Passages currently indexed (all documents and FAQ entries, whichever start or upload imported them). */
  passageCount(): number {
    return (this.db.prepare("SELECT COUNT(*) AS n FROM passages").get() as { n: number }).n;
  }

  /** Documents currently indexed. */
  documents(): string[] {
    return (this.db.prepare("SELECT path FROM docs ORDER BY path").all() as { path: string }[]).map((r) => r.path);
  }

  /** The k best passages by the hybrid score (best first). */
  async search(query: string, k = this.options.config.top_k): Promise<SearchResult[]> {
    // Normalise by every word of the query, also those the index has never seen, so a query that matches one word
    // of five does not look like a perfect match.
    const terms = this.bm25.queryTerms(query);
    const unseen = normaliseTerms(this.bm25.segmenter.cut(query)).filter((t) => !QUESTION_WORDS.has(t));
    const max = terms.length > 0 ? this.bm25.maxScore([...new Set([...unseen, ...terms])]) : 0;
    const scores = new Map<string, { bm25: number; dense: number }>();
    for (const hit of this.bm25.search(query, Math.max(50, k))) {
      scores.set(`${hit.path}#${hit.passage}`, { bm25: max > 0 ? Math.min(1, hit.score / max) : 0, dense: 0 });
    }
    const w = this.options.embedder ? this.options.config.dense_weight : 0;
    if (this.options.embedder && w > 0 && this.passages.size > 0) {
      const { mean, vecs } = this.denseVectors();
      const [raw] = await this.embed([query]);
      const q = mean ? l2normalise(raw.map((x, i) => x - (mean[i] ?? 0))) : raw;
      for (const [key, v] of vecs) {
        const cos = Math.max(0, dot(q, v));
        const s = scores.get(key);
        if (s) s.dense = cos;
        else scores.set(key, { bm25: 0, dense: cos });
      }
    }
    return [...scores].map(([key, s]) => ({ key, ...s, score: (1 - w) * s.bm25 + w * s.dense }))
      .filter((r) => this.passages.has(r.key) && r.score > 0)
      .sort((a, b) => b.score - a.score || a.key.localeCompare(b.key))
      .slice(0, k)
      .map((r) => {
        const p = this.passages.get(r.key)!;
        return { doc: p.path, passage: p.ord, score: round(r.score), text: p.text, bm25: round(r.bm25), dense: round(r.dense) };
      });
  }

  /** The query searched for a turn: the text plus carried-over slot values it does not mention. */
  static contextualQuery(query: string, context: AnswerContext): string {
    const lower = query.toLowerCase(); // a slot value "forbidden city" is already in "…near the Forbidden City"
    const extra = Object.values(context.slots ?? {}).filter((v) => v && !lower.includes(v.toLowerCase()));
    return extra.length > 0 ? `${query} ${extra.join(" ")}` : query;
  }

  /** Answers a customer question from the KB (see types.ts for the contract). */
  async answer(query: string, context: AnswerContext = {}, options: { generate?: Generate } = {}): Promise<Answer> {
    const language = context.language ?? "zh";
    const q = KnowledgeBase.contextualQuery(query, context);
    const topK = this.options.config.top_k;
    // With a topic or named entities, look further down the ranking: the passage that may answer can rank below
    // others that share the question's words (a hotel booking near the Forbidden City vs the Forbidden City's ticket
    // row; 故宫's directions, which mention 天安门, for a question about getting to 欢乐谷 from 天安门).
    const topic = (context.topic ?? []).map((t) => t.toLowerCase()).filter((t) => t.length > 0);
    const named = (context.named ?? []).map((spellings) => spellings.map((t) => t.toLowerCase()).filter((t) => t.length > 0)).filter((s) => s.length > 0);
    const ranked = await this.search(q, topic.length > 0 || named.length > 0 ? Math.max(topK, 20) : topK);
    const answers = (text: string) => (topic.length === 0 || topic.some((t) => text.includes(t))) && named.every((s) => s.some((t) => text.includes(t)));
    const found = topic.length > 0 || named.length > 0 ? ranked.filter((r) => answers(r.text.toLowerCase())).slice(0, topK) : ranked;
    // A passage in the conversation's language that is itself confident goes first: an English customer asking
    // about 故宫 is answered from the English FAQ row, not the Chinese one that shares the carried-over name.
    const threshold = this.options.config.confidence_threshold;
    const own = found.findIndex((r) => r.score >= threshold && passageLanguage(r.text) === language);
    const results = own > 0 ? [found[own], ...found.slice(0, own), ...found.slice(own + 1)] : found;
    const citations: Citation[] = results.map(({ doc, passage, score, text }) => ({ doc, passage, score, text }));
    const best = results[0];
    if (!best || best.score < threshold) {
      const text = this.options.fallback?.[language] ?? NOT_FOUND[language];
      return { text, citations, grounded: true, confident: false, handoff: true, query: q };
    }
    const stored = this.passages.get(`${best.doc}#${best.passage}`)!;
    const passageReply = stored.answer ?? plainReplyText(stored.text);
    if (!options.generate) return { text: passageReply, citations: citations.slice(0, 1), grounded: true, confident: true, handoff: false, query: q };
    const used = citations.filter((c) => c.score >= threshold);
    const system = language === "zh"
      ? "你是客服助手。只根据下面的资料回答，简洁礼貌；资料里没有的数字、日期、价格和政策不要说。"
      : "You are a customer-service assistant. Answer only from the passages below, briefly and politely; never state a number, date, price or policy that is not in them.";
    const user = `${used.map((c, i) => `[${i + 1}] ${c.text}`).join("\n\n")}\n\n${language === "zh" ? "问题" : "Question"}: ${query}`;
    const generated = (await options.generate({ system, user })).trim();
    const check = checkGrounding(generated, used.map((c) => c.text));
    if (generated && check.grounded) return { text: generated, citations: used, grounded: true, confident: true, handoff: false, query: q };
    return { text: passageReply, citations: citations.slice(0, 1), grounded: false, confident: true, handoff: true, query: q };
  }

  close(): void {
    this.bm25.close();
    this.db.close();
  }
}

function round(x: number): number {
  return Math.round(x * 10000) / 10000;
}

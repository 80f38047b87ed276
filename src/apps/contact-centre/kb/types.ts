// The knowledge-base interface of the contact-centre assistant — what the desk server builds its automatic replies
// on:
//
//   const kb = await KnowledgeBase.open({ dbPath, config: loaded.knowledge_base, embedder });   // kb/knowledge-base.ts
//   const report = await kb.importFolder(folder);          // { added, updated, unchanged, removed, errors: [{file, error}] }
//   const a = await kb.answer("那它几点关门?", { slots: { attraction: "故宫" }, language: "zh" }, { generate });
//   // a.text, a.citations [{doc, passage, score, text}], a.grounded, a.confident, a.handoff
//
// Retrieval is hybrid: BM25 over jieba terms (src/tools/search.ts) fused with the cosine similarity of dense
// embeddings from an injected Embedder (the served chat model's embeddings today, a BERT encoder later; none → BM25
// alone). An answer is `confident` when the best passage's fused score reaches the configured threshold; otherwise
// the text says so and offers a human. With a `generate` function (a chat model) the reply is phrased from the
// cited passages and then checked: every number, date, price or policy statement in it must appear in a cited
// passage, else the reply falls back to the passage itself and `grounded` is false. Without one the reply is the
// best passage (or the FAQ answer), which is grounded by construction.
// Leaves out: storage of conversations (the desk server), reranking with a cross-encoder (issue 16 adds one).
import type { Language } from "../config-schema.js";

/** Turns texts into vectors (any dimension, same for every call). Async: it may call a served model. */
export interface Embedder {
  /** Stable name (model id and pooling); the index re-embeds everything when it changes. */
  readonly id: string;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

/** A chat model that phrases a reply from a prompt (the server passes its engine's generate). */
export type Generate = (prompt: { system: string; user: string }) => Promise<string>;

export interface Citation {
  /** Document path relative to its KB folder ("faq.csv#12" for an FAQ row). */
  doc: string;
  /** Passage number within the document (0-based). */
  passage: number;
  /** Fused score in [0, 1]. */
  score: number;
  text: string;
}

export interface Answer {
  text: string;
  citations: Citation[];
  /** Whether every number/date/price/policy statement in `text` appears in a cited passage. */
  grounded: boolean;
  /** Whether the best passage reached the confidence threshold. */
  confident: boolean;
  /** Whether the reply offers a human (not confident, or grounding failed and the fallback was used). */
  handoff: boolean;
  /** The query actually searched (the customer text with carried-over slot values added). */
  query: string;
}

/** The part of the dialogue state the KB uses: carried-over slots complete an elliptical follow-up. */
export interface AnswerContext {
  slots?: Record<string, string>;
  language?: Language;
  /** The previous customer turn, used when this one is a bare follow-up. */
  previousQuery?: string;
  /** The intent's topic words (`kb_topic`): only a passage containing one of them may answer. */
  topic?: readonly string[];
  /** Entities the turn itself names, each as its spellings (value and synonyms): only a passage that contains one
   *  spelling of every one of them may answer. */
  named?: readonly (readonly string[])[];
}

export interface ImportError {
  file: string;
  error: string;
}

export interface ImportReport {
  added: number;
  updated: number;
  unchanged: number;
  removed: number;
  passages: number;
  /** Files that could not be imported (too large, not UTF-8, a corrupt PDF/DOCX); everything else is kept. */
  errors: ImportError[];
}

export interface SearchResult extends Citation {
  bm25: number;
  dense: number;
}

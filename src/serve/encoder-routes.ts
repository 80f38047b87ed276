// The encoder side of `zhiyu serve --embedding-model PATH [--rerank-model PATH]`: the batch embedder that the
// encoder's own scheduler runs for /v1/embeddings (the model's own pooling — sentence-transformers or GGUF
// pooling_type, else mean; the route L2-normalises), and /v1/rerank (also /rerank and
// /v1/reranking, llama-server's paths) from a cross-encoder: each (query, document) pair runs as one
// "[CLS] query [SEP] document [SEP]" sequence, and relevance_score is the classifier's logit (llama-server's rank
// pooling; a one-label model's score, or label 0's for more labels), results sorted by it, best first.
// Leaves out: rerank through a scheduler (a rerank request runs its pairs as packed batches on the event loop),
// instructions that some embedding models prepend (callers add them).
import type { BertEncoder } from "../infer/encoder.js";
import type { BatchEmbedder, TextModel } from "../infer/model-api.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import type { EncoderSequence } from "../models/bert/model.js";
import { ApiError, invalid } from "./errors.js";
import type { Metrics } from "./metrics.js";
import { asObject } from "./protocol.js";

/** An encoder the server runs, and the names a request's `model` may use for it. */
export interface EncoderService {
  encoder: BertEncoder;
  names: readonly string[];
}

/** Inputs per forward pass (bounds memory for a 2048-input request). */
const BATCH = 32;

function checkModel(svc: EncoderService, model: string, what: string): void {
  if (!svc.names.includes(model)) {
    throw new ApiError(404, `The model '${model}' does not exist; this server's ${what} model is '${svc.names[0]}' (see GET /v1/models).`,
      "invalid_request_error", "model", "model_not_found");
  }
}

/** Text or token ids → one sequence, with the request's parameter named in errors. */
function toSequence(enc: BertEncoder, input: string | number[], param: string, pair?: string): EncoderSequence {
  try {
    return typeof input === "string" ? enc.sequenceFromJson({ text: input, ...(pair !== undefined ? { text_pair: pair } : {}) }, param)
      : enc.sequenceFromJson({ ids: input }, param);
  } catch (err) {
    const message = (err as Error).message;
    throw new ApiError(400, message, "invalid_request_error", param, /at most \d+/.test(message) ? "context_length_exceeded" : "invalid_value");
  }
}

function inBatches<T>(seqs: readonly EncoderSequence[], run: (chunk: EncoderSequence[]) => T[]): T[] {
  const out: T[] = [];
  for (let i = 0; i < seqs.length; i += BATCH) out.push(...run(seqs.slice(i, i + BATCH)));
  return out;
}

/** The encoder as the scheduler's batch embedder: the model's pooling (sentence-transformers / GGUF, else mean),
 *  unnormalised (the /v1/embeddings route normalises), one packed forward pass per slice of inputs. */
export function encoderEmbedder(enc: BertEncoder): BatchEmbedder {
  const pooling = enc.defaultPooling === "none" ? "mean" : enc.defaultPooling;
  return { embeddingDim: enc.config.hiddenSize, embedBatch: (batch) => enc.embedSequences(batch.map((ids) => ({ ids })), pooling, false) };
}

export interface RerankRequest {
  model: string;
  query: string;
  documents: string[];
  topN: number;
  returnDocuments: boolean;
}

/** The common rerank request (llama-server, Jina, Cohere): {model, query, documents: [string], top_n?, return_documents?}. */
export function parseRerankRequest(body: unknown, defaultModel: string): RerankRequest {
  const o = asObject(body, "rerank");
  const model = o.model === undefined || o.model === null ? defaultModel : o.model;
  if (typeof model !== "string") throw invalid("model", "'model' must be a string");
  if (typeof o.query !== "string" || o.query.length === 0) throw invalid("query", "'query' must be a non-empty string", "missing_required_parameter");
  if (!Array.isArray(o.documents)) throw invalid("documents", "'documents' must be a list of strings", "missing_required_parameter");
  if (o.documents.length === 0) throw invalid("documents", "'documents' is empty; send at least one document to rank");
  if (o.documents.length > 1024) throw invalid("documents", `at most 1024 documents per request, got ${o.documents.length}`);
  const documents = o.documents.map((d, i) => {
    // Jina and Cohere also accept {"text": …} objects.
    const text = typeof d === "string" ? d : typeof d === "object" && d !== null && typeof (d as { text?: unknown }).text === "string" ? (d as { text: string }).text : null;
    if (text === null) throw invalid(`documents[${i}]`, `documents[${i}] must be a string (or {"text": …})`);
    return text;
  });
  let topN = documents.length;
  if (o.top_n !== undefined && o.top_n !== null) {
    if (typeof o.top_n !== "number" || !Number.isInteger(o.top_n) || o.top_n < 1) throw invalid("top_n", "'top_n' must be a positive integer");
    topN = Math.min(o.top_n, documents.length);
  }
  if (o.return_documents !== undefined && typeof o.return_documents !== "boolean") throw invalid("return_documents", "'return_documents' must be true or false");
  return { model, query: o.query, documents, topN, returnDocuments: o.return_documents === true };
}

/** POST /v1/rerank: scores every document against the query with the cross-encoder. */
export function rerank(svc: EncoderService, metrics: Metrics, body: unknown): unknown {
  const req = parseRerankRequest(body, svc.names[0]);
  checkModel(svc, req.model, "rerank");
  const enc = svc.encoder;
  const seqs = req.documents.map((d, i) => toSequence(enc, req.query, `documents[${i}]`, d));
  const scores = inBatches(seqs, (chunk) => enc.classify(chunk).map((c) => c.logits[0]));
  const total = seqs.reduce((a, s) => a + s.ids.length, 0);
  metrics.promptTokens += total;
  const results = scores.map((relevance_score, index) => ({ index, relevance_score, ...(req.returnDocuments ? { document: { text: req.documents[index] } } : {}) }))
    .sort((a, b) => b.relevance_score - a.relevance_score || a.index - b.index).slice(0, req.topN);
  return { object: "list", model: req.model, results, usage: { prompt_tokens: total, total_tokens: total } };
}

/** The stand-in chat model of a server started with encoders only: it lets the scheduler and engine exist (for
 *  /health and /metrics) while chat and completion requests are refused before they reach it. */
export function noChatModel(svc: EncoderService): TextModel {
  const refuse = (): never => {
    throw new ApiError(400, `this server was started without a chat model (only --embedding-model / --rerank-model '${svc.names[0]}'); ` +
      "chat and completions need zhiyu serve --model PATH", "invalid_request_error", "model", "model_not_found");
  };
  const enc = svc.encoder;
  return {
    id: enc.id, architecture: "bert", vocabSize: enc.config.vocabSize, contextLength: enc.contextLength, embeddingDim: enc.config.hiddenSize,
    // Text is framed as the model's HF tokenizer does ([CLS] … [SEP], special tokens in the text recognised).
    tokenizer: Object.assign(Object.create(enc.tokenizer) as Tokenizer, { encode: (text: string) => enc.tokenize(text).ids }),
    chatTemplate: null, stopTokenIds: [], generationDefaults: {},
    createSequence: refuse, forward: refuse, embed: (tokens) => enc.embed(tokens), dispose: () => {},
  };
}

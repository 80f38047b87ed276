// Sentence embeddings of texts from a BERT-family encoder, behind the small interface retrieval code takes: an id
// that changes when the vectors would (model and pooling), and embed(texts) → one vector per text. It is the shape
// of the contact-centre knowledge base's Embedder (src/apps/contact-centre/kb/types.ts), so the desk can pass
// `encoderTextEmbedder(loadEncoder(path))` to KnowledgeBase.open({ embedder }), and the hybrid search tool
// (src/tools/hybrid-search.ts) ranks with it.
// Texts longer than the model's positions are cut to its length (keeping the closing [SEP]).
// Leaves out: caching, batching across callers (the server's scheduler does that for /v1/embeddings).
import { loadEncoder, type BertEncoder } from "./encoder.js";

export interface TextEmbedder {
  /** Stable name: model and pooling; indexes re-embed when it changes. */
  readonly id: string;
  /** Vector length. */
  readonly dim: number;
  embed(texts: readonly string[]): Promise<Float32Array[]>;
}

export interface TextEmbedderOptions {
  /** Default: the model's own pooling (sentence-transformers / GGUF), else mean. */
  pooling?: "mean" | "cls";
  /** L2-normalise (default true: cosine = dot product). */
  normalize?: boolean;
  /** Texts per forward pass (default 32). */
  batch?: number;
}

export function encoderTextEmbedder(encoder: BertEncoder, options: TextEmbedderOptions = {}): TextEmbedder {
  const pooling = options.pooling ?? (encoder.defaultPooling === "cls" ? "cls" : "mean");
  const normalize = options.normalize ?? true;
  const batch = Math.max(1, options.batch ?? 32);
  const max = encoder.contextLength;
  return {
    id: `${encoder.id}:${pooling}${normalize ? ":l2" : ""}`,
    dim: encoder.embeddingDim,
    async embed(texts) {
      const out: Float32Array[] = [];
      for (let i = 0; i < texts.length; i += batch) {
        const seqs = texts.slice(i, i + batch).map((t) => {
          const ids = encoder.tokenizer.encode(t, { addSpecialTokens: true });
          return { ids: ids.length <= max ? ids : [...ids.slice(0, max - 1), ids[ids.length - 1]!] };
        });
        out.push(...encoder.embedSequences(seqs, pooling, normalize));
      }
      return out;
    },
  };
}

/** Loads an encoder (HF folder or GGUF) as a TextEmbedder. */
export function loadTextEmbedder(modelPath: string, options: TextEmbedderOptions & { threads?: number } = {}): TextEmbedder {
  return encoderTextEmbedder(loadEncoder(modelPath, { threads: options.threads }), options);
}

// What the generation loop, the server and the batching scheduler need from a loaded language model.
// src/infer/ implements it for every model family; src/serve/ and the scheduler depend only on this file
// (and src/tokenizers/tokenizer.ts), so they can be tested with a small fake.

import type { Tokenizer } from "../tokenizers/tokenizer.js";

/** One sequence's state inside a model: its KV cache and length. */
export interface SequenceState {
  /** Tokens already in the cache. */
  readonly length: number;
  /** Drops cached positions from n on (n ≤ length), e.g. to reuse a shared prompt prefix. */
  truncate(n: number): void;
  /** Frees the cache memory; the sequence cannot be used afterwards. */
  dispose(): void;
}

export interface ForwardItem {
  seq: SequenceState;
  /** New tokens to append: a whole prompt (prefill) or one sampled token (decode). */
  tokens: readonly number[];
}

export interface TextModel {
  /** Id shown in /v1/models, e.g. the folder or file name. */
  readonly id: string;
  readonly architecture: string;
  readonly vocabSize: number;
  /** Longest sequence (prompt + generated) the model accepts. */
  readonly contextLength: number;
  /** Hidden size, the dimension of embed() vectors. */
  readonly embeddingDim: number;
  readonly tokenizer: Tokenizer;
  /** Jinja chat template (from GGUF metadata or tokenizer_config.json), or null: callers fall back to ChatML. */
  readonly chatTemplate: string | null;
  /** Ids that end generation (EOS, end-of-turn); generation_config.json may list several. */
  readonly stopTokenIds: readonly number[];
  /** Default sampling settings from generation_config.json, if any. */
  readonly generationDefaults: Readonly<Record<string, number>>;
  createSequence(): SequenceState;
  /** One forward pass over several sequences at once (continuous batching): appends each item's tokens to its
   *  cache and returns, per item in order, the logits at its last new token (length vocabSize). Throws a clear
   *  error if a sequence would exceed contextLength. */
  forward(batch: readonly ForwardItem[]): Float32Array[];
  /** A fixed-size embedding of the text's tokens (mean of the final hidden states), for /v1/embeddings. */
  embed(tokens: readonly number[]): Float32Array;
  dispose(): void;
}

/** Anything that turns a batch of token sequences into one fixed-size vector each (a decoder's mean-pooled hidden
 *  states, an encoder's pooled output): what /v1/embeddings and the scheduler's embedding requests run on. */
export interface BatchEmbedder {
  readonly embeddingDim: number;
  embedBatch(batch: readonly (readonly number[])[]): Float32Array[];
}

/** A TextModel's embed() as a BatchEmbedder (one input after another). */
export function batchEmbedderOf(model: TextModel): BatchEmbedder {
  return { embeddingDim: model.embeddingDim, embedBatch: (batch) => batch.map((tokens) => model.embed(tokens)) };
}

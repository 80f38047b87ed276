// What the generation loop, the server and the batching scheduler need from a loaded model, one interface per
// model kind: TextModel (a causal LM with its KV cache), EncoderModel (hidden states, BERT-style) and Seq2SeqModel
// (encode the source once, then decoder steps like a causal LM's). loadAnyModel (load.ts) returns one of them,
// tagged by `kind`; requireKind turns a model of the wrong kind for a route into a clear error.
// src/infer/ implements them for every registered family; src/serve/ and the scheduler depend only on this file
// (and src/tokenizers/tokenizer.ts), so they can be tested with a small fake.
// Leaves out: how a route uses a kind (src/serve/).

import type { Tokenizer } from "../tokenizers/tokenizer.js";
import type { ModelKind } from "../models/descriptor.js";
import type { ModelInfo } from "./model-info.js";

export type { ModelKind };

/** One sequence's state inside a model: its KV cache and length. */
export interface SequenceState {
  /** Tokens already in the cache. */
  readonly length: number;
  /** Drops cached positions from n on (minTruncate ≤ n ≤ length), e.g. to reuse a shared prompt prefix. */
  truncate(n: number): void;
  /** The smallest n truncate accepts (a sliding-window layer's ring buffer has overwritten older positions); absent: 0. */
  readonly minTruncate?: number;
  /** Frees the cache memory; the sequence cannot be used afterwards. */
  dispose(): void;
  /** Makes room for `extra` more tokens now (at most up to the context length): a cache that would otherwise double
   *  inside a decode loop — allocating, copying and first touching fresh memory at one step, a stall of 15–200 ms at
   *  110M on this project's VM host — grows once, before it. Absent: the model grows its state as tokens arrive. */
  reserve?(extra: number): void;
  /** An independent copy of the sequence (its cache copied; a seq2seq source shared), for beam search. Absent: the
   *  model cannot fork sequences. */
  fork?(): SequenceState;
}

/** LoRA adapters a sequence runs with: name → scale (undefined or empty: the base model). */
export type AdapterChoice = ReadonlyMap<string, number>;

export interface ForwardItem {
  seq: SequenceState;
  /** New tokens to append: a whole prompt (prefill) or one sampled token (decode). */
  tokens: readonly number[];
  /** Adapters for this item (names from TextModel.loraAdapters); a sequence keeps one choice for its whole life. */
  adapters?: AdapterChoice;
}

/** How forward() hands the logits back. */
export interface ForwardOptions {
  /** A buffer the caller owns, of at least batch.length × vocabSize elements: the model may write the logits into it
   *  and return views of it instead of fresh arrays — a decode loop then allocates no new
   *  vocab-sized array per step. The views stay valid until the caller passes the buffer again (or writes it); a
   *  caller that keeps a row past its next forward() copies it. A model may ignore it and return fresh arrays. */
  into?: Float32Array;
}

export interface TextModel {
  /** Absent means "causal-lm" (fakes written before the other kinds existed need not say it). */
  readonly kind?: "causal-lm";
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
  /** LoRA adapters loaded for per-sequence use (zhiyu serve --lora NAME=PATH[:scale]): name → default scale. */
  readonly loraAdapters?: ReadonlyMap<string, number>;
  /** What the model's files say about it (its name, whether it was trained for tool calls; model-info.ts). Every
   *  loaded model has it, so each server, chat or desk that serves the model describes it the same way; a test
   *  fake may leave it out. */
  readonly info?: ModelInfo;
  createSequence(): SequenceState;
  /** One forward pass over several sequences at once (continuous batching): appends each item's tokens to its
   *  cache and returns, per item in order, the logits at its last new token (length vocabSize). Throws a clear
   *  error if a sequence would exceed contextLength. options.into: see ForwardOptions. */
  forward(batch: readonly ForwardItem[], options?: ForwardOptions): Float32Array[];
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
export function batchEmbedderOf(model: Pick<TextModel, "embeddingDim" | "embed">): BatchEmbedder {
  return { embeddingDim: model.embeddingDim, embedBatch: (batch) => batch.map((tokens) => model.embed(tokens)) };
}

/** One input of an encoder: token ids, and segment ids (BERT token_type_ids; zeros when absent). */
export interface EncodeItem {
  tokens: readonly number[];
  tokenTypeIds?: readonly number[];
}

/** An encoder (BERT-style): hidden states for every token; no sampling, no cache. */
export interface EncoderModel {
  readonly kind: "encoder";
  readonly id: string;
  readonly architecture: string;
  readonly vocabSize: number;
  /** Longest input the model accepts. */
  readonly contextLength: number;
  /** Hidden size H: each token's vector length, and the dimension of embed() vectors. */
  readonly embeddingDim: number;
  readonly tokenizer: Tokenizer;
  /** Heads the checkpoint carries (e.g. "pooler", "mlm", "classifier"), for runHead. */
  readonly heads: readonly string[];
  /** Per item, its hidden states [T, H] row-major (a batch is padded and masked inside; rows do not interact). */
  encode(batch: readonly EncodeItem[]): Float32Array[];
  /** Per item, a head's output over its hidden states, flattened row-major. */
  runHead(head: string, batch: readonly EncodeItem[]): Float32Array[];
  /** A fixed-size embedding of the tokens (mean of the hidden states), for /v1/embeddings. */
  embed(tokens: readonly number[]): Float32Array;
  dispose(): void;
}

/** An encoder-decoder (T5-style): createSequence encodes the source once (the sequence holds the decoder's
 *  self-attention cache and the source's cross-attention K/V); forward then runs decoder steps exactly as a
 *  TextModel's, so the scheduler's batching applies (the first step feeds decoderStartTokenId). */
export interface Seq2SeqModel {
  readonly kind: "seq2seq";
  readonly id: string;
  readonly architecture: string;
  readonly vocabSize: number;
  /** Longest target (decoder) sequence; sources are checked against sourceLength. */
  readonly contextLength: number;
  readonly sourceLength: number;
  readonly embeddingDim: number;
  readonly tokenizer: Tokenizer;
  readonly decoderStartTokenId: number;
  readonly stopTokenIds: readonly number[];
  readonly generationDefaults: Readonly<Record<string, number>>;
  /** How chat messages become the source text (a plain text-to-text template: the messages' contents). */
  readonly chatTemplate: string | null;
  /** What the model's files say about it (model-info.ts), when the loader read it. */
  readonly info?: ModelInfo;
  createSequence(sourceTokens: readonly number[]): SequenceState;
  forward(batch: readonly ForwardItem[], options?: ForwardOptions): Float32Array[];
  /** Mean of the encoder's hidden states over the tokens, for /v1/embeddings. */
  embed(tokens: readonly number[]): Float32Array;
  dispose(): void;
}

/** Any loaded model, tagged by kind. */
export type ServedModel = TextModel | EncoderModel | Seq2SeqModel;

/** A model that generates text token by token through forward(): what the scheduler, the engine and the completion
 *  and chat routes serve. */
export type GenerativeModel = TextModel | Seq2SeqModel;

export function kindOf(model: ServedModel): ModelKind {
  return model.kind ?? "causal-lm";
}

interface KindMap { "causal-lm": TextModel; encoder: EncoderModel; seq2seq: Seq2SeqModel }

export class UnsupportedKindError extends Error {
  override name = "UnsupportedKindError";
}

/** "a causal-lm", "an encoder", "a seq2seq": for messages. */
export function withArticle(kind: ModelKind): string {
  return `${/^[aeiou]/.test(kind) ? "an" : "a"} ${kind}`;
}

/** The model as the kind `use` needs (e.g. use = "chat completions"), or an error naming the model, its kind, the
 *  use and the kinds it accepts. */
export function requireKind<K extends ModelKind>(model: ServedModel, kinds: readonly K[], use: string): KindMap[K] {
  const kind = kindOf(model);
  if (!(kinds as readonly ModelKind[]).includes(kind)) {
    throw new UnsupportedKindError(`${use}: model '${model.id}' (${model.architecture}) is ${withArticle(kind)} model; ` +
      `${use} needs ${kinds.map(withArticle).join(" or ")} model`);
  }
  return model as KindMap[K];
}

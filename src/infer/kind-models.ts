// The serving models of the non-causal kinds, built by the loader (load.ts) over a family's network:
// LoadedEncoder (an EncoderNetwork → EncoderModel: padded, masked batches in, per-item hidden states out) and
// LoadedSeq2Seq (a Seq2SeqNetwork → Seq2SeqModel: a sequence encodes its source once and holds the decoder state,
// so forward() runs decoder steps with the same contract as a causal LM's). The causal LM is LoadedModel in load.ts.
// Leaves out: the network math (each family's folder) and tokenizers / templates (the loader passes them in).
import type { Backend } from "../backend/backend.js";
import { type Tensor, noGrad, tidy } from "../tensor/index.js";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import type { DecoderState, EncoderInput, EncoderNetwork, Seq2SeqNetwork } from "../models/descriptor.js";
import type { EncodeItem, EncoderModel, ForwardItem, Seq2SeqModel, SequenceState } from "./model-api.js";
import { TEXT_TO_TEXT_TEMPLATE } from "./chat-template.js";
import type { ModelInfo } from "./model-info.js";

/** What every loaded model carries besides its network. */
export interface LoadedInfo {
  id: string;
  architecture: string;
  vocabSize: number;
  hiddenSize: number;
  contextLength: number;
  tokenizer: Tokenizer;
  stopTokenIds: readonly number[];
  generationDefaults: Readonly<Record<string, number>>;
  backend: Backend;
  /** What the model's files say about it (model-info.ts); read for generative models. */
  modelInfo?: ModelInfo;
}

function checkTokens(op: string, i: number, tokens: readonly number[], vocabSize: number, maxLength: number): void {
  if (tokens.length === 0) throw new Error(`[${op}] batch[${i}] has no tokens`);
  if (tokens.length > maxLength) throw new RangeError(`[${op}] batch[${i}]: ${tokens.length} tokens exceed the limit ${maxLength}`);
  for (const id of tokens) {
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new RangeError(`[${op}] batch[${i}]: token id ${id} is outside the vocabulary [0, ${vocabSize})`);
    }
  }
}

/** A batch padded to its longest item: ids and segment ids 0, attention mask 0 past each item's length. */
function padded(batch: readonly EncodeItem[], op: string, vocabSize: number, maxLength: number): EncoderInput {
  batch.forEach((item, i) => {
    checkTokens(op, i, item.tokens, vocabSize, maxLength);
    if (item.tokenTypeIds && item.tokenTypeIds.length !== item.tokens.length) {
      throw new RangeError(`[${op}] batch[${i}]: ${item.tokenTypeIds.length} token type ids for ${item.tokens.length} tokens`);
    }
  });
  const length = Math.max(...batch.map((it) => it.tokens.length));
  const ids = new Int32Array(batch.length * length);
  const tokenTypeIds = new Int32Array(batch.length * length);
  const attentionMask = new Uint8Array(batch.length * length);
  batch.forEach((it, b) => {
    ids.set(it.tokens, b * length);
    if (it.tokenTypeIds) tokenTypeIds.set(it.tokenTypeIds, b * length);
    attentionMask.fill(1, b * length, b * length + it.tokens.length);
  });
  return { ids, tokenTypeIds, attentionMask, batch: batch.length, length };
}

/** Row b of a [B, ...] tensor's values, flattened; `keep` of them (a per-token tensor: the item's own positions). */
function rows(t: Tensor, batch: number, keepOf: (b: number) => number): Float32Array[] {
  const flat = t.toFloat32Array();
  const per = flat.length / batch;
  return Array.from({ length: batch }, (_, b) => flat.slice(b * per, b * per + keepOf(b)));
}

/** The mean of n rows of d values (an embedding from hidden states). */
function meanOfRows(x: Float32Array, n: number, d: number): Float32Array {
  const out = new Float32Array(d);
  for (let t = 0; t < n; t++) for (let j = 0; j < d; j++) out[j] += x[t * d + j]!;
  for (let j = 0; j < d; j++) out[j] /= n;
  return out;
}

export class LoadedEncoder implements EncoderModel {
  readonly kind = "encoder" as const;
  readonly id: string;
  readonly architecture: string;
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly embeddingDim: number;
  readonly tokenizer: Tokenizer;
  readonly heads: readonly string[];

  constructor(info: LoadedInfo, readonly network: EncoderNetwork) {
    this.id = info.id;
    this.architecture = info.architecture;
    this.vocabSize = info.vocabSize;
    this.contextLength = info.contextLength;
    this.embeddingDim = info.hiddenSize;
    this.tokenizer = info.tokenizer;
    this.heads = Object.keys(network.heads);
  }

  encode(batch: readonly EncodeItem[]): Float32Array[] {
    if (batch.length === 0) return [];
    const input = padded(batch, "encode", this.vocabSize, this.contextLength);
    return noGrad(() => tidy(() => rows(this.network.encode(input), batch.length, (b) => batch[b]!.tokens.length * this.embeddingDim)));
  }

  runHead(head: string, batch: readonly EncodeItem[]): Float32Array[] {
    const run = this.network.heads[head];
    if (!run) throw new Error(`[runHead] model '${this.id}' has no head '${head}' (heads: ${this.heads.join(", ") || "none"})`);
    if (batch.length === 0) return [];
    const input = padded(batch, "runHead", this.vocabSize, this.contextLength);
    return noGrad(() => tidy(() => {
      const out = run(this.network.encode(input));
      return rows(out, batch.length, () => out.size / batch.length);
    }));
  }

  embed(tokens: readonly number[]): Float32Array {
    return meanOfRows(this.encode([{ tokens }])[0]!, tokens.length, this.embeddingDim);
  }

  dispose(): void {
    for (const p of this.network.params.values()) if ("dispose" in p) (p as Tensor).dispose();
  }
}

/** A target sequence: its decoder state (self-attention cache + the source's cross-attention K/V). */
class DecoderSequence implements SequenceState {
  constructor(readonly state: DecoderState) {}
  get length(): number {
    return this.state.selfCache.length;
  }
  truncate(n: number): void {
    this.state.selfCache.truncate(n);
  }
  fork(): SequenceState {
    if (!this.state.fork) throw new Error("[fork] this model's decoder state cannot be forked (beam search needs it)");
    return new DecoderSequence(this.state.fork());
  }
  dispose(): void {
    this.state.dispose();
  }
}

export class LoadedSeq2Seq implements Seq2SeqModel {
  readonly kind = "seq2seq" as const;
  readonly id: string;
  readonly architecture: string;
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly sourceLength: number;
  readonly embeddingDim: number;
  readonly tokenizer: Tokenizer;
  readonly decoderStartTokenId: number;
  readonly stopTokenIds: readonly number[];
  readonly generationDefaults: Readonly<Record<string, number>>;
  readonly chatTemplate = TEXT_TO_TEXT_TEMPLATE;
  readonly info: ModelInfo | undefined;

  constructor(info: LoadedInfo, readonly network: Seq2SeqNetwork, sourceLength: number) {
    this.info = info.modelInfo;
    this.id = info.id;
    this.architecture = info.architecture;
    this.vocabSize = info.vocabSize;
    this.contextLength = info.contextLength;
    this.sourceLength = sourceLength;
    this.embeddingDim = info.hiddenSize;
    this.tokenizer = info.tokenizer;
    this.decoderStartTokenId = network.decoderStartTokenId;
    this.stopTokenIds = info.stopTokenIds;
    this.generationDefaults = info.generationDefaults;
  }

  createSequence(sourceTokens: readonly number[]): SequenceState {
    const input = padded([{ tokens: sourceTokens }], "createSequence", this.vocabSize, this.sourceLength);
    // The state's tensors are kept by the network (they outlive this tidy); the encoder output is not.
    return new DecoderSequence(noGrad(() => tidy(() => this.network.createDecoderState(this.network.encode(input), this.contextLength))));
  }

  forward(batch: readonly ForwardItem[]): Float32Array[] {
    if (batch.length === 0) return [];
    const items = batch.map((item, i) => {
      if (!(item.seq instanceof DecoderSequence)) throw new Error(`[forward] batch[${i}].seq was not created by this model's createSequence()`);
      checkTokens("forward", i, item.tokens, this.vocabSize, this.contextLength - item.seq.length);
      return { ids: item.tokens, state: item.seq.state };
    });
    const v = this.vocabSize;
    return noGrad(() => tidy(() => {
      const flat = this.network.decode(items).toFloat32Array();
      return items.map((_, i) => flat.slice(i * v, (i + 1) * v));
    }));
  }

  embed(tokens: readonly number[]): Float32Array {
    const input = padded([{ tokens }], "embed", this.vocabSize, this.sourceLength);
    return meanOfRows(noGrad(() => tidy(() => this.network.encode(input).toFloat32Array())), tokens.length, this.embeddingDim);
  }

  dispose(): void {
    for (const p of this.network.params.values()) if ("dispose" in p) (p as Tensor).dispose();
  }
}

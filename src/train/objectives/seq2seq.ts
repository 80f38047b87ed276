// Seq2seq objectives for encoder-decoder models (T5) on the one training loop: T5's span corruption (15% of a
// document's tokens in random spans of mean length 3, each span replaced in the source by a sentinel <extra_id_i>
// and listed after it in the target — T5's random_spans_noise_mask / HF's run_t5_mlm_flax), and supervised
// source → target fine-tuning over a mixture of tasks, each with its own text prefix and sampling rate (a single
// input/target JSONL file is a mixture of one). A micro-batch is `batch` examples right-padded; the decoder input is
// the decoder start token then the target shifted right; the loss is the mean cross-entropy over the target tokens
// (transformers' loss with labels −100 on padding). Sampling draws from the loop's checkpointed generator and each
// task keeps a cursor, so a resumed run continues exactly.
// Leaves out: packing several examples per row, prefix-LM / UL2 denoisers, dynamic (length-bucketed) batching.
import { crossEntropy, fromTypedArray, noGrad, reshape, tidy } from "../../tensor/index.js";
import type { Rng } from "../../core/rng.js";
import type { Seq2SeqTrainBatch } from "../../models/descriptor.js";
import type { TrainModel } from "../model.js";
import type { ObjectiveContext, ObjectiveLoss, TrainingObjective } from "../objective.js";

export const IGNORE = -100;

export class Seq2SeqDataError extends Error {
  override name = "Seq2SeqDataError";
}

export interface Seq2SeqExample {
  source: readonly number[];
  target: readonly number[];
}

/** The ids of sentinels <extra_id_0> … <extra_id_{n−1}>, or an error naming the first one the vocabulary lacks. */
export function sentinelIds(tokenToId: (token: string) => number | undefined, n: number, where: string): number[] {
  const ids: number[] = [];
  for (let i = 0; i < n; i++) {
    const id = tokenToId(`<extra_id_${i}>`);
    if (id === undefined) {
      throw new Seq2SeqDataError(`${where}: the vocabulary has no sentinel token <extra_id_${i}> (span corruption needs ${n}, one per ` +
        `noise span): use a T5 tokenizer with extra_ids (≥ ${n}), or make the documents shorter so fewer spans are needed`);
    }
    ids.push(id);
  }
  return ids;
}

/** Lengths of `segments` non-empty runs covering `items`, in random order (T5's _random_segmentation). */
function randomSegmentation(items: number, segments: number, rng: Rng): number[] {
  const firstInSegment = Array.from({ length: items - 1 }, (_, i) => i < segments - 1);
  for (let i = firstInSegment.length - 1; i > 0; i--) {
    const j = rng.int(i + 1);
    [firstInSegment[i], firstInSegment[j]] = [firstInSegment[j]!, firstInSegment[i]!];
  }
  const lengths = [1];
  for (const starts of firstInSegment) {
    if (starts) lengths.push(1);
    else lengths[lengths.length - 1]!++;
  }
  return lengths;
}

export interface SpanCorruptionOptions {
  /** Share of tokens corrupted (default 0.15). */
  noiseDensity?: number;
  /** Mean noise span length (default 3). */
  meanSpanLength?: number;
  /** Sentinel ids, <extra_id_0> first (sentinelIds()). */
  sentinels: readonly number[];
  eosId: number;
}

/** One document's span-corruption example: source = kept runs with a sentinel per noise span, then EOS; target =
 *  each sentinel followed by the span it replaced, then EOS. */
export function spanCorruption(tokens: readonly number[], rng: Rng, o: SpanCorruptionOptions): Seq2SeqExample {
  const density = o.noiseDensity ?? 0.15, mean = o.meanSpanLength ?? 3;
  if (!(density > 0 && density < 1)) throw new RangeError(`[span-corruption] noise density ${density} must be in (0, 1)`);
  if (!(mean >= 1)) throw new RangeError(`[span-corruption] mean span length ${mean} must be ≥ 1`);
  const n = tokens.length;
  if (n < 2) throw new Seq2SeqDataError(`[span-corruption] a document of ${n} token${n === 1 ? "" : "s"} cannot be corrupted (needs ≥ 2)`);
  const noise = Math.min(Math.max(Math.round(n * density), 1), n - 1);
  const spans = Math.max(Math.round(noise / mean), 1);
  if (spans > o.sentinels.length) {
    throw new Seq2SeqDataError(`[span-corruption] a document of ${n} tokens needs ${spans} sentinels but ${o.sentinels.length} are given: ` +
      "shorten the documents (--seq) or use a vocabulary with more <extra_id_N> tokens");
  }
  const noiseLengths = randomSegmentation(noise, spans, rng);
  const keepLengths = randomSegmentation(n - noise, spans, rng);
  const source: number[] = [], target: number[] = [];
  let at = 0;
  for (let s = 0; s < spans; s++) {
    for (let k = 0; k < keepLengths[s]!; k++) source.push(tokens[at++]!);
    source.push(o.sentinels[s]!);
    target.push(o.sentinels[s]!);
    for (let k = 0; k < noiseLengths[s]!; k++) target.push(tokens[at++]!);
  }
  source.push(o.eosId);
  target.push(o.eosId);
  return { source, target };
}

/** Right-padded batch of examples: the model's input and the labels (the target, IGNORE on padding). */
export function seq2seqBatch(examples: readonly Seq2SeqExample[], decoderStartId: number, padId: number): { input: Seq2SeqTrainBatch; labels: Int32Array } {
  const b = examples.length;
  const s = Math.max(...examples.map((e) => e.source.length)), t = Math.max(...examples.map((e) => e.target.length));
  const sourceIds = new Int32Array(b * s).fill(padId), sourceMask = new Uint8Array(b * s);
  const decoderIds = new Int32Array(b * t).fill(padId), labels = new Int32Array(b * t).fill(IGNORE);
  examples.forEach((e, i) => {
    if (e.source.length === 0 || e.target.length === 0) throw new Seq2SeqDataError(`[seq2seq] example ${i} has an empty source or target`);
    sourceIds.set(e.source, i * s);
    sourceMask.fill(1, i * s, i * s + e.source.length);
    decoderIds[i * t] = decoderStartId;
    decoderIds.set(e.target.slice(0, -1), i * t + 1);
    labels.set(e.target, i * t);
  });
  return { input: { batch: b, sourceIds, sourceMask, sourceLength: s, decoderIds, targetLength: t }, labels };
}

/** Mean cross-entropy over the target tokens of a batch (transformers' T5ForConditionalGeneration loss). */
export function seq2seqLoss(model: TrainModel, batch: { input: Seq2SeqTrainBatch; labels: Int32Array }) {
  const logits = model.seq2seqLogits(batch.input);
  const v = logits.shape[logits.shape.length - 1]!;
  return crossEntropy(reshape(logits, [batch.labels.length, v]), fromTypedArray(batch.labels, [batch.labels.length]), { ignoreIndex: IGNORE });
}

/** Where examples come from: one per call, drawn with the loop's generator; a resumable position. */
export interface ExampleSource {
  next(rng: Rng): Seq2SeqExample;
  position(): unknown;
  restorePosition(position: unknown): void;
  /** Tokens an average example brings (throughput figures). */
  readonly tokensPerExample: number;
}

/** Span corruption over tokenized documents, taken in order (cycling), each corrupted afresh when it comes round. */
export class SpanCorruptionSource implements ExampleSource {
  private cursor = 0;
  readonly tokensPerExample: number;
  constructor(private readonly documents: readonly (readonly number[])[], private readonly options: SpanCorruptionOptions) {
    if (documents.length === 0) throw new Seq2SeqDataError("[span-corruption] no documents to train on");
    this.tokensPerExample = Math.round(documents.reduce((a, d) => a + d.length, 0) / documents.length * 1.2);
  }
  next(rng: Rng): Seq2SeqExample {
    const doc = this.documents[this.cursor++ % this.documents.length]!;
    return spanCorruption(doc, rng, this.options);
  }
  position(): unknown {
    return { cursor: this.cursor };
  }
  restorePosition(position: unknown): void {
    this.cursor = Number((position as { cursor?: unknown })?.cursor ?? 0);
  }
}

export interface Seq2SeqTask {
  name: string;
  /** Token ids prepended to every source of the task (its text prefix, e.g. "summarize: "). */
  prefix: readonly number[];
  examples: readonly Seq2SeqExample[];
  /** Relative sampling rate (normalised over the tasks). */
  rate: number;
}

/** A multi-task mixture: each example's task is drawn by rate, then the task's next example (in order, cycling). */
export class MixtureSource implements ExampleSource {
  private readonly cursors: number[];
  private readonly cumulative: number[];
  readonly tokensPerExample: number;
  constructor(private readonly tasks: readonly Seq2SeqTask[]) {
    if (tasks.length === 0) throw new Seq2SeqDataError("[seq2seq] the mixture has no tasks");
    let total = 0;
    this.cumulative = tasks.map((t) => {
      if (!(t.rate > 0) || !Number.isFinite(t.rate)) throw new Seq2SeqDataError(`[seq2seq] task '${t.name}': rate ${t.rate} must be a positive number`);
      if (t.examples.length === 0) throw new Seq2SeqDataError(`[seq2seq] task '${t.name}' has no examples`);
      return (total += t.rate);
    });
    this.cumulative = this.cumulative.map((c) => c / total);
    this.cursors = tasks.map(() => 0);
    const all = tasks.flatMap((t) => t.examples.map((e) => t.prefix.length + e.source.length + e.target.length));
    this.tokensPerExample = Math.round(all.reduce((a, b) => a + b, 0) / all.length);
  }
  next(rng: Rng): Seq2SeqExample {
    const u = rng.nextFloat();
    let k = this.cumulative.findIndex((c) => u < c);
    if (k < 0) k = this.tasks.length - 1;
    const task = this.tasks[k]!;
    const e = task.examples[this.cursors[k]!++ % task.examples.length]!;
    return { source: [...task.prefix, ...e.source], target: e.target };
  }
  /** How many examples each task has given (the mixture's realised rates). */
  drawn(): Record<string, number> {
    return Object.fromEntries(this.tasks.map((t, i) => [t.name, this.cursors[i]!]));
  }
  position(): unknown {
    return { cursors: [...this.cursors] };
  }
  restorePosition(position: unknown): void {
    const c = (position as { cursors?: unknown })?.cursors;
    if (Array.isArray(c) && c.length === this.cursors.length) c.forEach((v, i) => { this.cursors[i] = Number(v); });
  }
}

interface Seq2SeqMicroBatch {
  input: Seq2SeqTrainBatch;
  labels: Int32Array;
}

export class Seq2SeqObjective implements TrainingObjective<Seq2SeqMicroBatch> {
  readonly tokensPerMicroBatch: number;
  readonly seq: number;

  constructor(readonly name: "span-corruption" | "seq2seq", private readonly source: ExampleSource, private readonly batch: number,
    private readonly ids: { decoderStartId: number; padId: number }, private readonly validation: readonly Seq2SeqExample[] = []) {
    this.tokensPerMicroBatch = batch * source.tokensPerExample;
    this.seq = source.tokensPerExample;
  }

  nextBatch(ctx: ObjectiveContext): Seq2SeqMicroBatch {
    const examples = Array.from({ length: this.batch }, () => this.source.next(ctx.rng));
    return seq2seqBatch(examples, this.ids.decoderStartId, this.ids.padId);
  }

  loss(model: TrainModel, b: Seq2SeqMicroBatch): ObjectiveLoss {
    return { loss: seq2seqLoss(model, b) };
  }

  /** Target tokens: accumulated micro-batches weigh by them. */
  weight(b: Seq2SeqMicroBatch): number {
    return b.labels.reduce((a, t) => a + (t === IGNORE ? 0 : 1), 0);
  }

  position(): unknown {
    return this.source.position();
  }

  restorePosition(position: unknown): void {
    this.source.restorePosition(position);
  }

  skip(k: number): void {
    // The spike guard's skip: draw and drop k micro-batches' examples with a throwaway generator.
    for (let i = 0; i < k * this.batch; i++) this.source.next({ int: () => 0, nextFloat: () => 0 } as unknown as Rng);
  }

  /** Mean loss over the held-out examples (fixed, in batches), or null without any. */
  validate(model: TrainModel): number | null {
    if (this.validation.length === 0) return null;
    let sum = 0, n = 0;
    for (let i = 0; i < this.validation.length; i += this.batch) {
      const b = seq2seqBatch(this.validation.slice(i, i + this.batch), this.ids.decoderStartId, this.ids.padId);
      const w = this.weight(b);
      sum += noGrad(() => tidy(() => seq2seqLoss(model, b).item())) * w;
      n += w;
    }
    return sum / n;
  }
}

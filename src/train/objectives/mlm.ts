// The masked-language-model objective (BERT pretraining): in each row, 15% of the maskable tokens are chosen — whole
// words at a time when word boundaries are given — and of those 80% become [MASK], 10% a random token and 10% stay;
// the loss is the cross-entropy of the encoder's MLM logits at the chosen positions only (HF's
// DataCollatorForLanguageModeling / DataCollatorForWholeWordMask with labels −100 elsewhere).
// Whole words: `wordStart(ids)` says which tokens begin a word (WordPiece: not "##…"; Chinese: the first character of
// a jieba word, as Chinese BERT-wwm masks). The CLI builds it from the tokenizer and a segmenter; train imports
// neither.
// In training each row's mask is drawn from its own generator seeded by (run seed, step, the row's index in the
// step's global batch): the masks are a function of where a row sits, not of how many rows were masked before, so a
// resumed run draws the same masks and a data-parallel run (each rank masking its own rows) the one-process masks.
// Leaves out: next-sentence prediction, dynamic span lengths (SpanBERT), the T5 span-corruption objective.
import { crossEntropy, fromTypedArray, indexSelect, reshape } from "../../tensor/index.js";
import { Rng } from "../../core/rng.js";
import type { Batch, BatchIterator, BatchPosition } from "../batches.js";
import { encoderInput, type TrainModel } from "../model.js";
import type { ObjectiveContext, ObjectiveLoss, TrainingObjective } from "../objective.js";
import { validationMean } from "./causal-lm.js";

/** Targets at positions that are not trained (HF's ignore index). */
export const IGNORE = -100;

export interface MaskingOptions {
  maskId: number;
  vocabSize: number;
  /** Ids never chosen (CLS, SEP, PAD …). */
  specialIds: ReadonlySet<number>;
  /** Share of maskable tokens (or words) chosen per row (default 0.15). */
  probability?: number;
  /** Per row of ids, 1 where a token begins a word; absent: every token is its own word. */
  wordStart?: (ids: Int32Array) => Uint8Array;
}

/** Masks B rows of T ids: returns the model's inputs and the targets (the original id where chosen, else IGNORE). */
export function maskTokens(ids: Int32Array, seq: number, rng: Rng, o: MaskingOptions): { inputs: Int32Array; targets: Int32Array } {
  return maskRows(ids, seq, () => rng, o);
}

/** The generator of one training row's mask: a hash of the run seed, the step and the row's index in the step. */
export function rowMaskRng(seed: number, step: number, row: number): Rng {
  let h = Math.imul((seed >>> 0) ^ 0x6d6c6d, 0x9e3779b1) >>> 0;
  h = Math.imul(h ^ (step >>> 0), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 15) ^ (row >>> 0), 0xc2b2ae35) >>> 0;
  return new Rng((h ^ (h >>> 16)) >>> 0);
}

/** maskTokens with a generator per row (rowRng(r) for row r of the batch). */
export function maskRows(ids: Int32Array, seq: number, rowRng: (row: number) => Rng, o: MaskingOptions): { inputs: Int32Array; targets: Int32Array } {
  const p = o.probability ?? 0.15;
  if (!(p > 0 && p < 1)) throw new RangeError(`[mlm] masking probability ${p} must be in (0, 1)`);
  if (!Number.isInteger(o.maskId) || o.maskId < 0 || o.maskId >= o.vocabSize) {
    throw new RangeError(`[mlm] mask id ${o.maskId} is outside the vocabulary [0, ${o.vocabSize})`);
  }
  const inputs = Int32Array.from(ids);
  const targets = new Int32Array(ids.length).fill(IGNORE);
  for (let r = 0; r < ids.length / seq; r++) {
    const rng = rowRng(r);
    const row = ids.subarray(r * seq, (r + 1) * seq);
    const starts = o.wordStart ? o.wordStart(row) : null;
    // Words: runs [start, end) of maskable tokens; a special token always ends a word.
    const words: Array<[number, number]> = [];
    for (let t = 0; t < seq; t++) {
      if (o.specialIds.has(row[t])) continue;
      const last = words[words.length - 1];
      if (last && last[1] === t && starts && starts[t] === 0) last[1] = t + 1;
      else words.push([t, t + 1]);
    }
    const maskable = words.reduce((a, [s, e]) => a + e - s, 0);
    const budget = Math.max(maskable > 0 ? 1 : 0, Math.round(maskable * p));
    // A seeded shuffle of the words; take words until the token budget is reached (never past it, as HF does).
    for (let i = words.length - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      [words[i], words[j]] = [words[j], words[i]];
    }
    let chosen = 0;
    for (const [s, e] of words) {
      if (chosen >= budget) break;
      if (chosen + (e - s) > budget) continue;
      chosen += e - s;
      for (let t = s; t < e; t++) {
        const at = r * seq + t;
        targets[at] = row[t];
        const u = rng.nextFloat();
        if (u < 0.8) inputs[at] = o.maskId;
        else if (u < 0.9) inputs[at] = rng.int(o.vocabSize);
      }
    }
  }
  return { inputs, targets };
}

/** Mean cross-entropy of the model's MLM logits at the positions whose target is not IGNORE. The head (a V × D
 *  decoder, the costliest matmul of a small encoder) runs on those ~15% of rows only. */
export function mlmLoss(model: TrainModel, inputs: Int32Array, targets: Int32Array, batch: number, seq: number) {
  if (model.taskHead?.head === "mlm") {
    const rows: number[] = [];
    targets.forEach((t, i) => { if (t !== IGNORE) rows.push(i); });
    if (rows.length > 0) {
      const hidden = model.encode(encoderInput(inputs, batch, seq, null));
      const picked = indexSelect(reshape(hidden, [batch * seq, hidden.shape[2]!]), fromTypedArray(Int32Array.from(rows), [rows.length]));
      return crossEntropy(model.encoderHead("mlm", picked), fromTypedArray(Int32Array.from(rows, (r) => targets[r]!), [rows.length]));
    }
  }
  const logits = model.logits(inputs, batch, seq);
  const v = logits.shape[logits.shape.length - 1]!;
  return crossEntropy(reshape(logits, [batch * seq, v]), fromTypedArray(targets, [batch * seq]), { ignoreIndex: IGNORE });
}

export interface MlmBatch extends Batch {
  /** The masked inputs and their targets (IGNORE where not trained). */
  masked: { inputs: Int32Array; targets: Int32Array };
}

export class MlmObjective implements TrainingObjective<MlmBatch> {
  readonly name = "mlm";
  readonly tokensPerMicroBatch: number;
  readonly seq: number;

  constructor(private readonly train: BatchIterator, private readonly val: BatchIterator | null,
    private readonly evalBatches: number, private readonly masking: MaskingOptions, private readonly maskSeed: number,
    private readonly valSeed = 1234) {
    this.tokensPerMicroBatch = train.batch * train.seq;
    this.seq = train.seq;
  }

  nextBatch(ctx: ObjectiveContext): MlmBatch {
    const b = this.train.next();
    const first = ctx.microStep * this.train.batch;
    return { ...b, masked: maskRows(b.inputs, this.train.seq, (r) => rowMaskRng(this.maskSeed, ctx.step, first + r), this.masking) };
  }

  loss(model: TrainModel, b: MlmBatch): ObjectiveLoss {
    return { loss: mlmLoss(model, b.masked.inputs, b.masked.targets, this.train.batch, this.train.seq) };
  }

  /** Trained (masked) positions: accumulation weighs micro-batches by them. */
  weight(b: MlmBatch): number {
    return b.masked.targets.reduce((a, t) => a + (t === IGNORE ? 0 : 1), 0);
  }

  position(): BatchPosition {
    return this.train.position;
  }

  restorePosition(position: unknown): void {
    this.train.position = position as BatchPosition;
  }

  skip(k: number): void {
    this.train.skip(k);
  }

  /** Mean MLM loss over the first `evalBatches` validation batches, masked with a fixed seed (comparable evals). */
  validate(model: TrainModel): number | null {
    const it = this.val;
    if (!it) return null;
    return validationMean(it, this.evalBatches, (b, i) => {
      const m = maskTokens(b.inputs, it.seq, new Rng(this.valSeed + i), this.masking);
      return mlmLoss(model, m.inputs, m.targets, it.batch, it.seq).item();
    });
  }
}

const CJK = /^[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]$/u;

/** Word starts for whole-word masking from a vocabulary: a WordPiece continuation ("##…") continues the word
 *  before it; a run of single CJK characters is cut into words by `segment` (e.g. jieba), each word's later
 *  characters continuing it. tokenOf(id) is the vocabulary string. */
export function wordStartsFromVocabulary(tokenOf: (id: number) => string | undefined,
  segment: ((text: string) => string[]) | null): (ids: Int32Array) => Uint8Array {
  return (ids) => {
    const starts = new Uint8Array(ids.length).fill(1);
    let t = 0;
    while (t < ids.length) {
      const tok = tokenOf(ids[t]) ?? "";
      if (tok.startsWith("##")) { starts[t] = 0; t++; continue; }
      if (!segment || !CJK.test(tok)) { t++; continue; }
      let end = t;
      let text = "";
      while (end < ids.length && CJK.test(tokenOf(ids[end]) ?? "")) text += tokenOf(ids[end++]);
      let at = t;
      for (const word of segment(text)) {
        const n = Array.from(word).length;
        for (let k = 1; k < n && at + k < end; k++) starts[at + k] = 0;
        at += n;
      }
      t = end;
    }
    return starts;
  };
}

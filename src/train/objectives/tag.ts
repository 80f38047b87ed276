// Token classification (`zhiyu finetune --task tag`): BIO tags of words (slots, entities) on an encoder's per-token
// classifier. Words are split into word pieces; as transformers' token-classification recipe does, a word's tag is
// trained on its first piece only and its other pieces, [CLS], [SEP] and padding are ignored (label −100). A word
// is read back from its first piece. Evaluation is span-level F1 (seqeval's default: a span starts at B-x, or at an
// I-x that does not continue a span of type x) and word accuracy. Reading tags back, `decodeBio` takes the most
// probable tag sequence in which every I-x continues a B-x or I-x (Viterbi over the per-word softmax; no learned
// transitions), so one name is not read as several spans of changing types.
// Leaves out: a CRF layer (learned transition scores), IOBES / BILOU schemes, labels on every piece.
import { crossEntropy, fromTypedArray, noGrad, reshape, tidy } from "../../tensor/index.js";
import { encoderInput, type TrainModel } from "../model.js";
import type { ObjectiveLoss, TrainingObjective } from "../objective.js";
import { ExampleBatchesBase, padRows } from "./encoder-batches.js";

export const IGNORE_LABEL = -100;

export interface TagExample {
  ids: Int32Array;
  /** Per id: the tag id at a word's first piece, else IGNORE_LABEL. */
  labels: Int32Array;
  /** Per word: the position of its first piece, or −1 when truncation cut the word off. */
  firstPiece: Int32Array;
}

/** Frames words as [CLS] pieces… [SEP] in at most maxLen ids: the position of each word's first piece, −1 for a word
 *  with no pieces (`emptyWord` "skip") and for the words after the first one that does not fit (truncation keeps a
 *  prefix, as transformers' tokenizers do). With `emptyWord` "error" a word with no pieces is an error naming it. */
export function frameWords(words: readonly string[], pieces: (word: string) => number[], cls: number, sep: number,
  maxLen: number, emptyWord: "error" | "skip", where: string): { ids: number[]; firstPiece: Int32Array } {
  const ids = [cls];
  const firstPiece = new Int32Array(words.length).fill(-1);
  for (let k = 0; k < words.length; k++) {
    const p = pieces(words[k]!);
    if (p.length === 0) {
      if (emptyWord === "error") throw new RangeError(`${where}: token ${k} ${JSON.stringify(words[k])} has no word pieces (it is empty after normalisation)`);
      continue;
    }
    if (ids.length + p.length > maxLen - 1) break;
    firstPiece[k] = ids.length;
    ids.push(...p);
  }
  ids.push(sep);
  return { ids, firstPiece };
}

/** Frames words with `frameWords` (empty words an error), tags on first pieces. */
export function alignWords(words: readonly string[], tagIds: readonly number[], pieces: (word: string) => number[],
  cls: number, sep: number, maxLen: number, where: string): TagExample {
  const { ids, firstPiece } = frameWords(words, pieces, cls, sep, maxLen, "error", where);
  const labels = new Int32Array(ids.length).fill(IGNORE_LABEL);
  firstPiece.forEach((pos, k) => { if (pos >= 0) labels[pos] = tagIds[k]!; });
  return { ids: Int32Array.from(ids), labels, firstPiece };
}

interface TagBatch { inputs: Int32Array; labels: Int32Array; rows: number; seq: number; trained: number }

/** Per-token logits [rows, seq, tags] of a padded batch. */
function tokenLogits(model: TrainModel, inputs: Int32Array, rows: number, seq: number, padId: number) {
  return model.encoderHead("classifier", model.encode(encoderInput(inputs, rows, seq, padId)));
}

export class TagObjective extends ExampleBatchesBase implements TrainingObjective<TagBatch> {
  readonly name = "tag";

  constructor(private readonly train: readonly TagExample[], private readonly val: readonly TagExample[], batch: number,
    private readonly padId: number, maxLen: number, seed: number) {
    super("tag", train.length, batch, maxLen, seed);
  }

  private batchOf(examples: readonly TagExample[]): TagBatch {
    const p = padRows(examples.map((e) => e.ids), this.padId);
    const labels = new Int32Array(p.rows * p.seq).fill(IGNORE_LABEL);
    examples.forEach((e, r) => labels.set(e.labels, r * p.seq));
    return { ...p, labels, trained: labels.reduce((a, l) => a + (l === IGNORE_LABEL ? 0 : 1), 0) };
  }

  nextBatch(): TagBatch {
    return this.batchOf(this.nextIndices().map((i) => this.train[i]!));
  }

  loss(model: TrainModel, b: TagBatch): ObjectiveLoss {
    const logits = tokenLogits(model, b.inputs, b.rows, b.seq, this.padId);
    const k = logits.shape[2]!;
    return { loss: crossEntropy(reshape(logits, [b.rows * b.seq, k]), fromTypedArray(b.labels, [b.rows * b.seq]), { ignoreIndex: IGNORE_LABEL }) };
  }

  /** Trained (first-piece) tokens. */
  weight(b: TagBatch): number {
    return b.trained;
  }

  validate(model: TrainModel): number | null {
    if (this.val.length === 0) return null;
    let sum = 0, n = 0;
    for (let i = 0; i < this.val.length; i += this.batch) {
      const b = this.batchOf(this.val.slice(i, i + this.batch));
      if (b.trained === 0) continue;
      sum += b.trained * noGrad(() => tidy(() => this.loss(model, b).loss.item()));
      n += b.trained;
    }
    return n > 0 ? sum / n : null;
  }
}

/** The most probable tag sequence over words (rows of `logits`, `labels.length` per row, softmax per row) in which
 *  no I-x follows anything but B-x or I-x. Labels not spelled B-…/I-… (O, or a scheme without prefixes) follow
 *  anything. Returns tag ids. */
export function decodeBio(logits: Float32Array, labels: readonly string[]): number[] {
  const k = labels.length, n = logits.length / k;
  if (!Number.isInteger(n)) throw new RangeError(`decodeBio: ${logits.length} scores are not whole rows of ${k} labels`);
  if (n === 0) return [];
  const inside = labels.map((l) => (l.startsWith("I-") ? l.slice(2) : null));
  const typeOf = labels.map((l) => (l.startsWith("B-") || l.startsWith("I-") ? l.slice(2) : null));
  // allowed(prev, next): an I-x only after B-x or I-x; prev = -1 is the sentence start.
  const allowed = (prev: number, next: number) => inside[next] === null || (prev >= 0 && typeOf[prev] === inside[next]);
  const logSoftmax = (row: Float32Array) => {
    let max = -Infinity;
    for (const v of row) max = Math.max(max, v);
    let sum = 0;
    for (const v of row) sum += Math.exp(v - max);
    const lse = max + Math.log(sum);
    return Float64Array.from(row, (v) => v - lse);
  };
  let score = logSoftmax(logits.subarray(0, k)).map((v, j) => (allowed(-1, j) ? v : -Infinity));
  const back: Int32Array[] = [];
  for (let t = 1; t < n; t++) {
    const lp = logSoftmax(logits.subarray(t * k, (t + 1) * k)), next = new Float64Array(k), from = new Int32Array(k);
    for (let j = 0; j < k; j++) {
      let best = -Infinity, arg = 0;
      for (let i = 0; i < k; i++) if (allowed(i, j) && score[i]! > best) { best = score[i]!; arg = i; }
      next[j] = best + lp[j]!;
      from[j] = arg;
    }
    back.push(from);
    score = next;
  }
  let last = 0;
  for (let j = 1; j < k; j++) if (score[j]! > score[last]!) last = j;
  const path = [last];
  for (let t = back.length - 1; t >= 0; t--) path.push(last = back[t]![last]!);
  return path.reverse();
}

/** Tag ids of a sentence's words from the score rows of their first pieces (`row(w)`, null for a word that has no
 *  piece: it gets `fallback`): with `labels`, the whole sentence read by `decodeBio`, else each word by its argmax. */
export function wordTagIds(words: number, row: (w: number) => Float32Array | null, fallback: number, labels?: readonly string[]): number[] {
  const rows = Array.from({ length: words }, (_, w) => row(w));
  if (labels) {
    const kept = rows.filter((r): r is Float32Array => r !== null);
    const k = labels.length, all = new Float32Array(kept.length * k);
    kept.forEach((r, w) => all.set(r, w * k));
    const tags = decodeBio(all, labels);
    let at = 0;
    return rows.map((r) => (r === null ? fallback : tags[at++]!));
  }
  return rows.map((r) => {
    if (r === null) return fallback;
    let best = 0;
    for (let j = 1; j < r.length; j++) if (r[j]! > r[best]!) best = j;
    return best;
  });
}

/** Predicted tag ids per word (a word cut off by truncation gets `fallback`, normally O); with `labels`, the whole
 *  sentence is read by `decodeBio`, else each word by its own argmax. */
export function predictTags(model: TrainModel, examples: readonly TagExample[], batch: number, padId: number, fallback: number,
  labels?: readonly string[]): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < examples.length; i += batch) {
    const chunk = examples.slice(i, i + batch);
    const p = padRows(chunk.map((e) => e.ids), padId);
    const z = noGrad(() => tidy(() => tokenLogits(model, p.inputs, p.rows, p.seq, padId).toFloat32Array()));
    const k = z.length / (p.rows * p.seq);
    chunk.forEach((e, r) => out.push(wordTagIds(e.firstPiece.length, (w) => {
      const pos = e.firstPiece[w]!;
      return pos < 0 ? null : z.subarray((r * p.seq + pos) * k, (r * p.seq + pos + 1) * k);
    }, fallback, labels)));
  }
  return out;
}

/** Spans (type, start, end exclusive) of a BIO sequence, seqeval's default reading. */
export function bioSpans(tags: readonly string[]): string[] {
  const spans: string[] = [];
  let type: string | null = null, start = 0;
  const close = (end: number) => { if (type !== null) spans.push(`${type}:${start}:${end}`); type = null; };
  tags.forEach((t, i) => {
    if (t === "O") { close(i); return; }
    const [bi, ty] = [t[0], t.slice(2)];
    if (bi === "B" || type !== ty) { close(i); type = ty; start = i; }
  });
  close(tags.length);
  return spans;
}

/** Span precision / recall / F1 (micro) and word accuracy. */
export function spanScores(gold: readonly string[][], pred: readonly string[][]): { precision: number; recall: number; f1: number; wordAccuracy: number } {
  let tp = 0, np = 0, ng = 0, words = 0, right = 0;
  gold.forEach((g, i) => {
    const gs = new Set(bioSpans(g)), ps = bioSpans(pred[i]!);
    np += ps.length; ng += gs.size;
    for (const s of ps) if (gs.has(s)) tp++;
    g.forEach((t, k) => { words++; if (pred[i]![k] === t) right++; });
  });
  const precision = np > 0 ? tp / np : 0, recall = ng > 0 ? tp / ng : 0;
  return { precision, recall, f1: precision + recall > 0 ? (2 * precision * recall) / (precision + recall) : 0, wordAccuracy: words > 0 ? right / words : 0 };
}

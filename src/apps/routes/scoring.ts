// Log-likelihood scoring that the experiment's evaluations share, without gradients, in batches of rows:
//   causal rows (decoder): −log p of the ids in [from, ids.length) given everything before them;
//   seq2seq rows (encoder-decoder): −log p of the target ids from index `from` on, given the source;
//   masked rows (encoder): −log p of the true ids at [MASK] positions, all masks filled at once from one pass.
// On top of them: rank classification (the label whose tokens score best) and bits per byte of a reply.
// Leaves out: generation (the experiment scores given texts only) and caching shared prompts between rows.
import { crossEntropy, fromTypedArray, indexSelect, noGrad, reshape, tidy } from "../../tensor/index.js";
import { encoderInput, type TrainModel } from "../../train/model.js";
import { seq2seqBatch } from "../../train/objectives/seq2seq.js";

const IGNORE = -100;
const LN2 = Math.log(2);

export interface Score {
  /** Σ −ln p over the scored tokens. */
  nats: number;
  tokens: number;
}

export interface CausalRow { ids: readonly number[]; from: number }
export interface Seq2SeqRow { source: readonly number[]; target: readonly number[]; from: number }
export interface MaskedRow { ids: readonly number[]; positions: readonly number[]; truth: readonly number[] }

/** Per-row sums of the NLL over the positions whose target is not IGNORE. */
function perRowSums(nll: Float32Array, targets: Int32Array, rows: number, seq: number): Score[] {
  const out: Score[] = [];
  for (let r = 0; r < rows; r++) {
    let nats = 0, tokens = 0;
    for (let t = 0; t < seq; t++) {
      if (targets[r * seq + t] === IGNORE) continue;
      nats += nll[r * seq + t]!;
      tokens++;
    }
    out.push({ nats, tokens });
  }
  return out;
}

export function scoreCausal(model: TrainModel, rows: readonly CausalRow[], padId: number, batch = 32): Score[] {
  const out: Score[] = [];
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const seq = Math.max(...chunk.map((r) => r.ids.length)) - 1;
    const inputs = new Int32Array(chunk.length * seq).fill(padId), targets = new Int32Array(chunk.length * seq).fill(IGNORE);
    chunk.forEach((r, b) => {
      inputs.set(r.ids.slice(0, -1), b * seq);
      for (let t = Math.max(1, r.from); t < r.ids.length; t++) targets[b * seq + t - 1] = r.ids[t]!;
    });
    const nll = noGrad(() => tidy(() => {
      const logits = model.logits(inputs, chunk.length, seq);
      const v = logits.shape[2]!;
      return crossEntropy(reshape(logits, [chunk.length * seq, v]), fromTypedArray(targets, [chunk.length * seq]), { reduction: "none" }).toFloat32Array();
    }));
    out.push(...perRowSums(nll, targets, chunk.length, seq));
  }
  return out;
}

export function scoreSeq2Seq(model: TrainModel, rows: readonly Seq2SeqRow[], ids: { decoderStart: number; pad: number }, batch = 32): Score[] {
  const out: Score[] = [];
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const b = seq2seqBatch(chunk.map((r) => ({ source: r.source, target: r.target })), ids.decoderStart, ids.pad);
    const t = b.input.targetLength;
    chunk.forEach((r, k) => { for (let j = 0; j < Math.min(r.from, r.target.length); j++) b.labels[k * t + j] = IGNORE; });
    const nll = noGrad(() => tidy(() => {
      const logits = model.seq2seqLogits(b.input);
      const v = logits.shape[2]!;
      return crossEntropy(reshape(logits, [chunk.length * t, v]), fromTypedArray(b.labels, [chunk.length * t]), { reduction: "none" }).toFloat32Array();
    }));
    out.push(...perRowSums(nll, b.labels, chunk.length, t));
  }
  return out;
}

export function scoreMasked(model: TrainModel, rows: readonly MaskedRow[], padId: number, batch = 32): Score[] {
  const out: Score[] = [];
  for (let i = 0; i < rows.length; i += batch) {
    const chunk = rows.slice(i, i + batch);
    const seq = Math.max(...chunk.map((r) => r.ids.length));
    const inputs = new Int32Array(chunk.length * seq).fill(padId);
    const picked: number[] = [], truth: number[] = [], owner: number[] = [];
    chunk.forEach((r, b) => {
      inputs.set(r.ids, b * seq);
      r.positions.forEach((p, k) => { picked.push(b * seq + p); truth.push(r.truth[k]!); owner.push(b); });
    });
    const nll = noGrad(() => tidy(() => {
      const hidden = model.encode(encoderInput(inputs, chunk.length, seq, padId));
      const rowsOf = indexSelect(reshape(hidden, [chunk.length * seq, hidden.shape[2]!]), fromTypedArray(Int32Array.from(picked), [picked.length]));
      return crossEntropy(model.encoderHead("mlm", rowsOf), fromTypedArray(Int32Array.from(truth), [truth.length]), { reduction: "none" }).toFloat32Array();
    }));
    const sums = chunk.map(() => ({ nats: 0, tokens: 0 }));
    owner.forEach((b, k) => { sums[b]!.nats += nll[k]!; sums[b]!.tokens++; });
    out.push(...sums);
  }
  return out;
}

/** Rank classification: per example, the label with the best score; `perToken` compares mean −ln p per label token
 *  (zero-shot: label names differ in length), else the sum (fine-tuned targets, which end with EOS). Scores are
 *  laid out example-major: scores[e · labels + l]. */
export function rankAccuracy(scores: readonly Score[], labels: number, gold: readonly number[], perToken: boolean): number {
  let right = 0;
  gold.forEach((g, e) => {
    let best = 0, bestValue = Infinity;
    for (let l = 0; l < labels; l++) {
      const s = scores[e * labels + l]!;
      const v = perToken ? s.nats / Math.max(1, s.tokens) : s.nats;
      if (v < bestValue) { bestValue = v; best = l; }
    }
    if (best === g) right++;
  });
  return right / gold.length;
}

/** Bits per byte of scored replies: Σ nats / ln 2 / Σ bytes. */
export function bitsPerByte(scores: readonly Score[], bytes: readonly number[]): number {
  const nats = scores.reduce((a, s) => a + s.nats, 0);
  return nats / LN2 / bytes.reduce((a, b) => a + b, 0);
}

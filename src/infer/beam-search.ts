// Beam search over any model whose sequences fork (a seq2seq model: the decoder; a causal LM: the continuation),
// with transformers' rules (GenerationMixin._beam_search, transformers 5): per step the 2·width best continuations
// of all running beams by summed log-probability; those among the best `width` that end in EOS (or reach the token
// limit) become finished hypotheses scored sum / generated_length^length_penalty (the best `width` kept); the best
// `width` that do not end in EOS run on. It stops at the token limit, when `width` hypotheses are finished and
// earlyStopping is true, or (earlyStopping false) when the best running beam, scored at its current length, cannot
// beat the worst finished one ("never": at the longest possible length, when length_penalty > 0). All running beams
// advance in one batched forward() per step.
// Leaves out: diverse / constrained / group beam search, logits processors (repetition penalty, bad words).
import type { ForwardItem, Seq2SeqModel, SequenceState, TextModel } from "./model-api.js";

export interface BeamSearchOptions {
  numBeams: number;
  maxTokens: number;
  /** Exponent of the generated length that divides a hypothesis' summed log-probability (default 1). */
  lengthPenalty?: number;
  earlyStopping?: boolean | "never";
  /** Ids that end a hypothesis (default: the model's stop ids). */
  stopTokenIds?: readonly number[];
}

export interface BeamResult {
  /** Generated ids of the best hypothesis (including its EOS, when it ended with one). */
  ids: number[];
  /** Its summed log-probability over the generated length^lengthPenalty (transformers' sequences_scores). */
  score: number;
  /** Every finished hypothesis, best first. */
  hypotheses: Array<{ ids: number[]; score: number }>;
}

interface Beam {
  ids: number[];
  sum: number;
  seq: SequenceState;
}

/** log-softmax in f64 (indexed loops: iterators and Float64Array.from's callback cost more than the decoder step). */
function logSoftmax(logits: Float32Array): Float64Array {
  const n = logits.length;
  let max = -Infinity;
  for (let i = 0; i < n; i++) if (logits[i]! > max) max = logits[i]!;
  let z = 0;
  for (let i = 0; i < n; i++) z += Math.exp(logits[i]! - max);
  const lz = max + Math.log(z);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = logits[i]! - lz;
  return out;
}

/** The k largest (value, beam, token) over all beams' log-probabilities, best first. */
function topCandidates(beams: readonly Beam[], logprobs: readonly Float64Array[], k: number): Array<{ beam: number; token: number; sum: number }> {
  const best: Array<{ beam: number; token: number; sum: number }> = [];
  beams.forEach((b, i) => {
    const lp = logprobs[i]!;
    for (let v = 0; v < lp.length; v++) {
      const sum = b.sum + lp[v]!;
      if (best.length === k && sum <= best[k - 1]!.sum) continue;
      let at = best.length;
      while (at > 0 && best[at - 1]!.sum < sum) at--;
      best.splice(at, 0, { beam: i, token: v, sum });
      if (best.length > k) best.pop();
    }
  });
  return best;
}

/** Beam search from a prompt (seq2seq: the source; causal: the prompt ids). */
export function beamSearch(model: TextModel | Seq2SeqModel, promptIds: readonly number[], options: BeamSearchOptions): BeamResult {
  const width = options.numBeams;
  if (!Number.isInteger(width) || width < 1) throw new RangeError(`[beamSearch] numBeams = ${width}; expected an integer ≥ 1`);
  if (!Number.isInteger(options.maxTokens) || options.maxTokens < 1) throw new RangeError(`[beamSearch] maxTokens = ${options.maxTokens}; expected an integer ≥ 1`);
  const lengthPenalty = options.lengthPenalty ?? 1;
  const early = options.earlyStopping ?? false;
  const stop = new Set(options.stopTokenIds ?? model.stopTokenIds);
  const seq2seq = model.kind === "seq2seq";
  const first = model.kind === "seq2seq" ? model.createSequence(promptIds) : model.createSequence();
  if (!first.fork) {
    first.dispose();
    throw new Error(`[beamSearch] model '${model.id}' cannot fork sequences; beam search needs it`);
  }
  let beams: Beam[] = [{ ids: [], sum: 0, seq: first }];
  let pending: ForwardItem[] = [{ seq: first, tokens: seq2seq ? [(model as Seq2SeqModel).decoderStartTokenId] : [...promptIds] }];
  const finished: Array<{ ids: number[]; score: number }> = [];
  const addFinished = (ids: number[], sum: number) => {
    finished.push({ ids, score: sum / Math.pow(ids.length, lengthPenalty) });
    finished.sort((a, b) => b.score - a.score);
    if (finished.length > width) finished.pop();
  };
  try {
    for (let step = 0; step < options.maxTokens; step++) {
      const logprobs = model.forward(pending).map(logSoftmax);
      const candidates = topCandidates(beams, logprobs, 2 * width);
      const length = step + 1;
      const last = length === options.maxTokens || beams[0]!.seq.length + 1 >= model.contextLength;
      const full = early === true && finished.length >= width;
      candidates.slice(0, width).forEach((c) => {
        if (!full && (stop.has(c.token) || last)) addFinished([...beams[c.beam]!.ids, c.token], c.sum);
      });
      if (last) break;
      const running = candidates.filter((c) => !stop.has(c.token)).slice(0, width);
      // Each surviving beam forks its parent's sequence; a parent's last child takes the sequence itself.
      const children = new Map<number, number>();
      for (const c of running) children.set(c.beam, (children.get(c.beam) ?? 0) + 1);
      const next: Beam[] = running.map((c) => {
        const parent = beams[c.beam]!;
        const left = children.get(c.beam)! - 1;
        children.set(c.beam, left);
        return { ids: [...parent.ids, c.token], sum: c.sum, seq: left > 0 ? parent.seq.fork!() : parent.seq };
      });
      beams.forEach((b, i) => { if (!children.has(i)) b.seq.dispose(); });
      beams = next;
      if (beams.length === 0) break;
      if (finished.length >= width) {
        if (early === true) break;
        const denom = early === "never" && lengthPenalty > 0 ? options.maxTokens : length;
        if (beams[0]!.sum / Math.pow(denom, lengthPenalty) <= finished[finished.length - 1]!.score) break;
      }
      pending = beams.map((b) => ({ seq: b.seq, tokens: [b.ids[b.ids.length - 1]!] }));
    }
  } finally {
    for (const b of beams) b.seq.dispose();
  }
  const best = finished[0] ?? { ids: [], score: -Infinity };
  return { ids: best.ids, score: best.score, hypotheses: finished };
}

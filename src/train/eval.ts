// Held-out evaluation of a language model on text: mean loss (nats per token), perplexity and bits per byte
// (total nats / ln 2 / total UTF-8 bytes of the text), and the same figures for an add-k-smoothed token bigram
// model fitted on training tokens, the baseline the default model is compared against.
// Text → documents (blank-line-separated blocks of a .txt, or the "text" field of .jsonl records); each document
// is preceded by the delimiter id (BOS, else EOS) as `zhiyu data prepare` does, and only the document's own
// tokens are scored (the delimiter is context, never a target), so bytes and scored tokens cover the same text.
// The model reads the stream in non-overlapping windows of `seq` targets (the first token of a window has only
// itself as context, as in the trainer's validation).
// Leaves out: sliding-window (strided) evaluation, byte-level models.
import { readFileSync } from "node:fs";
import type { Tokenizer } from "../tokenizers/tokenizer.js";
import { noGrad, tidy } from "../tensor/index.js";
import type { TrainModel } from "./model.js";
import { IGNORE_INDEX } from "./sft-data.js";

export interface ScoredStream {
  /** Delimiter + document tokens, documents one after the other. */
  ids: Int32Array;
  /** 1 where ids[i] is scored (a document token), 0 for delimiters. */
  scored: Uint8Array;
  /** UTF-8 bytes of the documents' text. */
  bytes: number;
  documents: number;
}

export interface EvalFigures {
  /** Summed negative log-likelihood of the scored tokens, in nats. */
  nats: number;
  tokens: number;
  bytes: number;
  /** nats / tokens. */
  loss: number;
  perplexity: number;
  bitsPerByte: number;
}

/** Documents of an evaluation text file. */
export function readEvalDocuments(file: string): string[] {
  const text = readFileSync(file, "utf8");
  if (file.endsWith(".jsonl")) {
    // {"text": …} records, or chat records {"messages": [{"role", "content"}, …]} (SFT data): a chat is scored
    // as its messages' contents, one per line.
    return text.split("\n").map((l, i) => [l, i] as const).filter(([l]) => l.trim()).map(([l, i]) => {
      let rec: { text?: unknown; messages?: unknown };
      try {
        rec = JSON.parse(l) as typeof rec;
      } catch (err) {
        throw new Error(`${file}:${i + 1}: not valid JSON (${(err as Error).message})`);
      }
      if (typeof rec.text === "string") return rec.text;
      if (Array.isArray(rec.messages) && rec.messages.length > 0 &&
        rec.messages.every((m) => typeof m === "object" && m !== null && typeof (m as { content?: unknown }).content === "string")) {
        return (rec.messages as { content: string }[]).map((m) => m.content).join("\n");
      }
      throw new Error(`${file}:${i + 1}: expected a {"text": …} record or a chat {"messages": [{"role", "content"}, …]}`);
    });
  }
  return text.split(/\n[ \t]*\n/).map((d) => d.trim()).filter((d) => d.length > 0);
}

export function scoredStream(tokenizer: Tokenizer, documents: readonly string[]): ScoredStream {
  const delimiter = tokenizer.bosTokenId ?? tokenizer.eosTokenId;
  const ids: number[] = [];
  const scored: number[] = [];
  let bytes = 0;
  for (const d of documents) {
    if (delimiter !== null) { ids.push(delimiter); scored.push(0); }
    for (const id of tokenizer.encode(d, { addSpecialTokens: false })) { ids.push(id); scored.push(1); }
    bytes += Buffer.byteLength(d, "utf8");
  }
  return { ids: Int32Array.from(ids), scored: Uint8Array.from(scored), bytes, documents: documents.length };
}

export function figures(nats: number, tokens: number, bytes: number): EvalFigures {
  const loss = nats / tokens;
  return { nats, tokens, bytes, loss, perplexity: Math.exp(loss), bitsPerByte: nats / Math.LN2 / bytes };
}

/** The model's figures on a stream, read in windows of `seq` targets, `batch` windows per forward pass. */
export function evaluateModel(model: TrainModel, s: ScoredStream, seq: number, batch = 4): EvalFigures {
  const n = s.ids.length;
  const windows: number[] = [];
  for (let start = 0; start + 1 < n; start += seq) windows.push(start);
  let nats = 0;
  let tokens = 0;
  for (let w0 = 0; w0 < windows.length; w0 += batch) {
    const rows = windows.slice(w0, w0 + batch);
    const inputs = new Int32Array(rows.length * seq);
    const targets = new Int32Array(rows.length * seq).fill(IGNORE_INDEX);
    let count = 0;
    rows.forEach((start, r) => {
      for (let t = 0; t < seq; t++) {
        const i = start + t;
        inputs[r * seq + t] = i < n ? s.ids[i]! : 0;
        if (i + 1 < n && s.scored[i + 1] === 1) {
          targets[r * seq + t] = s.ids[i + 1]!;
          count++;
        }
      }
    });
    if (count === 0) continue;
    const mean = noGrad(() => tidy(() => model.loss(inputs, targets, rows.length, seq).item()));
    nats += mean * count;
    tokens += count;
  }
  return figures(nats, tokens, s.bytes);
}

/** Token bigram counts: pair counts keyed a·V + b, and how often each id appears as a context. */
export interface BigramCounts {
  vocabSize: number;
  pairs: Map<number, number>;
  contexts: Float64Array;
}

export function fitBigram(trainIds: ArrayLike<number>, vocabSize: number): BigramCounts {
  const pairs = new Map<number, number>();
  const contexts = new Float64Array(vocabSize);
  for (let i = 0; i + 1 < trainIds.length; i++) {
    const a = trainIds[i]!;
    const key = a * vocabSize + trainIds[i + 1]!;
    pairs.set(key, (pairs.get(key) ?? 0) + 1);
    contexts[a]! += 1;
  }
  return { vocabSize, pairs, contexts };
}

/** Add-k smoothing: P(b | a) = (c(a, b) + k) / (c(a) + k·V). */
export function bigramProbability(c: BigramCounts, a: number, b: number, k: number): number {
  return ((c.pairs.get(a * c.vocabSize + b) ?? 0) + k) / (c.contexts[a]! + k * c.vocabSize);
}

export function evaluateBigram(c: BigramCounts, s: ScoredStream, k: number): EvalFigures {
  let nats = 0;
  let tokens = 0;
  for (let i = 1; i < s.ids.length; i++) {
    if (s.scored[i] !== 1) continue;
    nats -= Math.log(bigramProbability(c, s.ids[i - 1]!, s.ids[i]!, k));
    tokens++;
  }
  return figures(nats, tokens, s.bytes);
}

/** The smoothing constants tried by default; the baseline reports the best, i.e. the strongest bigram. */
export const BIGRAM_K_GRID = [1, 0.3, 0.1, 0.03, 0.01, 0.003, 0.001];

export function bestBigram(c: BigramCounts, s: ScoredStream, grid: readonly number[] = BIGRAM_K_GRID): { k: number; figures: EvalFigures } {
  let best: { k: number; figures: EvalFigures } | null = null;
  for (const k of grid) {
    const f = evaluateBigram(c, s, k);
    if (!best || f.nats < best.figures.nats) best = { k, figures: f };
  }
  return best!;
}

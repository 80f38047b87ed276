// Training metrics: the JSONL log (one object per line: steps, validation results and events such as
// rollbacks and resumes) and the model-FLOPs-utilisation estimate.
//
// MFU follows the PaLM appendix B / nanoGPT estimate: a training token costs 6·N FLOPs for the weights
// (forward 2·N, backward 4·N) plus 12·L·C·T for attention scores (L layers, width C, context T) — with the output
// head's share of N counted only on the positions the objective runs it on (MLM: the masked ~15%); MFU is
// achieved FLOP/s over the peak of the cores in use. The CPU peak is an assumption passed in (see
// `defaultPeakFlops`): this machine's AVX-512 cores do 2 FMA × 16 f32 lanes × 2 FLOPs = 64 FLOPs per cycle.
// Leaves out: embedding-lookup FLOPs (excluded from N by convention: N counts non-embedding parameters plus
// the output head, which is a real matmul even when tied).
import { appendFileSync, closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync } from "node:fs";
import path from "node:path";

export interface StepRecord {
  step: number;
  loss: number;
  lr: number;
  grad_norm: number | null;
  tokens_per_s: number;
  mfu: number | null;
  /** Seconds this step took. */
  dt: number;
  /** Seconds in forward + backward, in the gradient exchange's remaining wait, in the update. */
  phases?: { compute: number; sync: number; update: number };
}

export interface ValRecord {
  step: number;
  val_loss: number;
  val_ppl: number;
}

export interface EventRecord {
  step: number;
  event: "rollback" | "resume" | "start" | "checkpoint" | "stop";
  [key: string]: unknown;
}

export type MetricsRecord = StepRecord | ValRecord | EventRecord;

/** Appends records to a JSONL file (written line by line so a crash loses nothing already logged). */
export class MetricsLog {
  constructor(readonly filePath: string | null) {
    if (!filePath) return;
    mkdirSync(path.dirname(filePath), { recursive: true });
    // A killed run may have left a torn last line: end it, so the next record starts on a line of its own.
    if (existsSync(filePath) && statSync(filePath).size > 0) {
      const fd = openSync(filePath, "r");
      const last = Buffer.alloc(1);
      try {
        readSync(fd, last, 0, 1, statSync(filePath).size - 1);
      } finally {
        closeSync(fd);
      }
      if (last[0] !== 0x0a) appendFileSync(filePath, "\n");
    }
  }

  write(record: MetricsRecord): void {
    if (!this.filePath) return;
    appendFileSync(this.filePath, JSON.stringify(record) + "\n");
  }
}

/** Reads a metrics JSONL file (unparseable lines, e.g. a torn last line after a crash, are skipped). */
export function readMetrics(filePath: string): MetricsRecord[] {
  const out: MetricsRecord[] = [];
  for (const line of readFileSync(filePath, "utf8").split("\n")) {
    if (line.trim() === "") continue;
    try {
      const rec = JSON.parse(line) as MetricsRecord;
      if (rec && typeof rec === "object" && typeof rec.step === "number") out.push(rec);
    } catch {
      // A torn line from a killed process.
    }
  }
  return out;
}

export interface FlopsShape {
  /** Parameters that take part in matmuls (all but the embedding tables, plus the output head). */
  matmulParams: number;
  /** Of matmulParams, the output head's (the vocabulary projection and the head's own layers): an objective may run
   *  it on some positions only (MLM: the masked ones). Default 0. */
  headParams?: number;
  nLayer: number;
  nEmbd: number;
  seq: number;
}

/** Training FLOPs per token (forward + backward), the head's parameters counted on `headShare` of the positions
 *  (1: every position; MLM: the masking rate, as mlmLoss runs the head on the masked rows only). */
export function trainFlopsPerToken(s: FlopsShape, headShare = 1): number {
  return 6 * (s.matmulParams - (1 - headShare) * (s.headParams ?? 0)) + 12 * s.nLayer * s.nEmbd * s.seq;
}

/** Assumed peak FLOP/s of `threads` cores of this machine (64 f32 FLOPs/cycle/core at `ghz`). */
export function defaultPeakFlops(threads: number, ghz = 2.3): number {
  return threads * 64 * ghz * 1e9;
}

export function mfu(tokensPerSecond: number, flopsPerToken: number, peakFlops: number): number {
  return (tokensPerSecond * flopsPerToken) / peakFlops;
}

// The batch iterator: turns a token stream into (inputs, targets) batches of B rows × T positions.
//
// Without shuffling it is exactly llm.c's loader: batch k reads tokens [p, p + B·T + 1) with p = k·B·T; the
// inputs are the first B·T ids, the targets the same shifted by one, both as B rows of T; when the next batch
// would run past the end (p + B·T + 1 > n), p goes back to 0.
// With shuffling, the stream is cut into rows of T + 1 tokens at a stride of T (row r reads [r·T, r·T + T + 1)),
// each epoch visits the rows in a seeded permutation, B rows per batch; the rows left over at the end of an
// epoch (fewer than B) are skipped.
// The position ({epoch, index}) is plain data so that checkpoints can store it and resume exactly.
// Leaves out: document-aware packing/masking (documents simply follow each other, separated by BOS/EOS).
import { Rng } from "../core/rng.js";
import type { TokenStream } from "./token-file.js";

export interface BatchPosition {
  /** Shuffled mode: the epoch number; sequential mode: always 0. */
  epoch: number;
  /** Sequential mode: the token offset p of the next batch; shuffled mode: the next batch within the epoch. */
  index: number;
}

export interface Batch {
  /** [B·T] input ids, row-major B rows of T. */
  inputs: Int32Array;
  /** [B·T] target ids (inputs shifted by one). */
  targets: Int32Array;
  /** Where this batch was read from (for logging and for skipping bad windows). */
  position: BatchPosition;
}

/** Returns a permutation of 0..n-1 for the given epoch; must be a pure function of (seed, epoch, n). */
export type EpochPermutation = (n: number, epoch: number) => Uint32Array;

export interface BatchIteratorOptions {
  batch: number;
  seq: number;
  /** null = sequential (llm.c order); otherwise the permutation of rows for each epoch. */
  shuffle: EpochPermutation | null;
  /** Where to start (default the beginning). */
  position?: BatchPosition;
}

export class BatchIterator {
  readonly batch: number;
  readonly seq: number;
  private readonly shuffle: EpochPermutation | null;
  private pos: BatchPosition;
  private perm: Uint32Array | null = null;
  private permEpoch = -1;
  private readonly rowCount: number;

  constructor(readonly stream: TokenStream, options: BatchIteratorOptions) {
    const { batch, seq } = options;
    if (!Number.isInteger(batch) || batch < 1 || !Number.isInteger(seq) || seq < 1) {
      throw new RangeError(`BatchIterator: batch ${batch} and seq ${seq} must be positive integers`);
    }
    const need = batch * seq + 1;
    if (stream.length < need) {
      throw new RangeError(`batch larger than the data: --batch ${batch} × --seq ${seq} + 1 = ${need} tokens, but the ` +
        `data has ${stream.length} tokens; lower --batch or --seq, or prepare more data`);
    }
    this.batch = batch;
    this.seq = seq;
    this.shuffle = options.shuffle;
    this.rowCount = Math.floor((stream.length - 1) / seq);
    this.pos = { ...(options.position ?? { epoch: 0, index: 0 }) };
    this.validatePosition(this.pos);
  }

  private validatePosition(p: BatchPosition): void {
    const ok = Number.isInteger(p.epoch) && Number.isInteger(p.index) && p.epoch >= 0 && p.index >= 0 &&
      (this.shuffle ? p.index <= this.batchesPerEpoch() : p.index + this.batch * this.seq + 1 <= this.stream.length ||
        p.index === 0);
    if (!ok) {
      throw new RangeError(`BatchIterator: position ${JSON.stringify(p)} is not valid for ${this.stream.length} tokens ` +
        `with batch ${this.batch}, seq ${this.seq} (${this.shuffle ? "shuffled" : "sequential"}); was the checkpoint ` +
        "made with other data or another --batch/--seq?");
    }
  }

  /** Batches in one pass over the data (shuffled mode: full batches per epoch). */
  batchesPerEpoch(): number {
    if (this.shuffle) return Math.floor(this.rowCount / this.batch);
    return Math.max(1, Math.floor((this.stream.length - 1) / (this.batch * this.seq)));
  }

  get position(): BatchPosition {
    return { ...this.pos };
  }

  set position(p: BatchPosition) {
    this.validatePosition(p);
    this.pos = { ...p };
  }

  /** The batch at the current position, then advances. */
  next(): Batch {
    const n = this.batch * this.seq;
    const inputs = new Int32Array(n);
    const targets = new Int32Array(n);
    const at = this.normalized(this.pos);
    if (!this.shuffle) {
      const all = new Int32Array(n + 1);
      this.stream.copyTo(at.index, n + 1, all);
      inputs.set(all.subarray(0, n));
      targets.set(all.subarray(1, n + 1));
    } else {
      const perm = this.permutation(at.epoch);
      const window = new Int32Array(this.seq + 1);
      for (let b = 0; b < this.batch; b++) {
        const row = perm[at.index * this.batch + b]!;
        this.stream.copyTo(row * this.seq, this.seq + 1, window);
        inputs.set(window.subarray(0, this.seq), b * this.seq);
        targets.set(window.subarray(1), b * this.seq);
      }
    }
    this.pos = this.advance(at, 1);
    return { inputs, targets, position: at };
  }

  /** Moves the position forward by k batches without reading them (the spike guard skips bad windows). */
  skip(k: number): void {
    this.pos = this.advance(this.normalized(this.pos), k);
  }

  /** Wraps a position that points past the end (sequential) or past the last batch of an epoch (shuffled). */
  private normalized(p: BatchPosition): BatchPosition {
    if (!this.shuffle) {
      return p.index + this.batch * this.seq + 1 > this.stream.length ? { epoch: 0, index: 0 } : p;
    }
    return p.index >= this.batchesPerEpoch() ? { epoch: p.epoch + 1, index: 0 } : p;
  }

  private advance(p: BatchPosition, k: number): BatchPosition {
    let q = p;
    for (let i = 0; i < k; i++) {
      q = this.shuffle ? { epoch: q.epoch, index: q.index + 1 } : { epoch: 0, index: q.index + this.batch * this.seq };
      q = this.normalized(q);
    }
    return q;
  }

  private permutation(epoch: number): Uint32Array {
    if (this.permEpoch !== epoch || !this.perm) {
      const perm = this.shuffle!(this.rowCount, epoch);
      if (perm.length !== this.rowCount) {
        throw new RangeError(`BatchIterator: permutation has ${perm.length} entries, expected ${this.rowCount}`);
      }
      this.perm = perm;
      this.permEpoch = epoch;
    }
    return this.perm;
  }
}

/** The seeded row permutation used with shuffling: each epoch's order is a pure function of (seed, epoch). */
export function seededPermutation(seed: number): EpochPermutation {
  return (n, epoch) => {
    const rng = new Rng((Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(epoch + 1, 0x85ebca6b)) >>> 0);
    const perm = new Uint32Array(n);
    for (let i = 0; i < n; i++) perm[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = rng.int(i + 1);
      const t = perm[i]!;
      perm[i] = perm[j]!;
      perm[j] = t;
    }
    return perm;
  };
}

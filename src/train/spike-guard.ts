// The loss-spike detector: flags a step whose loss (or gradient norm) is NaN/Inf, or whose loss lies more than
// `zThreshold` standard deviations above the mean of the last `window` accepted losses. The trainer reacts to a
// flag (restore the last good checkpoint, skip the batches, maybe lower the LR); this file only decides.
// The window of accepted losses is plain data so that checkpoints can carry it and a resumed run decides the same.
// Leaves out: spikes in the gradient norm alone (only non-finite norms are flagged) and downward "spikes".

export interface SpikeGuardOptions {
  /** Number of recent accepted losses the statistics use; detection starts once the window is full. */
  window: number;
  /** z-score above which a loss is a spike. */
  zThreshold: number;
  /** Floor on the standard deviation, as a fraction of the mean (a flat loss curve must not flag noise). */
  minRelativeStd?: number;
}

export type SpikeVerdict =
  | { spike: false }
  | { spike: true; reason: "nonfinite-loss" | "nonfinite-grad-norm" | "zscore"; zScore: number | null; mean: number;
    std: number };

export class SpikeGuard {
  private recent: number[];
  readonly window: number;
  readonly zThreshold: number;
  readonly minRelativeStd: number;

  constructor(options: SpikeGuardOptions, recent: readonly number[] = []) {
    if (!Number.isInteger(options.window) || options.window < 2) {
      throw new RangeError(`--spike-window ${options.window} must be an integer ≥ 2`);
    }
    if (!(options.zThreshold > 0)) throw new RangeError(`--spike-zscore ${options.zThreshold} must be > 0`);
    this.window = options.window;
    this.zThreshold = options.zThreshold;
    this.minRelativeStd = options.minRelativeStd ?? 0.01;
    this.recent = recent.slice(-this.window);
  }

  /** Mean and standard deviation (population) of the window. */
  stats(): { mean: number; std: number } {
    const n = this.recent.length;
    if (n === 0) return { mean: NaN, std: NaN };
    let mean = 0;
    for (const x of this.recent) mean += x;
    mean /= n;
    let v = 0;
    for (const x of this.recent) v += (x - mean) * (x - mean);
    return { mean, std: Math.sqrt(v / n) };
  }

  /** Judges a step's loss (and gradient norm, if known) without recording it. */
  check(loss: number, gradNorm: number | null = null): SpikeVerdict {
    const { mean, std } = this.stats();
    if (!Number.isFinite(loss)) return { spike: true, reason: "nonfinite-loss", zScore: null, mean, std };
    if (gradNorm !== null && !Number.isFinite(gradNorm)) {
      return { spike: true, reason: "nonfinite-grad-norm", zScore: null, mean, std };
    }
    if (this.recent.length < this.window) return { spike: false };
    const floor = Math.abs(mean) * this.minRelativeStd;
    const z = (loss - mean) / Math.max(std, floor, 1e-12);
    return z > this.zThreshold ? { spike: true, reason: "zscore", zScore: z, mean, std } : { spike: false };
  }

  /** Records an accepted loss. */
  accept(loss: number): void {
    this.recent.push(loss);
    if (this.recent.length > this.window) this.recent.shift();
  }

  /** The window, for checkpoints. */
  snapshot(): number[] {
    return this.recent.slice();
  }

  restore(recent: readonly number[]): void {
    this.recent = recent.slice(-this.window);
  }
}

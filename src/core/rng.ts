// A seeded, deterministic random number generator: xoshiro128** (Blackman & Vigna) seeded through splitmix32,
// with uniform floats and Box–Muller normals. Its whole state (four words plus a cached spare normal) can be
// saved and restored exactly, so a resumed training run draws the same numbers as an uninterrupted one.
// Leaves out: cryptographic use, streams/jump-ahead (create one Rng per purpose with its own seed).

export interface RngState {
  /** The four xoshiro128** words, as unsigned 32-bit integers. */
  s: [number, number, number, number];
  /** The second Box–Muller normal of the last pair, if not yet used. */
  spare: number | null;
}

export class Rng {
  private s0 = 0;
  private s1 = 0;
  private s2 = 0;
  private s3 = 0;
  private spare: number | null = null;

  constructor(seed = 0) {
    // splitmix32 expands the seed so that nearby seeds give unrelated streams (and the state is never all zero).
    let x = seed >>> 0;
    const next = (): number => {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.s0 = next();
    this.s1 = next();
    this.s2 = next();
    this.s3 = next();
    if ((this.s0 | this.s1 | this.s2 | this.s3) === 0) this.s0 = 1;
  }

  /** Next unsigned 32-bit integer. */
  nextU32(): number {
    const result = Math.imul(rotl(Math.imul(this.s1, 5), 7), 9) >>> 0;
    const t = this.s1 << 9;
    this.s2 ^= this.s0;
    this.s3 ^= this.s1;
    this.s1 ^= this.s2;
    this.s0 ^= this.s3;
    this.s2 ^= t;
    this.s3 = rotl(this.s3, 11);
    return result;
  }

  /** Uniform float in [0, 1) with 24 random bits (exactly representable in f32). */
  nextFloat(): number {
    return (this.nextU32() >>> 8) / 16777216;
  }

  /** Uniform in [lo, hi). */
  uniform(lo = 0, hi = 1): number {
    return lo + (hi - lo) * this.nextFloat();
  }

  /** Uniform integer in [0, n) (n ≤ 2^32), without modulo bias. */
  int(n: number): number {
    if (!(n >= 1 && n <= 4294967296)) throw new RangeError(`[rng.int] n must be in [1, 2^32], got ${n}`);
    const limit = 4294967296 - (4294967296 % n);
    for (;;) {
      const x = this.nextU32();
      if (x < limit) return x % n;
    }
  }

  /** Standard normal N(0, 1) by Box–Muller; the second value of each pair is kept for the next call. */
  normal(mean = 0, std = 1): number {
    if (this.spare !== null) {
      const z = this.spare;
      this.spare = null;
      return mean + std * z;
    }
    let u1 = this.nextFloat();
    while (u1 === 0) u1 = this.nextFloat();
    const u2 = this.nextFloat();
    const r = Math.sqrt(-2 * Math.log(u1));
    this.spare = r * Math.sin(2 * Math.PI * u2);
    return mean + std * r * Math.cos(2 * Math.PI * u2);
  }

  /** Fisher–Yates shuffle in place; returns the array. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = items[i];
      items[i] = items[j];
      items[j] = t;
    }
    return items;
  }

  getState(): RngState {
    return { s: [this.s0 >>> 0, this.s1 >>> 0, this.s2 >>> 0, this.s3 >>> 0], spare: this.spare };
  }

  setState(state: RngState): void {
    const [a, b, c, d] = state.s;
    if ([a, b, c, d].some((w) => !Number.isInteger(w) || w < 0 || w > 0xffffffff) || (a | b | c | d) === 0) {
      throw new RangeError(`[rng.setState] expected four unsigned 32-bit words, not all zero; got ${JSON.stringify(state.s)}`);
    }
    this.s0 = a | 0;
    this.s1 = b | 0;
    this.s2 = c | 0;
    this.s3 = d | 0;
    this.spare = state.spare;
  }

  static fromState(state: RngState): Rng {
    const r = new Rng(0);
    r.setState(state);
    return r;
  }
}

function rotl(x: number, k: number): number {
  return (x << k) | (x >>> (32 - k));
}

// Token sampling from one row of logits: greedy, temperature, top-k, top-p, min-p, and repetition / presence /
// frequency penalties, with a seeded deterministic RNG so a seed reproduces a run exactly.
// Order (llama.cpp's default chain): penalties → top-k → top-p → min-p → temperature → draw. Filters therefore act
// on the untempered distribution; temperature only reshapes what survives them.
// Leaves out: typical-p, mirostat, DRY, XTC, logit bias and grammar masks (constrained decoding lives in
// src/infer/grammar/, which masks logits before calling this).

export interface SamplingParams {
  /** 0 (or below 1e-5) = greedy. Default 1. */
  temperature?: number;
  /** Keep the k most likely tokens; 0 = off. */
  topK?: number;
  /** Keep the smallest set whose probability reaches p; 1 = off. */
  topP?: number;
  /** Drop tokens whose probability is below minP × the top probability; 0 = off. */
  minP?: number;
  /** > 1 discourages tokens already seen (CTRL style: positive logits divided, negative multiplied); 1 = off. */
  repetitionPenalty?: number;
  /** Subtracted once from every token already seen (OpenAI semantics); 0 = off. */
  presencePenalty?: number;
  /** Subtracted count times from every token already seen; 0 = off. */
  frequencyPenalty?: number;
  /** How many of the most recent tokens the penalties look at (default 64, like llama.cpp; -1 = all). */
  penaltyWindow?: number;
  /** RNG seed (default 0). The same seed, params and logits give the same tokens. */
  seed?: number;
}

/** xoshiro128** seeded through splitmix32: small, fast, and its state is four numbers. */
export class SamplerRng {
  private s = new Uint32Array(4);
  constructor(seed: number) {
    let x = (Math.floor(seed) >>> 0) ^ 0x9e3779b9;
    for (let i = 0; i < 4; i++) {
      x = (x + 0x9e3779b9) >>> 0;
      let z = x;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
      this.s[i] = (z ^ (z >>> 16)) >>> 0;
    }
    if ((this.s[0] | this.s[1] | this.s[2] | this.s[3]) === 0) this.s[0] = 1;
  }
  nextU32(): number {
    const s = this.s;
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }
  /** Uniform in [0, 1) with 32 random bits. */
  next(): number {
    return this.nextU32() / 4294967296;
  }
  getState(): number[] {
    return Array.from(this.s);
  }
  setState(state: readonly number[]): void {
    if (state.length !== 4) throw new Error(`[SamplerRng.setState] expected 4 numbers, got ${state.length}`);
    for (let i = 0; i < 4; i++) this.s[i] = state[i] >>> 0;
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}

/** Index of the largest logit; the lowest id wins ties (llama.cpp's greedy rule). NaN never wins. */
export function argmax(logits: ArrayLike<number>): number {
  let best = 0;
  let bestValue = -Infinity;
  for (let i = 0; i < logits.length; i++) {
    const v = logits[i];
    if (v > bestValue) {
      bestValue = v;
      best = i;
    }
  }
  return best;
}

function validate(p: SamplingParams): void {
  const check = (name: string, ok: boolean, want: string, value: unknown) => {
    if (!ok) throw new RangeError(`[sampler] ${name} = ${String(value)} is invalid; expected ${want}`);
  };
  const t = p.temperature ?? 1;
  check("temperature", Number.isFinite(t) && t >= 0, "a number ≥ 0", p.temperature);
  const k = p.topK ?? 0;
  check("topK", Number.isInteger(k) && k >= 0, "an integer ≥ 0 (0 = off)", p.topK);
  const tp = p.topP ?? 1;
  check("topP", Number.isFinite(tp) && tp > 0 && tp <= 1, "a number in (0, 1]", p.topP);
  const mp = p.minP ?? 0;
  check("minP", Number.isFinite(mp) && mp >= 0 && mp <= 1, "a number in [0, 1]", p.minP);
  const rp = p.repetitionPenalty ?? 1;
  check("repetitionPenalty", Number.isFinite(rp) && rp > 0, "a number > 0 (1 = off)", p.repetitionPenalty);
  check("presencePenalty", Number.isFinite(p.presencePenalty ?? 0), "a finite number", p.presencePenalty);
  check("frequencyPenalty", Number.isFinite(p.frequencyPenalty ?? 0), "a finite number", p.frequencyPenalty);
  const w = p.penaltyWindow ?? 64;
  check("penaltyWindow", Number.isInteger(w) && w >= -1, "an integer ≥ -1 (-1 = all)", p.penaltyWindow);
}

/** Applies repetition / presence / frequency penalties in place to logits, from the tokens in history. */
export function applyPenalties(logits: Float32Array, history: readonly number[], p: SamplingParams): void {
  const rep = p.repetitionPenalty ?? 1;
  const presence = p.presencePenalty ?? 0;
  const frequency = p.frequencyPenalty ?? 0;
  if (rep === 1 && presence === 0 && frequency === 0) return;
  const window = p.penaltyWindow ?? 64;
  const start = window < 0 ? 0 : Math.max(0, history.length - window);
  const counts = new Map<number, number>();
  for (let i = start; i < history.length; i++) counts.set(history[i], (counts.get(history[i]) ?? 0) + 1);
  for (const [id, count] of counts) {
    if (id < 0 || id >= logits.length) continue;
    let v = logits[id];
    if (rep !== 1) v = v > 0 ? v / rep : v * rep;
    v -= presence + frequency * count;
    logits[id] = v;
  }
}

/** Candidate tokens after the top-k / top-p / min-p filters, highest logit first (ties: lower id first). */
export function filterCandidates(logits: Float32Array, p: SamplingParams): Int32Array {
  const n = logits.length;
  const topK = p.topK ?? 0;
  const topP = p.topP ?? 1;
  const minP = p.minP ?? 0;
  // Sorting 150k logits per token is slow; sort only the best `limit` and widen when top-p needs more.
  let limit = topK > 0 ? Math.min(topK, n) : topP < 1 || minP > 0 ? Math.min(256, n) : n;
  for (;;) {
    const sorted = topIndices(logits, limit);
    const maxLogit = logits[sorted[0]];
    let total = 0;
    for (let i = 0; i < n; i++) total += Math.exp(logits[i] - maxLogit);
    let keep = sorted.length;
    if (topP < 1) {
      let cum = 0;
      let reached = false;
      for (let i = 0; i < sorted.length; i++) {
        cum += Math.exp(logits[sorted[i]] - maxLogit) / total;
        if (cum >= topP) {
          keep = i + 1;
          reached = true;
          break;
        }
      }
      if (!reached && limit < n && topK === 0) {
        limit = Math.min(n, limit * 8);
        continue;
      }
    }
    if (minP > 0) {
      // p_i ≥ minP · p_max  ⇔  logit_i ≥ maxLogit + ln(minP); the top token always survives.
      const threshold = maxLogit + Math.log(minP);
      let m = 1;
      while (m < keep && logits[sorted[m]] >= threshold) m++;
      if (m === sorted.length && keep === sorted.length && limit < n && topK === 0) {
        limit = Math.min(n, limit * 8);
        continue;
      }
      keep = m;
    }
    return sorted.subarray(0, keep);
  }
}

/** Ids of the k largest logits, highest first, lower id first on ties. */
function topIndices(logits: Float32Array, k: number): Int32Array {
  const n = logits.length;
  const better = (a: number, b: number) => logits[a] > logits[b] || (logits[a] === logits[b] && a < b);
  if (k >= n || k > 4096) {
    const all = new Int32Array(n);
    for (let i = 0; i < n; i++) all[i] = i;
    all.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
    return all.subarray(0, Math.min(k, n));
  }
  // A bounded min-heap keeps the k best seen so far: O(n log k).
  const heap = new Int32Array(k);
  let size = 0;
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < size && better(heap[worst], heap[l])) worst = l;
      if (r < size && better(heap[worst], heap[r])) worst = r;
      if (worst === i) return;
      const t = heap[i];
      heap[i] = heap[worst];
      heap[worst] = t;
      i = worst;
    }
  };
  for (let id = 0; id < n; id++) {
    if (Number.isNaN(logits[id])) continue;
    if (size < k) {
      let i = size++;
      heap[i] = id;
      while (i > 0) {
        const parent = (i - 1) >> 1;
        if (!better(heap[parent], heap[i])) break;
        const t = heap[i];
        heap[i] = heap[parent];
        heap[parent] = t;
        i = parent;
      }
    } else if (better(id, heap[0])) {
      heap[0] = id;
      siftDown(0);
    }
  }
  const out = Array.from(heap.subarray(0, size));
  out.sort((a, b) => (better(a, b) ? -1 : better(b, a) ? 1 : 0));
  return Int32Array.from(out);
}

/** A sampler with its own RNG: sample(logits, history) picks the next token id. */
export class Sampler {
  readonly params: Readonly<SamplingParams>;
  readonly rng: SamplerRng;
  private scratch: Float32Array | null = null;

  constructor(params: SamplingParams = {}) {
    validate(params);
    this.params = { ...params };
    this.rng = new SamplerRng(params.seed ?? 0);
  }

  get greedy(): boolean {
    return (this.params.temperature ?? 1) < 1e-5;
  }

  /** Picks a token from logits (not modified) given the tokens so far (prompt + generated) for the penalties. */
  sample(logits: Float32Array, history: readonly number[] = []): number {
    const p = this.params;
    let row = logits;
    const penalised = (p.repetitionPenalty ?? 1) !== 1 || (p.presencePenalty ?? 0) !== 0 || (p.frequencyPenalty ?? 0) !== 0;
    if (penalised) {
      if (!this.scratch || this.scratch.length !== logits.length) this.scratch = new Float32Array(logits.length);
      this.scratch.set(logits);
      applyPenalties(this.scratch, history, p);
      row = this.scratch;
    }
    if (this.greedy) return argmax(row);
    const filtered = (p.topK ?? 0) > 0 || (p.topP ?? 1) < 1 || (p.minP ?? 0) > 0;
    // Unfiltered, every id is a candidate: index the row directly rather than build an id list per token.
    const candidates = filtered ? filterCandidates(row, p) : null;
    const n = candidates ? candidates.length : row.length;
    const idAt = (i: number) => (candidates ? candidates[i] : i);
    const t = p.temperature ?? 1;
    const maxLogit = candidates ? row[candidates[0]] : row[argmax(row)];
    const weights = new Float64Array(n);
    let total = 0;
    for (let i = 0; i < n; i++) {
      weights[i] = Math.exp((row[idAt(i)] - maxLogit) / t);
      total += weights[i];
    }
    const u = this.rng.next() * total;
    let cum = 0;
    for (let i = 0; i < n; i++) {
      cum += weights[i];
      if (u < cum) return idAt(i);
    }
    return idAt(n - 1);
  }
}

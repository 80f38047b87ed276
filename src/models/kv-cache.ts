// The key/value cache of one sequence: per layer, k and v tensors [1, capacity, nKvHead, headDim] whose first
// `length` positions are filled. Capacity grows by doubling (up to maxLength), so a short chat with a model whose
// context is 32k does not reserve 32k positions up front; a caller that knows how far it will go reserves that once
// (generation: the prompt + maxTokens), since each growth allocates, copies and first-touches fresh buffers in one step.
// The cache holds f32 (default), f16 or q8_0 values (KvShape.dtype; llama.cpp's -ctk/-ctv f16 / q8_0): an f16 cache
// halves the bytes each decode step reads at long contexts, its values rounded to nearest even when written; a q8_0
// cache stores each position's row (all kv heads) as ggml q8_0 blocks (an f16 scale and 32 int8 per 32 values, 34
// bytes: 0.27× of f32), quantized when written (backend.quantize, ggml's quantize_row_q8_0_ref) and decoded as d·q
// when read. Its tensors are i32 tensors [1, capacity, rowBytes / 4] holding the raw blocks (the tensor layer has no
// byte type; copies move the words unchanged): KvCache.bytesOf gives them as bytes, and they need
// numKvHeads·headDim/32 even (every model with headDim 64 or 128).
// Sliding-window layers (KvShape.windows) keep a ring buffer instead: window w holds at most w positions, position p
// in slot p mod w, so their memory is bounded by the window, not the context. A chunk of new tokens attends over the
// ring (earlier positions) and its own fresh rows, then writes its last w rows in (decoder/attention.ts); the ring has
// overwritten older positions, so truncating (prefix reuse) works only back to `minTruncate`.
// Without sliding windows (and up to 1 GiB) the layers' k tensors are views of one buffer [numLayers, capacity, …] (and
// the v tensors of another), advised onto 2 MiB pages before their first write (backend.adviseHugePages): a decode step at depth streams
// every layer's cache, and one 3 MB buffer per layer mostly straddles the huge pages.
// Leaves out: paging/sharing blocks between sequences, q4 caches.
import { Tensor, zeros, narrow, assign, noGrad, tidy, keep } from "../tensor/index.js";

export interface KvShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** Hard limit (the model's context length). */
  maxLength: number;
  /** Element type of the cache tensors (default f32). */
  dtype?: KvCacheType;
  /** Per layer, a sliding window (that layer's cache is a ring of that many positions) or null (every position);
   *  absent = every layer keeps every position. */
  windows?: readonly (number | null)[];
}

export type KvCacheType = "f32" | "f16" | "q8_0";
export const KV_CACHE_TYPES: readonly KvCacheType[] = ["f32", "f16", "q8_0"];

/** Why a cache of this type cannot hold this model's rows (null when it can): q8_0 needs headDim a multiple of 32 and
 *  numKvHeads·headDim/32 even (whole 4-byte words per position). */
export function kvTypeUnfit(dtype: KvCacheType, numKvHeads: number, headDim: number): string | null {
  if (dtype !== "q8_0" || (headDim % 32 === 0 && ((numKvHeads * headDim) / 32) % 2 === 0)) return null;
  return `a q8_0 cache needs headDim a multiple of 32 and numKvHeads·headDim/32 even (whole 4-byte words per position); ` +
    `this model has ${numKvHeads} kv heads of ${headDim}: use an f16 or f32 cache`;
}

/** Bytes of one position's row (every kv head) in a cache of this type. */
export function kvRowBytes(dtype: KvCacheType, numKvHeads: number, headDim: number): number {
  const n = numKvHeads * headDim;
  return dtype === "q8_0" ? (n / 32) * 34 : n * (dtype === "f16" ? 2 : 4);
}

export class KvCache {
  /** Positions filled. */
  length = 0;
  capacity = 0;
  k: Tensor[] = [];
  v: Tensor[] = [];
  private disposed = false;

  constructor(readonly shape: KvShape, initialCapacity = 64) {
    if (shape.dtype !== undefined && !KV_CACHE_TYPES.includes(shape.dtype)) {
      throw new RangeError(`[KvCache] dtype ${JSON.stringify(shape.dtype)}: expected one of ${KV_CACHE_TYPES.join(", ")}`);
    }
    const unfit = kvTypeUnfit(shape.dtype ?? "f32", shape.numKvHeads, shape.headDim);
    if (unfit) throw new RangeError(`[KvCache] ${unfit}`);
    if (shape.windows !== undefined) {
      if (shape.windows.length !== shape.numLayers) throw new RangeError(`[KvCache] ${shape.windows.length} windows for ${shape.numLayers} layers`);
      for (const w of shape.windows) {
        if (w !== null && (!Number.isInteger(w) || w < 1)) throw new RangeError(`[KvCache] window ${w}: expected a positive integer or null`);
      }
    }
    this.grow(Math.min(initialCapacity, shape.maxLength));
  }

  /** Layer l's ring size when it is a sliding-window layer whose window is shorter than the context, else null. */
  ring(l: number): number | null {
    const w = this.shape.windows?.[l] ?? null;
    return w !== null && w < this.shape.maxLength ? w : null;
  }

  /** Positions layer l's tensors hold: the capacity, or for a ring at most its window. */
  layerCapacity(l: number): number {
    const w = this.ring(l);
    return w === null ? this.capacity : Math.min(this.capacity, w);
  }

  /** The smallest length `truncate` accepts: a ring keeps only its last w positions, and a sequence cut back to n
   *  needs positions n − w + 1 … n − 1 (0 when no ring has wrapped). */
  get minTruncate(): number {
    let min = 0;
    for (let l = 0; l < this.shape.numLayers; l++) {
      const w = this.ring(l);
      if (w !== null && this.length > w) min = Math.max(min, this.length - 1);
    }
    return min;
  }

  /** Makes room for `extra` more positions; throws a clear error past the context length. */
  reserve(extra: number): void {
    if (this.disposed) throw new Error("[KvCache] the sequence was disposed");
    const need = this.length + extra;
    if (need > this.shape.maxLength) {
      throw new RangeError(`[KvCache] ${this.length} cached + ${extra} new tokens = ${need} exceeds the context length ` +
        `${this.shape.maxLength}`);
    }
    if (need > this.capacity) {
      let cap = Math.max(this.capacity, 16);
      while (cap < need) cap *= 2;
      this.grow(Math.min(cap, this.shape.maxLength));
    }
  }

  private grow(capacity: number): void {
    const { numLayers, numKvHeads, headDim } = this.shape;
    const row = this.dtype === "q8_0" ? [kvRowBytes("q8_0", numKvHeads, headDim) / 4] : [numKvHeads, headDim];
    const dtype = this.dtype === "q8_0" ? "i32" : this.dtype;
    // Without rings every layer holds `capacity` positions: all layers' keys in one buffer and all values in another,
    // each layer a view of its slice, so that a decode step's caches sit on 2 MiB pages (a buffer per layer — 3 MB at
    // 110M, 2,048 positions, f16 — mostly straddles them). Advised before the first write: a fresh buffer's pages are
    // untouched, and each then faults in a huge page.
    // Up to 1 GiB a buffer (a typed array holds at most 4 GiB here; an 8B model's f32 cache at 32k positions would be
    // 4 GiB): past that a buffer per layer, each tens of MB and advised on its own.
    const together = Array.from({ length: numLayers }, (_, l) => this.ring(l)).every((w) => w === null) &&
      numLayers * capacity * kvRowBytes(this.dtype, numKvHeads, headDim) <= 2 ** 30;
    tidy(() => noGrad(() => {
      const kAll = together ? zeros([numLayers, capacity, ...row], { dtype }) : null;
      const vAll = together ? zeros([numLayers, capacity, ...row], { dtype }) : null;
      for (const t of [kAll, vAll]) if (t) t.backend.adviseHugePages?.(t.storage("KvCache"));
      for (let l = 0; l < numLayers; l++) {
        const w = this.ring(l);
        const size = w === null ? capacity : Math.min(capacity, w);
        if (this.k[l] && this.k[l].shape[1] === size) continue; // a ring already at its window keeps its tensors
        // Before a ring reaches its window every position sits in slot p (p < size ≤ w), so the copy is the same.
        const k = keep(kAll ? narrow(kAll, 0, l, 1) : zeros([1, size, ...row], { dtype }));
        const v = keep(vAll ? narrow(vAll, 0, l, 1) : zeros([1, size, ...row], { dtype }));
        if (!kAll) for (const t of [k, v]) t.backend.adviseHugePages?.(t.storage("KvCache"));
        if (this.length > 0) {
          assign(narrow(k, 1, 0, this.length), narrow(this.k[l], 1, 0, this.length));
          assign(narrow(v, 1, 0, this.length), narrow(this.v[l], 1, 0, this.length));
        }
        this.k[l]?.dispose();
        this.v[l]?.dispose();
        this.k[l] = k;
        this.v[l] = v;
      }
    }));
    this.capacity = capacity;
  }

  /** A new cache holding a copy of this one's filled positions (beam search forks a sequence). */
  clone(): KvCache {
    const copy = new KvCache(this.shape, Math.max(this.length, 1));
    copy.reserve(this.length);
    tidy(() => noGrad(() => {
      for (let l = 0; l < this.shape.numLayers; l++) {
        const filled = Math.min(this.length, this.layerCapacity(l)); // a wrapped ring: every slot
        if (filled === 0) break;
        assign(narrow(copy.k[l], 1, 0, filled), narrow(this.k[l], 1, 0, filled));
        assign(narrow(copy.v[l], 1, 0, filled), narrow(this.v[l], 1, 0, filled));
      }
    }));
    copy.length = this.length;
    return copy;
  }

  truncate(n: number): void {
    if (!Number.isInteger(n) || n < this.minTruncate || n > this.length) {
      const why = this.minTruncate > 0 ? ` (the sliding-window layers' ring buffers no longer hold the positions before ${this.minTruncate})` : "";
      throw new RangeError(`[KvCache.truncate] n = ${n}; expected an integer in [${this.minTruncate}, ${this.length}]${why}`);
    }
    this.length = n;
  }

  get dtype(): KvCacheType {
    return this.shape.dtype ?? "f32";
  }

  /** Bytes held by the cache tensors. */
  get bytes(): number {
    let positions = 0;
    for (let l = 0; l < this.shape.numLayers; l++) positions += this.layerCapacity(l);
    return 2 * positions * kvRowBytes(this.dtype, this.shape.numKvHeads, this.shape.headDim);
  }

  /** q8_0 cache: quantizes rows k, v [t, Hkv·Dh] (f32) into layer l's positions pos0 … pos0 + t − 1 (at `slot` when
   *  the layer is a ring: the caller maps positions to slots). */
  writeQ8(l: number, slot: number, k: Float32Array, v: Float32Array, t: number): void {
    const kw = this.shape.numKvHeads * this.shape.headDim, rb = kvRowBytes("q8_0", this.shape.numKvHeads, this.shape.headDim);
    const backend = this.k[l].backend;
    if (t === 0) return;
    backend.quantize(k.subarray(0, t * kw), "q8_0", KvCache.bytesOf(this.k[l]).subarray(slot * rb), t * kw);
    backend.quantize(v.subarray(0, t * kw), "q8_0", KvCache.bytesOf(this.v[l]).subarray(slot * rb), t * kw);
  }

  /** q8_0 cache: layer l's slots [from, from + n) decoded to f32 rows [n, Hkv·Dh] (d·q, as ggml). */
  readQ8(l: number, from: number, n: number): { k: Float32Array; v: Float32Array } {
    const kw = this.shape.numKvHeads * this.shape.headDim, rb = kvRowBytes("q8_0", this.shape.numKvHeads, this.shape.headDim);
    const backend = this.k[l].backend;
    const k = new Float32Array(n * kw), v = new Float32Array(n * kw);
    if (n > 0) {
      backend.dequantize(KvCache.bytesOf(this.k[l]).subarray(from * rb, (from + n) * rb), "q8_0", k, n * kw);
      backend.dequantize(KvCache.bytesOf(this.v[l]).subarray(from * rb, (from + n) * rb), "q8_0", v, n * kw);
    }
    return { k, v };
  }

  /** The raw bytes of one of a q8_0 cache's tensors (k[l] or v[l]): positions × rows of q8_0 blocks. */
  static bytesOf(t: Tensor): Uint8Array {
    const words = t.storage("KvCache.bytesOf") as Int32Array;
    return new Uint8Array(words.buffer, words.byteOffset + t.offset * 4, t.size * 4);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [...this.k, ...this.v]) t.dispose();
    this.k = [];
    this.v = [];
  }
}

// The key/value cache of one sequence: per layer, k and v tensors [1, capacity, nKvHead, headDim] whose first
// `length` positions are filled. Capacity grows by doubling (up to maxLength), so a short chat with a model whose
// context is 32k does not reserve 32k positions up front.
// The cache holds f32 (default) or f16 values (KvShape.dtype; llama.cpp's -ctk/-ctv f16): an f16 cache halves the
// bytes each decode step reads at long contexts; its values are rounded to nearest even when written.
// Leaves out: paging/sharing blocks between sequences, q8_0 caches.
import { Tensor, zeros, narrow, assign, noGrad, tidy, keep } from "../tensor/index.js";

export interface KvShape {
  numLayers: number;
  numKvHeads: number;
  headDim: number;
  /** Hard limit (the model's context length). */
  maxLength: number;
  /** Element type of the cache tensors (default f32). */
  dtype?: KvCacheType;
}

export type KvCacheType = "f32" | "f16";
export const KV_CACHE_TYPES: readonly KvCacheType[] = ["f32", "f16"];

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
    this.grow(Math.min(initialCapacity, shape.maxLength));
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
    tidy(() => noGrad(() => {
      for (let l = 0; l < numLayers; l++) {
        const k = keep(zeros([1, capacity, numKvHeads, headDim], { dtype: this.dtype }));
        const v = keep(zeros([1, capacity, numKvHeads, headDim], { dtype: this.dtype }));
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
        if (this.length === 0) break;
        assign(narrow(copy.k[l], 1, 0, this.length), narrow(this.k[l], 1, 0, this.length));
        assign(narrow(copy.v[l], 1, 0, this.length), narrow(this.v[l], 1, 0, this.length));
      }
    }));
    copy.length = this.length;
    return copy;
  }

  truncate(n: number): void {
    if (!Number.isInteger(n) || n < 0 || n > this.length) {
      throw new RangeError(`[KvCache.truncate] n = ${n}; expected an integer in [0, ${this.length}]`);
    }
    this.length = n;
  }

  get dtype(): KvCacheType {
    return this.shape.dtype ?? "f32";
  }

  /** Bytes held by the cache tensors. */
  get bytes(): number {
    return this.shape.numLayers * 2 * this.capacity * this.shape.numKvHeads * this.shape.headDim * (this.dtype === "f16" ? 2 : 4);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const t of [...this.k, ...this.v]) t.dispose();
    this.k = [];
    this.v = [];
  }
}

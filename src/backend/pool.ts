// A recycling allocator for backend storage: alloc(dtype, n) hands out a zero-filled typed array of exactly n
// (or, with zeroFill false, one whose recycled contents are left as they are: outputs an op overwrites whole)
// elements, backed by a buffer from a size class (powers of two, then eighths of a power of two above 64 Ki
// elements, so at most 12.5% is wasted); release() puts the buffer back on its class's free list, so big
// activation and gradient buffers are reused instead of left to the GC. Each backend owns one pool (no global).
// Small requests (< 1024 elements) are not pooled. Released memory beyond `maxCachedBytes` is dropped.
// Leaves out: thread safety (JS is single-threaded), memory-mapped or pinned buffers, automatic release.

import { BackendError, type DType, type Storage } from "./backend.js";

type ArrayCtor = Float32ArrayConstructor | Uint16ArrayConstructor | Int32ArrayConstructor;

const CTOR: Record<DType, ArrayCtor> = { f32: Float32Array, bf16: Uint16Array, f16: Uint16Array, i32: Int32Array };
const MIN_POOLED = 1024;

/** Elements in the size class for a request of n: the next power of two, or (≥ 64 Ki) the next multiple of 1/8th of one. */
export function sizeClass(n: number): number {
  if (n <= MIN_POOLED) return n;
  const p = 2 ** Math.ceil(Math.log2(n));
  if (p <= 65536) return p;
  const step = p / 16; // n is in (p/2, p]: multiples of p/16 are eighths of p/2
  return Math.ceil(n / step) * step;
}

export interface PoolStats {
  /** Buffers handed out and not yet released. */
  live: number;
  /** Bytes held on the free lists. */
  cachedBytes: number;
  /** Allocations served from a free list. */
  reused: number;
  /** Allocations that created a new buffer. */
  created: number;
}

export class BufferPool {
  private readonly free = new Map<string, ArrayBuffer[]>();
  private readonly outstanding = new WeakSet<ArrayBuffer>();
  private cachedBytes = 0;
  private live = 0;
  private reused = 0;
  private created = 0;

  /** `poisonUninitialized`: fill zeroFill=false requests with NaN (f32, bf16, f16) or -1 (i32), so an op that
   *  reads an output it did not write shows up in tests (the reference backend turns this on). */
  constructor(readonly maxCachedBytes = 2 ** 31, private readonly poisonUninitialized = false) {}

  alloc(dtype: DType, n: number, zeroFill = true): Storage {
    const Ctor = CTOR[dtype];
    if (!Ctor) throw new BackendError("alloc", `unknown dtype ${String(dtype)} (expected f32, bf16, f16 or i32)`);
    if (!Number.isSafeInteger(n) || n < 0) throw new BackendError("alloc", `n must be a non-negative integer, got ${n}`);
    this.live++;
    if (n < MIN_POOLED) {
      const small = new Ctor(n);
      this.outstanding.add(small.buffer as ArrayBuffer);
      if (!zeroFill) this.poison(dtype, small);
      return small;
    }
    const elements = sizeClass(n);
    const key = `${Ctor.BYTES_PER_ELEMENT}:${elements}`;
    const list = this.free.get(key);
    let buffer = list?.pop();
    if (buffer) {
      this.cachedBytes -= buffer.byteLength;
      this.reused++;
      const view = new Ctor(buffer, 0, n);
      if (zeroFill) view.fill(0);
      else this.poison(dtype, view);
      this.outstanding.add(buffer);
      return view;
    }
    buffer = new ArrayBuffer(elements * Ctor.BYTES_PER_ELEMENT);
    this.created++;
    this.outstanding.add(buffer);
    const view = new Ctor(buffer, 0, n);
    if (!zeroFill) this.poison(dtype, view);
    return view;
  }

  private poison(dtype: DType, view: Storage): void {
    if (!this.poisonUninitialized) return;
    // 0x7fc0 is a quiet NaN in bf16; 0x7e00 in f16.
    view.fill(dtype === "f32" ? NaN : dtype === "bf16" ? 0x7fc0 : dtype === "f16" ? 0x7e00 : -1);
  }

  /** Returns storage from alloc() to its free list; releasing anything else, or twice, throws. */
  release(storage: Storage): void {
    const buffer = storage.buffer as ArrayBuffer;
    if (!this.outstanding.has(buffer)) {
      throw new BackendError("release",
        `storage (${storage.constructor.name}, ${storage.length} elements) was not allocated by this backend or was already released`);
    }
    this.outstanding.delete(buffer);
    this.live--;
    const bytesPer = storage.BYTES_PER_ELEMENT;
    const elements = buffer.byteLength / bytesPer;
    if (elements < MIN_POOLED || this.cachedBytes + buffer.byteLength > this.maxCachedBytes) return;
    const key = `${bytesPer}:${elements}`;
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    list.push(buffer);
    this.cachedBytes += buffer.byteLength;
  }

  /** Drops every cached buffer (the GC may then reclaim them). */
  trim(): void {
    this.free.clear();
    this.cachedBytes = 0;
  }

  stats(): PoolStats {
    return { live: this.live, cachedBytes: this.cachedBytes, reused: this.reused, created: this.created };
  }
}

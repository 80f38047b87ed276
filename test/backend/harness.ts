// Shared pieces of the backend op suite: a seeded RNG, input generators, the per-dtype tolerance table and a
// comparison that names the op, the case and the worst element. The native backend is built directly from
// the addon (null when it is not built, and the cpu tests skip saying so).
// Leaves out: the cases themselves (ops.test.ts, attention.test.ts, errors.test.ts).

import assert from "node:assert/strict";
import { CpuBackend } from "../../src/backend/cpu/cpu-backend.js";
import { hasAllOps, loadNative, type NativeAddon, type NativeOps } from "../../src/backend/native.js";
import { nativeUnavailableReason } from "../../src/backend/index.js";
import { RefBackend } from "../../src/backend/ref/ref-backend.js";
import type { Backend } from "../../src/backend/backend.js";

export const SIZES = [1, 7, 31, 32, 33, 127, 2049] as const;

/** mulberry32: small, seeded, deterministic. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function uniform(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const r = rng(seed), out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = lo + (hi - lo) * r();
  return out;
}

export function ints(n: number, seed: number, hi: number): Int32Array {
  const r = rng(seed), out = new Int32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.floor(r() * hi);
  return out;
}

/** |got − want| ≤ atol + rtol·|want| per element. The table says how far a float32 kernel (vectorised
 *  polynomials, float accumulation in a different order) may sit from the float64-accumulating reference. */
export const TOL = {
  /** bit-identical: copies, casts, gathers, max */
  exact: { rtol: 0, atol: 0 },
  /** one f32 op per element, or an exp/tanh polynomial of ~2 ulp */
  f32: { rtol: 4e-6, atol: 1e-6 },
  /** f32 sums over a row (≤ a few thousand terms) feeding the result */
  f32Sum: { rtol: 3e-5, atol: 3e-6 },
  /** longer chains: backward passes through sums of products, attention */
  f32Chain: { rtol: 2e-4, atol: 2e-5 },
} as const;
export type Tol = { rtol: number; atol: number };

/** A sum of `terms` values of magnitude ≤ maxAbs in f32 (any order) may be off by a few ulps of the largest
 *  partial sum it could reach, whatever the (possibly cancelled) result is. */
export function sumTol(terms: number, maxAbs: number): Tol {
  return { rtol: TOL.f32Sum.rtol, atol: 4 * 2 ** -24 * terms * maxAbs };
}

export function assertClose(what: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tol, n = want.length): void {
  assert.ok(got.length >= n, `${what}: result has ${got.length} elements, expected ${n}`);
  let worst = -1, worstExcess = 0;
  for (let i = 0; i < n; i++) {
    const g = got[i], w = want[i];
    if (Number.isNaN(w) || Number.isNaN(g)) {
      if (Number.isNaN(w) !== Number.isNaN(g)) { worst = i; worstExcess = Infinity; break; }
      continue;
    }
    if (!Number.isFinite(w) || !Number.isFinite(g)) {
      if (g !== w) { worst = i; worstExcess = Infinity; break; }
      continue;
    }
    const excess = Math.abs(g - w) - (tol.atol + tol.rtol * Math.abs(w));
    if (excess > worstExcess) { worst = i; worstExcess = excess; }
  }
  if (worst >= 0) {
    assert.fail(`${what}: element ${worst} is ${got[worst]}, reference ${want[worst]} (tolerance rtol ${tol.rtol}, atol ${tol.atol}; ${n} elements)`);
  }
}

export const ref: Backend = new RefBackend();

const addon = loadNative();
export const native: (NativeAddon & NativeOps) | null = addon && hasAllOps(addon) ? addon : null;
export const cpu: Backend | null = native ? new CpuBackend(native) : null;
/** For test(..., { skip }) of cpu tests. */
export const skipCpu: string | false = cpu ? false : `native addon not available (${nativeUnavailableReason()}); cpu backend tests skipped`;

/** Runs fn once per distinct ISA level this machine has (full, AVX2 cap, portable cap), passing the name the
 *  addon reports for the level it actually selected — a CPU without AVX-512 gives "avx2" for both of the upper
 *  caps, and that level then runs once, not twice under two labels. Restores the full level after. Returns the
 *  names run, in order (empty without the addon), for the test to report. */
export function forEachIsa(fn: (isa: string) => void): string[] {
  if (!native) return [];
  const ran: string[] = [];
  try {
    for (const cap of [2, 1, 0]) {
      const isa = native.limitIsa(cap);
      if (ran.includes(isa)) continue;
      ran.push(isa);
      fn(isa);
    }
  } finally {
    native.limitIsa(2);
  }
  return ran;
}

export function clone<T extends Float32Array | Int32Array | Uint16Array>(a: T): T {
  return a.slice() as T;
}

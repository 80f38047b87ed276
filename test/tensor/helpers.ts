// Test helpers for the tensor, nn and optim suites: the backends to run on (ref always, cpu when the native
// addon is built), a finite-difference gradient checker, and closeness assertions with useful messages.
// Leaves out: the tests themselves.
import assert from "node:assert/strict";
import { beforeEach, describe } from "node:test";
import type { Backend } from "../../src/backend/backend.js";
import { createBackend, nativeUnavailableReason } from "../../src/backend/index.js";
import { Rng } from "../../src/core/rng.js";
import { type Tensor, fromTypedArray, noGrad, setDefaultBackend, tidy } from "../../src/tensor/index.js";

export interface NamedBackend {
  name: "ref" | "cpu";
  backend: Backend;
}

/** The reference backend, plus the native one when its addon is built with every op. */
export function testBackends(): NamedBackend[] {
  const list: NamedBackend[] = [{ name: "ref", backend: createBackend({ kind: "ref" }) }];
  if (nativeUnavailableReason() === "") list.push({ name: "cpu", backend: createBackend({ kind: "cpu", threads: 2 }) });
  return list;
}

/** One describe() block per backend, titled `${title} (${name} backend)`, with that backend set as the
 *  default before each of its tests (test bodies run after every block has been declared). */
export function describeBackends(title: string, fn: (b: NamedBackend) => void): void {
  for (const nb of testBackends()) {
    describe(`${title} (${nb.name} backend)`, () => {
      beforeEach(() => setDefaultBackend(nb.backend));
      fn(nb);
    });
  }
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, atol: number, rtol: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length ${actual.length} vs expected ${expected.length}`);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i], e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    if (a === e) continue; // also equal infinities
    if (!(Math.abs(a - e) <= atol + rtol * Math.abs(e))) {
      assert.fail(`${what}: element ${i} is ${a}, expected ${e} (|diff| ${Math.abs(a - e)}, atol ${atol}, rtol ${rtol})`);
    }
  }
}

/** Deterministic values in [lo, hi) for test inputs. */
export function values(n: number, seed: number, lo = -1, hi = 1): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.uniform(lo, hi);
  return out;
}

export interface GradInput {
  shape: number[];
  data: Float32Array;
}

/** Central-difference gradient check: compares autograd's d(Σ w·f(inputs))/d(inputs) (w a fixed random weight
 *  per output element, the loss summed in float64) with (L(x+eps) − L(x−eps)) / 2eps per input element. */
export function gradCheck(what: string, f: (xs: Tensor[]) => Tensor, inputs: GradInput[],
  opts?: { eps?: number; atol?: number; rtol?: number; only?: number[] }): void {
  const eps = opts?.eps ?? 1e-2;
  const atol = opts?.atol ?? 2e-3;
  const rtol = opts?.rtol ?? 2e-2;
  let weights: Float32Array | null = null;
  const loss = (xs: Tensor[]): number => tidy(() => {
    const y = f(xs).toFloat32Array();
    weights ??= values(y.length, 99, 0.5, 1.5);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += weights[i] * y[i];
    return s;
  });
  // Analytic gradients.
  const leaves = inputs.map((x) => fromTypedArray(x.data.slice(), x.shape, { requiresGrad: true }));
  const analytic = tidy(() => {
    const y = f(leaves);
    const yv = y.toFloat32Array();
    weights ??= values(yv.length, 99, 0.5, 1.5);
    const w = fromTypedArray(weights, y.shape);
    y.backward(w);
    return leaves.map((l) => (l.grad ? l.grad.toFloat32Array() : new Float32Array(l.size)));
  });
  // Numerical gradients.
  const which = opts?.only ?? inputs.map((_, i) => i);
  noGrad(() => {
    for (const k of which) {
      const base = inputs[k].data;
      const numeric = new Float32Array(base.length);
      for (let i = 0; i < base.length; i++) {
        const plus = base.slice(); plus[i] += eps;
        const minus = base.slice(); minus[i] -= eps;
        const lp = evalWith(k, plus);
        const lm = evalWith(k, minus);
        numeric[i] = (lp - lm) / (2 * eps);
      }
      assertClose(analytic[k], numeric, atol, rtol, `${what}: d/d(input ${k})`);
    }
  });
  for (const l of leaves) { l.zeroGrad(); l.dispose(); }

  function evalWith(k: number, data: Float32Array): number {
    const xs = inputs.map((x, j) => fromTypedArray(j === k ? data : x.data, x.shape));
    try {
      return loss(xs);
    } finally {
      for (const x of xs) x.dispose();
    }
  }
}

/** A GradInput with deterministic values. */
export function input(shape: number[], seed: number, lo = -1, hi = 1): GradInput {
  return { shape, data: values(shape.reduce((a, b) => a * b, 1), seed, lo, hi) };
}

// Reference element-wise ops: the unary table (value and derivative of each UnaryOp, computed in float64 and
// rounded once to f32), broadcasting binary ops, scale, axpy and SwiGLU.
// Leaves out: argument validation (checks.ts), in-place aliasing rules beyond "out may equal x".

import type { BinaryOp, UnaryOp } from "../backend.js";

const SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);
const GELU_TANH_C = 0.044715;
const INV_SQRT_2PI = 1 / Math.sqrt(2 * Math.PI);

/** erfc(x) to ~1e-13 relative: Taylor series of erf below 2.5, a continued fraction above. erfc(0) = 1. */
export function erfc(x: number): number {
  if (Number.isNaN(x)) return NaN;
  if (x < 0) return 2 - erfc(-x);
  if (x < 2.5) return 1 - erfSeries(x);
  if (x > 27) return 0;
  // erfc(x) = exp(-x²)/√π · 1/(x + (1/2)/(x + 1/(x + (3/2)/(x + ...)))), evaluated from the tail.
  let t = x;
  for (let n = 120; n >= 1; n--) t = x + n / 2 / t;
  return Math.exp(-x * x) / (Math.sqrt(Math.PI) * t);
}

export function erf(x: number): number {
  if (Math.abs(x) < 2.5) return erfSeries(x);
  return x > 0 ? 1 - erfc(x) : erfc(-x) - 1;
}

function erfSeries(x: number): number {
  // erf(x) = 2/√π Σ (-1)^n x^(2n+1) / (n! (2n+1))
  const x2 = x * x;
  let term = x, sum = x;
  for (let n = 1; n < 80; n++) {
    term *= -x2 / n;
    const add = term / (2 * n + 1);
    sum += add;
    if (Math.abs(add) < 1e-17 * Math.abs(sum)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * sum;
}

function sigmoid(x: number): number {
  return x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x));
}

/** Value f(x) and derivative f'(x) of each unary op (float64). */
export const UNARY: Record<UnaryOp, { f(x: number): number; df(x: number): number }> = {
  neg: { f: (x) => -x, df: () => -1 },
  exp: { f: Math.exp, df: Math.exp },
  log: { f: Math.log, df: (x) => 1 / x },
  sqrt: { f: Math.sqrt, df: (x) => 0.5 / Math.sqrt(x) },
  rsqrt: { f: (x) => 1 / Math.sqrt(x), df: (x) => -0.5 / (x * Math.sqrt(x)) },
  recip: { f: (x) => 1 / x, df: (x) => -1 / (x * x) },
  abs: { f: Math.abs, df: (x) => (x > 0 ? 1 : x < 0 ? -1 : 0) },
  tanh: { f: Math.tanh, df: (x) => 1 - Math.tanh(x) ** 2 },
  sigmoid: { f: sigmoid, df: (x) => sigmoid(x) * (1 - sigmoid(x)) },
  relu: { f: (x) => (x > 0 ? x : 0), df: (x) => (x > 0 ? 1 : 0) },
  gelu_tanh: {
    f: (x) => 0.5 * x * (1 + Math.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x))),
    df: (x) => {
      const t = Math.tanh(SQRT_2_OVER_PI * (x + GELU_TANH_C * x * x * x));
      return 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * SQRT_2_OVER_PI * (1 + 3 * GELU_TANH_C * x * x);
    },
  },
  gelu_erf: {
    f: (x) => 0.5 * x * erfc(-x / Math.SQRT2),
    df: (x) => 0.5 * erfc(-x / Math.SQRT2) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x),
  },
  silu: { f: (x) => x * sigmoid(x), df: (x) => sigmoid(x) * (1 + x * (1 - sigmoid(x))) },
  square: { f: (x) => x * x, df: (x) => 2 * x },
};

export function unary(op: UnaryOp, x: Float32Array, out: Float32Array, n: number): void {
  const f = UNARY[op].f;
  for (let i = 0; i < n; i++) out[i] = f(x[i]);
}

export function unaryBackward(op: UnaryOp, x: Float32Array, dy: Float32Array, dx: Float32Array, n: number,
  accumulate: boolean): void {
  const df = UNARY[op].df;
  for (let i = 0; i < n; i++) {
    const g = dy[i] * df(x[i]);
    dx[i] = accumulate ? dx[i] + g : g;
  }
}

/** max/min propagate NaN from either side (like Math.max/Math.min). */
export const BINARY: Record<BinaryOp, (a: number, b: number) => number> = {
  add: (a, b) => a + b,
  sub: (a, b) => a - b,
  mul: (a, b) => a * b,
  div: (a, b) => a / b,
  max: (a, b) => (a > b || a !== a ? a : b),
  min: (a, b) => (a < b || a !== a ? a : b),
  pow: (a, b) => Math.pow(a, b),
};

/** out[flat i] = a[Σ i_d·aStrides_d] op b[Σ i_d·bStrides_d] over shape; out contiguous. */
export function binary(op: BinaryOp, a: Float32Array, aStrides: readonly number[], b: Float32Array,
  bStrides: readonly number[], out: Float32Array, shape: readonly number[]): void {
  const f = BINARY[op];
  const rank = shape.length;
  let total = 1;
  for (const d of shape) total *= d;
  if (total === 0) return;
  const index = new Array<number>(rank).fill(0);
  let ai = 0, bi = 0;
  for (let o = 0; o < total; o++) {
    out[o] = f(a[ai], b[bi]);
    for (let d = rank - 1; d >= 0; d--) {
      index[d]++;
      ai += aStrides[d];
      bi += bStrides[d];
      if (index[d] < shape[d]) break;
      ai -= aStrides[d] * shape[d];
      bi -= bStrides[d] * shape[d];
      index[d] = 0;
    }
  }
}

export function scale(x: Float32Array, out: Float32Array, n: number, alpha: number, beta: number): void {
  for (let i = 0; i < n; i++) out[i] = alpha * x[i] + beta;
}

export function axpy(alpha: number, x: Float32Array, y: Float32Array, n: number): void {
  for (let i = 0; i < n; i++) y[i] += alpha * x[i];
}

export function swiglu(gate: Float32Array, up: Float32Array, out: Float32Array, n: number): void {
  const silu = UNARY.silu.f;
  for (let i = 0; i < n; i++) out[i] = silu(gate[i]) * up[i];
}

export function swigluBackward(gate: Float32Array, up: Float32Array, dOut: Float32Array, dGate: Float32Array,
  dUp: Float32Array, n: number): void {
  const { f: silu, df: dsilu } = UNARY.silu;
  for (let i = 0; i < n; i++) {
    dGate[i] += dOut[i] * up[i] * dsilu(gate[i]);
    dUp[i] += dOut[i] * silu(gate[i]);
  }
}

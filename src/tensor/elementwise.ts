// Elementwise ops with their derivatives: unary functions (exp, log, tanh, GELU, SiLU ...), binary ops with
// NumPy broadcasting (add, sub, mul, div, max, min, pow), scalar variants, the fused SwiGLU, copies and casts.
// All math is f32 (other dtypes are storage formats: cast with to()).
// Leaves out: comparisons/boolean tensors (masks are built as f32 constants), in-place arithmetic.
import type { BinaryOp, UnaryOp } from "../backend/backend.js";
import type { DType } from "../core/dtype.js";
import { OpError, fmtShape } from "../core/errors.js";
import { broadcastShapes, broadcastStrides, shapesEqual, type Shape } from "../core/shape.js";
import type { DerivativeTable } from "./graph.js";
import { Tensor } from "./tensor.js";
import { record, save } from "./autograd.js";
import { backendOf, dense, denseF32, expectDType, fromOffset, outF32 } from "./operands.js";
import { sumTo } from "./reduce.js";
import { full } from "./create.js";

declare module "./graph.js" {
  interface SavedByOp {
    unary: { fn: UnaryOp; x: Tensor };
    add: { aShape: Shape; bShape: Shape };
    sub: { aShape: Shape; bShape: Shape };
    mul: { a: Tensor; b: Tensor };
    div: { a: Tensor; b: Tensor };
    maximum: { a: Tensor; b: Tensor };
    minimum: { a: Tensor; b: Tensor };
    pow: { a: Tensor; b: Tensor; out: Tensor };
    affine: { alpha: number };
    powScalar: { x: Tensor; p: number };
    swiglu: { gate: Tensor; up: Tensor };
    copy: Record<string, never>;
  }
}

// ---- unary ----

/** y = fn(x) elementwise (f32). */
export function unary(fn: UnaryOp, x: Tensor): Tensor {
  const op = fn;
  const xs = denseF32(op, x);
  const out = Tensor.uninit(x.backend, "f32", x.shape);
  try {
    x.backend.unary(fn, xs.data, outF32(out), x.size);
  } finally {
    xs.release();
  }
  return record(out, "unary", [x], () => ({ fn, x: save(x) }));
}

export const neg = (x: Tensor): Tensor => unary("neg", x);
export const exp = (x: Tensor): Tensor => unary("exp", x);
export const log = (x: Tensor): Tensor => unary("log", x);
export const sqrt = (x: Tensor): Tensor => unary("sqrt", x);
export const rsqrt = (x: Tensor): Tensor => unary("rsqrt", x);
export const recip = (x: Tensor): Tensor => unary("recip", x);
export const abs = (x: Tensor): Tensor => unary("abs", x);
export const tanh = (x: Tensor): Tensor => unary("tanh", x);
export const sigmoid = (x: Tensor): Tensor => unary("sigmoid", x);
export const relu = (x: Tensor): Tensor => unary("relu", x);
export const silu = (x: Tensor): Tensor => unary("silu", x);
export const square = (x: Tensor): Tensor => unary("square", x);
/** GELU; approximate "tanh" (GPT-2's gelu_new) or "none" (exact, with erf). */
export const gelu = (x: Tensor, approximate: "tanh" | "none" = "tanh"): Tensor =>
  unary(approximate === "tanh" ? "gelu_tanh" : "gelu_erf", x);

// ---- binary with broadcasting ----

const BINARY_OP_NAME = { add: "add", sub: "sub", mul: "mul", div: "div", max: "maximum", min: "minimum", pow: "pow" } as const;

/** out = a fn b with NumPy broadcasting; either operand may be a strided view. */
export function binary(fn: BinaryOp, a: Tensor, b: Tensor): Tensor {
  const op = BINARY_OP_NAME[fn];
  const backend = backendOf(op, a, b);
  expectDType(op, a, "f32", "a");
  expectDType(op, b, "f32", "b");
  const shape = broadcastShapes(op, a.shape, b.shape);
  const out = Tensor.uninit(backend, "f32", shape);
  if (out.size > 0) {
    backend.binary(fn, fromOffset(op, a) as Float32Array, broadcastStrides(op, a.shape, a.strides, shape),
      fromOffset(op, b) as Float32Array, broadcastStrides(op, b.shape, b.strides, shape), outF32(out), shape);
  }
  switch (fn) {
    case "add": return record(out, "add", [a, b], () => ({ aShape: a.shape, bShape: b.shape }));
    case "sub": return record(out, "sub", [a, b], () => ({ aShape: a.shape, bShape: b.shape }));
    case "mul": return record(out, "mul", [a, b], () => ({ a: save(a), b: save(b) }));
    case "div": return record(out, "div", [a, b], () => ({ a: save(a), b: save(b) }));
    case "max": return record(out, "maximum", [a, b], () => ({ a: save(a), b: save(b) }));
    case "min": return record(out, "minimum", [a, b], () => ({ a: save(a), b: save(b) }));
    case "pow": return record(out, "pow", [a, b], () => ({ a: save(a), b: save(b), out: save(out) }));
  }
}

/** a + b (b may be a number). */
export function add(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === "number" ? affine(a, 1, b) : binary("add", a, b);
}
/** a − b (b may be a number). */
export function sub(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === "number" ? affine(a, 1, -b) : binary("sub", a, b);
}
/** a · b (b may be a number). */
export function mul(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === "number" ? affine(a, b, 0) : binary("mul", a, b);
}
/** a / b (b may be a number). */
export function div(a: Tensor, b: Tensor | number): Tensor {
  return typeof b === "number" ? affine(a, 1 / b, 0) : binary("div", a, b);
}
/** Elementwise maximum (ties send the gradient to b). */
export function maximum(a: Tensor, b: Tensor): Tensor {
  return binary("max", a, b);
}
/** Elementwise minimum (ties send the gradient to b). */
export function minimum(a: Tensor, b: Tensor): Tensor {
  return binary("min", a, b);
}
/** a ** p; p a number (x must be positive unless p is an integer) or a tensor (then a > 0). */
export function pow(a: Tensor, p: Tensor | number): Tensor {
  if (typeof p !== "number") return binary("pow", a, p);
  if (p === 2) return unary("square", a);
  if (p === 1) return affine(a, 1, 0);
  const backend = backendOf("pow", a);
  expectDType("pow", a, "f32");
  const out = Tensor.empty(backend, "f32", a.shape);
  const pv = new Float32Array([p]);
  if (out.size > 0) {
    backend.binary("pow", fromOffset("pow", a) as Float32Array, a.strides, pv, a.shape.map(() => 0), outF32(out), a.shape);
  }
  return record(out, "powScalar", [a], () => ({ x: save(a), p }));
}

/** alpha·x + beta (one fused pass). */
export function affine(x: Tensor, alpha: number, beta: number): Tensor {
  const xs = denseF32("affine", x);
  const out = Tensor.uninit(x.backend, "f32", x.shape);
  try {
    x.backend.scale(xs.data, outF32(out), x.size, alpha, beta);
  } finally {
    xs.release();
  }
  return record(out, "affine", [x], () => ({ alpha }));
}

/** Fused SwiGLU: silu(gate) ⊙ up (same shapes). */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  const backend = backendOf("swiglu", gate, up);
  if (!shapesEqual(gate.shape, up.shape)) {
    throw new OpError("swiglu", `gate ${fmtShape(gate.shape)} and up ${fmtShape(up.shape)} must have the same shape`);
  }
  const g = denseF32("swiglu", gate, "gate");
  const u = denseF32("swiglu", up, "up");
  const out = Tensor.uninit(backend, "f32", gate.shape);
  try {
    backend.swiglu(g.data, u.data, outF32(out), out.size);
  } finally {
    g.release();
    u.release();
  }
  return record(out, "swiglu", [gate, up], () => ({ gate: save(gate), up: save(up) }));
}

// ---- copies and casts ----

/** A contiguous copy of x (any dtype); differentiable (the gradient passes through). */
export function copyOf(x: Tensor): Tensor {
  const d = dense("copy", x);
  const out = Tensor.uninit(x.backend, x.dtype, x.shape);
  try {
    out.storage().set(d.data as never);
  } finally {
    d.release();
  }
  return record(out, "copy", [x], () => ({}));
}

/** Ones with x's shape (f32). */
export function onesLike(x: Tensor): Tensor {
  return full(x.shape, 1, { backend: x.backend });
}

/** Zeros with x's shape (f32). */
export function zerosLike(x: Tensor): Tensor {
  return Tensor.empty(x.backend, "f32", x.shape);
}

/** x converted to dtype (a new contiguous tensor; f32↔bf16 rounds to nearest even, f32↔f16 IEEE). The result
 *  is detached from the graph: mixed precision is done inside ops (matmul's dtype option), not with casts. */
export function to(x: Tensor, dtype: DType): Tensor {
  if (x.dtype === dtype) return copyOf(x);
  const d = dense("to", x);
  const out = Tensor.empty(x.backend, dtype, x.shape);
  try {
    if (out.size > 0) x.backend.cast(d.data, x.dtype, out.storage(), dtype, out.size);
  } finally {
    d.release();
  }
  return out;
}

/** A view of x (same storage) cut off from the graph: requiresGrad false, no node. */
export function detach(x: Tensor): Tensor {
  return x.withLayout(x.shape, x.strides, x.offset);
}

// ---- derivatives ----

export const elementwiseDerivatives: DerivativeTable<
  "unary" | "add" | "sub" | "mul" | "div" | "maximum" | "minimum" | "pow" | "affine" | "powScalar" | "swiglu" | "copy"
> = {
  unary: ({ saved: { fn, x } }, dy) => {
    const dx = Tensor.uninit(x.backend, "f32", x.shape); // not accumulating: the kernel writes every element
    const xs = denseF32("unary", x);
    const ds = denseF32("unary", dy);
    x.backend.unaryBackward(fn, xs.data, ds.data, outF32(dx), x.size, false);
    xs.release();
    ds.release();
    return [dx];
  },
  add: ({ saved, needs }, dy) => [needs[0] ? sumTo(dy, saved.aShape) : null, needs[1] ? sumTo(dy, saved.bShape) : null],
  sub: ({ saved, needs }, dy) => [needs[0] ? sumTo(dy, saved.aShape) : null, needs[1] ? sumTo(neg(dy), saved.bShape) : null],
  mul: ({ saved: { a, b }, needs }, dy) => [needs[0] ? sumTo(mul(dy, b), a.shape) : null, needs[1] ? sumTo(mul(dy, a), b.shape) : null],
  div: ({ saved: { a, b }, needs }, dy) => [
    needs[0] ? sumTo(div(dy, b), a.shape) : null,
    needs[1] ? sumTo(neg(div(mul(dy, a), square(b))), b.shape) : null,
  ],
  maximum: ({ saved: { a, b }, needs }, dy) => {
    const da = reluMask(sub(a, b), dy); // dy where a > b
    return [needs[0] ? sumTo(da, a.shape) : null, needs[1] ? sumTo(sub(dy, da), b.shape) : null];
  },
  minimum: ({ saved: { a, b }, needs }, dy) => {
    const da = reluMask(sub(b, a), dy); // dy where a < b
    return [needs[0] ? sumTo(da, a.shape) : null, needs[1] ? sumTo(sub(dy, da), b.shape) : null];
  },
  pow: ({ saved: { a, b, out }, needs }, dy) => [
    needs[0] ? sumTo(mul(mul(dy, b), binary("pow", a, sub(b, 1))), a.shape) : null,
    needs[1] ? sumTo(mul(mul(dy, out), log(a)), b.shape) : null,
  ],
  affine: ({ saved: { alpha } }, dy) => [affine(dy, alpha, 0)],
  powScalar: ({ saved: { x, p } }, dy) => [mul(dy, mul(pow(x, p - 1), p))],
  swiglu: ({ saved: { gate, up }, needs }, dy) => {
    const backend = gate.backend;
    const dGate = Tensor.empty(backend, "f32", gate.shape);
    const dUp = Tensor.empty(backend, "f32", up.shape);
    const g = denseF32("swiglu", gate);
    const u = denseF32("swiglu", up);
    const d = denseF32("swiglu", dy);
    backend.swigluBackward(g.data, u.data, d.data, outF32(dGate), outF32(dUp), gate.size);
    g.release(); u.release(); d.release();
    return [needs[0] ? dGate : null, needs[1] ? dUp : null];
  },
  copy: (_node, dy) => [dy.withLayout(dy.shape, dy.strides, dy.offset)],
};

/** dy where x > 0, else 0 (x and dy same shape), via relu's derivative. */
function reluMask(x: Tensor, dy: Tensor): Tensor {
  const dyFull = shapesEqual(dy.shape, x.shape) ? dy : add(dy, Tensor.empty(dy.backend, "f32", x.shape));
  const out = Tensor.empty(x.backend, "f32", x.shape);
  const xs = denseF32("maximum", x);
  const ds = denseF32("maximum", dyFull);
  x.backend.unaryBackward("relu", xs.data, ds.data, outF32(out), x.size, false);
  xs.release();
  ds.release();
  return out;
}

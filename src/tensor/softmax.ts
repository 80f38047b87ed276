// Fused softmax, logSoftmax (last dim) and cross-entropy with an ignore index, with their derivatives.
// crossEntropy is the training loss: one backend pass computes per-row losses, the mean is over rows whose
// target is not ignored. The composed twins in composed.ts are the specification.
// Leaves out: label smoothing, class weights, softmax over other dims (transpose first).
import { OpError, fmtShape } from "../core/errors.js";
import { shapesEqual } from "../core/shape.js";
import type { DerivativeTable } from "./graph.js";
import { Tensor } from "./tensor.js";
import { record, save } from "./autograd.js";
import { backendOf, denseF32, denseI32, outF32 } from "./operands.js";

export type Reduction = "mean" | "sum" | "none";

declare module "./graph.js" {
  interface SavedByOp {
    softmax: { y: Tensor };
    logSoftmax: { y: Tensor };
    crossEntropy: { logits: Tensor; targets: Tensor; ignoreIndex: number; reduction: Reduction; counted: number };
  }
}

function rowOp(op: "softmax" | "logSoftmax", x: Tensor): Tensor {
  const cols = x.shape[x.rank - 1] ?? 1;
  const xs = denseF32(op, x);
  const out = Tensor.empty(x.backend, "f32", x.shape);
  try {
    if (out.size > 0) x.backend[op](xs.data, outF32(out), x.size / cols, cols);
  } finally {
    xs.release();
  }
  return record(out, op, [x], () => ({ y: save(out) }));
}

/** Softmax over the last dim; a row of all -inf gives zeros. */
export function softmax(x: Tensor): Tensor {
  return rowOp("softmax", x);
}

/** log(softmax(x)) over the last dim, computed stably. */
export function logSoftmax(x: Tensor): Tensor {
  return rowOp("logSoftmax", x);
}

export interface CrossEntropyOptions {
  /** Targets equal to this are skipped (default -100, as PyTorch). */
  ignoreIndex?: number;
  /** "mean" over non-ignored rows (default), "sum", or "none" (per-row losses). */
  reduction?: Reduction;
}

/** Cross-entropy of logits [..., V] against i32 targets [...]: −log softmax(logits)[target]. */
export function crossEntropy(logits: Tensor, targets: Tensor, opts?: CrossEntropyOptions): Tensor {
  const backend = backendOf("crossEntropy", logits, targets);
  const ignoreIndex = opts?.ignoreIndex ?? -100;
  const reduction = opts?.reduction ?? "mean";
  const cols = logits.shape[logits.rank - 1];
  const rows = logits.size / cols;
  if (targets.size !== rows || !shapesEqual(targets.shape, logits.shape.slice(0, -1))) {
    throw new OpError("crossEntropy", `targets ${fmtShape(targets.shape)} do not match logits ${fmtShape(logits.shape)}; ` +
      `expected ${fmtShape(logits.shape.slice(0, -1))}`);
  }
  const ls = denseF32("crossEntropy", logits, "logits");
  const ts = denseI32("crossEntropy", targets, "targets");
  const losses = Tensor.empty(backend, "f32", targets.shape);
  let counted: number;
  try {
    counted = backend.crossEntropy(ls.data, ts.data, outF32(losses), rows, cols, ignoreIndex);
  } finally {
    ls.release(); ts.release();
  }
  let out = losses;
  if (reduction !== "none") {
    // Sum in float64 for a stable loss value; the mean of an all-ignored batch is 0 (not NaN).
    const l = outF32(losses);
    let s = 0;
    for (let i = 0; i < rows; i++) s += l[i];
    out = Tensor.empty(backend, "f32", []);
    outF32(out)[0] = reduction === "mean" ? (counted > 0 ? s / counted : 0) : s;
    losses.dispose();
  }
  return record(out, "crossEntropy", [logits, null], () => ({
    logits: save(logits), targets: save(targets), ignoreIndex, reduction, counted,
  }));
}

export const softmaxDerivatives: DerivativeTable<"softmax" | "logSoftmax" | "crossEntropy"> = {
  softmax: ({ saved: { y } }, dy) => [rowBackward("softmaxBackward", y, dy)],
  logSoftmax: ({ saved: { y } }, dy) => [rowBackward("logSoftmaxBackward", y, dy)],
  crossEntropy: ({ saved: { logits, targets, ignoreIndex, reduction, counted } }, dy) => {
    const backend = logits.backend;
    const cols = logits.shape[logits.rank - 1];
    const rows = logits.size / cols;
    const dLoss = new Float32Array(rows);
    if (reduction === "none") dLoss.set(dy.toFloat32Array());
    else dLoss.fill(dy.item() / (reduction === "mean" ? Math.max(counted, 1) : 1));
    const dLogits = Tensor.uninit(backend, "f32", logits.shape); // the kernel writes every element
    const ls = denseF32("crossEntropy", logits);
    const ts = denseI32("crossEntropy", targets);
    backend.crossEntropyBackward(ls.data, ts.data, dLoss, outF32(dLogits), rows, cols, ignoreIndex);
    ls.release(); ts.release();
    return [dLogits, null];
  },
};

function rowBackward(op: "softmaxBackward" | "logSoftmaxBackward", y: Tensor, dy: Tensor): Tensor {
  const cols = y.shape[y.rank - 1] ?? 1;
  const dx = Tensor.empty(y.backend, "f32", y.shape);
  const ys = denseF32(op, y);
  const ds = denseF32(op, dy);
  if (dx.size > 0) y.backend[op](ys.data, ds.data, outF32(dx), y.size / cols, cols);
  ys.release(); ds.release();
  return dx;
}

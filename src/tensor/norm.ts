// Fused normalisations over the last dim with their derivatives: layerNorm (GPT-2) and rmsNorm (Llama), each
// one backend pass forward and one backward (the composed twins in composed.ts are the specification).
// Leaves out: group/batch norm, norms over other dims.
import { OpError, fmtShape } from "../core/errors.js";
import type { AccumulatorTable, DerivativeTable, GradNode } from "./graph.js";
import { Tensor } from "./tensor.js";
import { record, save } from "./autograd.js";
import { backendOf, denseF32, outF32, type Dense } from "./operands.js";

declare module "./graph.js" {
  interface SavedByOp {
    layerNorm: { x: Tensor; w: Tensor | null; mean: Tensor; rstd: Tensor };
    rmsNorm: { x: Tensor; w: Tensor | null; rstd: Tensor };
  }
}

function checkParam(op: string, p: Tensor | null | undefined, cols: number, name: string, x: Tensor): void {
  if (p && (p.rank !== 1 || p.shape[0] !== cols)) {
    throw new OpError(op, `${name} ${fmtShape(p.shape)} does not match input ${fmtShape(x.shape)}; expected [${cols}]`);
  }
}

const none: Dense<Float32Array> = { data: new Float32Array(0), release() {} };

/** y = (x − mean)/sqrt(var + eps)·w + b over the last dim (biased variance, as PyTorch). w, b optional. */
export function layerNorm(x: Tensor, w?: Tensor | null, b?: Tensor | null, eps = 1e-5): Tensor {
  const backend = backendOf("layerNorm", x, w, b);
  const cols = x.shape[x.rank - 1];
  checkParam("layerNorm", w, cols, "weight", x);
  checkParam("layerNorm", b, cols, "bias", x);
  const rows = x.size / cols;
  const xs = denseF32("layerNorm", x);
  const ws = w ? denseF32("layerNorm", w, "weight") : none;
  const bs = b ? denseF32("layerNorm", b, "bias") : none;
  const out = Tensor.uninit(backend, "f32", x.shape);
  const mean = Tensor.uninit(backend, "f32", [rows]);
  const rstd = Tensor.uninit(backend, "f32", [rows]);
  try {
    backend.layerNorm(xs.data, w ? ws.data : null, b ? bs.data : null, outF32(out), outF32(mean), outF32(rstd), rows, cols, eps);
  } finally {
    xs.release(); ws.release(); bs.release();
  }
  record(out, "layerNorm", [x, w ?? null, b ?? null], () => ({ x: save(x), w: w ? save(w) : null, mean: save(mean), rstd: save(rstd) }));
  mean.dispose();
  rstd.dispose();
  return out;
}

/** y = x / sqrt(mean(x²) + eps) · w over the last dim. w optional. */
export function rmsNorm(x: Tensor, w?: Tensor | null, eps = 1e-6): Tensor {
  const backend = backendOf("rmsNorm", x, w);
  const cols = x.shape[x.rank - 1];
  checkParam("rmsNorm", w, cols, "weight", x);
  const rows = x.size / cols;
  const xs = denseF32("rmsNorm", x);
  const ws = w ? denseF32("rmsNorm", w, "weight") : none;
  const out = Tensor.uninit(backend, "f32", x.shape);
  const rstd = Tensor.uninit(backend, "f32", [rows]);
  try {
    backend.rmsNorm(xs.data, w ? ws.data : null, outF32(out), outF32(rstd), rows, cols, eps);
  } finally {
    xs.release(); ws.release();
  }
  record(out, "rmsNorm", [x, w ?? null], () => ({ x: save(x), w: w ? save(w) : null, rstd: save(rstd) }));
  rstd.dispose();
  return out;
}

/** LayerNorm's backward adding dx into `into` (the kernel accumulates into dx), or into a zeroed dx. */
function layerNormBackward({ saved: { x, w, mean, rstd }, needs }: GradNode<"layerNorm">, dy: Tensor, into: Tensor | null): (Tensor | null)[] {
  const backend = x.backend;
  const cols = x.shape[x.rank - 1];
  const rows = x.size / cols;
  const dx = into ?? Tensor.empty(backend, "f32", x.shape);
  const dw = needs[1] ? Tensor.empty(backend, "f32", [cols]) : null;
  const db = needs[2] ? Tensor.empty(backend, "f32", [cols]) : null;
  const xs = denseF32("layerNorm", x);
  const ws = w ? denseF32("layerNorm", w) : none;
  const ds = denseF32("layerNorm", dy);
  backend.layerNormBackward(xs.data, w ? ws.data : null, outF32(mean), outF32(rstd), ds.data, outF32(dx),
    dw ? outF32(dw) : null, db ? outF32(db) : null, rows, cols);
  xs.release(); ws.release(); ds.release();
  return [into ? null : dx, dw, db];
}

export const normDerivatives: DerivativeTable<"layerNorm" | "rmsNorm"> = {
  layerNorm: (node, dy) => layerNormBackward(node, dy, null),
  rmsNorm: (node, dy) => rmsNormBackward(node, dy, null),
};

/** RMSNorm's backward adding dx into `into`, or into a zeroed dx (as layerNormBackward). */
function rmsNormBackward({ saved: { x, w, rstd }, needs }: GradNode<"rmsNorm">, dy: Tensor, into: Tensor | null): (Tensor | null)[] {
  const backend = x.backend;
  const cols = x.shape[x.rank - 1];
  const rows = x.size / cols;
  const dx = into ?? Tensor.empty(backend, "f32", x.shape);
  const dw = needs[1] ? Tensor.empty(backend, "f32", [cols]) : null;
  const xs = denseF32("rmsNorm", x);
  const ws = w ? denseF32("rmsNorm", w) : none;
  const ds = denseF32("rmsNorm", dy);
  backend.rmsNormBackward(xs.data, w ? ws.data : null, outF32(rstd), ds.data, outF32(dx), dw ? outF32(dw) : null, rows, cols);
  xs.release(); ws.release(); ds.release();
  return [into ? null : dx, dw];
}

/** A residual stream's gradient already exists when its norm's backward runs: the kernels add dx into it in place
 *  (the same sums as a zeroed dx added afterwards) instead of a zero-filled dx and a full-size sum. */
export const normAccumulators: AccumulatorTable<"layerNorm" | "rmsNorm"> = {
  layerNorm: (node, dy, acc) => layerNormBackward(node, dy, acc),
  rmsNorm: (node, dy, acc) => rmsNormBackward(node, dy, acc),
};

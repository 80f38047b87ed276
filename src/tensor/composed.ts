// Composed twins of the fused ops: the same math built only from primitive tensor ops (elementwise,
// reductions, matmul, views), so autograd derives their gradients from the primitives' derivatives. They are
// the specification the fused kernels are tested against (STYLE lesson 7), and a fallback for a backend
// without a fused op. Slower and hungrier for memory than the fused versions: do not use them in models.
// Leaves out: rope (it has no composed twin; its backward is its own inverse rotation).
import { OpError, fmtShape } from "../core/errors.js";
import { Tensor } from "./tensor.js";
import { add, affine, div, exp, log, mul, neg, rsqrt, sigmoid, square, sub } from "./elementwise.js";
import { fromTypedArray } from "./create.js";
import { max, mean, sum } from "./reduce.js";
import { matmul } from "./matmul.js";
import { expand, permute, reshape } from "./views.js";
import { denseI32 } from "./operands.js";

/** exp(x − max) / Σ exp(x − max) over the last dim. */
export function softmax(x: Tensor): Tensor {
  const m = max(x, -1, true);
  const e = exp(sub(x, detachMax(m)));
  return div(e, sum(e, -1, true));
}

/** (x − max) − log Σ exp(x − max) over the last dim. */
export function logSoftmax(x: Tensor): Tensor {
  const shifted = sub(x, detachMax(max(x, -1, true)));
  return sub(shifted, log(sum(exp(shifted), -1, true)));
}

/** (x − mean)/sqrt(var + eps)·w + b over the last dim (biased variance). */
export function layerNorm(x: Tensor, w?: Tensor | null, b?: Tensor | null, eps = 1e-5): Tensor {
  const centered = sub(x, mean(x, -1, true));
  const variance = mean(square(centered), -1, true);
  let y = mul(centered, rsqrt(add(variance, eps)));
  if (w) y = mul(y, w);
  if (b) y = add(y, b);
  return y;
}

/** x / sqrt(mean(x²) + eps) · w over the last dim. */
export function rmsNorm(x: Tensor, w?: Tensor | null, eps = 1e-6): Tensor {
  const y = mul(x, rsqrt(add(mean(square(x), -1, true), eps)));
  return w ? mul(y, w) : y;
}

/** silu(gate) ⊙ up = gate·sigmoid(gate)·up. */
export function swiglu(gate: Tensor, up: Tensor): Tensor {
  return mul(mul(gate, sigmoid(gate)), up);
}

/** softmax(q·kᵀ·scale + mask)·v with grouped-query heads; q [B, Tq, H, D], k, v [B, Tk, Hkv, D]. */
export function attention(q: Tensor, k: Tensor, v: Tensor, opts?: { causal?: boolean; scale?: number }): Tensor {
  const [b, tq, nHead, headDim] = q.shape;
  const tk = k.shape[1];
  const nKvHead = k.shape[2];
  const group = nHead / nKvHead;
  const scale = opts?.scale ?? 1 / Math.sqrt(headDim);
  // Repeat each kv head `group` times: [B, Tk, Hkv, D] → [B, Tk, Hkv, group, D] → [B, Tk, H, D].
  const repeat = (t: Tensor): Tensor =>
    reshape(expand(reshape(t, [b, tk, nKvHead, 1, headDim]), [b, tk, nKvHead, group, headDim]), [b, tk, nHead, headDim]);
  const qh = permute(q, [0, 2, 1, 3]); // [B, H, Tq, D]
  const kh = permute(repeat(k), [0, 2, 3, 1]); // [B, H, D, Tk]
  const vh = permute(repeat(v), [0, 2, 1, 3]); // [B, H, Tk, D]
  let scores = affine(matmul(qh, kh), scale, 0); // [B, H, Tq, Tk]
  if (opts?.causal ?? true) {
    // Query i (at absolute position tk − tq + i) sees keys j ≤ tk − tq + i.
    const mask = new Float32Array(tq * tk);
    for (let i = 0; i < tq; i++) for (let j = 0; j < tk; j++) mask[i * tk + j] = j <= tk - tq + i ? 0 : -Infinity;
    scores = add(scores, fromArrayLike(mask, [tq, tk], q));
  }
  const out = matmul(softmax(scores), vh); // [B, H, Tq, D]
  return permute(out, [0, 2, 1, 3]); // [B, Tq, H, D]
}

/** Mean (or sum / per-row) of −log softmax(logits)[target] over rows whose target is not ignoreIndex. */
export function crossEntropy(logits: Tensor, targets: Tensor,
  opts?: { ignoreIndex?: number; reduction?: "mean" | "sum" | "none" }): Tensor {
  const ignoreIndex = opts?.ignoreIndex ?? -100;
  const cols = logits.shape[logits.rank - 1];
  const rows = logits.size / cols;
  if (targets.size !== rows) {
    throw new OpError("crossEntropy", `targets ${fmtShape(targets.shape)} do not match logits ${fmtShape(logits.shape)}`);
  }
  // A constant one-hot matrix picks log p[target]; ignored rows are all zero.
  const ts = denseI32("crossEntropy", targets);
  const onehot = new Float32Array(rows * cols);
  let counted = 0;
  for (let r = 0; r < rows; r++) {
    const t = ts.data[r];
    if (t === ignoreIndex) continue;
    onehot[r * cols + t] = 1;
    counted++;
  }
  ts.release();
  const picked = sum(mul(logSoftmax(logits), fromArrayLike(onehot, logits.shape, logits)), -1); // [...]
  const losses = neg(picked);
  const reduction = opts?.reduction ?? "mean";
  if (reduction === "none") return losses;
  const total = sum(losses);
  return reduction === "sum" ? total : affine(total, 1 / Math.max(counted, 1), 0);
}

/** max is a constant shift for softmax: stopping its gradient changes nothing mathematically. */
function detachMax(m: Tensor): Tensor {
  return m.withLayout(m.shape, m.strides, m.offset);
}

/** A constant f32 tensor on the same backend as `like`. */
function fromArrayLike(values: Float32Array, shape: readonly number[], like: Tensor): Tensor {
  return fromTypedArray(values, shape, { backend: like.backend });
}

// linear() over an AdaptedWeight (a frozen base with LoRA adapters): y = x·Wᵀ + bias + Σ scale · (x·Aᵀ)·Bᵀ.
// Two forms that compute the same thing:
//   - composed: linear(x, W) + mul(linear(linear(dropout(x), A), B), scale) per adapter, each a node of its own —
//     the specification, and the path for what the fused form leaves out;
//   - fused (one op "loraLinear" per projection, one adapter, f32): the base and the adapter in one node of GEMM
//     calls with alpha/beta, keeping the low-rank intermediates transposed (hᵀ = A·xᵀ [r, N], gᵀ = scale·Bᵀ·dyᵀ) so
//     no product has only r output columns (a 12 × 32 GEMM tile is mostly idle there); the backward never forms W's
//     gradient, adds the adapter's share of dx into the base's (beta 1), and makes no scaled, summed or transposed
//     temporaries but the r × out one for dB.
// An encoded (GGUF) base goes through llama.cpp's quantized product, or with AdaptedWeight.dequantizeBase (QLoRA
// training) through its f32 decode, in both forms.
// Leaves out: fusing several adapters on one layer or per-row adapter factors (serving: composed), bf16 matmuls
// (composed), a base that itself requires grad (composed).
import type { Backend } from "../backend/backend.js";
import { OpError, fmtShape } from "../core/errors.js";
import type { DerivativeTable } from "./graph.js";
import { Tensor, isGradEnabled } from "./tensor.js";
import { record, save } from "./autograd.js";
import { backendOf, denseF32, outF32 } from "./operands.js";
import { add, mul } from "./elementwise.js";
import { reshape } from "./views.js";
import { type AdaptedWeight, type LowRankAdapter, type MatmulOptions, type QuantWeight, dequantizeWeight, isQuantWeight, linear } from "./matmul.js";

declare module "./graph.js" {
  interface SavedByOp {
    loraLinear: { x: Tensor; xa: Tensor; w: Tensor | QuantWeight; a: Tensor; b: Tensor; hT: Tensor; scale: number };
  }
}

/** linear(x, w) for an AdaptedWeight: fused when the fused form covers it, else composed. */
export function adaptedLinear(x: Tensor, w: AdaptedWeight, bias: Tensor | null | undefined, opts?: MatmulOptions): Tensor {
  const live = w.adapters.filter((ad) => ad.scale !== 0);
  if (live.length === 1 && fusable(x, w.base, live[0]!, opts)) {
    const y = loraLinear(x, w.base, live[0]!, w.dequantizeBase ?? false);
    if (!bias) return y;
    const out = add(y, bias);
    y.dispose();
    return out;
  }
  return composedAdaptedLinear(x, w, bias, opts);
}

function fusable(x: Tensor, base: Tensor | QuantWeight, ad: LowRankAdapter, opts?: MatmulOptions): boolean {
  if ((opts?.dtype ?? "f32") !== "f32" || ad.rowScale || x.dtype !== "f32" || x.rank < 1) return false;
  const inDim = x.shape[x.rank - 1];
  const [r, aIn] = ad.a.shape, [out, bR] = ad.b.shape;
  if (ad.a.rank !== 2 || ad.b.rank !== 2 || aIn !== inDim || bR !== r || !ad.a.isContiguous || !ad.b.isContiguous) return false;
  if (ad.a.dtype !== "f32" || ad.b.dtype !== "f32") return false;
  if (isQuantWeight(base)) return base.cols === inDim && base.rows === out;
  return base.dtype === "f32" && base.rank === 2 && base.shape[0] === out && base.shape[1] === inDim && base.isContiguous &&
    !(base.requiresGrad && isGradEnabled());
}

/** The specification: the base's linear plus each adapter's scale · B (A · dropout(x)) as separate ops. */
export function composedAdaptedLinear(x: Tensor, w: AdaptedWeight, bias: Tensor | null | undefined, opts?: MatmulOptions): Tensor {
  let y: Tensor;
  if (w.dequantizeBase && isQuantWeight(w.base)) {
    const decodedBase = dequantizeWeight(w.base, x.backend);
    y = linear(x, decodedBase, bias, opts);
    decodedBase.dispose();
  } else {
    y = linear(x, w.base, bias, opts);
  }
  for (const ad of w.adapters) {
    if (ad.scale === 0) continue;
    const h = linear(ad.dropout ? ad.dropout(x) : x, ad.a, null, opts); // [.., r]
    let delta = mul(linear(h, ad.b, null, opts), ad.scale); // [.., out]
    const rowScale = typeof ad.rowScale === "function" ? ad.rowScale(x.size / x.shape[x.rank - 1]) : ad.rowScale;
    if (rowScale) {
      const rows = delta.size / delta.shape[delta.rank - 1];
      if (rowScale.size !== rows) {
        throw new OpError("linear", `adapter row factors ${fmtShape(rowScale.shape)} do not fit ${rows} rows of ${fmtShape(delta.shape)}; ` +
          "give one factor per row of x");
      }
      delta = mul(delta, reshape(rowScale, [...delta.shape.slice(0, -1), 1]));
    }
    y = add(y, delta);
  }
  return y;
}

const gemm = (backend: Backend, a: Float32Array, b: Float32Array, c: Float32Array, m: number, n: number, k: number,
  transA: boolean, transB: boolean, alpha = 1, beta = 0) =>
  backend.matmul(a, b, c, { batch: 1, m, n, k, transA, transB, strideA: 0, strideB: 0, strideC: 0, alpha, beta }, "f32");

/** One fused node: y [.., out] = x·Wᵀ + scale · (dropout(x)·Aᵀ)·Bᵀ, W frozen (f32 [out, in] or encoded). */
function loraLinear(x: Tensor, w: Tensor | QuantWeight, ad: LowRankAdapter, dequantizeBase: boolean): Tensor {
  const backend = backendOf("linear", x, ad.a, ad.b);
  const inDim = x.shape[x.rank - 1];
  const [r] = ad.a.shape, [out] = ad.b.shape;
  const flat = x.rank !== 2; // [.., in] → [N, in] and back (a rank-2 x goes as it is)
  const x2 = flat ? reshape(x, [-1, inDim]) : x; // [N, in]
  const xd = ad.dropout ? ad.dropout(x) : x; // what A sees
  const xa2 = xd === x ? x2 : flat ? reshape(xd, [-1, inDim]) : xd;
  const n = x2.shape[0];
  const y = Tensor.uninit(backend, "f32", [n, out]);
  const hT = Tensor.uninit(backend, "f32", [r, n]);
  if (n > 0) {
    const xs = denseF32("linear", x2), xas = xa2 === x2 ? xs : denseF32("linear", xa2);
    const A = denseF32("linear", ad.a).data, B = denseF32("linear", ad.b).data;
    try {
      gemm(backend, A, xas.data, outF32(hT), r, n, inDim, false, true); // hᵀ = A · xᵀ
      if (isQuantWeight(w) && !dequantizeBase) backend.quantMatmul(w.data, w.type, w.rows, w.cols, xs.data, outF32(y), n);
      else { // x · Wᵀ
        const W = isQuantWeight(w) ? dequantizeWeight(w, backend) : null;
        gemm(backend, xs.data, W ? outF32(W) : denseF32("linear", w as Tensor).data, outF32(y), n, out, inDim, false, true);
        W?.dispose();
      }
      gemm(backend, outF32(hT), B, outF32(y), n, out, r, true, true, ad.scale, 1); // += scale · h · Bᵀ
    } finally {
      xs.release();
      if (xas !== xs) xas.release();
    }
  }
  const inputs = xa2 === x2 ? [x2, ad.a, ad.b] : [x2, ad.a, ad.b, xa2];
  record(y, "loraLinear", inputs, () => ({ x: save(x2), xa: save(xa2), w: isQuantWeight(w) ? w : save(w), a: save(ad.a), b: save(ad.b), hT: save(hT), scale: ad.scale }));
  hT.dispose();
  if (xd !== x) xd.dispose();
  if (!flat) return y;
  const result = reshape(y, [...x.shape.slice(0, -1), out]);
  y.dispose();
  x2.dispose();
  if (xa2 !== x2) xa2.dispose();
  return result;
}

export const loraLinearDerivatives: DerivativeTable<"loraLinear"> = {
  loraLinear: ({ saved: { x, xa, w, a, b, hT, scale }, needs }, dy) => {
    const backend = dy.backend;
    const [n, inDim] = x.shape, [r] = a.shape, [out] = b.shape;
    const apart = needs.length === 4; // dropout: A saw its own input, which gets the adapter's share of dx
    const dys = denseF32("linear backward", dy);
    const A = denseF32("linear backward", a).data, B = denseF32("linear backward", b).data;
    const Ht = outF32(hT);
    const gT = Tensor.uninit(backend, "f32", [r, n]);
    try {
      gemm(backend, B, dys.data, outF32(gT), r, n, out, true, true, scale); // gᵀ = scale · Bᵀ · dyᵀ
      let dx: Tensor | null = null, dxa: Tensor | null = null;
      if (needs[0]) {
        dx = Tensor.uninit(backend, "f32", [n, inDim]);
        const W = isQuantWeight(w) ? outF32(dequantizeWeight(w, backend)) : denseF32("linear backward", w).data; // freed with the scope
        gemm(backend, dys.data, W, outF32(dx), n, inDim, out, false, false); // dy · W
        if (!apart) gemm(backend, outF32(gT), A, outF32(dx), n, inDim, r, true, false, 1, 1); // += g · A
      }
      if (apart && needs[3]) {
        dxa = Tensor.uninit(backend, "f32", [n, inDim]);
        gemm(backend, outF32(gT), A, outF32(dxa), n, inDim, r, true, false);
      }
      let dA: Tensor | null = null, dB: Tensor | null = null;
      if (needs[1]) {
        dA = Tensor.uninit(backend, "f32", [r, inDim]);
        const xas = denseF32("linear backward", xa);
        gemm(backend, outF32(gT), xas.data, outF32(dA), r, inDim, n, false, false); // gᵀ · x
        xas.release();
      }
      if (needs[2]) {
        // dBᵀ [r, out] = scale · hᵀ · dy, then transposed into dB [out, r]
        const dBt = backend.alloc("f32", r * out, false) as Float32Array;
        gemm(backend, Ht, dys.data, dBt, r, out, n, false, false, scale);
        dB = Tensor.uninit(backend, "f32", [out, r]);
        backend.copyStrided(dBt, 0, [1, out], outF32(dB), 0, [r, 1], [out, r]);
        backend.release(dBt);
      }
      return apart ? [dx, dA, dB, dxa] : [dx, dA, dB];
    } finally {
      dys.release();
      gT.dispose();
    }
  },
};

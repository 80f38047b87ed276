// The tensor layer's public API: import everything from "src/tensor/index.js".
//
//   Setup        setDefaultBackend(createBackend())  — once, in the CLI or a test (the only global)
//   Create       zeros, ones, full, scalar, fromArray, fromTypedArray, arange, randn(shape, rng), uniform(shape, rng)
//   Read         t.item(), t.toArray(), t.toFloat32Array(), t.toTypedArray(); t.shape, t.dtype, t.strides
//   Views        reshape, view, permute, transpose, narrow, slice, select, expand, unsqueeze, squeeze, flatten,
//                contiguous (views share storage);  concat, stack (copies);  assign(dst, src) in-place write
//   Dtypes       to(t, "bf16" | "f16" | "f32" | "i32")  — math runs in f32; others are storage formats
//   Elementwise  add, sub, mul, div (tensor or number, broadcasting), maximum, minimum, pow, affine, neg, exp, log,
//                sqrt, rsqrt, recip, abs, tanh, sigmoid, relu, silu, square, gelu(x, "tanh" | "none"), swiglu
//   Reductions   sum(x, dims?, keepdim?), mean, max(x, dim, keepdim?)
//   Matmul       matmul(a, b, { dtype: "bf16" }?), linear(x, w | QuantWeight | AdaptedWeight (LoRA), bias?), dequantizeWeight, decodeWeightInto
//   Transformer  layerNorm, rmsNorm, softmax, logSoftmax, crossEntropy(logits, targets i32, { ignoreIndex }),
//                embedding(table, ids), indexSelect, rope(x, { freqs, pos0, layout }), ropeFrequencies,
//                attention(q, k, v, { causal, scale, cache }), KvCache, attendCached (packed inference steps)
//   Composed     composed.* — the same transformer ops built from primitives (the specification of the fused ones)
//   Autograd     param.requiresGrad = true (or { requiresGrad: true } at creation); loss.backward(); param.grad;
//                param.zeroGrad(); noGrad(fn); detach(t); releaseGraph(t) frees a graph you won't backprop
//   Memory       t.dispose() / `using t = ...`; tidy(fn) disposes every tensor fn created except its result;
//                keep(t) exempts one; storage returns to the backend pool when its last view is disposed
//
// Tensors are synchronous and CPU-resident. Shapes follow PyTorch conventions: linear weights are [out, in],
// attention tensors are [batch, time, heads, headDim].
export { Tensor, setDefaultBackend, getDefaultBackend, noGrad, isGradEnabled, tidy, keep, untracked } from "./tensor.js";
export { zeros, ones, full, scalar, fromArray, fromTypedArray, arange, randn, uniform, type CreateOptions } from "./create.js";
export {
  reshape, view, permute, transpose, narrow, slice, select, expand, unsqueeze, squeeze, flatten, contiguous, concat, stack,
  assign,
} from "./views.js";
export {
  unary, binary, add, sub, mul, div, maximum, minimum, pow, affine, neg, exp, log, sqrt, rsqrt, recip, abs, tanh, sigmoid,
  relu, silu, square, gelu, swiglu, copyOf, to, detach, onesLike, zerosLike,
} from "./elementwise.js";
export { sum, mean, max, sumTo } from "./reduce.js";
export {
  matmul, linear, quantLinear, prefillSwigluMlp, prefillDecoderLayer, prefillDecoderLayers, prefillDecoderLayersOrWhy, type PrefillDeclined, promptRopeTable, type PrefillLayerWeights, type PrefillLayerDims, dequantizeWeight, decodeWeightInto, isQuantWeight, isAdaptedWeight, type AdaptedWeight, type LowRankAdapter, type QuantWeight, type MatmulOptions, type MatmulDType,
} from "./matmul.js";
export { layerNorm, rmsNorm } from "./norm.js";
export { softmax, logSoftmax, crossEntropy, type CrossEntropyOptions, type Reduction } from "./softmax.js";
export { embedding, indexSelect } from "./embedding.js";
export {
  rope, ropeFrequencies, attention, attendCached, KvCache, type CachedSegment, type RopeOptions, type RopeLayout, type RopeScaling, type AttentionOptions,
} from "./attention.js";
export { releaseGraph } from "./autograd.js";
export * as composed from "./composed.js";

// Finite-difference gradient checks for every differentiable tensor op, on awkward shapes (1, 7, 31, 33),
// non-contiguous views and broadcasting, on every available backend. The reference is the central difference
// of the op's own forward (float64 loss), independent of the derivative table under test.
import { test } from "node:test";
import * as T from "../../src/tensor/index.js";
import { type GradInput, describeBackends, gradCheck, input, values } from "./helpers.js";

const awayFromZero = (shape: number[], seed: number): GradInput => {
  const x = input(shape, seed);
  for (let i = 0; i < x.data.length; i++) x.data[i] = Math.sign(x.data[i] || 1) * (0.2 + Math.abs(x.data[i]));
  return x;
};
const positive = (shape: number[], seed: number): GradInput => input(shape, seed, 0.5, 2);
const i32 = (vals: number[], shape = [vals.length]): T.Tensor => T.fromArray(vals, shape, { dtype: "i32" });

describeBackends("gradients", ({ name, backend }) => {
  {
    test("unary ops", () => {
      const general = ["neg", "exp", "tanh", "sigmoid", "silu", "square", "gelu_tanh", "gelu_erf"] as const;
      for (const fn of general) gradCheck(fn, ([x]) => T.unary(fn, x), [input([7], 1)]);
      for (const fn of ["log", "sqrt", "rsqrt", "recip"] as const) gradCheck(fn, ([x]) => T.unary(fn, x), [positive([7], 2)]);
      for (const fn of ["abs", "relu"] as const) gradCheck(fn, ([x]) => T.unary(fn, x), [awayFromZero([7], 3)]);
      // Through a non-contiguous view.
      gradCheck("exp(transpose)", ([x]) => T.exp(T.transpose(x)), [input([3, 5], 4)]);
    });

    test("binary ops with broadcasting", () => {
      const shapes: [number[], number[]][] = [[[7], [7]], [[3, 1], [1, 5]], [[2, 3, 4], [4]], [[1], [33]]];
      for (const [sa, sb] of shapes) {
        gradCheck(`add ${sa}·${sb}`, ([a, b]) => T.add(a, b), [input(sa, 5), input(sb, 6)]);
        gradCheck(`sub ${sa}·${sb}`, ([a, b]) => T.sub(a, b), [input(sa, 7), input(sb, 8)]);
        gradCheck(`mul ${sa}·${sb}`, ([a, b]) => T.mul(a, b), [input(sa, 9), input(sb, 10)]);
        gradCheck(`div ${sa}·${sb}`, ([a, b]) => T.div(a, b), [input(sa, 11), positive(sb, 12)]);
      }
      // maximum/minimum: operands kept apart so no tie sits within eps.
      const a = input([2, 7], 13);
      const b: GradInput = { shape: [7], data: values(7, 14) };
      for (let i = 0; i < 14; i++) if (Math.abs(a.data[i] - b.data[i % 7]) < 0.1) a.data[i] += 0.3;
      gradCheck("maximum", ([x, y]) => T.maximum(x, y), [a, b]);
      gradCheck("minimum", ([x, y]) => T.minimum(x, y), [a, b]);
      gradCheck("pow tensor", ([x, y]) => T.pow(x, y), [positive([2, 3], 15), input([3], 16)]);
      gradCheck("mul(transposed view, view)", ([x, y]) => T.mul(T.transpose(x), T.narrow(y, 1, 1, 3)), [input([3, 2], 17), input([2, 5], 18)]);
    });

    test("scalar ops", () => {
      gradCheck("affine", ([x]) => T.affine(x, -1.5, 0.25), [input([31], 19)]);
      gradCheck("add scalar", ([x]) => T.add(x, 3), [input([7], 20)]);
      gradCheck("div scalar", ([x]) => T.div(x, 4), [input([7], 21)]);
      gradCheck("pow 3", ([x]) => T.pow(x, 3), [input([7], 22)]);
      gradCheck("pow 0.5", ([x]) => T.pow(x, 0.5), [positive([7], 23)]);
      gradCheck("pow -1.5", ([x]) => T.pow(x, -1.5), [positive([7], 24)]);
    });

    test("views, copies, concat and stack", () => {
      gradCheck("reshape", ([x]) => T.mul(T.reshape(x, [5, 3]), T.fromTypedArray(values(15, 25), [5, 3])), [input([3, 5], 26)]);
      gradCheck("permute", ([x]) => T.exp(T.permute(x, [2, 0, 1])), [input([2, 3, 4], 27)]);
      gradCheck("narrow/slice/select", ([x]) => T.exp(T.select(T.slice(x, 1, 1, -1), 0, 1)), [input([2, 7], 28)]);
      // A split into three (GPT-2's q, k, v), overlapping slices too: later slices add into the first one's gradient.
      gradCheck("split three ways", ([x]) => T.mul(T.mul(T.contiguous(T.narrow(x, 1, 0, 3)), T.contiguous(T.narrow(x, 1, 3, 3))),
        T.exp(T.narrow(x, 1, 6, 3))), [input([4, 9], 84)]);
      gradCheck("overlapping slices", ([x]) => T.mul(T.narrow(x, 1, 0, 4), T.exp(T.narrow(x, 1, 2, 4))), [input([3, 6], 85)]);
      gradCheck("expand", ([x]) => T.exp(T.expand(x, [3, 4, 5])), [input([4, 1], 29)]);
      gradCheck("unsqueeze/squeeze/flatten", ([x]) => T.exp(T.flatten(T.squeeze(T.unsqueeze(x, 0)))), [input([3, 2], 30)]);
      gradCheck("contiguous of a transposed view", ([x]) => T.exp(T.contiguous(T.transpose(x))), [input([3, 4], 31)]);
      gradCheck("reshape of a transposed view (copies)", ([x]) => T.exp(T.reshape(T.transpose(x), [-1])), [input([3, 4], 32)]);
      gradCheck("concat", ([a, b]) => T.exp(T.concat([a, b, a], 1)), [input([2, 3], 33), input([2, 1], 34)]);
      gradCheck("stack", ([a, b]) => T.exp(T.stack([a, b], -1)), [input([3], 35), input([3], 36)]);
    });

    test("reductions", () => {
      gradCheck("sum all", ([x]) => T.sum(x), [input([7, 3], 37)]);
      gradCheck("sum dims keepdim", ([x]) => T.exp(T.sum(x, [0, 2], true)), [input([2, 3, 4], 38)]);
      gradCheck("sum of a view", ([x]) => T.exp(T.sum(T.transpose(x), -1)), [input([5, 3], 39)]);
      gradCheck("mean", ([x]) => T.exp(T.mean(x, 1)), [input([3, 33], 40)]);
      // Distinct values spaced 1/14 apart, so no perturbation by eps changes which element is the max.
      const spaced = Float32Array.from({ length: 28 }, (_, i) => ((i * 17) % 28) / 14 - 1);
      gradCheck("max", ([x]) => T.exp(T.max(x, 0)), [{ shape: [7, 4], data: spaced }]);
      gradCheck("max keepdim of a view", ([x]) => T.exp(T.max(T.transpose(x), -1, true)), [{ shape: [7, 4], data: spaced }]);
    });

    test("matmul and linear", () => {
      gradCheck("matmul 2d", ([a, b]) => T.matmul(a, b), [input([3, 7], 42), input([7, 5], 43)]);
      gradCheck("matmul batched with broadcast b", ([a, b]) => T.matmul(a, b), [input([2, 3, 4], 44), input([4, 2], 45)]);
      gradCheck("matmul broadcast batch dims", ([a, b]) => T.matmul(a, b), [input([2, 1, 2, 3], 46), input([3, 3, 2], 47)]);
      gradCheck("matmul of transposed views", ([a, b]) => T.matmul(T.transpose(a), T.transpose(b)), [input([7, 3], 48), input([5, 7], 49)]);
      gradCheck("linear with bias", ([x, w, b]) => T.linear(x, w, b), [input([2, 3, 7], 50), input([5, 7], 51), input([5], 52)]);
      gradCheck("linear, 1 row", ([x, w]) => T.linear(x, w), [input([1, 33], 53), input([1, 33], 54)]);
    });

    test("quantized linear (gradient to the input)", { skip: !backend.supports("quantMatmul", "f32") && "no quantMatmul yet" }, () => {
      const w = values(5 * 8, 55);
      const qw: T.QuantWeight = { type: "f32", rows: 5, cols: 8, data: new Uint8Array(w.buffer) };
      gradCheck("linear(QuantWeight f32)", ([x]) => T.linear(x, qw), [input([3, 8], 56)]);
    });

    test("norms", () => {
      gradCheck("layerNorm", ([x, w, b]) => T.layerNorm(x, w, b), [input([3, 7], 57), input([7], 58), input([7], 59)], { atol: 3e-3 });
      gradCheck("layerNorm no affine, 33 cols", ([x]) => T.layerNorm(x), [input([2, 33], 60)], { atol: 3e-3 });
      gradCheck("rmsNorm", ([x, w]) => T.rmsNorm(x, w), [input([3, 7], 61), input([7], 62)]);
      gradCheck("rmsNorm of a view", ([x]) => T.rmsNorm(T.transpose(x)), [input([31, 2], 63)]);
      // A residual stream (x feeds the norm and the sum): the norm's dx is added into the sum's gradient in place.
      gradCheck("residual + layerNorm", ([x, w, b]) => T.add(x, T.tanh(T.layerNorm(x, w, b))), [input([3, 7], 79), input([7], 80), input([7], 81)], { atol: 3e-3 });
      gradCheck("residual + rmsNorm", ([x, w]) => T.mul(T.rmsNorm(x, w), T.exp(x)), [input([3, 7], 82), input([7], 83)]);
    });

    test("softmax, logSoftmax, crossEntropy", () => {
      gradCheck("softmax", ([x]) => T.softmax(x), [input([3, 7], 64, -2, 2)]);
      gradCheck("logSoftmax", ([x]) => T.logSoftmax(x), [input([2, 33], 65, -2, 2)]);
      gradCheck("softmax of a view", ([x]) => T.softmax(T.transpose(x)), [input([5, 3], 66, -2, 2)]);
      const targets = i32([2, -100, 0, 6]);
      gradCheck("crossEntropy mean with ignore", ([x]) => T.crossEntropy(x, targets), [input([4, 7], 67, -2, 2)]);
      const t2 = i32([1, 0, 4, 4, 2, 3], [2, 3]);
      gradCheck("crossEntropy sum, 3d", ([x]) => T.crossEntropy(x, t2, { reduction: "sum" }), [input([2, 3, 5], 68, -2, 2)]);
      gradCheck("crossEntropy none", ([x]) => T.crossEntropy(x, t2, { reduction: "none" }), [input([2, 3, 5], 69, -2, 2)]);
    });

    test("embedding and indexSelect", () => {
      const ids = i32([3, 0, 3, 1], [2, 2]);
      gradCheck("embedding", ([w]) => T.embedding(w, ids), [input([4, 7], 70)]);
      gradCheck("indexSelect", ([x]) => T.indexSelect(x, i32([2, 2, 0])), [input([3, 2, 2], 71)]);
      // A tied table (lookup + output head, as GPT-2's wte): the lookup's rows are added into the head's gradient.
      gradCheck("embedding tied to a linear head", ([w]) => T.linear(T.tanh(T.embedding(w, ids)), w), [input([4, 7], 77)]);
      gradCheck("embedding tied, twice", ([w]) => T.mul(T.embedding(w, ids), T.embedding(w, i32([1, 1, 2, 3], [2, 2]))),
        [input([4, 7], 78)]);
    });

    test("rope", () => {
      const freqs = T.ropeFrequencies(4, 100);
      gradCheck("rope neox, partial rotary", ([x]) => T.rope(x, { freqs, pos0: 3 }), [input([2, 3, 2, 6], 72)]);
      gradCheck("rope interleaved", ([x]) => T.rope(x, { freqs: T.ropeFrequencies(6), layout: "interleaved" }), [input([1, 4, 1, 6], 73)]);
    });

    test("attention (causal, grouped-query)", () => {
      gradCheck("attention GQA", ([q, k, v]) => T.attention(q, k, v),
        [input([2, 3, 4, 4], 74), input([2, 3, 2, 4], 75), input([2, 3, 2, 4], 76)]);
      gradCheck("attention Tk > Tq, not causal", ([q, k, v]) => T.attention(q, k, v, { causal: false, scale: 0.7 }),
        [input([1, 2, 2, 3], 77), input([1, 5, 1, 3], 78), input([1, 5, 1, 3], 79)]);
      gradCheck("attention causal with offset", ([q, k, v]) => T.attention(q, k, v),
        [input([1, 2, 1, 3], 80), input([1, 4, 1, 3], 81), input([1, 4, 1, 3], 82)]);
    });

    test("swiglu and composed chains", () => {
      gradCheck("swiglu", ([g, u]) => T.swiglu(g, u), [input([33], 83), input([33], 84)]);
      gradCheck("shared input used twice", ([x]) => T.mul(T.exp(x), T.tanh(x)), [input([7], 85)]);
    });
  }
});

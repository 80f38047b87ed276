// Node-API glue for the GEMM kernels (native/gemm.h):
//   gemmF32(a: Float32Array, b: Float32Array, c: Float32Array, batch, m, n, k, transA, transB, strideA, strideB,
//           strideC, alpha, beta)
//   gemmBf16(a: Uint16Array, b: Uint16Array, c: Float32Array, ...same)
//   gemmF32RoundBf16(a: Float32Array, b: Float32Array, c: Float32Array, ...same): operands rounded to bf16 first
//   gemmImpl(bf16: boolean): the micro-kernel family the current ISA level selects
// Validates types, dims and that every batch matrix lies inside its array; throws TypeError naming the function,
// the dims and the required lengths. Runs on the calling thread plus the pool (synchronous).
#include "zy_addon.h"
#include "gemm.h"
#include <cmath>
#include <string>

namespace {

struct GemmArgs {
  int64_t batch, m, n, k, strideA, strideB, strideC;
  bool transA, transB;
  float alpha, beta;
};

// Elements a batch of `count` matrices of `size` elements, `stride` apart, needs (0 when nothing is read).
int64_t required(int64_t batch, int64_t stride, int64_t size) {
  if (batch == 0 || size == 0) return 0;
  return (batch - 1) * stride + size;
}

template <typename In>
Napi::Value Gemm(const Napi::CallbackInfo &info, const char *fn, napi_typedarray_type inType, const char *inName,
                 bool roundBf16 = false) {
  Napi::Env env = info.Env();
  std::string sig = std::string(fn) +
                    "(a, b, c, batch, m, n, k, transA, transB, strideA, strideB, strideC, alpha, beta)";
  if (info.Length() < 14) {
    zy::fail(info, sig + ": expected 14 arguments, got " + std::to_string(info.Length()));
    return env.Undefined();
  }
  const char *names[3] = {"a", "b", "c"};
  for (int i = 0; i < 3; i++) {
    napi_typedarray_type want = i < 2 ? inType : napi_float32_array;
    if (!zy::isTyped(info[i], want)) {
      zy::fail(info, std::string(fn) + ": " + names[i] + " must be a " + (i < 2 ? inName : "Float32Array"));
      return env.Undefined();
    }
  }
  const int intArgs[] = {3, 4, 5, 6, 9, 10, 11};
  const char *intNames[] = {"batch", "m", "n", "k", "strideA", "strideB", "strideC"};
  for (int i = 0; i < 7; i++)
    if (!zy::isCount(info[intArgs[i]])) {
      zy::fail(info, std::string(fn) + ": " + intNames[i] + " must be a non-negative integer");
      return env.Undefined();
    }
  if (!info[12].IsNumber() || !info[13].IsNumber()) {
    zy::fail(info, std::string(fn) + ": alpha and beta must be numbers");
    return env.Undefined();
  }
  GemmArgs g{zy::i64(info[3]), zy::i64(info[4]), zy::i64(info[5]), zy::i64(info[6]),
             zy::i64(info[9]), zy::i64(info[10]), zy::i64(info[11]),
             info[7].ToBoolean().Value(), info[8].ToBoolean().Value(),
             static_cast<float>(zy::f64(info[12])), static_cast<float>(zy::f64(info[13]))};
  size_t lenA, lenB, lenC;
  const In *a = zy::typedPtr<In>(info[0], &lenA);
  const In *b = zy::typedPtr<In>(info[1], &lenB);
  float *c = zy::typedPtr<float>(info[2], &lenC);
  int64_t needA = g.k ? required(g.batch, g.strideA, g.m * g.k) : 0;
  int64_t needB = g.k ? required(g.batch, g.strideB, g.k * g.n) : 0;
  int64_t needC = required(g.batch, g.strideC, g.m * g.n);
  if ((int64_t)lenA < needA || (int64_t)lenB < needB || (int64_t)lenC < needC) {
    std::string dims = "batch=" + std::to_string(g.batch) + " m=" + std::to_string(g.m) + " n=" +
                       std::to_string(g.n) + " k=" + std::to_string(g.k) + " strides=" + std::to_string(g.strideA) +
                       "," + std::to_string(g.strideB) + "," + std::to_string(g.strideC);
    zy::fail(info, std::string(fn) + ": " + dims + " needs a.length >= " + std::to_string(needA) +
                       ", b.length >= " + std::to_string(needB) + ", c.length >= " + std::to_string(needC) +
                       "; got " + std::to_string(lenA) + ", " + std::to_string(lenB) + ", " + std::to_string(lenC));
    return env.Undefined();
  }
  if constexpr (sizeof(In) == 4) {
    if (roundBf16)
      zy_sgemm_round_bf16(g.batch, g.m, g.n, g.k, g.transA, g.transB, a, g.strideA, b, g.strideB, c, g.strideC,
                          g.alpha, g.beta);
    else
      zy_sgemm(g.batch, g.m, g.n, g.k, g.transA, g.transB, a, g.strideA, b, g.strideB, c, g.strideC, g.alpha, g.beta);
  } else
    zy_bgemm(g.batch, g.m, g.n, g.k, g.transA, g.transB, a, g.strideA, b, g.strideB, c, g.strideC, g.alpha, g.beta);
  return env.Undefined();
}

Napi::Value GemmF32(const Napi::CallbackInfo &info) {
  return Gemm<float>(info, "gemmF32", napi_float32_array, "Float32Array");
}
Napi::Value GemmBf16(const Napi::CallbackInfo &info) {
  return Gemm<uint16_t>(info, "gemmBf16", napi_uint16_array, "Uint16Array (bf16 bits)");
}
Napi::Value GemmF32RoundBf16(const Napi::CallbackInfo &info) {
  return Gemm<float>(info, "gemmF32RoundBf16", napi_float32_array, "Float32Array", true);
}
Napi::Value GemmImpl(const Napi::CallbackInfo &info) {
  bool bf16 = info.Length() > 0 && info[0].ToBoolean().Value();
  return Napi::String::New(info.Env(), zy_gemm_impl_name(bf16 ? 1 : 0));
}

}  // namespace

ZY_REGISTER("gemmF32", GemmF32);
ZY_REGISTER("gemmBf16", GemmBf16);
ZY_REGISTER("gemmF32RoundBf16", GemmF32RoundBf16);
ZY_REGISTER("gemmImpl", GemmImpl);

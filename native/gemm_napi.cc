// Node-API glue for the GEMM kernels (native/gemm.h):
//   gemmF32(a: Float32Array, b: Float32Array, c: Float32Array, batch, m, n, k, transA, transB, strideA, strideB,
//           strideC, alpha, beta)
//   gemmBf16(a: Uint16Array, b: Uint16Array, c: Float32Array, ...same)
//   gemmF32RoundBf16(a: Float32Array, b: Float32Array, c: Float32Array, ...same): operands rounded to bf16 first
//   gemmImpl(bf16: boolean): the micro-kernel family the current ISA level selects
// Validates types, dims and that every batch matrix lies inside its array (through zy_args.h, like every glue
// file); throws TypeError naming the function, the argument, the dims and the required lengths. Runs on the calling thread plus the pool (synchronous).
#include "zy_args.h"
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
  zy::Args a(info, fn);
  if (!a.atLeast(14, "a, b, c, batch, m, n, k, transA, transB, strideA, strideB, strideC, alpha, beta")) return a.done();
  size_t lenA = 0, lenB = 0, lenC = 0;
  const In *pa = a.array<In>(a.arg(0), "a", inType, inName, 0, false, &lenA);
  const In *pb = a.array<In>(a.arg(1), "b", inType, inName, 0, false, &lenB);
  float *c = a.array<float>(a.arg(2), "c", napi_float32_array, "Float32Array", 0, false, &lenC);
  GemmArgs g{a.count(a.arg(3), "batch"), a.count(a.arg(4), "m"), a.count(a.arg(5), "n"), a.count(a.arg(6), "k"),
             a.count(a.arg(9), "strideA"), a.count(a.arg(10), "strideB"), a.count(a.arg(11), "strideC"),
             a.flag(7), a.flag(8), static_cast<float>(a.number(a.arg(12), "alpha")),
             static_cast<float>(a.number(a.arg(13), "beta"))};
  if (!a.ok()) return a.done();
  int64_t needA = g.k ? required(g.batch, g.strideA, g.m * g.k) : 0;
  int64_t needB = g.k ? required(g.batch, g.strideB, g.k * g.n) : 0;
  int64_t needC = required(g.batch, g.strideC, g.m * g.n);
  if ((int64_t)lenA < needA || (int64_t)lenB < needB || (int64_t)lenC < needC) {
    std::string dims = "batch=" + std::to_string(g.batch) + " m=" + std::to_string(g.m) + " n=" +
                       std::to_string(g.n) + " k=" + std::to_string(g.k) + " strides=" + std::to_string(g.strideA) +
                       "," + std::to_string(g.strideB) + "," + std::to_string(g.strideC);
    a.fail(dims + " needs a.length >= " + std::to_string(needA) + ", b.length >= " + std::to_string(needB) +
           ", c.length >= " + std::to_string(needC) + "; got " + std::to_string(lenA) + ", " + std::to_string(lenB) +
           ", " + std::to_string(lenC));
    return a.done();
  }
  if constexpr (sizeof(In) == 4) {
    if (roundBf16)
      zy_sgemm_round_bf16(g.batch, g.m, g.n, g.k, g.transA, g.transB, pa, g.strideA, pb, g.strideB, c, g.strideC,
                          g.alpha, g.beta);
    else
      zy_sgemm(g.batch, g.m, g.n, g.k, g.transA, g.transB, pa, g.strideA, pb, g.strideB, c, g.strideC, g.alpha, g.beta);
  } else
    zy_bgemm(g.batch, g.m, g.n, g.k, g.transA, g.transB, pa, g.strideA, pb, g.strideB, c, g.strideC, g.alpha, g.beta);
  return a.done();
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
  zy::Args a(info, "gemmImpl");
  return Napi::String::New(info.Env(), zy_gemm_impl_name(a.flag(0) ? 1 : 0));
}

}  // namespace

ZY_REGISTER("gemmF32", GemmF32);
ZY_REGISTER("gemmBf16", GemmBf16);
ZY_REGISTER("gemmF32RoundBf16", GemmF32RoundBf16);
ZY_REGISTER("gemmImpl", GemmImpl);

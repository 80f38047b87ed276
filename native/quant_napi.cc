// Node-API glue for the quantized-weight kernels (native/quant.h):
//   quantMatmul(w: Uint8Array, type: string, rows, cols, x: Float32Array, out: Float32Array, m)
//   dequantize(w: Uint8Array, type: string, out: Float32Array, n)
//   quantize(x: Float32Array, type: string, out: Uint8Array, n)
//   quantImpl(): the kernel family in use ("avx512-vnni", "avx2", "portable")
//   quantRepack(w: Uint8Array, type: string, rows, cols): rewrites a q8_0/q4_0/q4_k/q6_k matrix in place into its
//     r16 layout and returns the new type name ("q8_0_r16", …), or null (w untouched) for other types and shapes
// Type names are the lowercase GGUF names: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, plus the
// in-memory repacked q8_0_r16, q4_0_r16, q4_k_r16 and q6_k_r16 (matmul only).
// Every argument is validated (through zy_args.h, like every glue file); a bad one throws TypeError naming the
// function, the argument, the type, the dims and the byte or element length expected. Synchronous (runs on the calling thread plus the pool).
#include "zy_args.h"
#include "quant.h"
#include <cmath>
#include <string>

namespace {

enum TypeUse { FOR_MATMUL, FOR_QUANTIZE, FOR_DEQUANTIZE };

// The type argument at index i, or -1 (after a failed check).
int typeArg(zy::Args &a, size_t i, TypeUse use) {
  const bool quantizable = use == FOR_QUANTIZE;
  std::string name = a.string(a.arg(i), "type", "\"q4_0\"");
  if (!a.ok()) return -1;
  int t = zy_qtype_from_name(name.c_str());
  bool ok = t >= 0 && (!quantizable || (t != ZY_QT_F32 && t != ZY_QT_Q4_K && t != ZY_QT_Q5_K && t != ZY_QT_Q6_K)) &&
            (use == FOR_MATMUL || !zy_qtype_is_r16(t));
  if (!ok) {
    a.fail("unsupported type \"" + name + "\" (supported: " +
           (quantizable ? "f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1"
            : use == FOR_MATMUL ? "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, q8_0_r16, q4_0_r16, q4_k_r16, q6_k_r16"
                                : "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k") + ")");
    return -1;
  }
  return t;
}

// Bytes of n elements of type t, or -1 (after a failed check) unless n is a whole number of blocks.
int64_t bytesOf(zy::Args &a, int t, int64_t n, const char *what) {
  int64_t be = zy_qtype_block_elems(t);
  if (n % be != 0) {
    a.fail(std::string(what) + " = " + std::to_string(n) + " must be a multiple of the " + zy_qtype_name(t) +
           " block size " + std::to_string(be));
    return -1;
  }
  return n / be * zy_qtype_block_bytes(t);
}

const char *BLOCKS = "Uint8Array of raw GGUF blocks";

Napi::Value QuantMatmul(const Napi::CallbackInfo &info) {
  zy::Args a(info, "quantMatmul");
  if (!a.atLeast(7, "w, type, rows, cols, x, out, m")) return a.done();
  size_t wLen = 0, xLen = 0, outLen = 0;
  const uint8_t *w = a.array<uint8_t>(a.arg(0), "w", napi_uint8_array, BLOCKS, 0, false, &wLen);
  int t = typeArg(a, 1, FOR_MATMUL);
  const int64_t rows = a.count(a.arg(2), "rows"), cols = a.count(a.arg(3), "cols"), m = a.count(a.arg(6), "m");
  const float *x = a.array<float>(a.arg(4), "x", napi_float32_array, "Float32Array", 0, false, &xLen);
  float *out = a.array<float>(a.arg(5), "out", napi_float32_array, "Float32Array", 0, false, &outLen);
  if (!a.ok()) return a.done();
  const int64_t rowBytes = bytesOf(a, t, cols, "cols");
  if (rowBytes < 0) return a.done();
  const std::string dims = std::string(zy_qtype_name(t)) + " [" + std::to_string(rows) + " rows, " + std::to_string(cols) + " cols], m = " + std::to_string(m);
  if ((int64_t)wLen != rows * rowBytes) a.fail("w has " + std::to_string(wLen) + " bytes, expected " + std::to_string(rows * rowBytes) + " for " + dims);
  else if ((int64_t)xLen < m * cols) a.fail("x has " + std::to_string(xLen) + " elements, expected m·cols = " + std::to_string(m * cols) + " for " + dims);
  else if ((int64_t)outLen < m * rows) a.fail("out has " + std::to_string(outLen) + " elements, expected m·rows = " + std::to_string(m * rows) + " for " + dims);
  else if (zy_qtype_is_r16(t) && rows % 16 != 0) a.fail("an r16 matrix has a multiple of 16 rows, got " + dims);
  if (!a.ok()) return a.done();
  if (zy_quant_matmul(w, t, rows, cols, x, out, m) != 0) {
    Napi::Error::New(a.env(), a.fn() + ": out of memory for the quantized activations (" + dims + ")").ThrowAsJavaScriptException();
  }
  return a.done();
}

Napi::Value Dequantize(const Napi::CallbackInfo &info) {
  zy::Args a(info, "dequantize");
  if (!a.atLeast(4, "w, type, out, n")) return a.done();
  size_t wLen = 0, outLen = 0;
  const uint8_t *w = a.array<uint8_t>(a.arg(0), "w", napi_uint8_array, BLOCKS, 0, false, &wLen);
  int t = typeArg(a, 1, FOR_DEQUANTIZE);
  float *out = a.array<float>(a.arg(2), "out", napi_float32_array, "Float32Array", 0, false, &outLen);
  const int64_t n = a.count(a.arg(3), "n");
  if (!a.ok()) return a.done();
  const int64_t bytes = bytesOf(a, t, n, "n");
  if (bytes < 0) return a.done();
  if ((int64_t)wLen < bytes) a.fail("w has " + std::to_string(wLen) + " bytes, expected " + std::to_string(bytes) + " for " + std::to_string(n) + " elements of " + zy_qtype_name(t));
  else if ((int64_t)outLen < n) a.fail("out has " + std::to_string(outLen) + " elements, expected n = " + std::to_string(n));
  if (!a.ok()) return a.done();
  zy_dequantize(w, t, out, n);
  return a.done();
}

Napi::Value Quantize(const Napi::CallbackInfo &info) {
  zy::Args a(info, "quantize");
  if (!a.atLeast(4, "x, type, out, n")) return a.done();
  size_t xLen = 0, outLen = 0;
  const float *x = a.array<float>(a.arg(0), "x", napi_float32_array, "Float32Array", 0, false, &xLen);
  int t = typeArg(a, 1, FOR_QUANTIZE);
  uint8_t *out = a.array<uint8_t>(a.arg(2), "out", napi_uint8_array, "Uint8Array", 0, false, &outLen);
  const int64_t n = a.count(a.arg(3), "n");
  if (!a.ok()) return a.done();
  const int64_t bytes = bytesOf(a, t, n, "n");
  if (bytes < 0) return a.done();
  if ((int64_t)xLen < n) a.fail("x has " + std::to_string(xLen) + " elements, expected n = " + std::to_string(n));
  else if ((int64_t)outLen < bytes) a.fail("out has " + std::to_string(outLen) + " bytes, expected " + std::to_string(bytes) + " for " + std::to_string(n) + " elements of " + zy_qtype_name(t));
  if (!a.ok()) return a.done();
  zy_quantize(x, t, out, n);
  return a.done();
}

Napi::Value QuantRepack(const Napi::CallbackInfo &info) {
  zy::Args a(info, "quantRepack");
  if (!a.atLeast(4, "w, type, rows, cols")) return a.done();
  size_t wLen = 0;
  uint8_t *w = a.array<uint8_t>(a.arg(0), "w", napi_uint8_array, BLOCKS, 0, false, &wLen);
  int t = typeArg(a, 1, FOR_DEQUANTIZE);
  const int64_t rows = a.count(a.arg(2), "rows"), cols = a.count(a.arg(3), "cols");
  if (!a.ok()) return a.done();
  if (t != ZY_QT_Q8_0 && t != ZY_QT_Q4_0 && t != ZY_QT_Q4_K && t != ZY_QT_Q6_K) return a.env().Null();
  const int64_t rowBytes = bytesOf(a, t, cols, "cols");
  if (rowBytes < 0) return a.done();
  if ((int64_t)wLen != rows * rowBytes) {
    a.fail("w has " + std::to_string(wLen) + " bytes, expected " + std::to_string(rows * rowBytes) + " for " +
           zy_qtype_name(t) + " [" + std::to_string(rows) + " rows, " + std::to_string(cols) + " cols]");
    return a.done();
  }
  const int r = zy_repack_r16(w, t, rows, cols);
  if (r == -2) { Napi::Error::New(a.env(), a.fn() + ": out of memory for one 16-row group").ThrowAsJavaScriptException(); return a.done(); }
  return r < 0 ? a.env().Null() : Napi::String::New(a.env(), zy_qtype_name(r));
}

Napi::Value QuantImpl(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), zy_quant_impl()); }

}  // namespace

ZY_REGISTER("quantMatmul", QuantMatmul);
ZY_REGISTER("dequantize", Dequantize);
ZY_REGISTER("quantize", Quantize);
ZY_REGISTER("quantImpl", QuantImpl);
ZY_REGISTER("quantRepack", QuantRepack);

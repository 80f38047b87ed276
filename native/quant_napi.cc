// Node-API glue for the quantized-weight kernels (native/quant.h):
//   quantMatmul(w: Uint8Array, type: string, rows, cols, x: Float32Array, out: Float32Array, m)
//   dequantize(w: Uint8Array, type: string, out: Float32Array, n)
//   quantize(x: Float32Array, type: string, out: Uint8Array, n)
//   quantImpl(): the kernel family in use ("avx512-vnni", "avx2", "portable")
//   quantRepack(w: Uint8Array, type: string, rows, cols): rewrites a q8_0/q4_0/q4_k/q6_k matrix in place into its
//     r16 layout and returns the new type name ("q8_0_r16", …), or null (w untouched) for other types and shapes
// Type names are the lowercase GGUF names: f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, plus the
// in-memory repacked q8_0_r16, q4_0_r16, q4_k_r16 and q6_k_r16 (matmul only).
// Every argument is validated; a bad one throws TypeError naming the function, the type, the dims and the byte or
// element length expected. Synchronous (runs on the calling thread plus the pool).
#include "zy_addon.h"
#include "quant.h"
#include <cmath>
#include <string>

namespace {

enum TypeUse { FOR_MATMUL, FOR_QUANTIZE, FOR_DEQUANTIZE };

// The type argument at index i, or -1 after throwing.
int typeArg(const Napi::CallbackInfo &info, size_t i, const std::string &fn, TypeUse use) {
  const bool quantizable = use == FOR_QUANTIZE;
  if (!info[i].IsString()) {
    zy::fail(info, fn + ": type must be a string such as \"q4_0\"");
    return -1;
  }
  std::string name = info[i].As<Napi::String>().Utf8Value();
  int t = zy_qtype_from_name(name.c_str());
  bool ok = t >= 0 && (!quantizable || (t != ZY_QT_F32 && t != ZY_QT_Q4_K && t != ZY_QT_Q5_K && t != ZY_QT_Q6_K)) &&
            (use == FOR_MATMUL || !zy_qtype_is_r16(t));
  if (!ok) {
    zy::fail(info, fn + ": unsupported type \"" + name + "\" (supported: " +
                       (quantizable ? "f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1"
                        : use == FOR_MATMUL ? "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k, q8_0_r16, q4_0_r16, q4_k_r16, q6_k_r16"
                                            : "f32, f16, bf16, q8_0, q4_0, q4_1, q5_0, q5_1, q4_k, q5_k, q6_k") + ")");
    return -1;
  }
  return t;
}

// Bytes of n elements of type t, or -1 (after throwing) unless n is a whole number of blocks.
int64_t bytesOf(const Napi::CallbackInfo &info, const std::string &fn, int t, int64_t n, const char *what) {
  int64_t be = zy_qtype_block_elems(t);
  if (n % be != 0) {
    zy::fail(info, fn + ": " + what + " = " + std::to_string(n) + " must be a multiple of the " + zy_qtype_name(t) +
                       " block size " + std::to_string(be));
    return -1;
  }
  return n / be * zy_qtype_block_bytes(t);
}

Napi::Value QuantMatmul(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string fn = "quantMatmul(w, type, rows, cols, x, out, m)";
  if (info.Length() < 7) {
    zy::fail(info, fn + ": expected 7 arguments, got " + std::to_string(info.Length()));
    return env.Undefined();
  }
  if (!zy::isTyped(info[0], napi_uint8_array)) { zy::fail(info, fn + ": w must be a Uint8Array of raw GGUF blocks"); return env.Undefined(); }
  int t = typeArg(info, 1, fn, FOR_MATMUL);
  if (t < 0) return env.Undefined();
  const char *names[3] = {"rows", "cols", "m"};
  const size_t idx[3] = {2, 3, 6};
  for (int i = 0; i < 3; i++)
    if (!zy::isCount(info[idx[i]])) { zy::fail(info, fn + ": " + names[i] + " must be a non-negative integer"); return env.Undefined(); }
  if (!zy::isTyped(info[4], napi_float32_array)) { zy::fail(info, fn + ": x must be a Float32Array"); return env.Undefined(); }
  if (!zy::isTyped(info[5], napi_float32_array)) { zy::fail(info, fn + ": out must be a Float32Array"); return env.Undefined(); }
  const int64_t rows = zy::i64(info[2]), cols = zy::i64(info[3]), m = zy::i64(info[6]);
  const int64_t rowBytes = bytesOf(info, fn, t, cols, "cols");
  if (rowBytes < 0) return env.Undefined();
  size_t wLen, xLen, outLen;
  const uint8_t *w = zy::typedPtr<uint8_t>(info[0], &wLen);
  const float *x = zy::typedPtr<float>(info[4], &xLen);
  float *out = zy::typedPtr<float>(info[5], &outLen);
  const std::string dims = std::string(zy_qtype_name(t)) + " [" + std::to_string(rows) + " rows, " + std::to_string(cols) + " cols], m = " + std::to_string(m);
  if ((int64_t)wLen != rows * rowBytes) {
    zy::fail(info, fn + ": w has " + std::to_string(wLen) + " bytes, expected " + std::to_string(rows * rowBytes) + " for " + dims);
    return env.Undefined();
  }
  if ((int64_t)xLen < m * cols) {
    zy::fail(info, fn + ": x has " + std::to_string(xLen) + " elements, expected m·cols = " + std::to_string(m * cols) + " for " + dims);
    return env.Undefined();
  }
  if ((int64_t)outLen < m * rows) {
    zy::fail(info, fn + ": out has " + std::to_string(outLen) + " elements, expected m·rows = " + std::to_string(m * rows) + " for " + dims);
    return env.Undefined();
  }
  if (zy_qtype_is_r16(t) && rows % 16 != 0) {
    zy::fail(info, fn + ": an r16 matrix has a multiple of 16 rows, got " + dims);
    return env.Undefined();
  }
  if (zy_quant_matmul(w, t, rows, cols, x, out, m) != 0) {
    Napi::Error::New(env, fn + ": out of memory for the quantized activations (" + dims + ")").ThrowAsJavaScriptException();
  }
  return env.Undefined();
}

Napi::Value Dequantize(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string fn = "dequantize(w, type, out, n)";
  if (info.Length() < 4) { zy::fail(info, fn + ": expected 4 arguments, got " + std::to_string(info.Length())); return env.Undefined(); }
  if (!zy::isTyped(info[0], napi_uint8_array)) { zy::fail(info, fn + ": w must be a Uint8Array of raw GGUF blocks"); return env.Undefined(); }
  int t = typeArg(info, 1, fn, FOR_DEQUANTIZE);
  if (t < 0) return env.Undefined();
  if (!zy::isTyped(info[2], napi_float32_array)) { zy::fail(info, fn + ": out must be a Float32Array"); return env.Undefined(); }
  if (!zy::isCount(info[3])) { zy::fail(info, fn + ": n must be a non-negative integer"); return env.Undefined(); }
  const int64_t n = zy::i64(info[3]);
  const int64_t bytes = bytesOf(info, fn, t, n, "n");
  if (bytes < 0) return env.Undefined();
  size_t wLen, outLen;
  const uint8_t *w = zy::typedPtr<uint8_t>(info[0], &wLen);
  float *out = zy::typedPtr<float>(info[2], &outLen);
  if ((int64_t)wLen < bytes) {
    zy::fail(info, fn + ": w has " + std::to_string(wLen) + " bytes, expected " + std::to_string(bytes) + " for " + std::to_string(n) + " elements of " + zy_qtype_name(t));
    return env.Undefined();
  }
  if ((int64_t)outLen < n) {
    zy::fail(info, fn + ": out has " + std::to_string(outLen) + " elements, expected n = " + std::to_string(n));
    return env.Undefined();
  }
  zy_dequantize(w, t, out, n);
  return env.Undefined();
}

Napi::Value Quantize(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string fn = "quantize(x, type, out, n)";
  if (info.Length() < 4) { zy::fail(info, fn + ": expected 4 arguments, got " + std::to_string(info.Length())); return env.Undefined(); }
  if (!zy::isTyped(info[0], napi_float32_array)) { zy::fail(info, fn + ": x must be a Float32Array"); return env.Undefined(); }
  int t = typeArg(info, 1, fn, FOR_QUANTIZE);
  if (t < 0) return env.Undefined();
  if (!zy::isTyped(info[2], napi_uint8_array)) { zy::fail(info, fn + ": out must be a Uint8Array"); return env.Undefined(); }
  if (!zy::isCount(info[3])) { zy::fail(info, fn + ": n must be a non-negative integer"); return env.Undefined(); }
  const int64_t n = zy::i64(info[3]);
  const int64_t bytes = bytesOf(info, fn, t, n, "n");
  if (bytes < 0) return env.Undefined();
  size_t xLen, outLen;
  const float *x = zy::typedPtr<float>(info[0], &xLen);
  uint8_t *out = zy::typedPtr<uint8_t>(info[2], &outLen);
  if ((int64_t)xLen < n) {
    zy::fail(info, fn + ": x has " + std::to_string(xLen) + " elements, expected n = " + std::to_string(n));
    return env.Undefined();
  }
  if ((int64_t)outLen < bytes) {
    zy::fail(info, fn + ": out has " + std::to_string(outLen) + " bytes, expected " + std::to_string(bytes) + " for " + std::to_string(n) + " elements of " + zy_qtype_name(t));
    return env.Undefined();
  }
  zy_quantize(x, t, out, n);
  return env.Undefined();
}

Napi::Value QuantRepack(const Napi::CallbackInfo &info) {
  Napi::Env env = info.Env();
  const std::string fn = "quantRepack(w, type, rows, cols)";
  if (info.Length() < 4) { zy::fail(info, fn + ": expected 4 arguments, got " + std::to_string(info.Length())); return env.Undefined(); }
  if (!zy::isTyped(info[0], napi_uint8_array)) { zy::fail(info, fn + ": w must be a Uint8Array of raw GGUF blocks"); return env.Undefined(); }
  int t = typeArg(info, 1, fn, FOR_DEQUANTIZE);
  if (t < 0) return env.Undefined();
  if (!zy::isCount(info[2]) || !zy::isCount(info[3])) { zy::fail(info, fn + ": rows and cols must be non-negative integers"); return env.Undefined(); }
  const int64_t rows = zy::i64(info[2]), cols = zy::i64(info[3]);
  if (t != ZY_QT_Q8_0 && t != ZY_QT_Q4_0 && t != ZY_QT_Q4_K && t != ZY_QT_Q6_K) return env.Null();
  const int64_t rowBytes = bytesOf(info, fn, t, cols, "cols");
  if (rowBytes < 0) return env.Undefined();
  size_t wLen;
  uint8_t *w = zy::typedPtr<uint8_t>(info[0], &wLen);
  if ((int64_t)wLen != rows * rowBytes) {
    zy::fail(info, fn + ": w has " + std::to_string(wLen) + " bytes, expected " + std::to_string(rows * rowBytes) + " for " +
                       zy_qtype_name(t) + " [" + std::to_string(rows) + " rows, " + std::to_string(cols) + " cols]");
    return env.Undefined();
  }
  const int r = zy_repack_r16(w, t, rows, cols);
  if (r == -2) { Napi::Error::New(env, fn + ": out of memory for one 16-row group").ThrowAsJavaScriptException(); return env.Undefined(); }
  return r < 0 ? env.Null() : Napi::String::New(env, zy_qtype_name(r));
}

Napi::Value QuantImpl(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), zy_quant_impl()); }

}  // namespace

ZY_REGISTER("quantMatmul", QuantMatmul);
ZY_REGISTER("dequantize", Dequantize);
ZY_REGISTER("quantize", Quantize);
ZY_REGISTER("quantImpl", QuantImpl);
ZY_REGISTER("quantRepack", QuantRepack);

// Node-API glue for the GEMM kernels (native/gemm.h):
//   gemmF32(a: Float32Array, b: Float32Array, c: Float32Array, batch, m, n, k, transA, transB, strideA, strideB,
//           strideC, alpha, beta)
//   gemmBf16(a: Uint16Array, b: Uint16Array, c: Float32Array, ...same)
//   gemmF32RoundBf16(a: Float32Array, b: Float32Array, c: Float32Array, ...same): operands rounded to bf16 first
//   gemmImpl(bf16: boolean): the micro-kernel family the current ISA level selects
//   gemmPackWeights / gemmPacked / gemmPackedCalls / quantMatmulPanels: weights packed once into GEMM panels
//   (gemm_packed.c)
// Validates types, dims and that every batch matrix lies inside its array (through zy_args.h, like every glue
// file); throws TypeError naming the function, the argument, the dims and the required lengths. Runs on the calling thread plus the pool (synchronous).
#include "zy_args.h"
#include "gemm.h"
#include "quant.h"
#include "prefill_mlp.h"
#include "ops_kernels.h"
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

int elemCode(const std::string &name) {
  return name == "f32" ? ZY_PW_F32 : name == "f16" ? ZY_PW_F16 : name == "bf16" ? ZY_PW_BF16 : -1;
}

// gemmPackWeights(w: Uint8Array, type: "f32" | "f16" | "bf16", rows, cols, panel: "f32" | "f16" | "bf16"): the
// weight w [rows, cols] packed once into GEMM panels (zy_pw_pack) in a new Uint8Array (advised onto 2 MiB pages), or null on CPUs without
// AVX-512 (there the products keep the unpacked path).
Napi::Value GemmPackWeights(const Napi::CallbackInfo &info) {
  zy::Args a(info, "gemmPackWeights");
  Napi::Env env = info.Env();
  if (!a.atLeast(5, "w, type, rows, cols, panel")) return a.done();
  const int src = elemCode(a.string(a.arg(1), "type", "\"f32\", \"f16\" or \"bf16\""));
  const int64_t rows = a.count(a.arg(2), "rows"), cols = a.count(a.arg(3), "cols");
  const int elem = elemCode(a.string(a.arg(4), "panel", "\"f32\", or the weight's own f16 / bf16 type"));
  if (!a.ok()) return a.done();
  if (src < 0 || elem < 0 || (elem != ZY_PW_F32 && elem != src)) {
    a.fail("type must be f32, f16 or bf16 and panel f32 or the weight's own type");
    return a.done();
  }
  size_t len = 0;
  const uint8_t *w = a.array<uint8_t>(a.arg(0), "w", napi_uint8_array, "Uint8Array", 0, false, &len);
  if (!a.ok()) return a.done();
  const int64_t need = rows * cols * (src == ZY_PW_F32 ? 4 : 2);
  if (static_cast<int64_t>(len) < need) {
    a.fail("w [" + std::to_string(rows) + ", " + std::to_string(cols) + "] needs " + std::to_string(need) + " bytes, got " + std::to_string(len));
    return a.done();
  }
  if (reinterpret_cast<uintptr_t>(w) % (src == ZY_PW_F32 ? 4 : 2) != 0) { a.fail("w must be aligned to its element size"); return a.done(); }
  if (!zy_pw_available()) return env.Null();
  Napi::ArrayBuffer buf = Napi::ArrayBuffer::New(env, zy_pw_bytes(elem, rows, cols));
  // long-lived and streamed by every prompt: onto 2 MiB pages before the pack's first write (native/kv_memory.c)
  zy_advise_huge_pages(buf.Data(), buf.ByteLength());
  zy_pw_pack(w, src, rows, cols, elem, buf.Data());
  return Napi::Uint8Array::New(env, buf.ByteLength(), buf, 0);
}

// gemmPacked(x: Float32Array, m, panels: Uint8Array, panel: "f32" | "f16" | "bf16", rows, cols, out: Float32Array):
// out [m, rows] = x [m, cols] · wᵀ on the weight's packed panels (zy_pw_gemm, over the pool).
Napi::Value GemmPacked(const Napi::CallbackInfo &info) {
  zy::Args a(info, "gemmPacked");
  if (!a.atLeast(7, "x, m, panels, panel, rows, cols, out")) return a.done();
  const int64_t m = a.count(a.arg(1), "m"), rows = a.count(a.arg(4), "rows"), cols = a.count(a.arg(5), "cols");
  const int elem = elemCode(a.string(a.arg(3), "panel", "\"f32\", \"f16\" or \"bf16\""));
  const float *x = a.f32(a.arg(0), "x", m * cols, false);
  float *out = const_cast<float *>(a.f32(a.arg(6), "out", m * rows, false));
  if (!a.ok()) return a.done();
  if (elem < 0) { a.fail("panel must be f32, f16 or bf16"); return a.done(); }
  size_t len = 0;
  const uint8_t *pw = a.array<uint8_t>(a.arg(2), "panels", napi_uint8_array, "Uint8Array", 0, false, &len);
  if (!a.ok()) return a.done();
  if (len < zy_pw_bytes(elem, rows, cols) || reinterpret_cast<uintptr_t>(pw) % 4 != 0) {
    a.fail("panels must be a 4-byte aligned Uint8Array of at least " + std::to_string(zy_pw_bytes(elem, rows, cols)) + " bytes (gemmPackWeights)");
    return a.done();
  }
  if (!zy_pw_available()) { a.fail("packed panels need AVX-512 (gemmPackWeights returned null)"); return a.done(); }
  if (zy_pw_gemm(x, m, cols, pw, elem, rows, out) != 0) a.fail("out of memory");
  return a.done();
}

// quantMatmulPanels(w, type, rows, cols, x, out, m, panels: { data, type }): quantMatmul(w, type, rows, cols, x, out, m)
// (native/quant_napi.cc), run on the weight's panels packed once where that gives its bits (zy_pw_replaces_quant:
// f16 / bf16 weights, 16 rows or more), else on w as quantMatmul runs it.
Napi::Value QuantMatmulPanels(const Napi::CallbackInfo &info) {
  zy::Args a(info, "quantMatmulPanels");
  if (!a.atLeast(8, "w, type, rows, cols, x, out, m, panels")) return a.done();
  const std::string type = a.string(a.arg(1), "type", "\"f16\"");
  const int src = zy_qtype_from_name(type.c_str());
  const int64_t rows = a.count(a.arg(2), "rows"), cols = a.count(a.arg(3), "cols"), m = a.count(a.arg(6), "m");
  size_t wLen = 0;
  const uint8_t *w = a.array<uint8_t>(a.arg(0), "w", napi_uint8_array, "Uint8Array", 0, false, &wLen);
  const float *x = a.f32(a.arg(4), "x", m * cols, false);
  float *out = const_cast<float *>(a.f32(a.arg(5), "out", m * rows, false));
  if (!a.ok()) return a.done();
  if (src != ZY_QT_F16 && src != ZY_QT_BF16) { a.fail("type must be f16 or bf16 (got " + type + ")"); return a.done(); }
  if (static_cast<int64_t>(wLen) != rows * cols * 2) {
    a.fail("w has " + std::to_string(wLen) + " bytes, expected " + std::to_string(rows * cols * 2) + " for " + type + " [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
    return a.done();
  }
  int elem = -1;
  const void *pw = zy::readPanels(a, a.arg(7), "panels", src, rows, cols, &elem);
  if (!a.ok()) return a.done();
  const int rc = zy_pw_replaces_quant(src, m, rows, cols) ? zy_pw_linear(src, x, m, cols, pw, elem, rows, out)
                                                          : zy_quant_matmul(w, src, rows, cols, x, out, m);
  if (rc != 0) a.fail("out of memory");
  return a.done();
}

// prefillMlpPanels(x, m, hidden, ffn, normW, eps, type, gateUp, down): a decoder prompt's SwiGLU MLP sublayer in
// place, x [m, hidden] += down·(silu(gate·h) ⊙ up·h) with h = rmsNorm(x)·normW, gateUp ([2·ffn, hidden], gate
// first) and down ([hidden, ffn]) as { data, type } panels of gemmPackWeights over f16 / bf16 weights of `type`,
// rows split over the pool (native/prefill_mlp.c; the tensor path's bits). Returns false, x untouched, for shapes it
// leaves to the tensor path (one thread, fewer than 48 rows per thread, ffn not a multiple of 16).
Napi::Value PrefillMlpPanels(const Napi::CallbackInfo &info) {
  zy::Args a(info, "prefillMlpPanels");
  if (!a.atLeast(9, "x, m, hidden, ffn, normW, eps, type, gateUp, down")) return a.done();
  const int64_t m = a.count(a.arg(1), "m"), d = a.count(a.arg(2), "hidden"), f = a.count(a.arg(3), "ffn");
  float *x = a.f32(a.arg(0), "x", m * d, false);
  const float *w = a.f32(a.arg(4), "normW", d, false);
  const float eps = static_cast<float>(a.number(a.arg(5), "eps"));
  const std::string type = a.string(a.arg(6), "type", "\"f16\" or \"bf16\"");
  const int src = elemCode(type);
  if (a.ok() && src != ZY_PW_F16 && src != ZY_PW_BF16) a.fail("type must be f16 or bf16 (got " + type + ")");
  int gu_elem = -1, down_elem = -1;
  const void *gu = zy::readPanels(a, a.arg(7), "gateUp", src, 2 * f, d, &gu_elem);
  const void *down = zy::readPanels(a, a.arg(8), "down", src, d, f, &down_elem);
  if (!a.ok()) return a.done();
  const int rc = zy_prefill_mlp(x, m, d, f, w, eps, src, gu, gu_elem, down, down_elem);
  if (rc < 0) { a.fail("out of memory"); return a.done(); }
  return Napi::Boolean::New(info.Env(), rc == 0);
}

// gemmPackedCalls(): how many row-range products ran on packed panels since the addon loaded (tests).
Napi::Value GemmPackedCalls(const Napi::CallbackInfo &info) {
  return Napi::Number::New(info.Env(), static_cast<double>(zy_pw_calls()));
}

}  // namespace

ZY_REGISTER("gemmPackWeights", GemmPackWeights);
ZY_REGISTER("gemmPacked", GemmPacked);
ZY_REGISTER("gemmPackedCalls", GemmPackedCalls);
ZY_REGISTER("quantMatmulPanels", QuantMatmulPanels);
ZY_REGISTER("prefillMlpPanels", PrefillMlpPanels);
ZY_REGISTER("gemmF32", GemmF32);
ZY_REGISTER("gemmBf16", GemmBf16);
ZY_REGISTER("gemmF32RoundBf16", GemmF32RoundBf16);
ZY_REGISTER("gemmImpl", GemmImpl);

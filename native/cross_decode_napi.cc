// Node-API glue for native/cross_decode_layer.c:
//   crossDecoderLayerDecode(x: Float32Array, spec: object): the "cross-decoder-layer-decode" fused op
//   (src/backend/backend.ts)
// spec: { m, hidden, nHead, headDim, ffn, eps, act ("relu" | "gelu_tanh" | "gelu_erf" | "silu"), gated,
//         selfNorm, crossNorm, ffnNorm (Float32Array), q, k, v, o, crossQ, crossO, wi0, wi1 (null unless gated), wo
//         (matrices: { data: Uint8Array, type: string (f32 or an encoded type), rows, cols }), relBias
//         (Float32Array [nDist, nHead]), kCaches, vCaches, crossK, crossV (arrays of Float32Array), capacities,
//         positions, sourceLengths (arrays of numbers); optionally, for the last layer, head (a matrix [vocab, hidden]),
//         vocab, outNorm, outScale and logits (Float32Array [m, vocab]) }
// Every size is checked against the dims; a bad one throws TypeError naming the field and what was expected.
#include "zy_args.h"
#include "zy_matrix_arg.h"
#include "cross_decode_layer.h"
#include "ops_common.h"
#include "quant.h"
#include <string>
#include <vector>

namespace {

struct Spec {
  zy::Args &a;
  Napi::Object o;

  bool ok() const { return a.ok(); }
  bool fail(const std::string &msg) { return a.fail(msg); }
  int64_t count(const char *key) { return a.count(o.Get(key), key); }
  const float *f32(const char *key, int64_t need) { return a.f32(o.Get(key), key, need, false); }
  zy_decode_matrix matrix(const char *key, int64_t rows, int64_t cols) { return zy::readMatrix(a, o.Get(key), key, rows, cols, true); }
  /** An array of m entries under key. */
  Napi::Array list(const char *key, int64_t m) {
    Napi::Value v = o.Get(key);
    if (!ok()) return Napi::Array::New(a.env());
    if (!v.IsArray() || static_cast<int64_t>(v.As<Napi::Array>().Length()) != m) {
      fail(std::string(key) + " must be an array with one entry per sequence (m = " + std::to_string(m) + ")");
      return Napi::Array::New(a.env());
    }
    return v.As<Napi::Array>();
  }
};

int actCode(const std::string &name) {
  if (name == "relu") return ZY_RELU;
  if (name == "gelu_tanh") return ZY_GELU_TANH;
  if (name == "gelu_erf") return ZY_GELU_ERF;
  if (name == "silu") return ZY_SILU;
  return -1;
}

Napi::Value CrossDecoderLayerDecode(const Napi::CallbackInfo &info) {
  zy::Args a(info, "crossDecoderLayerDecode");
  Napi::Env env = info.Env();
  if (!a.atLeast(2, "x, spec")) return a.done();
  if (!info[1].IsObject()) { a.fail("spec must be an object"); return a.done(); }
  Spec s{a, info[1].As<Napi::Object>()};
  zy_cross_decode_layer L{};
  L.m = s.count("m"); L.hidden = s.count("hidden"); L.n_head = s.count("nHead");
  L.head_dim = s.count("headDim"); L.ffn = s.count("ffn");
  L.eps = static_cast<float>(a.number(s.o.Get("eps"), "eps"));
  L.act = actCode(a.string(s.o.Get("act"), "act", "\"gelu_tanh\""));
  L.gated = s.o.Get("gated").ToBoolean().Value() ? 1 : 0;
  if (!s.ok()) return env.Undefined();
  if (L.act < 0) { s.fail("act must be relu, gelu_tanh, gelu_erf or silu"); return env.Undefined(); }
  const int64_t D = L.hidden, inner = L.n_head * L.head_dim, F = L.ffn;
  float *x = const_cast<float *>(a.f32(info[0], "x", L.m * D, false));
  L.self_norm = s.f32("selfNorm", D);
  L.cross_norm = s.f32("crossNorm", D);
  L.ffn_norm = s.f32("ffnNorm", D);
  L.q = s.matrix("q", inner, D);
  L.k = s.matrix("k", inner, D);
  L.v = s.matrix("v", inner, D);
  L.o = s.matrix("o", D, inner);
  L.cross_q = s.matrix("crossQ", inner, D);
  L.cross_o = s.matrix("crossO", D, inner);
  L.wi0 = s.matrix("wi0", F, D);
  if (L.gated) L.wi1 = s.matrix("wi1", F, D);
  L.wo = s.matrix("wo", D, F);
  size_t bias_len = 0;
  L.rel_bias = a.array<float>(s.o.Get("relBias"), "relBias", napi_float32_array, "Float32Array", 0, false, &bias_len);
  Napi::Value head = s.o.Get("head");
  if (s.ok() && !head.IsNull() && !head.IsUndefined()) {
    const int64_t vocab = s.count("vocab");
    L.head = s.matrix("head", vocab, D);
    L.out_norm = s.f32("outNorm", D);
    L.out_scale = static_cast<float>(a.number(s.o.Get("outScale"), "outScale"));
    L.logits = a.f32(s.o.Get("logits"), "logits", L.m * vocab, false);
  }
  if (!s.ok()) return env.Undefined();
  L.n_dist = L.n_head > 0 ? static_cast<int64_t>(bias_len) / L.n_head : 0;
  Napi::Array kc = s.list("kCaches", L.m), vc = s.list("vCaches", L.m), ck = s.list("crossK", L.m), cv = s.list("crossV", L.m);
  Napi::Array caps = s.list("capacities", L.m), pos = s.list("positions", L.m), srcs = s.list("sourceLengths", L.m);
  if (!s.ok()) return env.Undefined();
  std::vector<float *> kp(L.m), vp(L.m);
  std::vector<const float *> ckp(L.m), cvp(L.m);
  std::vector<int64_t> at(L.m), src(L.m);
  for (uint32_t i = 0; i < L.m && s.ok(); i++) {
    const std::string n = "[" + std::to_string(i) + "]";
    const int64_t cap = a.count(caps.Get(i), "capacities" + n), p = a.count(pos.Get(i), "positions" + n);
    const int64_t sl = a.count(srcs.Get(i), "sourceLengths" + n);
    if (!s.ok()) break;
    if (p >= cap || p >= L.n_dist) {
      s.fail("sequence " + std::to_string(i) + ": position " + std::to_string(p) + " must be below its cache capacity (" +
             std::to_string(cap) + ") and the relBias rows (" + std::to_string(L.n_dist) + ")");
      break;
    }
    if (sl == 0) { s.fail("sourceLengths" + n + " must be at least 1"); break; }
    at[i] = p;
    src[i] = sl;
    kp[i] = a.f32(kc.Get(i), "kCaches" + n, cap * inner);
    vp[i] = a.f32(vc.Get(i), "vCaches" + n, cap * inner);
    ckp[i] = a.f32(ck.Get(i), "crossK" + n, sl * inner);
    cvp[i] = a.f32(cv.Get(i), "crossV" + n, sl * inner);
  }
  if (!s.ok()) return env.Undefined();
  L.k_cache = kp.data();
  L.v_cache = vp.data();
  L.cross_k = ckp.data();
  L.cross_v = cvp.data();
  L.pos = at.data();
  L.source_len = src.data();
  if (zy_cross_decoder_layer_decode(&L, x) != 0) a.fail("out of memory");
  return env.Undefined();
}

}  // namespace

ZY_REGISTER("crossDecoderLayerDecode", CrossDecoderLayerDecode);

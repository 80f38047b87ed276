// Node-API glue for native/decode_layer.c:
//   decoderLayerDecode(x: Float32Array, spec: object): the "decoder-layer-decode" fused op (src/backend/backend.ts)
// spec: { m, hidden, nHead, nKv, headDim, ffn, rotDim, eps, attnScale, ropeInterleaved, freqs, attnNorm, ffnNorm,
//         bq, bk, bv (Float32Array or null), qkv or q, k, v; o; gateUp or gate, up; down
//         (matrices: { data: Uint8Array, type: string, rows, cols }),
//         kCaches, vCaches (arrays of Float32Array, or all of Uint16Array: an f16 cache), capacities, positions
//         (arrays of numbers) }
// Every size is checked against the dims (through zy_args.h, like every glue file); a bad one throws TypeError
// naming the field and what was expected.
#include "zy_args.h"
#include "decode_layer.h"
#include "quant.h"
#include <string>
#include <vector>

namespace {

// The spec object's fields, read through the call's zy::Args (named by their key).
struct Spec {
  zy::Args &a;
  Napi::Object o;

  bool ok() const { return a.ok(); }
  bool fail(const std::string &msg) { return a.fail(msg); }
  int64_t count(const char *key) { return a.count(o.Get(key), key); }
  double real(const char *key) { return a.number(o.Get(key), key); }
  const float *f32(Napi::Value v, const std::string &what, int64_t need, bool nullable) { return a.f32(v, what, need, nullable); }
  const float *f32(const char *key, int64_t need, bool nullable = false) { return a.f32(o.Get(key), key, need, nullable); }
  bool present(const char *key) {
    Napi::Value v = o.Get(key);
    return !(v.IsNull() || v.IsUndefined());
  }
  zy_decode_matrix matrix(const char *key, int64_t rows, int64_t cols) {
    zy_decode_matrix w{nullptr, -1, rows, cols};
    if (!ok()) return w;
    Napi::Value v = o.Get(key);
    if (!v.IsObject()) { fail(std::string(key) + " must be { data, type, rows, cols }"); return w; }
    Napi::Object m = v.As<Napi::Object>();
    Napi::Value t = m.Get("type");
    w.type = t.IsString() ? zy_qtype_from_name(t.As<Napi::String>().Utf8Value().c_str()) : -1;
    if (w.type < 0 || w.type == ZY_QT_F32) { fail(std::string(key) + ".type must be an encoded weight type (f16, bf16, q8_0, q4_k, ...)"); return w; }
    if (!zy::isCount(m.Get("rows")) || !zy::isCount(m.Get("cols")) || zy::i64(m.Get("rows")) != rows || zy::i64(m.Get("cols")) != cols) {
      fail(std::string(key) + " must be [" + std::to_string(rows) + ", " + std::to_string(cols) + "]");
      return w;
    }
    const int64_t be = zy_qtype_block_elems(w.type);
    if (cols % be != 0) { fail(std::string(key) + ": cols " + std::to_string(cols) + " is not a multiple of the block size"); return w; }
    const int64_t need = rows * (cols / be) * zy_qtype_block_bytes(w.type);
    Napi::Value d = m.Get("data");
    size_t len = 0;
    if (!zy::isTyped(d, napi_uint8_array) || (w.data = zy::typedPtr<uint8_t>(d, &len), static_cast<int64_t>(len) < need)) {
      fail(std::string(key) + ".data must be a Uint8Array of at least " + std::to_string(need) + " bytes");
    }
    return w;
  }
};

Napi::Value DecoderLayerDecode(const Napi::CallbackInfo &info) {
  zy::Args a(info, "decoderLayerDecode");
  Napi::Env env = info.Env();
  if (!a.atLeast(2, "x, spec")) return a.done();
  if (!info[1].IsObject()) { a.fail("spec must be an object"); return a.done(); }
  Spec s{a, info[1].As<Napi::Object>()};
  zy_decode_layer L{};
  L.m = s.count("m"); L.hidden = s.count("hidden"); L.n_head = s.count("nHead"); L.n_kv = s.count("nKv");
  L.head_dim = s.count("headDim"); L.ffn = s.count("ffn"); L.rot_dim = s.count("rotDim");
  L.eps = static_cast<float>(s.real("eps"));
  L.attn_scale = static_cast<float>(s.real("attnScale"));
  if (!s.ok()) return env.Undefined();
  if (L.n_kv == 0 || L.n_head % L.n_kv != 0 || L.rot_dim > L.head_dim || L.rot_dim % 2 != 0) {
    s.fail("nHead must be a multiple of nKv, and rotDim even and at most headDim");
    return env.Undefined();
  }
  const int64_t qd = L.n_head * L.head_dim, kd = L.n_kv * L.head_dim;
  L.rope_interleaved = s.o.Get("ropeInterleaved").ToBoolean().Value() ? 1 : 0;
  float *x = const_cast<float *>(s.f32(info[0], "x", L.m * L.hidden, false));
  L.freqs = s.f32("freqs", L.rot_dim / 2);
  L.attn_norm = s.f32("attnNorm", L.hidden);
  L.ffn_norm = s.f32("ffnNorm", L.hidden);
  L.bq = s.f32("bq", qd, true);
  L.bk = s.f32("bk", kd, true);
  L.bv = s.f32("bv", kd, true);
  if (s.present("qkv")) {
    L.qkv = s.matrix("qkv", qd + 2 * kd, L.hidden);
  } else {
    L.q = s.matrix("q", qd, L.hidden);
    L.k = s.matrix("k", kd, L.hidden);
    L.v = s.matrix("v", kd, L.hidden);
  }
  L.o = s.matrix("o", L.hidden, qd);
  if (s.present("gateUp")) {
    L.gate_up = s.matrix("gateUp", 2 * L.ffn, L.hidden);
  } else {
    L.gate = s.matrix("gate", L.ffn, L.hidden);
    L.up = s.matrix("up", L.ffn, L.hidden);
  }
  L.down = s.matrix("down", L.hidden, L.ffn);
  if (!s.ok()) return env.Undefined();
  Napi::Value kc = s.o.Get("kCaches"), vc = s.o.Get("vCaches"), caps = s.o.Get("capacities"), pos = s.o.Get("positions");
  if (!kc.IsArray() || !vc.IsArray() || !caps.IsArray() || !pos.IsArray()) {
    s.fail("kCaches, vCaches, capacities and positions must be arrays");
    return env.Undefined();
  }
  Napi::Array ka = kc.As<Napi::Array>(), va = vc.As<Napi::Array>(), ca = caps.As<Napi::Array>(), pa = pos.As<Napi::Array>();
  if (ka.Length() != L.m || va.Length() != L.m || ca.Length() != L.m || pa.Length() != L.m) {
    s.fail("kCaches, vCaches, capacities and positions need one entry per sequence (m = " + std::to_string(L.m) + ")");
    return env.Undefined();
  }
  std::vector<void *> kp(L.m), vp(L.m);
  std::vector<int64_t> cap(L.m), at(L.m);
  L.kv_f16 = L.m > 0 && zy::isTyped(ka.Get(0u), napi_uint16_array);
  for (uint32_t i = 0; i < L.m && s.ok(); i++) {
    Napi::Value c = ca.Get(i), p = pa.Get(i);
    if (!zy::isCount(c) || !zy::isCount(p) || zy::i64(p) >= zy::i64(c)) {
      s.fail("sequence " + std::to_string(i) + ": position must be below its cache capacity");
      break;
    }
    cap[i] = zy::i64(c);
    at[i] = zy::i64(p);
    const std::string ki = "kCaches[" + std::to_string(i) + "]", vi = "vCaches[" + std::to_string(i) + "]";
    if (L.kv_f16) { /* f16 caches: every entry a Uint16Array */
      kp[i] = a.u16(ka.Get(i), ki + " (f16 cache: all caches Uint16Array)", cap[i] * kd);
      vp[i] = a.u16(va.Get(i), vi + " (f16 cache: all caches Uint16Array)", cap[i] * kd);
    } else {
      kp[i] = const_cast<float *>(s.f32(ka.Get(i), ki, cap[i] * kd, false));
      vp[i] = const_cast<float *>(s.f32(va.Get(i), vi, cap[i] * kd, false));
    }
  }
  if (!s.ok()) return env.Undefined();
  L.k_cache = kp.data();
  L.v_cache = vp.data();
  L.cache_capacity = cap.data();
  L.pos = at.data();
  if (zy_decoder_layer_decode(&L, x) != 0) a.fail("out of memory");
  return env.Undefined();
}

}  // namespace

ZY_REGISTER("decoderLayerDecode", DecoderLayerDecode);

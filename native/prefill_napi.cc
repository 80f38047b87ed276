// Node-API glue for a decoder prompt's layer in one call (native/prefill_layer.c) and the RoPE table it reads:
//   ropeTable(freqs: Float32Array, pos0, t, out: Float32Array): out [t, 2·freqs.length] = cos | sin of (pos0 + i)·freqs
//     (zy_rope_table: the values zy_op_rope computes for itself on every call)
//   prefillLayerPanels(x: Float32Array, m, spec): the layer in place on x [m, hidden]; false (nothing touched) for a
//     shape it leaves to the tensor path. spec: { hidden, ffn, nHead, nKv, headDim, interleaved, eps, scale, type
//     ("f16" | "bf16": qkv … down are panels; "quant": they are r16 QuantWeights { data, type: "q4_0_r16" … }), attnNorm, ffnNorm, qNorm?, kNorm?, qkv, o, gateUp, down ({ data, type } panels of
//     gemmPackWeights), kCache, vCache (Float32Array or Uint16Array f16 bits, [capacity, nKv, headDim]), capacity,
//     pos0, rope (ropeTable of the prompt's positions) }.
//   prefillStackPanels(x: Float32Array, m, specs: spec[]): every layer in turn, one call (zy_prefill_stack); false
//     (nothing touched) when some layer is a shape it leaves to the tensor path.
// Validates types and lengths through zy_args.h; throws TypeError naming the function, the field and the need.
#include "zy_args.h"
#include "gemm.h"
#include "ops_kernels.h"
#include "prefill_layer.h"
#include "quant.h"
#include <string>
#include <vector>

namespace {

int elemOf(const std::string &t) { return t == "f32" ? ZY_PW_F32 : t == "f16" ? ZY_PW_F16 : t == "bf16" ? ZY_PW_BF16 : -1; }

Napi::Value RopeTable(const Napi::CallbackInfo &info) {
  zy::Args a(info, "ropeTable");
  if (!a.atLeast(4, "freqs, pos0, t, out")) return a.done();
  size_t half = 0;
  const float *freqs = a.array<float>(a.arg(0), "freqs", napi_float32_array, "Float32Array", 0, false, &half);
  const int64_t pos0 = a.count(a.arg(1), "pos0"), t = a.count(a.arg(2), "t");
  float *out = a.f32(a.arg(3), "out", t * 2 * static_cast<int64_t>(half));
  if (!a.ok()) return a.done();
  zy_rope_table(freqs, static_cast<int64_t>(half), pos0, t, 0, out);
  return a.done();
}

// A quantized matrix field { data: Uint8Array, type } of spec: an r16 type (zy_repack_r16's, e.g. "q4_0_r16") holding
// rows × cols; *type the zy_qtype.
const void *quantMatrix(zy::Args &a, const Napi::Value &v, const std::string &name, int64_t rows, int64_t cols, int *type) {
  *type = -1;
  if (!a.ok()) return nullptr;
  if (!v.IsObject()) { a.fail(name + " must be { data: Uint8Array, type } (a QuantWeight's bytes and type)"); return nullptr; }
  const Napi::Object o = v.As<Napi::Object>();
  const std::string t = a.string(o.Get("type"), name + ".type", "\"q4_0_r16\"");
  size_t len = 0;
  const uint8_t *w = a.array<uint8_t>(o.Get("data"), name + ".data", napi_uint8_array, "Uint8Array", 0, false, &len);
  if (!a.ok()) return nullptr;
  *type = zy_qtype_from_name(t.c_str());
  if (*type < 0 || !zy_qtype_is_r16(*type)) { a.fail(name + ".type must be a repacked r16 type such as q4_0_r16 (got " + t + ")"); return nullptr; }
  const int64_t be = zy_qtype_block_elems(*type), need = cols % be == 0 ? rows * (cols / be) * zy_qtype_block_bytes(*type) : -1;
  if (need < 0 || rows % 16 != 0 || static_cast<int64_t>(len) < need) {
    a.fail(name + " must hold a [" + std::to_string(rows) + ", " + std::to_string(cols) + "] " + t + " matrix (rows a multiple of 16, cols of " +
           std::to_string(be) + "; " + std::to_string(need) + " bytes), got " + std::to_string(len) + " bytes");
    return nullptr;
  }
  return w;
}

// A cache field: f32 or f16 bits, at least `need` values; *kv the type.
void *cache(zy::Args &a, const Napi::Object &spec, const char *name, int64_t need, int *kv) {
  if (!a.ok()) return nullptr;
  const Napi::Value v = spec.Get(name);
  const std::string field = std::string("spec.") + name;
  if (v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == napi_uint16_array) {
    *kv = ZY_KV_F16;
    return a.u16(v, field, need);
  }
  *kv = ZY_KV_F32;
  return a.f32(v, field + " (Float32Array, or Uint16Array of f16 bits)", need);
}

// spec's fields into *L (m rows); false after a.fail.
bool parseSpec(zy::Args &a, const Napi::Value &v, const std::string &name, int64_t m, zy_prefill_layer_args *L) {
  if (!a.ok()) return false;
  if (!v.IsObject()) { a.fail(name + " must be an object (see native/prefill_napi.cc)"); return false; }
  const Napi::Object s = v.As<Napi::Object>();
  const std::string n = name + ".";
  *L = zy_prefill_layer_args{};
  L->d = a.count(s.Get("hidden"), n + "hidden"), L->f = a.count(s.Get("ffn"), n + "ffn");
  L->nh = a.count(s.Get("nHead"), n + "nHead"), L->nkv = a.count(s.Get("nKv"), n + "nKv");
  L->dh = a.count(s.Get("headDim"), n + "headDim");
  L->interleaved = s.Get("interleaved").ToBoolean().Value() ? 1 : 0;
  L->eps = static_cast<float>(a.number(s.Get("eps"), n + "eps"));
  L->scale = static_cast<float>(a.number(s.Get("scale"), n + "scale"));
  const std::string type = a.string(s.Get("type"), n + "type", "\"f16\", \"bf16\" or \"quant\"");
  L->src = type == "quant" ? ZY_PREFILL_QUANT : elemOf(type);
  if (a.ok() && L->src != ZY_PW_F16 && L->src != ZY_PW_BF16 && L->src != ZY_PREFILL_QUANT)
    a.fail(n + "type must be f16, bf16 (panels) or quant (r16 matrices) (got " + type + ")");
  L->cap = a.count(s.Get("capacity"), n + "capacity"), L->pos0 = a.count(s.Get("pos0"), n + "pos0");
  L->attn_norm = a.f32(s.Get("attnNorm"), n + "attnNorm", L->d);
  L->ffn_norm = a.f32(s.Get("ffnNorm"), n + "ffnNorm", L->d);
  L->q_norm = a.f32(s.Get("qNorm"), n + "qNorm", L->dh, true);
  L->k_norm = a.f32(s.Get("kNorm"), n + "kNorm", L->dh, true);
  size_t half2 = 0;
  L->rope = a.array<float>(s.Get("rope"), n + "rope", napi_float32_array, "Float32Array", 0, false, &half2);
  if (!a.ok()) return false;
  if (m == 0 || half2 % static_cast<size_t>(2 * m) != 0) { a.fail(n + "rope must be ropeTable(freqs, pos0, m, ·): [m, 2·rotated pairs]"); return false; }
  L->half = static_cast<int64_t>(half2) / (2 * m);
  const int64_t qd = L->nh * L->dh, kd = L->nkv * L->dh;
  const auto matrix = [&](const char *key, int64_t rows, int64_t cols, int *elem) {
    return L->src == ZY_PREFILL_QUANT ? quantMatrix(a, s.Get(key), n + key, rows, cols, elem)
                                      : zy::readPanels(a, s.Get(key), n + key, L->src, rows, cols, elem);
  };
  L->qkv = matrix("qkv", qd + 2 * kd, L->d, &L->qkv_elem);
  L->o = matrix("o", L->d, qd, &L->o_elem);
  L->gu = matrix("gateUp", 2 * L->f, L->d, &L->gu_elem);
  L->down = matrix("down", L->d, L->f, &L->down_elem);
  int kt = 0, vt = 0;
  L->k_cache = cache(a, s, "kCache", L->cap * kd, &kt);
  L->v_cache = cache(a, s, "vCache", L->cap * kd, &vt);
  if (!a.ok()) return false;
  if (kt != vt) { a.fail(n + "kCache and " + n + "vCache must be the same type (both Float32Array or both Uint16Array)"); return false; }
  L->kv_type = kt;
  return true;
}

Napi::Value PrefillLayerPanels(const Napi::CallbackInfo &info) {
  zy::Args a(info, "prefillLayerPanels");
  if (!a.atLeast(3, "x, m, spec")) return a.done();
  const int64_t m = a.count(a.arg(1), "m");
  zy_prefill_layer_args L;
  if (!parseSpec(a, a.arg(2), "spec", m, &L)) return a.done();
  float *x = a.f32(a.arg(0), "x", m * L.d);
  if (!a.ok()) return a.done();
  const int rc = zy_prefill_layer(&L, x, m);
  if (rc < 0) { a.fail("out of memory"); return a.done(); }
  return Napi::Boolean::New(info.Env(), rc == 0);
}

Napi::Value PrefillStackPanels(const Napi::CallbackInfo &info) {
  zy::Args a(info, "prefillStackPanels");
  if (!a.atLeast(3, "x, m, specs")) return a.done();
  const int64_t m = a.count(a.arg(1), "m");
  if (!a.arg(2).IsArray()) { a.fail("specs must be an array of layer specs (one per layer, in order)"); return a.done(); }
  const Napi::Array arr = a.arg(2).As<Napi::Array>();
  std::vector<zy_prefill_layer_args> layers(arr.Length());
  for (uint32_t l = 0; l < arr.Length(); l++)
    if (!parseSpec(a, arr.Get(l), "specs[" + std::to_string(l) + "]", m, &layers[l])) return a.done();
  if (layers.empty()) return Napi::Boolean::New(info.Env(), false);
  float *x = a.f32(a.arg(0), "x", m * layers[0].d);
  if (!a.ok()) return a.done();
  const int rc = zy_prefill_stack(layers.data(), static_cast<int64_t>(layers.size()), x, m);
  if (rc < 0) { a.fail("out of memory"); return a.done(); }
  return Napi::Boolean::New(info.Env(), rc == 0);
}

}  // namespace

ZY_REGISTER("ropeTable", RopeTable);
ZY_REGISTER("prefillLayerPanels", PrefillLayerPanels);
ZY_REGISTER("prefillStackPanels", PrefillStackPanels);

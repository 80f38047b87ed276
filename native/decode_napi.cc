// Node-API glue for native/decode_layer.c:
//   decoderLayerDecode(x: Float32Array, spec: object): the "decoder-layer-decode" fused op (src/backend/backend.ts)
//   decoderLayerPrepare(spec without m and the caches) → an opaque handle holding the layer's fields read and checked
//   once; decoderLayerStep(x, handle, kCaches, vCaches, capacities, positions) runs one step of it (m = the number
//   of caches) — what a model calls every step, so only the caches are read per call;
//   decoderStackStep(x, handles, kCaches, vCaches, positions[, head, logits, rows, state]): one step through every
//   prepared layer in one call, optionally ending with the output norm and head of decoderHeadPrepare({ norm, eps,
//   weight }); state (from decoderStackState(), one per model, freed with it when collected) holds what the model's
//   steps keep between calls — scratch and the rows path's step-aside counters; without it a step makes its own;
//   decoderOptions([{ prefetchKb, attnInTaskKeys, profileEvery }]) sets the rows path's process-wide development knobs
//   (the fields given) and returns them all (first read from ZHIYU_DECODE_* in the environment: decode_layer.h);
//   decoderLayerMoe(h, out, handle, m): the MoE MLP alone of a prepared MoE layer over m rows (a prompt)
// spec: { m, hidden, nHead, nKv, headDim, ffn, rotDim, eps, attnScale, ropeInterleaved, freqs, attnNorm, ffnNorm,
//         bq, bk, bv, qNorm, kNorm (Float32Array or null), qkv or q, k, v; o; gateUp or gate, up; down, or
//         moe: { numExperts, topK, expertFfn, router, gate, up, down (each an array of numExperts matrices, or one
//         matrix of all experts' rows back to back), route, shared } where shared (optional: Qwen2-MoE) is
//         { ffn, gate, up, down, gateInp (a matrix [1, hidden], or a Float32Array [hidden]) } and
//         route(logits: Float32Array [m, numExperts], m) returns { experts: Int32Array, weights: Float32Array } [m, topK]
//         (matrices: { data: Uint8Array, type: string, rows, cols }),
//         kCaches, vCaches (arrays of Float32Array, or all of Uint16Array: an f16 cache), capacities, positions
//         (arrays of numbers) }
// Every size is checked against the dims (through zy_args.h, like every glue file); a bad one throws TypeError
// naming the field and what was expected.
#include "zy_args.h"
#include "zy_matrix_arg.h"
#include "decode_layer.h"
#include "ops_kernels.h"
#include "quant.h"
#include <cstring>
#include <string>
#include <vector>

namespace {

// moe.route: the caller's routing, called back on this thread with the router logits; its answer is checked.
struct Router {
  Napi::Env env;
  Napi::Function fn;
  int64_t experts, top_k;
  std::string error;  // set when the answer is malformed (no exception pending then)
};

int callRoute(void *ctx, const float *logits, int64_t m, int32_t *experts, float *weights) {
  Router *r = static_cast<Router *>(ctx);
  Napi::Float32Array in = Napi::Float32Array::New(r->env, static_cast<size_t>(m * r->experts));
  std::memcpy(in.Data(), logits, static_cast<size_t>(m * r->experts) * sizeof(float));
  Napi::Value out = r->fn.Call({in, Napi::Number::New(r->env, static_cast<double>(m))});
  if (r->env.IsExceptionPending()) return -1;
  const size_t need = static_cast<size_t>(m * r->top_k);
  size_t ne = 0, nw = 0;
  if (!out.IsObject() || !zy::isTyped(out.As<Napi::Object>().Get("experts"), napi_int32_array) ||
      !zy::isTyped(out.As<Napi::Object>().Get("weights"), napi_float32_array)) {
    r->error = "moe.route must return { experts: Int32Array, weights: Float32Array }";
    return -1;
  }
  const int32_t *e = zy::typedPtr<int32_t>(out.As<Napi::Object>().Get("experts"), &ne);
  const float *w = zy::typedPtr<float>(out.As<Napi::Object>().Get("weights"), &nw);
  if (ne != need || nw != need) {
    r->error = "moe.route returned " + std::to_string(ne) + " experts and " + std::to_string(nw) + " weights, needs " +
               std::to_string(need) + " of each (m × topK)";
    return -1;
  }
  for (size_t i = 0; i < need; i++) {
    for (size_t j = i - i % r->top_k; j < i; j++)
      if (e[j] == e[i]) { r->error = "moe.route chose expert " + std::to_string(e[i]) + " twice for one token"; return -1; }
    if (e[i] < 0 || e[i] >= r->experts) {
      r->error = "moe.route returned expert " + std::to_string(e[i]) + ", outside 0.." + std::to_string(r->experts - 1);
      return -1;
    }
  }
  std::memcpy(experts, e, need * sizeof(int32_t));
  std::memcpy(weights, w, need * sizeof(float));
  return 0;
}

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
  zy_decode_matrix matrix(const char *key, int64_t rows, int64_t cols) { return matrixAt(o.Get(key), key, rows, cols); }
  zy_decode_matrix matrixAt(Napi::Value v, const std::string &key, int64_t rows, int64_t cols) {
    return zy::readMatrix(a, v, key, rows, cols, false);
  }
};

// A layer's fields that do not change between steps (dims, norms, biases, matrices, MoE): read and checked once by
// decoderLayerPrepare (or per call by decoderLayerDecode). The typed arrays it points into and the route function
// stay alive through the caller, which keeps the spec with the handle (src/backend/cpu/cpu-backend.ts does).
struct PreparedLayer {
  zy_decode_layer L{};
  zy_decode_moe moe{};
  std::vector<zy_decode_matrix> experts;
  Napi::FunctionReference route;
};

// The static fields of spec s into P; false (an exception pending) when one is wrong.
bool readLayer(Spec &s, PreparedLayer &P) {
  zy_decode_layer &L = P.L;
  L.hidden = s.count("hidden"); L.n_head = s.count("nHead"); L.n_kv = s.count("nKv");
  L.head_dim = s.count("headDim"); L.ffn = s.count("ffn"); L.rot_dim = s.count("rotDim");
  L.eps = static_cast<float>(s.real("eps"));
  L.attn_scale = static_cast<float>(s.real("attnScale"));
  if (!s.ok()) return false;
  if (L.n_kv == 0 || L.n_head % L.n_kv != 0 || L.rot_dim > L.head_dim || L.rot_dim % 2 != 0)
    return s.fail("nHead must be a multiple of nKv, and rotDim even and at most headDim");
  const int64_t qd = L.n_head * L.head_dim, kd = L.n_kv * L.head_dim;
  L.rope_interleaved = s.o.Get("ropeInterleaved").ToBoolean().Value() ? 1 : 0;
  L.freqs = s.f32("freqs", L.rot_dim / 2);
  L.attn_norm = s.f32("attnNorm", L.hidden);
  L.ffn_norm = s.f32("ffnNorm", L.hidden);
  L.bq = s.f32("bq", qd, true);
  L.bk = s.f32("bk", kd, true);
  L.bv = s.f32("bv", kd, true);
  L.q_norm = s.f32("qNorm", L.head_dim, true);
  L.k_norm = s.f32("kNorm", L.head_dim, true);
  if (s.present("qkv")) {
    L.qkv = s.matrix("qkv", qd + 2 * kd, L.hidden);
  } else {
    L.q = s.matrix("q", qd, L.hidden);
    L.k = s.matrix("k", kd, L.hidden);
    L.v = s.matrix("v", kd, L.hidden);
  }
  L.o = s.matrix("o", L.hidden, qd);
  if (!s.present("moe")) {
    if (s.present("gateUp")) {
      L.gate_up = s.matrix("gateUp", 2 * L.ffn, L.hidden);
    } else {
      L.gate = s.matrix("gate", L.ffn, L.hidden);
      L.up = s.matrix("up", L.ffn, L.hidden);
    }
    L.down = s.matrix("down", L.hidden, L.ffn);
    return s.ok();
  }
  Napi::Value mv = s.o.Get("moe");
  if (!mv.IsObject()) return s.fail("moe must be an object");
  zy_decode_moe &moe = P.moe;
  Spec ms{s.a, mv.As<Napi::Object>()};
  moe.n_experts = ms.count("numExperts"), moe.top_k = ms.count("topK"), moe.ffn = ms.count("expertFfn");
  if (!s.ok()) return false;
  if (moe.n_experts < 1 || moe.top_k < 1 || moe.top_k > moe.n_experts || moe.ffn < 1)
    return s.fail("moe: numExperts, topK and expertFfn must be ≥ 1 and topK ≤ numExperts");
  moe.router = ms.matrix("router", moe.n_experts, L.hidden);
  std::vector<zy_decode_matrix> &experts = P.experts;
  experts.resize(static_cast<size_t>(3 * moe.n_experts));
  const char *names[3] = {"gate", "up", "down"};
  for (int which = 0; which < 3 && s.ok(); which++) {
    const int64_t rows = which == 2 ? L.hidden : moe.ffn, cols = which == 2 ? moe.ffn : L.hidden;
    Napi::Value list = ms.o.Get(names[which]);
    if (!list.IsArray()) {
      /* One matrix holding every expert's rows back to back ([numExperts · rows, cols], as a GGUF stacks them):
       * expert e starts e · (its bytes) in. */
      zy_decode_matrix all = s.matrixAt(list, std::string("moe.") + names[which] + " (stacked)", moe.n_experts * rows, cols);
      if (!s.ok()) break;
      const int64_t bytes = rows * (cols / zy_qtype_block_elems(all.type)) * zy_qtype_block_bytes(all.type);
      for (int64_t e = 0; e < moe.n_experts; e++)
        experts[which * moe.n_experts + e] = zy_decode_matrix{all.data + e * bytes, all.type, rows, cols};
      continue;
    }
    if (list.As<Napi::Array>().Length() != static_cast<uint32_t>(moe.n_experts)) {
      s.fail(std::string("moe.") + names[which] + " must be a stacked matrix or an array of numExperts = " + std::to_string(moe.n_experts) + " matrices");
      break;
    }
    for (uint32_t e = 0; e < moe.n_experts && s.ok(); e++) {
      const std::string key = std::string("moe.") + names[which] + "[" + std::to_string(e) + "]";
      experts[which * moe.n_experts + e] = s.matrixAt(list.As<Napi::Array>().Get(e), key, rows, cols);
    }
  }
  if (s.ok() && ms.present("shared")) {
    Napi::Value sv = ms.o.Get("shared");
    if (!sv.IsObject()) return s.fail("moe.shared must be an object { ffn, gate, up, down, gateInp } or null");
    Spec ss{s.a, sv.As<Napi::Object>()};
    moe.shared_ffn = ss.count("ffn");
    if (s.ok() && moe.shared_ffn < 1) return s.fail("moe.shared.ffn must be ≥ 1");
    moe.shared_gate = ss.matrixAt(ss.o.Get("gate"), "moe.shared.gate", moe.shared_ffn, L.hidden);
    moe.shared_up = ss.matrixAt(ss.o.Get("up"), "moe.shared.up", moe.shared_ffn, L.hidden);
    moe.shared_down = ss.matrixAt(ss.o.Get("down"), "moe.shared.down", L.hidden, moe.shared_ffn);
    Napi::Value gi = ss.o.Get("gateInp");
    if (zy::isTyped(gi, napi_float32_array)) moe.shared_gate_inp_f32 = ss.f32(gi, "moe.shared.gateInp", L.hidden, false);
    else moe.shared_gate_inp = ss.matrixAt(gi, "moe.shared.gateInp", 1, L.hidden);
  }
  Napi::Value fn = ms.o.Get("route");
  if (s.ok() && !fn.IsFunction()) s.fail("moe.route must be a function (logits, m) => { experts, weights }");
  if (!s.ok()) return false;
  moe.gate = experts.data(), moe.up = moe.gate + moe.n_experts, moe.down = moe.up + moe.n_experts;
  /* Weak: the caller's spec holds the function (a strong reference here would keep the model that made it alive
   * through the handle it holds: a cycle the collector cannot see). */
  P.route = Napi::Weak(fn.As<Napi::Function>());
  moe.route = callRoute;
  L.moe = &moe;
  return true;
}

// One step of the prepared layer P on x [m, hidden] with the sequences' caches (m = the arrays' length, or the
// expected m when it is ≥ 0).
Napi::Value runStep(zy::Args &a, PreparedLayer &P, Napi::Value xv, Napi::Value kc, Napi::Value vc, Napi::Value caps,
                    Napi::Value pos, int64_t expect_m) {
  Napi::Env env = a.env();
  zy_decode_layer L = P.L;
  const int64_t kd = L.n_kv * L.head_dim;
  if (!kc.IsArray() || !vc.IsArray() || !caps.IsArray() || !pos.IsArray()) {
    a.fail("kCaches, vCaches, capacities and positions must be arrays");
    return env.Undefined();
  }
  Napi::Array ka = kc.As<Napi::Array>(), va = vc.As<Napi::Array>(), ca = caps.As<Napi::Array>(), pa = pos.As<Napi::Array>();
  L.m = expect_m >= 0 ? expect_m : ka.Length();
  if (ka.Length() != L.m || va.Length() != L.m || ca.Length() != L.m || pa.Length() != L.m) {
    a.fail("kCaches, vCaches, capacities and positions need one entry per sequence (m = " + std::to_string(L.m) + ")");
    return env.Undefined();
  }
  float *x = a.f32(xv, "x", L.m * L.hidden);
  std::vector<void *> kp(L.m), vp(L.m);
  std::vector<int64_t> cap(L.m), at(L.m);
  /* The cache type from the first entry: Uint16Array f16, Uint8Array q8_0 blocks (head_dim a multiple of 32), else f32. */
  L.kv_type = L.m == 0 ? ZY_KV_F32 : zy::isTyped(ka.Get(0u), napi_uint16_array) ? ZY_KV_F16
              : zy::isTyped(ka.Get(0u), napi_uint8_array) ? ZY_KV_Q8_0 : ZY_KV_F32;
  if (L.kv_type == ZY_KV_Q8_0 && L.head_dim % 32 != 0) {
    a.fail("q8_0 caches need head_dim a multiple of 32, got " + std::to_string(L.head_dim));
    return env.Undefined();
  }
  for (uint32_t i = 0; i < L.m && a.ok(); i++) {
    Napi::Value c = ca.Get(i), p = pa.Get(i);
    if (!zy::isCount(c) || !zy::isCount(p) || zy::i64(p) >= zy::i64(c)) {
      a.fail("sequence " + std::to_string(i) + ": position must be below its cache capacity");
      break;
    }
    cap[i] = zy::i64(c);
    at[i] = zy::i64(p);
    const std::string ki = "kCaches[" + std::to_string(i) + "]", vi = "vCaches[" + std::to_string(i) + "]";
    if (L.kv_type == ZY_KV_F16) { /* f16 caches: every entry a Uint16Array */
      kp[i] = a.u16(ka.Get(i), ki + " (f16 cache: all caches Uint16Array)", cap[i] * kd);
      vp[i] = a.u16(va.Get(i), vi + " (f16 cache: all caches Uint16Array)", cap[i] * kd);
    } else if (L.kv_type == ZY_KV_Q8_0) { /* q8_0 caches: every entry a Uint8Array of blocks, 34 bytes per 32 values */
      kp[i] = a.array<uint8_t>(ka.Get(i), ki + " (q8_0 cache: all caches Uint8Array)", napi_uint8_array, "Uint8Array", cap[i] * kd / 32 * 34);
      vp[i] = a.array<uint8_t>(va.Get(i), vi + " (q8_0 cache: all caches Uint8Array)", napi_uint8_array, "Uint8Array", cap[i] * kd / 32 * 34);
    } else {
      kp[i] = a.f32(ka.Get(i), ki, cap[i] * kd);
      vp[i] = a.f32(va.Get(i), vi, cap[i] * kd);
    }
  }
  if (!a.ok()) return env.Undefined();
  L.k_cache = kp.data();
  L.v_cache = vp.data();
  L.cache_capacity = cap.data();
  L.pos = at.data();
  Router router{env, Napi::Function(), 0, 0, ""};
  zy_decode_moe moe = P.moe;
  if (L.moe) {
    Napi::Function fn = P.route.Value();
    if (fn.IsEmpty()) { a.fail("moe.route is gone: keep the spec given to decoderLayerPrepare alive with its handle"); return env.Undefined(); }
    router = Router{env, fn, moe.n_experts, moe.top_k, ""};
    moe.route_ctx = &router;
    L.moe = &moe;
  }
  const int rc = zy_decoder_layer_decode(&L, x);
  if (rc == -2 && !env.IsExceptionPending()) a.fail(router.error);  // a throw inside route() propagates as it is
  else if (rc == -1) a.fail("out of memory");
  return env.Undefined();
}

Napi::Value DecoderLayerDecode(const Napi::CallbackInfo &info) {
  zy::Args a(info, "decoderLayerDecode");
  if (!a.atLeast(2, "x, spec")) return a.done();
  if (!info[1].IsObject()) { a.fail("spec must be an object"); return a.done(); }
  Spec s{a, info[1].As<Napi::Object>()};
  const int64_t m = s.count("m");
  PreparedLayer P;
  if (!s.ok() || !readLayer(s, P)) return a.done();
  return runStep(a, P, info[0], s.o.Get("kCaches"), s.o.Get("vCaches"), s.o.Get("capacities"), s.o.Get("positions"), m);
}

// decoderLayerPrepare(spec without m and caches) → a handle for decoderLayerStep.
Napi::Value DecoderLayerPrepare(const Napi::CallbackInfo &info) {
  zy::Args a(info, "decoderLayerPrepare");
  if (!a.atLeast(1, "spec")) return a.done();
  if (!info[0].IsObject()) { a.fail("spec must be an object"); return a.done(); }
  Spec s{a, info[0].As<Napi::Object>()};
  PreparedLayer *P = new PreparedLayer();
  if (!readLayer(s, *P)) { delete P; return a.done(); }
  return Napi::External<PreparedLayer>::New(info.Env(), P, [](Napi::Env, PreparedLayer *p) { delete p; });
}

// decoderLayerStep(x, layer, kCaches, vCaches, capacities, positions): one step of a prepared layer (m = the number
// of caches).
Napi::Value DecoderLayerStep(const Napi::CallbackInfo &info) {
  zy::Args a(info, "decoderLayerStep");
  if (!a.atLeast(6, "x, layer, kCaches, vCaches, capacities, positions")) return a.done();
  if (!info[1].IsExternal()) { a.fail("layer must be a handle from decoderLayerPrepare"); return a.done(); }
  PreparedLayer *P = info[1].As<Napi::External<PreparedLayer>>().Data();
  return runStep(a, *P, info[0], info[2], info[3], info[4], info[5], -1);
}

// The output norm and head a stack step may end with (decoderHeadPrepare({ norm, eps, weight })): read and checked
// once; the caller keeps the object it came from alive with the handle (its arrays are pointed into).
struct PreparedHead {
  zy_decode_head head{};
  int64_t hidden = 0;
};

Napi::Value DecoderHeadPrepare(const Napi::CallbackInfo &info) {
  zy::Args a(info, "decoderHeadPrepare");
  if (!a.atLeast(1, "head")) return a.done();
  if (!info[0].IsObject()) { a.fail("head must be an object { norm, eps, weight }"); return a.done(); }
  Spec s{a, info[0].As<Napi::Object>()};
  Napi::Value wv = s.o.Get("weight");
  if (!wv.IsObject()) { a.fail("weight must be { data, type, rows, cols }"); return a.done(); }
  Napi::Object wo = wv.As<Napi::Object>();
  const int64_t rows = a.count(wo.Get("rows"), "weight.rows"), cols = a.count(wo.Get("cols"), "weight.cols");
  auto *P = new PreparedHead();
  P->hidden = cols;
  P->head.w = zy::readMatrix(a, wv, "weight", rows, cols, true);
  P->head.norm = s.f32("norm", cols);
  P->head.eps = static_cast<float>(s.real("eps"));
  if (!a.ok()) { delete P; return a.done(); }
  return Napi::External<PreparedHead>::New(info.Env(), P, [](Napi::Env, PreparedHead *p) { delete p; });
}

// What a model's stack steps keep between calls (decode_layer.h's zy_decode_state), tagged so that another handle
// passed in its place is refused instead of read as one.
const napi_type_tag kStateTag = {0x7a68697975646563ULL, 0x6f64657374617465ULL};

// decoderStackState() → a handle for decoderStackStep's state argument, freed when it is collected.
Napi::Value DecoderStackState(const Napi::CallbackInfo &info) {
  zy_decode_state *st = zy_decode_state_new();
  if (!st) { zy::Args(info, "decoderStackState").fail("out of memory"); return info.Env().Undefined(); }
  Napi::External<zy_decode_state> h = Napi::External<zy_decode_state>::New(info.Env(), st, [](Napi::Env, zy_decode_state *p) { zy_decode_state_free(p); });
  napi_type_tag_object(info.Env(), h, &kStateTag);
  return h;
}

// decoderOptions([{ prefetchKb, attnInTaskKeys, profileEvery }]) → all three now (each a non-negative integer).
Napi::Value DecoderOptions(const Napi::CallbackInfo &info) {
  zy::Args a(info, "decoderOptions");
  zy_decode_options o;
  zy_decode_options_get(&o);
  if (info.Length() > 0 && !info[0].IsUndefined()) {
    if (!info[0].IsObject()) { a.fail("options must be an object { prefetchKb, attnInTaskKeys, profileEvery }"); return a.done(); }
    Napi::Object in = info[0].As<Napi::Object>();
    const char *keys[3] = {"prefetchKb", "attnInTaskKeys", "profileEvery"};
    int64_t *fields[3] = {&o.prefetch_kb, &o.attn_in_task_keys, &o.profile_every};
    for (int i = 0; i < 3; i++)
      if (in.Has(keys[i]) && !in.Get(keys[i]).IsUndefined()) *fields[i] = a.count(in.Get(keys[i]), keys[i]);
    if (!a.ok()) return a.done();
    zy_decode_options_set(&o);
    zy_decode_options_get(&o);
  }
  Napi::Object out = Napi::Object::New(info.Env());
  out.Set("prefetchKb", Napi::Number::New(info.Env(), static_cast<double>(o.prefetch_kb)));
  out.Set("attnInTaskKeys", Napi::Number::New(info.Env(), static_cast<double>(o.attn_in_task_keys)));
  out.Set("profileEvery", Napi::Number::New(info.Env(), static_cast<double>(o.profile_every)));
  return out;
}

// decoderStackStep(x, layers, kCaches, vCaches, positions[, head, logits, rows, state]) → "rows" | "calls" (which path ran:
// decode_layer.c's products split by rows inside one pool task, or a dispatch per product; rows false: the latter).
// One single-token decode step through every
// prepared layer in order, in one call (m = positions.length sequences), then with a head handle its logits [m, vocab]
// into logits. kCaches and vCaches are layer-major (entry l·m + i: layer l's cache of sequence i), each its whole
// buffer, one type for all; a buffer's length gives its capacity. Checks everything before any layer runs; builds
// an argument's name only when it is wrong (this runs every token).
Napi::Value DecoderStackStep(const Napi::CallbackInfo &info) {
  zy::Args a(info, "decoderStackStep");
  Napi::Env env = info.Env();
  if (!a.atLeast(5, "x, layers, kCaches, vCaches, positions")) return a.done();
  if (!info[1].IsArray() || !info[2].IsArray() || !info[3].IsArray() || !info[4].IsArray()) {
    a.fail("layers, kCaches, vCaches and positions must be arrays");
    return a.done();
  }
  Napi::Array la = info[1].As<Napi::Array>(), ka = info[2].As<Napi::Array>(), va = info[3].As<Napi::Array>(),
              pa = info[4].As<Napi::Array>();
  const int64_t nl = la.Length(), m = pa.Length();
  if (nl == 0 || m == 0) return a.done();
  if (static_cast<int64_t>(ka.Length()) != nl * m || static_cast<int64_t>(va.Length()) != nl * m) {
    a.fail("kCaches and vCaches need layers × sequences = " + std::to_string(nl) + " × " + std::to_string(m) +
           " entries (layer-major), got " + std::to_string(ka.Length()) + " and " + std::to_string(va.Length()));
    return a.done();
  }
  std::vector<zy_decode_layer> L(static_cast<size_t>(nl));
  std::vector<PreparedLayer *> P(static_cast<size_t>(nl));
  for (int64_t l = 0; l < nl; l++) {
    Napi::Value h = la.Get(static_cast<uint32_t>(l));
    if (!h.IsExternal()) { a.fail("layers[" + std::to_string(l) + "] must be a handle from decoderLayerPrepare"); return a.done(); }
    P[l] = h.As<Napi::External<PreparedLayer>>().Data();
    L[l] = P[l]->L;
    if (L[l].hidden != L[0].hidden) {
      a.fail("layers[" + std::to_string(l) + "] has hidden " + std::to_string(L[l].hidden) + ", layers[0] " + std::to_string(L[0].hidden));
      return a.done();
    }
  }
  float *x = a.f32(info[0], "x", m * L[0].hidden);
  std::vector<int64_t> at(static_cast<size_t>(m)), cap(static_cast<size_t>(nl * m));
  for (uint32_t i = 0; i < m && a.ok(); i++) {
    Napi::Value p = pa.Get(i);
    if (!zy::isCount(p)) a.fail("positions[" + std::to_string(i) + "] must be a non-negative integer");
    else at[i] = zy::i64(p);
  }
  if (!a.ok()) return a.done();
  /* The cache type from the first entry: Uint16Array f16, Uint8Array q8_0 blocks, else f32. */
  Napi::Value first = ka.Get(0u);
  const int kv_type = zy::isTyped(first, napi_uint16_array) ? ZY_KV_F16 : zy::isTyped(first, napi_uint8_array) ? ZY_KV_Q8_0 : ZY_KV_F32;
  const napi_typedarray_type kind = kv_type == ZY_KV_F16 ? napi_uint16_array : kv_type == ZY_KV_Q8_0 ? napi_uint8_array : napi_float32_array;
  const char *kind_name = kv_type == ZY_KV_F16 ? "Uint16Array (f16 cache)" : kv_type == ZY_KV_Q8_0 ? "Uint8Array (q8_0 cache)" : "Float32Array";
  std::vector<void *> kp(static_cast<size_t>(nl * m)), vp(static_cast<size_t>(nl * m));
  for (int64_t l = 0; l < nl && a.ok(); l++) {
    const int64_t kd = L[l].n_kv * L[l].head_dim;
    if (kv_type == ZY_KV_Q8_0 && L[l].head_dim % 32 != 0) {
      a.fail("q8_0 caches need head_dim a multiple of 32, layer " + std::to_string(l) + " has " + std::to_string(L[l].head_dim));
      break;
    }
    /* One position's row, in the array's elements. */
    const int64_t row = kv_type == ZY_KV_Q8_0 ? kd / 32 * 34 : kd;
    for (int64_t i = 0; i < m; i++) {
      const uint32_t e = static_cast<uint32_t>(l * m + i);
      Napi::Value kv[2] = {ka.Get(e), va.Get(e)};
      size_t len[2] = {0, 0};
      void *ptr[2] = {nullptr, nullptr};
      for (int s = 0; s < 2; s++) {
        if (!zy::isTyped(kv[s], kind)) {
          a.fail(std::string(s ? "vCaches[" : "kCaches[") + std::to_string(e) + "] (layer " + std::to_string(l) + ", sequence " +
                 std::to_string(i) + ") must be a " + kind_name + " like kCaches[0]");
          break;
        }
        ptr[s] = kv_type == ZY_KV_F32 ? static_cast<void *>(zy::typedPtr<float>(kv[s], &len[s]))
                 : kv_type == ZY_KV_F16 ? static_cast<void *>(zy::typedPtr<uint16_t>(kv[s], &len[s]))
                                        : static_cast<void *>(zy::typedPtr<uint8_t>(kv[s], &len[s]));
      }
      if (!a.ok()) break;
      const int64_t c = static_cast<int64_t>(len[0] < len[1] ? len[0] : len[1]) / row;
      if (at[i] >= c) {
        a.fail("sequence " + std::to_string(i) + ": position " + std::to_string(at[i]) + " must be below its layer-" + std::to_string(l) +
               " cache capacity " + std::to_string(c));
        break;
      }
      kp[e] = ptr[0], vp[e] = ptr[1], cap[e] = c;
    }
  }
  if (!a.ok()) return a.done();
  const PreparedHead *H = nullptr;
  float *logits = nullptr;
  if (info.Length() > 5 && !info[5].IsUndefined() && !info[5].IsNull()) {
    if (!info[5].IsExternal()) { a.fail("head must be a handle from decoderHeadPrepare"); return a.done(); }
    H = info[5].As<Napi::External<PreparedHead>>().Data();
    if (H->hidden != L[0].hidden) {
      a.fail("head has hidden " + std::to_string(H->hidden) + ", the layers " + std::to_string(L[0].hidden));
      return a.done();
    }
    logits = a.f32(a.arg(6), "logits", m * H->head.w.rows);
    if (!a.ok()) return a.done();
  }
  std::vector<Router> routers;
  std::vector<zy_decode_moe> moes;
  routers.reserve(static_cast<size_t>(nl));
  moes.reserve(static_cast<size_t>(nl));
  for (int64_t l = 0; l < nl; l++) {
    zy_decode_layer &Ll = L[l];
    Ll.m = m;
    Ll.kv_type = kv_type;
    Ll.k_cache = kp.data() + l * m;
    Ll.v_cache = vp.data() + l * m;
    Ll.cache_capacity = cap.data() + l * m;
    Ll.pos = at.data();
    if (Ll.moe) {
      Napi::Function fn = P[l]->route.Value();
      if (fn.IsEmpty()) { a.fail("moe.route is gone: keep the spec given to decoderLayerPrepare alive with its handle"); return a.done(); }
      routers.push_back(Router{env, fn, P[l]->moe.n_experts, P[l]->moe.top_k, ""});
      moes.push_back(P[l]->moe);
      moes.back().route_ctx = &routers.back();
      Ll.moe = &moes.back();
    }
  }
  /* rows (argument 7, default true): false keeps the step on a pool dispatch per product (an A/B arm); "always"
   * takes the rows path even while its threads keep arriving late (tests). */
  const Napi::Value rows_arg = info.Length() > 7 ? info[7] : env.Undefined();
  const int use_rows = rows_arg.IsBoolean() && !rows_arg.As<Napi::Boolean>().Value() ? 0
                       : rows_arg.IsString() && rows_arg.As<Napi::String>().Utf8Value() == "always" ? 2 : 1;
  /* state (argument 8): the model's; absent, this step's own (scratch allocated and freed here, no step-aside). */
  zy_decode_state *state = nullptr;
  const Napi::Value state_arg = a.arg(8);
  if (!state_arg.IsUndefined() && !state_arg.IsNull()) {
    bool tagged = false;
    if (state_arg.IsExternal()) napi_check_object_type_tag(env, state_arg, &kStateTag, &tagged);
    if (!tagged) { a.fail("state must be a handle from decoderStackState"); return a.done(); }
    state = state_arg.As<Napi::External<zy_decode_state>>().Data();
  }
  zy_decode_state *own = state ? nullptr : zy_decode_state_new();
  if (!state && !own) { a.fail("out of memory"); return a.done(); }
  int64_t failed = 0;
  int ran_rows = 0;
  const int rc = zy_decoder_stack_decode(state ? state : own, L.data(), nl, x, H ? &H->head : nullptr, logits, &failed, use_rows, &ran_rows);
  zy_decode_state_free(own);
  if (rc == -2 && !env.IsExceptionPending()) {
    const Router *r = static_cast<const Router *>(L[failed].moe->route_ctx);
    a.fail("layer " + std::to_string(failed) + ": " + r->error);
  } else if (rc == -1) {
    a.fail("out of memory");
  } else if (rc != 0 && rc != -2) {
    a.fail(failed == nl ? "the head's product failed (code " + std::to_string(rc) + ")" : "layer " + std::to_string(failed) + " failed (code " + std::to_string(rc) + ")");
  }
  if (!a.ok() || env.IsExceptionPending()) return a.done();
  return Napi::String::New(env, ran_rows ? "rows" : "calls");
}

// decoderLayerMoe(h, out, layer, m): the MoE MLP of a prepared "moe-swiglu" layer over h [m, hidden] into out.
Napi::Value DecoderLayerMoe(const Napi::CallbackInfo &info) {
  zy::Args a(info, "decoderLayerMoe");
  Napi::Env env = info.Env();
  if (!a.atLeast(4, "h, out, layer, m")) return a.done();
  if (!info[2].IsExternal()) { a.fail("layer must be a handle from decoderLayerPrepare"); return a.done(); }
  PreparedLayer *P = info[2].As<Napi::External<PreparedLayer>>().Data();
  if (!P->L.moe) { a.fail("layer has no moe (a dense MLP layer)"); return a.done(); }
  const int64_t m = a.count(info[3], "m"), D = P->L.hidden;
  const float *h = a.f32(info[0], "h", m * D);
  float *out = a.f32(info[1], "out", m * D);
  if (!a.ok() || m == 0) return a.done();
  Napi::Function fn = P->route.Value();
  if (fn.IsEmpty()) { a.fail("moe.route is gone: keep the spec given to decoderLayerPrepare alive with its handle"); return env.Undefined(); }
  Router router{env, fn, P->moe.n_experts, P->moe.top_k, ""};
  zy_decode_moe moe = P->moe;
  moe.route_ctx = &router;
  const int rc = zy_moe_mlp(&moe, m, D, h, out);
  if (rc == -2 && !env.IsExceptionPending()) a.fail(router.error);
  else if (rc == -1) a.fail("out of memory");
  return env.Undefined();
}

}  // namespace

ZY_REGISTER("decoderLayerDecode", DecoderLayerDecode);
ZY_REGISTER("decoderLayerPrepare", DecoderLayerPrepare);
ZY_REGISTER("decoderLayerStep", DecoderLayerStep);
ZY_REGISTER("decoderStackStep", DecoderStackStep);
ZY_REGISTER("decoderHeadPrepare", DecoderHeadPrepare);
ZY_REGISTER("decoderStackState", DecoderStackState);
ZY_REGISTER("decoderOptions", DecoderOptions);
ZY_REGISTER("decoderLayerMoe", DecoderLayerMoe);
// An addon that reads moe.shared says so (an older one would ignore the field and leave the shared expert out).
ZY_REGISTER("decoderLayerMoeShared", DecoderLayerMoe);

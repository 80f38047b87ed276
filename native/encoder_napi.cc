// Node-API glue for native/encoder_layer.c:
//   encoderLayerForward(x: Float32Array, spec: object): the "encoder-layer-forward" fused op (src/backend/backend.ts)
// spec: { n, hidden, nHead, headDim, ffn, eps, attnScale, act ("gelu_erf" | "gelu_tanh" | "relu"),
//         seqStarts, seqLengths (Int32Array, one entry per sequence: its packed rows [start, start + length)),
//         q, k, v, o, up, down (matrices: { data: Uint8Array, type: string (f32 or an encoded type), rows, cols,
//         panels?: { data: Uint8Array, type: "f32" | "f16" | "bf16" }: the matrix packed once by gemmPackWeights }),
//         bq, bk, bv, bo, bUp, bDown, ln1Weight, ln1Bias, ln2Weight, ln2Bias (Float32Array) }
// Every size is checked against the dims; a bad one throws TypeError naming the field and what was expected.
#include "zy_args.h"
#include "zy_matrix_arg.h"
#include "encoder_layer.h"
#include "gemm.h"
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
  // The matrix's optional `panels` ({ data: Uint8Array, type: "f32" | "f16" | "bf16" }, from gemmPackWeights): NULL
  // when absent; checked against the matrix's type and dims.
  const void *panels(const char *key, const zy_decode_matrix &w, int *elem) {
    if (!a.ok()) return nullptr;
    Napi::Value pv = o.Get(key).As<Napi::Object>().Get("panels");
    if (pv.IsUndefined() || pv.IsNull()) return nullptr;
    return zy::readPanels(a, pv, std::string(key) + ".panels", w.type, w.rows, w.cols, elem);
  }
};

int actCode(const std::string &name) {
  if (name == "relu") return ZY_RELU;
  if (name == "gelu_tanh") return ZY_GELU_TANH;
  if (name == "gelu_erf") return ZY_GELU_ERF;
  return -1;
}

Napi::Value EncoderLayerForward(const Napi::CallbackInfo &info) {
  zy::Args a(info, "encoderLayerForward");
  Napi::Env env = info.Env();
  if (!a.atLeast(2, "x, spec")) return a.done();
  if (!info[1].IsObject()) { a.fail("spec must be an object"); return a.done(); }
  Spec s{a, info[1].As<Napi::Object>()};
  zy_encoder_layer L{};
  L.n = s.count("n"); L.hidden = s.count("hidden"); L.n_head = s.count("nHead");
  L.head_dim = s.count("headDim"); L.ffn = s.count("ffn");
  L.eps = static_cast<float>(a.number(s.o.Get("eps"), "eps"));
  L.attn_scale = static_cast<float>(a.number(s.o.Get("attnScale"), "attnScale"));
  L.act = actCode(a.string(s.o.Get("act"), "act", "\"gelu_erf\""));
  if (!s.ok()) return env.Undefined();
  if (L.act < 0) { s.fail("act must be gelu_erf, gelu_tanh or relu"); return env.Undefined(); }
  if (L.n_head == 0 || L.n_head * L.head_dim != L.hidden) {
    s.fail("nHead × headDim (" + std::to_string(L.n_head) + " × " + std::to_string(L.head_dim) + ") must equal hidden (" +
           std::to_string(L.hidden) + ")");
    return env.Undefined();
  }
  const int64_t D = L.hidden, F = L.ffn;
  float *x = const_cast<float *>(a.f32(info[0], "x", L.n * D, false));
  L.q = s.matrix("q", D, D);
  L.k = s.matrix("k", D, D);
  L.v = s.matrix("v", D, D);
  L.o = s.matrix("o", D, D);
  L.up = s.matrix("up", F, D);
  L.down = s.matrix("down", D, F);
  const char *names[6] = {"q", "k", "v", "o", "up", "down"};
  const zy_decode_matrix *ms[6] = {&L.q, &L.k, &L.v, &L.o, &L.up, &L.down};
  for (int i = 0; i < 6; i++) L.panels[i] = s.panels(names[i], *ms[i], &L.panel_elem[i]);
  L.bq = s.f32("bq", D); L.bk = s.f32("bk", D); L.bv = s.f32("bv", D); L.bo = s.f32("bo", D);
  L.bup = s.f32("bUp", F); L.bdown = s.f32("bDown", D);
  L.ln1_w = s.f32("ln1Weight", D); L.ln1_b = s.f32("ln1Bias", D);
  L.ln2_w = s.f32("ln2Weight", D); L.ln2_b = s.f32("ln2Bias", D);
  size_t n_seq = 0, n_len = 0;
  const int32_t *starts = a.array<int32_t>(s.o.Get("seqStarts"), "seqStarts", napi_int32_array, "Int32Array", 0, false, &n_seq);
  const int32_t *lens = a.array<int32_t>(s.o.Get("seqLengths"), "seqLengths", napi_int32_array, "Int32Array", 0, false, &n_len);
  if (!s.ok()) return env.Undefined();
  if (n_seq != n_len || n_seq == 0) { s.fail("seqStarts and seqLengths must have one entry per sequence (at least one)"); return env.Undefined(); }
  std::vector<int64_t> st(n_seq), ln(n_seq);
  int64_t end = 0;
  for (size_t i = 0; i < n_seq; i++) {
    if (starts[i] < end || lens[i] < 1 || static_cast<int64_t>(starts[i]) + lens[i] > L.n) {
      s.fail("sequence " + std::to_string(i) + ": rows [" + std::to_string(starts[i]) + ", " + std::to_string(static_cast<int64_t>(starts[i]) + lens[i]) +
             ") must be non-empty, after the previous sequence's and within n = " + std::to_string(L.n));
      return env.Undefined();
    }
    st[i] = starts[i];
    ln[i] = lens[i];
    end = st[i] + ln[i];
  }
  L.n_seq = static_cast<int64_t>(n_seq);
  L.seq_start = st.data();
  L.seq_len = ln.data();
  if (zy_encoder_layer_forward(&L, x) != 0) a.fail("out of memory");
  return env.Undefined();
}

}  // namespace

ZY_REGISTER("encoderLayerForward", EncoderLayerForward);

// Node-API glue for the backend's non-GEMM kernels (ops_kernels.h). Checks argument types and (cheaply) that
// each array holds what the sizes imply, through zy_args.h like every glue file — the TypeScript cpu backend already validated everything with its
// messages, so these checks only guard against direct misuse — then calls the kernel on the JS thread (kernels
// use the thread pool themselves).
// Leaves out: the kernels, GEMM and quantized glue (their own *_napi.cc files).
#include "zy_args.h"
#include "ops_kernels.h"

namespace {

using zy::Args;

napi_typedarray_type storageKind(const Napi::Value &v) {
  return v.IsTypedArray() ? v.As<Napi::TypedArray>().TypedArrayType() : napi_int8_array;
}

// opsCopyStrided, or (add) opsAddStrided: dst view += src view, Float32Array only.
Napi::Value StridedWalk(const Napi::CallbackInfo &info, bool add) {
  Args a(info, add ? "opsAddStrided" : "opsCopyStrided");
  std::vector<int64_t> ss, ds, shape;
  a.ints(2, ss); a.ints(5, ds); a.ints(6, shape);
  if (!a.ok()) return a.done();
  if (ss.size() != shape.size() || ds.size() != shape.size()) { a.fail("strides and shape ranks differ"); return a.done(); }
  napi_typedarray_type kind = storageKind(info[0]);
  if (add && (kind != napi_float32_array || storageKind(info[3]) != napi_float32_array)) {
    a.fail("src and dst must both be Float32Array");
    return a.done();
  }
  if (kind != storageKind(info[3]) || (kind != napi_float32_array && kind != napi_uint16_array && kind != napi_int32_array)) {
    a.fail("src and dst must be the same kind of Float32Array, Uint16Array or Int32Array");
    return a.done();
  }
  size_t sl = 0, dl = 0;
  void *src = zy::typedPtr<uint8_t>(info[0], &sl), *dst = zy::typedPtr<uint8_t>(info[3], &dl);
  int64_t so = a.num(1), dof = a.num(4);
  // Bounds of both views (the TS layer checked them too).
  int64_t slo = so, shi = so, dlo = dof, dhi = dof;
  for (size_t d = 0; d < shape.size(); d++) {
    if (shape[d] <= 0) return a.done();
    int64_t rs = (shape[d] - 1) * ss[d], rd = (shape[d] - 1) * ds[d];
    if (rs > 0) shi += rs; else slo += rs;
    if (rd > 0) dhi += rd; else dlo += rd;
  }
  if (slo < 0 || dlo < 0 || shi >= (int64_t)sl || dhi >= (int64_t)dl) { a.fail("view out of bounds"); return a.done(); }
  if (!a.ok()) return a.done();
  if (add) zy_op_add_strided((const float *)src, so, ss.data(), (float *)dst, dof, ds.data(), shape.data(), (int)shape.size());
  else zy_op_copy_strided(src, so, ss.data(), dst, dof, ds.data(), shape.data(), (int)shape.size(), kind == napi_uint16_array ? 2 : 4);
  return a.done();
}

Napi::Value CopyStrided(const Napi::CallbackInfo &info) { return StridedWalk(info, false); }
Napi::Value AddStrided(const Napi::CallbackInfo &info) { return StridedWalk(info, true); }

int dtypeKindOk(int code, napi_typedarray_type kind) {
  return (code == 0 && kind == napi_float32_array) || ((code == 1 || code == 2) && kind == napi_uint16_array) ||
         (code == 3 && kind == napi_int32_array);
}

Napi::Value Cast(const Napi::CallbackInfo &info) {
  Args a(info, "opsCast");
  int64_t st = a.num(1), dt = a.num(3), n = a.num(4);
  if (!a.ok()) return a.done();
  if (!dtypeKindOk((int)st, storageKind(info[0])) || !dtypeKindOk((int)dt, storageKind(info[2]))) {
    a.fail("storage types do not match the dtype codes");
    return a.done();
  }
  size_t sl = 0, dl = 0;
  void *src = zy::typedPtr<uint8_t>(info[0], &sl), *dst = zy::typedPtr<uint8_t>(info[2], &dl);
  if ((int64_t)sl < n || (int64_t)dl < n) { a.fail("arrays shorter than n"); return a.done(); }
  zy_op_cast(src, (int)st, dst, (int)dt, n);
  return a.done();
}

Napi::Value Unary(const Napi::CallbackInfo &info) {
  Args a(info, "opsUnary");
  int64_t op = a.num(0), n = a.num(3);
  float *x = a.f32(1, n), *y = a.f32(2, n);
  if (a.ok() && op > 13) a.fail("unknown unary op code");
  if (a.ok()) zy_op_unary((int)op, x, y, n);
  return a.done();
}

Napi::Value UnaryBackward(const Napi::CallbackInfo &info) {
  Args a(info, "opsUnaryBackward");
  int64_t op = a.num(0), n = a.num(4);
  float *x = a.f32(1, n), *dy = a.f32(2, n), *dx = a.f32(3, n);
  if (a.ok() && op > 13) a.fail("unknown unary op code");
  if (a.ok()) zy_op_unary_bw((int)op, x, dy, dx, n, a.flag(5));
  return a.done();
}

Napi::Value Binary(const Napi::CallbackInfo &info) {
  Args a(info, "opsBinary");
  std::vector<int64_t> as, bs, shape;
  int64_t op = a.num(0);
  a.ints(2, as); a.ints(4, bs); a.ints(6, shape);
  if (!a.ok()) return a.done();
  if (as.size() != shape.size() || bs.size() != shape.size()) { a.fail("strides and shape ranks differ"); return a.done(); }
  if (op > 6) { a.fail("unknown binary op code"); return a.done(); }
  int64_t total = 1, aHi = 0, bHi = 0;
  bool neg = false;
  for (size_t d = 0; d < shape.size(); d++) {
    total *= shape[d];
    if (shape[d] > 0) { aHi += (shape[d] - 1) * as[d]; bHi += (shape[d] - 1) * bs[d]; }
    neg = neg || as[d] < 0 || bs[d] < 0 || shape[d] < 0;
  }
  if (neg) { a.fail("negative strides or dims"); return a.done(); }
  if (total == 0) return a.done();
  float *pa = a.f32(1, aHi + 1), *pb = a.f32(3, bHi + 1), *out = a.f32(5, total);
  if (a.ok()) zy_op_binary((int)op, pa, as.data(), pb, bs.data(), out, shape.data(), (int)shape.size());
  return a.done();
}

Napi::Value Scale(const Napi::CallbackInfo &info) {
  Args a(info, "opsScale");
  int64_t n = a.num(2);
  float *x = a.f32(0, n), *y = a.f32(1, n);
  float alpha = a.real(3), beta = a.real(4);
  if (a.ok()) zy_op_scale(x, y, n, alpha, beta);
  return a.done();
}

Napi::Value Axpy(const Napi::CallbackInfo &info) {
  Args a(info, "opsAxpy");
  float alpha = a.real(0);
  int64_t n = a.num(3);
  float *x = a.f32(1, n), *y = a.f32(2, n);
  if (a.ok()) zy_op_axpy(alpha, x, y, n);
  return a.done();
}

Napi::Value Reduce(const Napi::CallbackInfo &info, bool max) {
  Args a(info, max ? "opsReduceMax" : "opsReduceSum");
  int64_t outer = a.num(2), size = a.num(3), inner = a.num(4);
  float *x = a.f32(0, outer * size * inner), *out = a.f32(1, outer * inner);
  if (!a.ok()) return a.done();
  if (max) zy_op_reduce_max(x, out, outer, size, inner);
  else zy_op_reduce_sum(x, out, outer, size, inner, a.flag(5));
  return a.done();
}
Napi::Value ReduceSum(const Napi::CallbackInfo &info) { return Reduce(info, false); }
Napi::Value ReduceMax(const Napi::CallbackInfo &info) { return Reduce(info, true); }

Napi::Value ReadChecksum(const Napi::CallbackInfo &info) {
  Args a(info, "opsReadChecksum");
  int64_t n = a.num(1), variant = a.num(2);
  int32_t *x = a.i32(0, n);
  if (a.ok() && variant > ZY_READ_NONTEMPORAL) a.fail("variant must be 0 (plain), 1 (prefetch) or 2 (non-temporal), got " + std::to_string(variant));
  if (!a.ok()) return a.done();
  return Napi::Number::New(info.Env(), (double)zy_op_read_checksum(x, n, (int)variant));
}

Napi::Value Softmax(const Napi::CallbackInfo &info) {
  Args a(info, "opsSoftmax");
  int64_t rows = a.num(2), cols = a.num(3);
  float *x = a.f32(0, rows * cols), *y = a.f32(1, rows * cols);
  if (a.ok()) zy_op_softmax(x, y, rows, cols, a.flag(4));
  return a.done();
}

Napi::Value SoftmaxBackward(const Napi::CallbackInfo &info) {
  Args a(info, "opsSoftmaxBackward");
  int64_t rows = a.num(3), cols = a.num(4);
  float *y = a.f32(0, rows * cols), *dy = a.f32(1, rows * cols), *dx = a.f32(2, rows * cols);
  if (a.ok()) zy_op_softmax_bw(y, dy, dx, rows, cols, a.flag(5));
  return a.done();
}

Napi::Value LayerNorm(const Napi::CallbackInfo &info) {
  Args a(info, "opsLayerNorm");
  int64_t rows = a.num(6), cols = a.num(7);
  float *x = a.f32(0, rows * cols), *w = a.f32(1, cols, true), *b = a.f32(2, cols, true), *y = a.f32(3, rows * cols);
  float *mean = a.f32(4, rows), *rstd = a.f32(5, rows);
  float eps = a.real(8);
  if (a.ok()) zy_op_layernorm(x, w, b, y, mean, rstd, rows, cols, eps);
  return a.done();
}

Napi::Value LayerNormBackward(const Napi::CallbackInfo &info) {
  Args a(info, "opsLayerNormBackward");
  int64_t rows = a.num(8), cols = a.num(9);
  float *x = a.f32(0, rows * cols), *w = a.f32(1, cols, true), *mean = a.f32(2, rows), *rstd = a.f32(3, rows);
  float *dy = a.f32(4, rows * cols), *dx = a.f32(5, rows * cols), *dw = a.f32(6, cols, true), *db = a.f32(7, cols, true);
  if (a.ok() && zy_op_layernorm_bw(x, w, mean, rstd, dy, dx, dw, db, rows, cols) != 0) a.fail("out of memory");
  return a.done();
}

Napi::Value RmsNorm(const Napi::CallbackInfo &info) {
  Args a(info, "opsRmsNorm");
  int64_t rows = a.num(4), cols = a.num(5);
  float *x = a.f32(0, rows * cols), *w = a.f32(1, cols, true), *y = a.f32(2, rows * cols), *rstd = a.f32(3, rows);
  float eps = a.real(6);
  if (a.ok()) zy_op_rmsnorm(x, w, y, rstd, rows, cols, eps);
  return a.done();
}

Napi::Value RmsNormBackward(const Napi::CallbackInfo &info) {
  Args a(info, "opsRmsNormBackward");
  int64_t rows = a.num(6), cols = a.num(7);
  float *x = a.f32(0, rows * cols), *w = a.f32(1, cols, true), *rstd = a.f32(2, rows), *dy = a.f32(3, rows * cols);
  float *dx = a.f32(4, rows * cols), *dw = a.f32(5, cols, true);
  if (a.ok() && zy_op_rmsnorm_bw(x, w, rstd, dy, dx, dw, rows, cols) != 0) a.fail("out of memory");
  return a.done();
}

Napi::Value Rope(const Napi::CallbackInfo &info) {
  Args a(info, "opsRope");
  int64_t b = a.num(1), t = a.num(2), heads = a.num(3), hd = a.num(4), rot = a.num(5), pos0 = a.num(6);
  if (a.ok() && (rot % 2 != 0 || rot > hd)) a.fail("rotDim must be even and ≤ headDim");
  float *x = a.f32(0, b * t * heads * hd), *freqs = a.f32(7, rot / 2);
  if (a.ok() && zy_op_rope(x, b, t, heads, hd, rot, pos0, freqs, a.flag(8), a.flag(9)) != 0) a.fail("out of memory");
  return a.done();
}

// Every id names a whole row of the table at argument `table` (dim floats a row); fails with "id out of range".
bool idsInTable(Args &a, const int32_t *ids, int64_t n, int64_t dim, size_t table) {
  size_t tl = 0;
  zy::typedPtr<float>(a.arg(table), &tl);
  for (int64_t i = 0; i < n; i++) {
    if (ids[i] < 0 || (int64_t)(ids[i] + 1) * dim > (int64_t)tl) { a.fail("id out of range"); return false; }
  }
  return true;
}

Napi::Value Embedding(const Napi::CallbackInfo &info) {
  Args a(info, "opsEmbedding");
  int64_t n = a.num(3), dim = a.num(4);
  float *table = a.f32(0, 0);
  int32_t *ids = a.i32(1, n);
  float *out = a.f32(2, n * dim);
  if (!a.ok() || !idsInTable(a, ids, n, dim, 0)) return a.done();
  zy_op_embedding(table, ids, out, n, dim);
  return a.done();
}

Napi::Value EmbeddingBackward(const Napi::CallbackInfo &info) {
  Args a(info, "opsEmbeddingBackward");
  int64_t n = a.num(3), dim = a.num(4);
  int32_t *ids = a.i32(0, n);
  float *dout = a.f32(1, n * dim), *dtable = a.f32(2, 0);
  if (!a.ok() || !idsInTable(a, ids, n, dim, 2)) return a.done();
  zy_op_embedding_bw(ids, dout, dtable, n, dim);
  return a.done();
}

struct AttnDims { int64_t b, tq, tk, nh, nkv, d, cap; float scale; bool causal; };

bool attnDims(Args &a, size_t i, AttnDims &p) {
  p.b = a.num(i); p.tq = a.num(i + 1); p.tk = a.num(i + 2); p.nh = a.num(i + 3); p.nkv = a.num(i + 4);
  p.d = a.num(i + 5); p.scale = a.real(i + 6); p.causal = a.flag(i + 7); p.cap = a.num(i + 8);
  if (!a.ok()) return false;
  if (p.nkv == 0 || p.nh % p.nkv != 0) { a.fail("nHead must be a multiple of nKvHead"); return false; }
  if (p.cap < p.tk || (p.causal && p.tk < p.tq)) { a.fail("need kvCapacity ≥ tk and, when causal, tk ≥ tq"); return false; }
  if (p.d > 16384) { a.fail("headDim above 16384 is not supported"); return false; }
  return true;
}

Napi::Value Attention(const Napi::CallbackInfo &info) {
  Args a(info, "opsAttention");
  AttnDims p;
  if (!attnDims(a, 5, p)) return a.done();
  int64_t qn = p.b * p.tq * p.nh * p.d, kvn = p.b * p.cap * p.nkv * p.d;
  /* argument 14, the k/v type: 0 f32 (Float32Array), 1 f16 (Uint16Array of half bits), 2 q8_0 (Uint8Array of blocks) */
  const int64_t kv_type = info.Length() > 14 ? a.num(14) : 0;
  if (a.ok() && (kv_type > 2 || (kv_type == 2 && p.d % 32 != 0))) a.fail("k/v type must be 0 (f32), 1 (f16) or 2 (q8_0, headDim a multiple of 32)");
  float *q = a.f32(0, qn), *out = a.f32(3, qn), *lse = a.f32(4, p.b * p.nh * p.tq);
  const void *k = nullptr, *v = nullptr;
  if (kv_type == 2) {
    k = a.array<uint8_t>(a.arg(1), "argument 1", napi_uint8_array, "Uint8Array", kvn / 32 * 34);
    v = a.array<uint8_t>(a.arg(2), "argument 2", napi_uint8_array, "Uint8Array", kvn / 32 * 34);
  } else {
    k = kv_type == 1 ? (const void *)a.u16(1, kvn) : (const void *)a.f32(1, kvn);
    v = kv_type == 1 ? (const void *)a.u16(2, kvn) : (const void *)a.f32(2, kvn);
  }
  if (a.ok()) zy_op_attention(q, k, v, (int)kv_type, out, lse, p.b, p.tq, p.tk, p.nh, p.nkv, p.d, p.scale, p.causal, p.cap);
  return a.done();
}

Napi::Value AttentionBackward(const Napi::CallbackInfo &info) {
  Args a(info, "opsAttentionBackward");
  AttnDims p;
  if (!attnDims(a, 9, p)) return a.done();
  int64_t qn = p.b * p.tq * p.nh * p.d, kvn = p.b * p.cap * p.nkv * p.d;
  float *q = a.f32(0, qn), *k = a.f32(1, kvn), *v = a.f32(2, kvn), *out = a.f32(3, qn), *lse = a.f32(4, p.b * p.nh * p.tq);
  float *dout = a.f32(5, qn), *dq = a.f32(6, qn), *dk = a.f32(7, kvn), *dv = a.f32(8, kvn);
  if (a.ok()) zy_op_attention_bw(q, k, v, out, lse, dout, dq, dk, dv, p.b, p.tq, p.tk, p.nh, p.nkv, p.d, p.scale, p.causal, p.cap);
  return a.done();
}

bool targetsOk(Args &a, const int32_t *targets, int64_t rows, int64_t cols, int32_t ignore) {
  for (int64_t r = 0; r < rows; r++) {
    if (targets[r] != ignore && (targets[r] < 0 || targets[r] >= cols)) { a.fail("target out of range"); return false; }
  }
  return true;
}

Napi::Value CrossEntropy(const Napi::CallbackInfo &info) {
  Args a(info, "opsCrossEntropy");
  int64_t rows = a.num(3), cols = a.num(4);
  int32_t ignore = (int32_t)a.inum(5);
  float *logits = a.f32(0, rows * cols), *losses = a.f32(2, rows);
  int32_t *targets = a.i32(1, rows);
  if (!a.ok() || !targetsOk(a, targets, rows, cols, ignore)) return a.done();
  return Napi::Number::New(info.Env(), (double)zy_op_cross_entropy(logits, targets, losses, rows, cols, ignore));
}

Napi::Value CrossEntropyBackward(const Napi::CallbackInfo &info) {
  Args a(info, "opsCrossEntropyBackward");
  int64_t rows = a.num(4), cols = a.num(5);
  int32_t ignore = (int32_t)a.inum(6);
  float *logits = a.f32(0, rows * cols), *dloss = a.f32(2, rows), *dlogits = a.f32(3, rows * cols);
  int32_t *targets = a.i32(1, rows);
  if (!a.ok() || !targetsOk(a, targets, rows, cols, ignore)) return a.done();
  zy_op_cross_entropy_bw(logits, targets, dloss, dlogits, rows, cols, ignore);
  return a.done();
}

Napi::Value Swiglu(const Napi::CallbackInfo &info) {
  Args a(info, "opsSwiglu");
  int64_t n = a.num(3);
  float *g = a.f32(0, n), *u = a.f32(1, n), *out = a.f32(2, n);
  if (a.ok()) zy_op_swiglu(g, u, out, n);
  return a.done();
}

Napi::Value SwigluBackward(const Napi::CallbackInfo &info) {
  Args a(info, "opsSwigluBackward");
  int64_t n = a.num(5);
  float *g = a.f32(0, n), *u = a.f32(1, n), *dout = a.f32(2, n), *dg = a.f32(3, n), *du = a.f32(4, n);
  if (a.ok()) zy_op_swiglu_bw(g, u, dout, dg, du, n);
  return a.done();
}

Napi::Value Adamw(const Napi::CallbackInfo &info) {
  Args a(info, "opsAdamw");
  int64_t n = a.num(4);
  float *param = a.f32(0, n), *grad = a.f32(1, n), *m = a.f32(2, n), *v = a.f32(3, n);
  float lr = a.real(5), b1 = a.real(6), b2 = a.real(7), eps = a.real(8), wd = a.real(9);
  int64_t step = a.num(10);
  if (a.ok() && step < 1) a.fail("step must be ≥ 1");
  if (a.ok()) zy_op_adamw(param, grad, m, v, n, lr, b1, b2, eps, wd, step, a.flag(11));
  return a.done();
}

Napi::Value AdviseHugePages(const Napi::CallbackInfo &info) {
  Args a(info, "opsAdviseHugePages");
  if (!a.ok()) return a.done();
  if (!info[0].IsTypedArray()) {
    a.fail("expected a typed array");
    return a.done();
  }
  Napi::TypedArray t = info[0].As<Napi::TypedArray>();
  void *p = static_cast<uint8_t *>(t.ArrayBuffer().Data()) + t.ByteOffset();
  return Napi::Boolean::New(info.Env(), zy_advise_huge_pages(p, t.ByteLength()) == 1);
}

}  // namespace

ZY_REGISTER("opsCopyStrided", CopyStrided);
ZY_REGISTER("opsAddStrided", AddStrided);
ZY_REGISTER("opsCast", Cast);
ZY_REGISTER("opsAdviseHugePages", AdviseHugePages);
ZY_REGISTER("opsUnary", Unary);
ZY_REGISTER("opsUnaryBackward", UnaryBackward);
ZY_REGISTER("opsBinary", Binary);
ZY_REGISTER("opsScale", Scale);
ZY_REGISTER("opsAxpy", Axpy);
ZY_REGISTER("opsReduceSum", ReduceSum);
ZY_REGISTER("opsReduceMax", ReduceMax);
ZY_REGISTER("opsReadChecksum", ReadChecksum);
ZY_REGISTER("opsSoftmax", Softmax);
ZY_REGISTER("opsSoftmaxBackward", SoftmaxBackward);
ZY_REGISTER("opsLayerNorm", LayerNorm);
ZY_REGISTER("opsLayerNormBackward", LayerNormBackward);
ZY_REGISTER("opsRmsNorm", RmsNorm);
ZY_REGISTER("opsRmsNormBackward", RmsNormBackward);
ZY_REGISTER("opsRope", Rope);
ZY_REGISTER("opsEmbedding", Embedding);
ZY_REGISTER("opsEmbeddingBackward", EmbeddingBackward);
ZY_REGISTER("opsAttention", Attention);
ZY_REGISTER("opsAttentionBackward", AttentionBackward);
ZY_REGISTER("opsCrossEntropy", CrossEntropy);
ZY_REGISTER("opsCrossEntropyBackward", CrossEntropyBackward);
ZY_REGISTER("opsSwiglu", Swiglu);
ZY_REGISTER("opsSwigluBackward", SwigluBackward);
ZY_REGISTER("opsAdamw", Adamw);

// Node-API glue for the decode kernels' variant table (native/zy_tune.h):
//   tuneVariants(type): the names of the variants the tuner may pick for this weight type ([] when none; index 0 is
//     the fixed fallback)
//   tuneSet(type, rows, cols, variant) / tuneGet(type, rows, cols) / tuneClear(): the per-shape choices
//   tuneTime(ring: Uint8Array, type, rows, cols, copies, variant, passes): ns per matrix, best pass, of one-row
//     products over `copies` matrices laid end to end in ring, with that variant forced
// Type names as quantMatmul's (f32, f16, bf16, q8_0, …, q4_k_r16, q6_k_r16). Arguments validated through zy_args.h.
#include "zy_args.h"
#include "quant.h"
#include "zy_tune.h"
#include <string>

namespace {

int typeArg(zy::Args &a, size_t i) {
  const std::string name = a.string(a.arg(i), "type", "\"f16\"");
  if (!a.ok()) return -1;
  const int t = zy_qtype_from_name(name.c_str());
  if (t < 0) a.fail("unknown weight type \"" + name + "\" (the matmul types: f32, f16, bf16, q8_0, …, q6_k_r16)");
  return t;
}

// The shape arguments at i, i+1 with the variant at i+2 (when withVariant) checked against the type's family.
bool shapeArgs(zy::Args &a, int t, size_t i, int64_t *rows, int64_t *cols) {
  *rows = a.count(a.arg(i), "rows");
  *cols = a.count(a.arg(i + 1), "cols");
  if (!a.ok()) return false;
  if (*cols % zy_qtype_block_elems(t) != 0)
    return a.fail("cols = " + std::to_string(*cols) + " must be a multiple of the " + zy_qtype_name(t) + " block size " +
                  std::to_string(zy_qtype_block_elems(t)));
  return true;
}

bool variantArg(zy::Args &a, int t, size_t i, int *v) {
  const int64_t n = a.count(a.arg(i), "variant");
  if (!a.ok()) return false;
  const int have = zy_tune_variant_count(zy_tune_family(t));
  if (n >= have)
    return a.fail("variant " + std::to_string(n) + " out of range: " + zy_qtype_name(t) + " has " + std::to_string(have) +
                  " (tuneVariants lists them)");
  *v = (int)n;
  return true;
}

Napi::Value TuneVariants(const Napi::CallbackInfo &info) {
  zy::Args a(info, "tuneVariants");
  if (!a.atLeast(1, "type")) return a.done();
  const int t = typeArg(a, 0);
  if (!a.ok()) return a.done();
  const int family = zy_tune_family(t), n = zy_tune_variant_count(family);
  Napi::Array out = Napi::Array::New(a.env(), n);
  for (int v = 0; v < n; v++) out.Set(v, Napi::String::New(a.env(), zy_tune_variant(family, v)->name));
  return out;
}

Napi::Value TuneSet(const Napi::CallbackInfo &info) {
  zy::Args a(info, "tuneSet");
  if (!a.atLeast(4, "type, rows, cols, variant")) return a.done();
  const int t = typeArg(a, 0);
  int64_t rows = 0, cols = 0;
  int v = 0;
  if (!a.ok() || !shapeArgs(a, t, 1, &rows, &cols) || !variantArg(a, t, 3, &v)) return a.done();
  if (zy_tune_set(t, rows, cols, v) != 0) a.fail("the table is full (64 shapes); call tuneClear first");
  return a.done();
}

Napi::Value TuneGet(const Napi::CallbackInfo &info) {
  zy::Args a(info, "tuneGet");
  if (!a.atLeast(3, "type, rows, cols")) return a.done();
  const int t = typeArg(a, 0);
  int64_t rows = 0, cols = 0;
  if (!a.ok() || !shapeArgs(a, t, 1, &rows, &cols)) return a.done();
  return Napi::Number::New(a.env(), zy_tune_get(t, rows, cols));
}

Napi::Value TuneClear(const Napi::CallbackInfo &info) {
  zy_tune_clear();
  return info.Env().Undefined();
}

Napi::Value TuneTime(const Napi::CallbackInfo &info) {
  zy::Args a(info, "tuneTime");
  if (!a.atLeast(7, "ring, type, rows, cols, copies, variant, passes")) return a.done();
  size_t len = 0;
  const uint8_t *ring = a.array<uint8_t>(a.arg(0), "ring", napi_uint8_array, "Uint8Array of weight blocks", 0, false, &len);
  const int t = typeArg(a, 1);
  int64_t rows = 0, cols = 0;
  int v = 0;
  if (!a.ok() || !shapeArgs(a, t, 2, &rows, &cols) || !variantArg(a, t, 5, &v)) return a.done();
  const int64_t copies = a.count(a.arg(4), "copies"), passes = a.count(a.arg(6), "passes");
  if (!a.ok()) return a.done();
  const int64_t bytes = rows * (cols / zy_qtype_block_elems(t)) * zy_qtype_block_bytes(t);
  if (copies < 1 || passes < 1 || passes > 1000) a.fail("copies must be ≥ 1 and passes in 1..1000");
  else if ((int64_t)len < copies * bytes)
    a.fail("ring has " + std::to_string(len) + " bytes, expected copies · " + std::to_string(bytes) + " = " + std::to_string(copies * bytes));
  else if (zy_qtype_is_r16(t) && rows % 16 != 0) a.fail("an r16 matrix has a multiple of 16 rows, got " + std::to_string(rows));
  if (!a.ok()) return a.done();
  const double ns = zy_tune_time(ring, t, rows, cols, copies, v, (int)passes);
  if (ns < 0) {
    Napi::Error::New(a.env(), a.fn() + ": out of memory for the activations").ThrowAsJavaScriptException();
    return a.done();
  }
  return Napi::Number::New(a.env(), ns);
}

}  // namespace

ZY_REGISTER("tuneVariants", TuneVariants);
ZY_REGISTER("tuneSet", TuneSet);
ZY_REGISTER("tuneGet", TuneGet);
ZY_REGISTER("tuneClear", TuneClear);
ZY_REGISTER("tuneTime", TuneTime);

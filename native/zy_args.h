// Argument checking for every Node-API glue file (native/*_napi.cc, addon.cc), one style everywhere: a glue
// function makes one Args for its call, reads each argument through it (a value with its name: a positional
// argument, an object field, an array entry; or, where TypeScript already checked it, by position), then returns
// if !ok(). Every check names the argument; the first failure
// throws a TypeError "<fn>: <argument> <what is wrong>" and turns every later check into a no-op that returns a
// harmless value, so a glue function checks everything in a row and tests ok() once before touching memory.
// Leaves out: what the kernels require beyond types and lengths (each glue file checks its own dims, through fail()).
#ifndef ZY_ARGS_H
#define ZY_ARGS_H
#include "zy_addon.h"
#include "gemm.h" /* zy_pw_bytes, ZY_PW_* */
#include <cstdint>
#include <string>

namespace zy {

class Args {
 public:
  Args(const Napi::CallbackInfo &info, std::string fn) : info_(info), fn_(std::move(fn)) {}

  bool ok() const { return ok_; }
  Napi::Env env() const { return info_.Env(); }
  const std::string &fn() const { return fn_; }
  /** What a glue function returns after a failed check (the exception is already pending). */
  Napi::Value done() const { return info_.Env().Undefined(); }

  /** Throws TypeError "<fn>: <msg>" unless an earlier check already threw; always returns false. */
  bool fail(const std::string &msg) {
    if (ok_) zy::fail(info_, fn_ + ": " + msg);
    ok_ = false;
    return false;
  }
  /** At least n arguments; signature spells them for the message ("a, b, c"). */
  bool atLeast(size_t n, const char *signature) {
    if (!ok_ || info_.Length() >= n) return ok_;
    return fail(std::string("expected ") + std::to_string(n) + " arguments (" + signature + "), got " +
                std::to_string(info_.Length()));
  }
  /** Argument i, or undefined past the end. */
  Napi::Value arg(size_t i) const { return i < info_.Length() ? info_[i] : info_.Env().Undefined(); }

  // ---- a value and its name (object fields, array entries, named positional arguments) ----

  /** A typed array of `kind` with at least `need` elements (null allowed when nullable: returns nullptr). */
  template <typename T>
  T *array(const Napi::Value &v, const std::string &name, napi_typedarray_type kind, const char *kindName,
           int64_t need = 0, bool nullable = false, size_t *length = nullptr) {
    if (!ok_) return nullptr;
    if (nullable && (v.IsNull() || v.IsUndefined())) return nullptr;
    if (!isTyped(v, kind)) { fail(name + " must be a " + kindName); return nullptr; }
    size_t len = 0;
    T *p = typedPtr<T>(v, &len);
    if (length) *length = len;
    if (need > 0 && static_cast<int64_t>(len) < need) {
      fail(name + " has " + std::to_string(len) + " elements, needs " + std::to_string(need));
      return nullptr;
    }
    return p;
  }
  float *f32(const Napi::Value &v, const std::string &name, int64_t need = 0, bool nullable = false) {
    return array<float>(v, name, napi_float32_array, "Float32Array", need, nullable);
  }
  /** Raw 16-bit values (f16 / bf16 bits). */
  uint16_t *u16(const Napi::Value &v, const std::string &name, int64_t need = 0) {
    return array<uint16_t>(v, name, napi_uint16_array, "Uint16Array", need);
  }
  /** An integer in [0, 2^53). */
  int64_t count(const Napi::Value &v, const std::string &name) {
    if (!ok_) return 0;
    if (!isCount(v)) { fail(name + " must be a non-negative integer"); return 0; }
    return i64(v);
  }
  double number(const Napi::Value &v, const std::string &name) {
    if (!ok_) return 0;
    if (!v.IsNumber()) { fail(name + " must be a number"); return 0; }
    return f64(v);
  }
  std::string string(const Napi::Value &v, const std::string &name, const char *example) {
    if (!ok_) return "";
    if (!v.IsString()) { fail(name + " must be a string such as " + example); return ""; }
    return v.As<Napi::String>().Utf8Value();
  }

  // ---- positional arguments named by their index ("argument 3"), for glue whose TypeScript caller has
  // ---- already validated every argument with its own messages (src/backend/checks.ts) ----

  float *f32(size_t i, int64_t need, bool nullable = false) { return f32(arg(i), position(i), need, nullable); }
  uint16_t *u16(size_t i, int64_t need) { return u16(arg(i), position(i), need); }
  int32_t *i32(size_t i, int64_t need) { return array<int32_t>(arg(i), position(i), napi_int32_array, "Int32Array", need); }
  /** A number ≥ 0, truncated to an integer. */
  int64_t num(size_t i) {
    double v = number(arg(i), position(i));
    if (ok_ && v < 0) fail(position(i) + " must be ≥ 0");
    return ok_ ? i64(arg(i)) : 0;
  }
  /** Any number, truncated to an integer. */
  int64_t inum(size_t i) {
    number(arg(i), position(i));
    return ok_ ? i64(arg(i)) : 0;
  }
  float real(size_t i) { return static_cast<float>(number(arg(i), position(i))); }
  /** Truthiness, as JavaScript sees it (no check). */
  bool flag(size_t i) const { return ok_ && arg(i).ToBoolean().Value(); }
  /** A JS array of at most 16 numbers (a shape or strides), truncated to integers. */
  bool ints(size_t i, std::vector<int64_t> &out) {
    if (!ok_) return false;
    Napi::Value v = arg(i);
    if (!v.IsArray()) return fail(position(i) + " must be an array");
    auto a = v.As<Napi::Array>();
    if (a.Length() > 16) return fail("rank above 16 is not supported");
    out.resize(a.Length());
    for (uint32_t j = 0; j < a.Length(); j++) {
      Napi::Value e = a.Get(j);
      if (!e.IsNumber()) return fail(position(i) + " must hold numbers");
      out[j] = i64(e);
    }
    return true;
  }

 private:
  static std::string position(size_t i) { return "argument " + std::to_string(i); }

  const Napi::CallbackInfo &info_;
  std::string fn_;
  bool ok_ = true;
};

/** Packed GEMM panels { data: Uint8Array, type: "f32" | "f16" | "bf16" } (gemmPackWeights) of a weight [rows, cols]
 *  of type src (ZY_PW_F32 / ZY_PW_F16 / ZY_PW_BF16, or another zy_qtype, which packs into nothing): panels of f32
 *  (from an f32, f16 or bf16 weight) or of src itself, at least zy_pw_bytes long, 4-byte aligned. *elem: the
 *  panels' type. nullptr after a.fail (the message names `name`, the dims and what to pass). One reader for every
 *  glue file that takes panels (gemm_napi.cc, encoder_napi.cc, prefill_napi.cc). */
inline const void *readPanels(Args &a, const Napi::Value &v, const std::string &name, int src, int64_t rows, int64_t cols,
                              int *elem) {
  *elem = -1;
  if (!a.ok()) return nullptr;
  if (!v.IsObject()) { a.fail(name + " must be { data: Uint8Array, type } (gemmPackWeights)"); return nullptr; }
  const Napi::Object po = v.As<Napi::Object>();
  const std::string type = a.string(po.Get("type"), name + ".type", "\"f32\" or the weight's own f16 / bf16 type");
  *elem = type == "f32" ? ZY_PW_F32 : type == "f16" ? ZY_PW_F16 : type == "bf16" ? ZY_PW_BF16 : -1;
  size_t len = 0;
  const uint8_t *pw = a.array<uint8_t>(po.Get("data"), name + ".data", napi_uint8_array, "Uint8Array", 0, false, &len);
  if (!a.ok()) return nullptr;
  const bool fits = *elem == ZY_PW_F32 ? (src == ZY_PW_F32 || src == ZY_PW_F16 || src == ZY_PW_BF16) : *elem >= 0 && *elem == src;
  const size_t need = zy_pw_bytes(*elem < 0 ? 0 : *elem, rows, cols);
  if (!fits || len < need || reinterpret_cast<uintptr_t>(pw) % 4 != 0) {
    a.fail(name + " must hold a [" + std::to_string(rows) + ", " + std::to_string(cols) +
           "] matrix packed by gemmPackWeights (panels of f32 or the weight's own f16 / bf16 type, got " + type + "; at least " +
           std::to_string(need) + " bytes, got " + std::to_string(len) + "; 4-byte aligned)");
    return nullptr;
  }
  return pw;
}

}  // namespace zy

#endif

// Registration of Node-API glue. Each glue file (native/*_napi.cc) defines its functions and registers them with
// ZY_REGISTER(name, fn); addon.cc exports everything registered. No glue file has to edit another.
#ifndef ZY_ADDON_H
#define ZY_ADDON_H
#include <napi.h>
#include <string>
#include <vector>
#include <cstdint>
#include <cmath>

namespace zy {

struct Registration {
  const char *name;
  Napi::Value (*fn)(const Napi::CallbackInfo &);
};
std::vector<Registration> &registry();

struct Registrar {
  Registrar(const char *name, Napi::Value (*fn)(const Napi::CallbackInfo &)) { registry().push_back({name, fn}); }
};

// Helpers for argument checking. Errors name the native function and the argument.
inline void fail(const Napi::CallbackInfo &info, const std::string &msg) {
  Napi::TypeError::New(info.Env(), msg).ThrowAsJavaScriptException();
}
// Pointer to a TypedArray's data (with its byte offset) and its length in elements.
template <typename T>
inline T *typedPtr(const Napi::Value &v, size_t *length = nullptr) {
  auto arr = v.As<Napi::TypedArray>();
  auto buf = arr.ArrayBuffer();
  if (length) *length = arr.ElementLength();
  return reinterpret_cast<T *>(static_cast<uint8_t *>(buf.Data()) + arr.ByteOffset());
}
inline int64_t i64(const Napi::Value &v) { return v.As<Napi::Number>().Int64Value(); }
// A number that is an integer in [0, 2^53).
inline bool isCount(const Napi::Value &v) {
  if (!v.IsNumber()) return false;
  double d = v.As<Napi::Number>().DoubleValue();
  return std::isfinite(d) && d == std::floor(d) && d >= 0 && d <= 9007199254740991.0;
}
inline bool isTyped(const Napi::Value &v, napi_typedarray_type t) {
  return v.IsTypedArray() && v.As<Napi::TypedArray>().TypedArrayType() == t;
}
inline double f64(const Napi::Value &v) { return v.As<Napi::Number>().DoubleValue(); }

}  // namespace zy

#define ZY_CONCAT2(a, b) a##b
#define ZY_CONCAT(a, b) ZY_CONCAT2(a, b)
#define ZY_REGISTER(name, fn) static zy::Registrar ZY_CONCAT(zy_reg_, __LINE__)(name, fn)

#endif

// The Node-API module: exports every function registered by the glue files, plus pool and CPU queries.
#include "zy_addon.h"
#include "zy_cpu.h"
#include "zy_pool.h"

namespace zy {
std::vector<Registration> &registry() {
  static std::vector<Registration> r;
  return r;
}
}  // namespace zy

static Napi::Value SetThreads(const Napi::CallbackInfo &info) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    zy::fail(info, "setThreads(n): n must be a number");
    return info.Env().Undefined();
  }
  zy_set_threads(static_cast<int>(zy::i64(info[0])));
  return Napi::Number::New(info.Env(), zy_threads());
}
static Napi::Value Threads(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), zy_threads()); }
static Napi::Value Isa(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), zy_isa_name()); }
static Napi::Value LimitIsa(const Napi::CallbackInfo &info) {
  zy_cpu_limit(static_cast<int>(zy::i64(info[0])));
  return Napi::String::New(info.Env(), zy_isa_name());
}
ZY_REGISTER("setThreads", SetThreads);
ZY_REGISTER("threads", Threads);
ZY_REGISTER("isa", Isa);
ZY_REGISTER("limitIsa", LimitIsa);

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  for (auto &r : zy::registry()) exports.Set(r.name, Napi::Function::New(env, r.fn, r.name));
  return exports;
}
NODE_API_MODULE(zhiyu_native, Init)

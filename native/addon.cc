// The Node-API module: exports every function registered by the glue files, plus pool and CPU queries (their
// arguments checked through zy_args.h, like every glue file).
#include "zy_args.h"
#include "zy_cpu.h"
#include "zy_pool.h"

namespace zy {
std::vector<Registration> &registry() {
  static std::vector<Registration> r;
  return r;
}
}  // namespace zy

static Napi::Value SetThreads(const Napi::CallbackInfo &info) {
  zy::Args a(info, "setThreads");
  int64_t n = a.count(a.arg(0), "n (0 = all cores)");
  if (!a.ok()) return a.done();
  zy_set_threads(static_cast<int>(n));
  return Napi::Number::New(info.Env(), zy_threads());
}
static Napi::Value Threads(const Napi::CallbackInfo &info) { return Napi::Number::New(info.Env(), zy_threads()); }
static Napi::Value Isa(const Napi::CallbackInfo &info) { return Napi::String::New(info.Env(), zy_isa_name()); }
static Napi::Value LimitIsa(const Napi::CallbackInfo &info) {
  zy::Args a(info, "limitIsa");
  int64_t level = a.count(a.arg(0), "level (0 portable, 1 AVX2, 2 AVX-512)");
  bool noBf16 = a.flag(1); /* optional: true treats AVX512_BF16 as absent */
  if (!a.ok()) return a.done();
  zy_cpu_limit_bf16(static_cast<int>(level), noBf16 ? 0 : 1);
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

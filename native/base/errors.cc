#include "base/errors.h"

namespace msb {

namespace {
Napi::Array ToArray(Napi::Env env, const std::vector<std::string>& items) {
  Napi::Array a = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); i++) a.Set(i, Napi::String::New(env, items[i]));
  return a;
}
}  // namespace

Napi::Error ToJsError(Napi::Env env, const CacheError& e) {
  Napi::Error err = Napi::Error::New(env, e.message);
  Napi::Object o = err.Value();
  o.Set("code", e.code);
  if (!e.reference.empty()) o.Set("reference", e.reference);
  if (e.code == code::kImageInUse) {
    o.Set("sandboxes", ToArray(env, e.sandboxes));
    o.Set("snapshots", ToArray(env, e.snapshots));
  }
  if (!e.candidates.empty()) o.Set("candidates", ToArray(env, e.candidates));
  if (!e.missing.empty()) o.Set("missing", ToArray(env, e.missing));
  if (e.sqliteCode != 0) o.Set("sqliteCode", e.sqliteCode);
  if (!e.path.empty()) o.Set("path", e.path);
  if (!e.problem.empty()) o.Set("problem", e.problem);
  return err;
}

}  // namespace msb

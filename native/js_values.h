// Conversions from C++ records to plain JS values (null for what the cache does not hold).
#pragma once
#include <napi.h>

#include <optional>
#include <string>

#include "catalog.h"

namespace msb {

inline Napi::Value OrNull(Napi::Env env, const std::optional<std::string>& v) {
  return v ? Napi::String::New(env, *v) : env.Null();
}
inline Napi::Value OrNull(Napi::Env env, const std::optional<int64_t>& v) {
  return v ? Napi::Number::New(env, double(*v)) : env.Null();
}
inline Napi::Value OrNull(Napi::Env env, const std::optional<double>& v) {
  return v ? Napi::Number::New(env, *v) : env.Null();
}

// {reference, manifestDigest, architecture, os, layerCount, sizeBytes, createdAt, lastUsedAt};
// timestamps as epoch milliseconds (the facade makes Dates).
inline Napi::Object ImageToJs(Napi::Env env, const ImageRecord& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("reference", r.reference);
  o.Set("manifestDigest", OrNull(env, r.manifestDigest));
  o.Set("architecture", OrNull(env, r.architecture));
  o.Set("os", OrNull(env, r.os));
  o.Set("layerCount", OrNull(env, r.layerCount));
  o.Set("sizeBytes", OrNull(env, r.sizeBytes));
  o.Set("createdAt", OrNull(env, r.createdAt));
  o.Set("lastUsedAt", OrNull(env, r.lastUsedAt));
  return o;
}

}  // namespace msb

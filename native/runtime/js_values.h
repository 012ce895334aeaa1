// Conversions from C++ records to plain JS values (null for what the cache does not hold).
#pragma once
#include <napi.h>

#include <cmath>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "platform/platform.h"
#include "storage/catalog.h"

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

// {reference, manifestDigest, architecture, os, layerCount, sizeBytes, createdAt, lastUsedAt,
// createdAtSubMsNanos, lastUsedAtSubMsNanos}; timestamps as epoch milliseconds (the facade makes
// Dates) plus the nanoseconds below the millisecond (for the CLI's RFC 3339 times, as msb prints them).
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
  o.Set("createdAtSubMsNanos", double(r.createdAtSubMsNanos));
  o.Set("lastUsedAtSubMsNanos", double(r.lastUsedAtSubMsNanos));
  return o;
}

// list() results in columns, so the JS thread makes a handful of values whatever the count:
//   text:    one ArrayBuffer with every string, UTF-8, back to back;
//   offsets: Int32Array, 8 per image: [start, end) in `text` of reference, manifestDigest,
//            architecture, os; start = -1 for null;
//   numbers: Float64Array, 6 per image: layerCount, sizeBytes, createdAt, lastUsedAt (epoch ms),
//            createdAtSubMsNanos, lastUsedAtSubMsNanos (0..999999); NaN for null.
// Built on the worker thread; the facade (lib/image.ts) decodes one image when its handle is read.
struct ImageColumns {
  static constexpr size_t kStrings = 4;
  static constexpr size_t kNumbers = 6;
  size_t count = 0;
  LargeVector<char> text;
  LargeVector<int32_t> offsets;
  LargeVector<double> numbers;

  void Add(const ImageRowView& r) {
    AddText(r.reference);
    AddText(r.manifestDigest);
    AddText(r.architecture);
    AddText(r.os);
    AddNumber(r.layerCount ? std::optional<double>(double(*r.layerCount)) : std::nullopt);
    AddNumber(r.sizeBytes ? std::optional<double>(double(*r.sizeBytes)) : std::nullopt);
    AddNumber(r.createdAt);
    AddNumber(r.lastUsedAt);
    AddNumber(double(r.createdAtSubMsNanos));
    AddNumber(double(r.lastUsedAtSubMsNanos));
    count++;
  }

 private:
  void AddText(std::string_view v) {
    offsets.push_back(int32_t(text.size()));
    text.insert(text.end(), v.begin(), v.end());
    offsets.push_back(int32_t(text.size()));
  }
  void AddText(const std::optional<std::string_view>& v) {
    if (!v) {
      offsets.push_back(-1);
      offsets.push_back(-1);
      return;
    }
    AddText(*v);
  }
  void AddNumber(const std::optional<double>& v) { numbers.push_back(v ? *v : std::nan("")); }
};

// An ArrayBuffer over `data` without copying (the vector moves to the finalizer), or a copy where
// the runtime refuses external buffers.
template <typename Vector>
inline Napi::ArrayBuffer MoveToArrayBuffer(Napi::Env env, Vector&& data) {
  size_t bytes = data.size() * sizeof(typename Vector::value_type);
  if (bytes == 0) return Napi::ArrayBuffer::New(env, 0);
  auto* owned = new Vector(std::move(data));
  napi_value out;
  napi_status status = napi_create_external_arraybuffer(
      env, owned->data(), bytes, [](napi_env, void*, void* hint) { delete static_cast<Vector*>(hint); }, owned, &out);
  if (status == napi_ok) return Napi::ArrayBuffer(env, out);
  Napi::ArrayBuffer copy = Napi::ArrayBuffer::New(env, bytes);
  std::memcpy(copy.Data(), owned->data(), bytes);
  delete owned;
  return copy;
}

// {count, text: ArrayBuffer, offsets: Int32Array, numbers: Float64Array}; consumes `c`.
// Records of a few strings and numbers each, in columns like ImageColumns (for reports that can
// hold 100,000 records: the facade makes their objects in slices). Record i's string k is
// text[offsets[2(i·strings + k)] .. offsets[2(i·strings + k) + 1]); its number k is numbers[i·numbers + k].
struct RecordColumns {
  size_t count = 0;
  LargeVector<char> text;
  LargeVector<int32_t> offsets;
  LargeVector<double> numbers;

  void Text(std::string_view v) {
    offsets.push_back(int32_t(text.size()));
    text.insert(text.end(), v.begin(), v.end());
    offsets.push_back(int32_t(text.size()));
  }
  void Number(double v) { numbers.push_back(v); }
  void EndRecord() { count++; }
};

inline Napi::Object RecordColumnsToJs(Napi::Env env, RecordColumns&& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", double(c.count));
  o.Set("text", MoveToArrayBuffer(env, std::move(c.text)));
  size_t offsetCount = c.offsets.size(), numberCount = c.numbers.size();
  o.Set("offsets", Napi::Int32Array::New(env, offsetCount, MoveToArrayBuffer(env, std::move(c.offsets)), 0));
  o.Set("numbers", Napi::Float64Array::New(env, numberCount, MoveToArrayBuffer(env, std::move(c.numbers)), 0));
  return o;
}

inline Napi::Object ImageColumnsToJs(Napi::Env env, ImageColumns&& c) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("count", double(c.count));
  o.Set("text", MoveToArrayBuffer(env, std::move(c.text)));
  size_t offsetCount = c.offsets.size();
  o.Set("offsets", Napi::Int32Array::New(env, offsetCount, MoveToArrayBuffer(env, std::move(c.offsets)), 0));
  size_t numberCount = c.numbers.size();
  o.Set("numbers", Napi::Float64Array::New(env, numberCount, MoveToArrayBuffer(env, std::move(c.numbers)), 0));
  return o;
}

}  // namespace msb

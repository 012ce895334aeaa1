// Module entry: the NativeImageCache class, plus the pure format readers exposed for tests and
// tools (`formats`): synchronous, memory-only, no file or database access.
#include <napi.h>

#include "formats/erofs.h"
#include "addon/image_cache.h"
#include "formats/reference.h"
#include "formats/timestamp.h"
#include "formats/vmdk.h"

namespace msb {
namespace {

Napi::Value InspectErofsBuffer(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsBuffer()) throw Napi::TypeError::New(env, "expected a Buffer");
  Napi::Buffer<uint8_t> buf = info[0].As<Napi::Buffer<uint8_t>>();
  const uint8_t* data = buf.Data();
  size_t length = buf.Length();
  ErofsInfo e = InspectErofs(
      [data, length](uint64_t offset, void* out, size_t size) -> long {
        if (offset >= length) return 0;
        size_t n = std::min<uint64_t>(size, length - offset);
        std::memcpy(out, data + offset, n);
        return long(n);
      },
      length);
  Napi::Object o = Napi::Object::New(env);
  o.Set("valid", e.valid);
  o.Set("problem", e.problem.empty() ? env.Null() : Napi::String::New(env, e.problem));
  o.Set("imageBytes", double(e.imageBytes));
  o.Set("blkszbits", e.blkszbits);
  o.Set("blocks", e.blocks);
  o.Set("rootNid", e.rootNid);
  o.Set("metaBlkaddr", e.metaBlkaddr);
  o.Set("featureIncompat", e.featureIncompat);
  Napi::Array devices = Napi::Array::New(env, e.devices.size());
  for (uint32_t i = 0; i < e.devices.size(); i++) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("blocks", e.devices[i].blocks);
    d.Set("mappedBlkaddr", e.devices[i].mappedBlkaddr);
    devices.Set(i, d);
  }
  o.Set("devices", devices);
  return o;
}

Napi::Value ParseVmdkText(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "expected a string");
  VmdkDescriptor d = ParseVmdk(info[0].As<Napi::String>().Utf8Value());
  Napi::Object o = Napi::Object::New(env);
  o.Set("ok", d.ok);
  o.Set("error", d.error.empty() ? env.Null() : Napi::String::New(env, d.error));
  o.Set("createType", d.createType);
  Napi::Array extents = Napi::Array::New(env, d.extents.size());
  for (uint32_t i = 0; i < d.extents.size(); i++) {
    Napi::Object x = Napi::Object::New(env);
    x.Set("access", d.extents[i].access);
    x.Set("sectors", double(d.extents[i].sectors));
    x.Set("type", d.extents[i].type);
    x.Set("path", d.extents[i].path);
    x.Set("offset", double(d.extents[i].offset));
    extents.Set(i, x);
  }
  o.Set("extents", extents);
  o.Set("virtualBytes", double(d.virtualBytes));
  return o;
}

Napi::Value Normalize(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "expected a string");
  std::optional<std::string> n = NormalizeReference(info[0].As<Napi::String>().Utf8Value());
  return n ? Napi::String::New(info.Env(), *n) : info.Env().Null();
}

Napi::Value MetadataFileName(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "expected a string");
  std::optional<std::string> n = NormalizeReference(info[0].As<Napi::String>().Utf8Value());
  return n ? Napi::String::New(info.Env(), MetadataFileStem(*n) + ".json") : info.Env().Null();
}

Napi::Value ValidDigest(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), info[0].IsString() && IsValidDigest(info[0].As<Napi::String>().Utf8Value()));
}

Napi::Value ParseTimestamp(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "expected a string");
  std::optional<double> ms = ParseTimestampMs(info[0].As<Napi::String>().Utf8Value());
  return ms ? Napi::Number::New(info.Env(), *ms) : info.Env().Null();
}

// {ms, subMsNanos} or null: the instant with the nanoseconds a JS Date cannot hold.
Napi::Value ParseTimestampPrecise(const Napi::CallbackInfo& info) {
  if (!info[0].IsString()) throw Napi::TypeError::New(info.Env(), "expected a string");
  std::optional<Timestamp> t = msb::ParseTimestamp(info[0].As<Napi::String>().Utf8Value());
  if (!t) return info.Env().Null();
  Napi::Object o = Napi::Object::New(info.Env());
  o.Set("ms", t->ms);
  o.Set("subMsNanos", double(t->subMsNanos));
  return o;
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  RegisterCleanup(env);
  exports.Set("NativeImageCache", ImageCacheWrap::Define(env));
  Napi::Object formats = Napi::Object::New(env);
  formats.Set("inspectErofs", Napi::Function::New<InspectErofsBuffer>(env, "inspectErofs"));
  formats.Set("parseVmdk", Napi::Function::New<ParseVmdkText>(env, "parseVmdk"));
  formats.Set("normalizeReference", Napi::Function::New<Normalize>(env, "normalizeReference"));
  formats.Set("metadataFileName", Napi::Function::New<MetadataFileName>(env, "metadataFileName"));
  formats.Set("isValidDigest", Napi::Function::New<ValidDigest>(env, "isValidDigest"));
  formats.Set("parseTimestamp", Napi::Function::New<ParseTimestamp>(env, "parseTimestamp"));
  formats.Set("parseTimestampPrecise", Napi::Function::New<ParseTimestampPrecise>(env, "parseTimestampPrecise"));
  exports.Set("formats", formats);
  return exports;
}

}  // namespace
}  // namespace msb

static Napi::Object InitModule(Napi::Env env, Napi::Object exports) { return msb::Init(env, exports); }

NODE_API_MODULE(msb_image_cache, InitModule)

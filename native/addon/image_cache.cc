#include "addon/image_cache.h"

#include <algorithm>
#include <mutex>
#include <vector>

#include "operations/operations.h"

namespace msb {
namespace {

// Live states per environment, for the exit hook. Weak: a collected cache is already closed.
struct LiveStates {
  std::mutex mu;
  std::vector<std::weak_ptr<CacheState>> states;
};

LiveStates* Live(Napi::Env env) { return env.GetInstanceData<LiveStates>(); }

std::optional<std::string> OptString(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsString()) return v.As<Napi::String>().Utf8Value();
  return std::nullopt;
}

std::string StringArg(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsString()) throw Napi::TypeError::New(info.Env(), "expected a string argument");
  return info[i].As<Napi::String>().Utf8Value();
}

}  // namespace

Napi::Function ImageCacheWrap::Define(Napi::Env env) {
  return DefineClass(env, "NativeImageCache",
                     {InstanceMethod<&ImageCacheWrap::List>("list"), InstanceMethod<&ImageCacheWrap::Get>("get"),
                      InstanceMethod<&ImageCacheWrap::Inspect>("inspect"),
                      InstanceMethod<&ImageCacheWrap::Remove>("remove"),
                      InstanceMethod<&ImageCacheWrap::Prune>("prune"),
                      InstanceMethod<&ImageCacheWrap::DiskUsage>("diskUsage"),
                      InstanceMethod<&ImageCacheWrap::Verify>("verify"),
                      InstanceMethod<&ImageCacheWrap::Close>("close"),
                      InstanceMethod<&ImageCacheWrap::Paths>("paths")});
}

// new NativeImageCache({ home?, cacheDir?, envMsbHome?, envConfigPath?, userHome? })
ImageCacheWrap::ImageCacheWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ImageCacheWrap>(info) {
  if (!info[0].IsObject()) throw Napi::TypeError::New(info.Env(), "expected an options object");
  Napi::Object o = info[0].As<Napi::Object>();
  HomeOptions options;
  options.home = OptString(o, "home");
  options.cacheDir = OptString(o, "cacheDir");
  options.envMsbHome = OptString(o, "envMsbHome");
  options.envConfigPath = OptString(o, "envConfigPath");
  options.userHome = OptString(o, "userHome");
  state_ = std::make_shared<CacheState>(std::move(options));
  LiveStates* live = Live(info.Env());
  std::lock_guard<std::mutex> lock(live->mu);
  auto& s = live->states;
  s.erase(std::remove_if(s.begin(), s.end(), [](const std::weak_ptr<CacheState>& w) { return w.expired(); }), s.end());
  s.push_back(state_);
}

// A cache collected without close(): its idle read connections close here (no checkpoint:
// read-only connections never write).
ImageCacheWrap::~ImageCacheWrap() { state_->Close(); }

Napi::Value ImageCacheWrap::List(const Napi::CallbackInfo& info) { return StartList(info.Env(), state_, info[0]); }

Napi::Value ImageCacheWrap::Get(const Napi::CallbackInfo& info) {
  return StartGet(info.Env(), state_, StringArg(info, 0), info[1]);
}

Napi::Value ImageCacheWrap::Inspect(const Napi::CallbackInfo& info) {
  return StartInspect(info.Env(), state_, StringArg(info, 0), info[1]);
}

Napi::Value ImageCacheWrap::Remove(const Napi::CallbackInfo& info) {
  return StartRemove(info.Env(), state_, StringArg(info, 0), info[1].ToBoolean().Value(), info[2]);
}

// prune(options, cancel)
Napi::Value ImageCacheWrap::Prune(const Napi::CallbackInfo& info) {
  Napi::Object options = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(info.Env());
  return StartPrune(info.Env(), state_, options, info[1]);
}

Napi::Value ImageCacheWrap::DiskUsage(const Napi::CallbackInfo& info) {
  return StartDiskUsage(info.Env(), state_, info[0]);
}

// verify(options, cancel)
Napi::Value ImageCacheWrap::Verify(const Napi::CallbackInfo& info) {
  Napi::Object options = info[0].IsObject() ? info[0].As<Napi::Object>() : Napi::Object::New(info.Env());
  return StartVerify(info.Env(), state_, options, info[1]);
}

// Later calls fail; idle connections close on a worker, loaned ones when their operation ends.
Napi::Value ImageCacheWrap::Close(const Napi::CallbackInfo& info) { return StartClose(info.Env(), state_); }

// paths(): the resolved home, database and cache directory (the collector's idle tick stats them).
Napi::Value ImageCacheWrap::Paths(const Napi::CallbackInfo& info) { return StartPaths(info.Env(), state_); }

void RegisterCleanup(Napi::Env env) {
  auto* live = new LiveStates();
  env.SetInstanceData<LiveStates>(live);
  env.AddCleanupHook([live]() {
    std::lock_guard<std::mutex> lock(live->mu);
    for (auto& w : live->states) {
      if (auto s = w.lock()) s->Close();
    }
  });
}

}  // namespace msb

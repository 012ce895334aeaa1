// The JS-visible native class: holds one CacheState and starts one worker per call.
#pragma once
#include <napi.h>

#include <memory>

#include "runtime/cache_state.h"

namespace msb {

class ImageCacheWrap : public Napi::ObjectWrap<ImageCacheWrap> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit ImageCacheWrap(const Napi::CallbackInfo& info);
  ~ImageCacheWrap() override;

 private:
  Napi::Value List(const Napi::CallbackInfo& info);
  Napi::Value Get(const Napi::CallbackInfo& info);
  Napi::Value Inspect(const Napi::CallbackInfo& info);
  Napi::Value Remove(const Napi::CallbackInfo& info);
  Napi::Value Prune(const Napi::CallbackInfo& info);
  Napi::Value DiskUsage(const Napi::CallbackInfo& info);
  Napi::Value Verify(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value Paths(const Napi::CallbackInfo& info);

  std::shared_ptr<CacheState> state_;
};

// Closes every live cache's connections when the environment (process or worker) exits.
void RegisterCleanup(Napi::Env env);

}  // namespace msb

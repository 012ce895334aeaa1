// One worker per public operation (op_*.cc). Each copies its arguments into C++ values and
// returns the promise the facade awaits.
#pragma once
#include <napi.h>

#include <memory>
#include <string>

#include "runtime/cache_state.h"

namespace msb {

Napi::Promise StartList(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Value cancel);
Napi::Promise StartGet(Napi::Env env, std::shared_ptr<CacheState> state, std::string reference, Napi::Value cancel);
Napi::Promise StartInspect(Napi::Env env, std::shared_ptr<CacheState> state, std::string reference, Napi::Value cancel);
Napi::Promise StartRemove(Napi::Env env, std::shared_ptr<CacheState> state, std::string reference, bool force,
                          Napi::Value cancel);
Napi::Promise StartPrune(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Object options,
                         Napi::Value cancel);
Napi::Promise StartVerify(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Object options,
                          Napi::Value cancel);
Napi::Promise StartDiskUsage(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Value cancel);
Napi::Promise StartClose(Napi::Env env, std::shared_ptr<CacheState> state);
// { home, configPath, dbPath, cacheDir }: resolves the home (reads config.json) on a worker.
Napi::Promise StartPaths(Napi::Env env, std::shared_ptr<CacheState> state);

}  // namespace msb

// close(): closes the connections off the JS thread (closing a write connection checkpoints);
// paths(): the resolved paths.
#include "operations/operations.h"
#include "runtime/promise_worker.h"

namespace msb {
namespace {

class CloseWorker : public PromiseWorker {
 public:
  CloseWorker(Napi::Env env, std::shared_ptr<CacheState> state) : PromiseWorker(env, std::move(state), env.Undefined()) {}

 private:
  bool RequiresOpen() const override { return false; }
  void Run() override { state_->Close(); }
  Napi::Value Result(Napi::Env env) override { return env.Undefined(); }
};

// paths(): the home's resolved paths, for the facade's own cheap checks (statfs, stat of the db).
class PathsWorker : public PromiseWorker {
 public:
  PathsWorker(Napi::Env env, std::shared_ptr<CacheState> state) : PromiseWorker(env, std::move(state), env.Undefined()) {}

 private:
  void Run() override { paths_ = state_->Paths(); }
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("home", paths_.home);
    o.Set("configPath", paths_.configPath);
    o.Set("dbPath", paths_.dbPath);
    o.Set("cacheDir", paths_.cacheDir);
    return o;
  }
  HomePaths paths_;
};

}  // namespace

Napi::Promise StartPaths(Napi::Env env, std::shared_ptr<CacheState> state) {
  return (new PathsWorker(env, std::move(state)))->Start();
}

Napi::Promise StartClose(Napi::Env env, std::shared_ptr<CacheState> state) {
  return (new CloseWorker(env, std::move(state)))->Start();
}

}  // namespace msb

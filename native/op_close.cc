// close(): closes the connections off the JS thread (closing a write connection checkpoints).
#include "operations.h"
#include "promise_worker.h"

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

}  // namespace

Napi::Promise StartClose(Napi::Env env, std::shared_ptr<CacheState> state) {
  return (new CloseWorker(env, std::move(state)))->Start();
}

}  // namespace msb

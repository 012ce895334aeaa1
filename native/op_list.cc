// list(): every image_ref joined to its manifest, newest first.
#include "catalog.h"
#include "js_values.h"
#include "operations.h"
#include "promise_worker.h"

namespace msb {
namespace {

class ListWorker : public PromiseWorker {
 public:
  using PromiseWorker::PromiseWorker;

 private:
  void Run() override {
    std::optional<CacheState::Lease> conn = state_->Acquire(Connection::Mode::kRead, cancel_);
    if (conn) images_ = ListImages(**conn);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Array out = Napi::Array::New(env, images_.size());
    for (uint32_t i = 0; i < images_.size(); i++) out.Set(i, ImageToJs(env, images_[i]));
    return out;
  }

  std::vector<ImageRecord> images_;
};

}  // namespace

Napi::Promise StartList(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Value cancel) {
  return (new ListWorker(env, std::move(state), cancel))->Start();
}

}  // namespace msb

// get(reference): one image by exact, normalized or digest look-up (catalog.cc).
#include "storage/catalog.h"
#include "base/errors.h"
#include "runtime/js_values.h"
#include "operations/operations.h"
#include "runtime/promise_worker.h"

namespace msb {
namespace {

class GetWorker : public PromiseWorker {
 public:
  GetWorker(Napi::Env env, std::shared_ptr<CacheState> state, std::string reference, Napi::Value cancel)
      : PromiseWorker(env, std::move(state), cancel), reference_(std::move(reference)) {}

 private:
  void Run() override {
    std::optional<CacheState::Lease> conn = state_->Acquire(Connection::Mode::kRead, cancel_);
    if (!conn) {
      CacheError e(code::kImageNotFound, "image not found: " + reference_);
      e.reference = reference_;
      throw e;
    }
    image_ = ResolveImage(**conn, reference_);
  }

  Napi::Value Result(Napi::Env env) override { return ImageToJs(env, image_); }

  std::string reference_;
  ImageRecord image_;
};

}  // namespace

Napi::Promise StartGet(Napi::Env env, std::shared_ptr<CacheState> state, std::string reference, Napi::Value cancel) {
  return (new GetWorker(env, std::move(state), std::move(reference), cancel))->Start();
}

}  // namespace msb

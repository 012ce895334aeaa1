// list(): every image_ref joined to its manifest, newest first, returned in columns
// (js_values.h ImageColumns): the JS thread makes five values, not one object per image.
#include "storage/catalog.h"
#include "runtime/js_values.h"
#include "operations/operations.h"
#include "runtime/promise_worker.h"

namespace msb {
namespace {

class ListWorker : public PromiseWorker {
 public:
  using PromiseWorker::PromiseWorker;

 private:
  void Run() override {
    std::optional<CacheState::Lease> conn = state_->Acquire(Connection::Mode::kRead, cancel_);
    if (!conn) return;
    ForEachImage(**conn, [this](const ImageRowView& r) { columns_.Add(r); });
  }

  Napi::Value Result(Napi::Env env) override { return ImageColumnsToJs(env, std::move(columns_)); }

  ImageColumns columns_;
};

}  // namespace

Napi::Promise StartList(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Value cancel) {
  return (new ListWorker(env, std::move(state), cancel))->Start();
}

}  // namespace msb

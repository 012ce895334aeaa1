// remove(reference, force): one reference, its manifest when nothing else needs it, and the
// layers no other manifest uses (catalog.cc RemoveImageRows), then their files.
#include "storage/catalog.h"
#include "base/errors.h"
#include "operations/operations.h"
#include "runtime/promise_worker.h"
#include "write_path/removal.h"

namespace msb {
namespace {

class RemoveWorker : public PromiseWorker {
 public:
  RemoveWorker(Napi::Env env, std::shared_ptr<CacheState> state, std::string reference, bool force,
               Napi::Value cancel)
      : PromiseWorker(env, std::move(state), cancel), reference_(std::move(reference)), force_(force) {}

 private:
  void Run() override {
    // Refused on a read connection, before a write connection opens (closing one checkpoints the WAL).
    RequireCacheDirForWrite(*state_, cancel_);
    RemovalOptions options;
    options.cascadesByHand = true;
    outcome_ = RunRemoval(*state_, cancel_, options, [this](Connection& conn) { return RemoveImageRows(conn, reference_, force_); });
    if (!outcome_.haveDatabase) {
      CacheError e(code::kImageNotFound, "image not found: " + reference_);
      e.reference = reference_;
      throw e;
    }
  }

  Napi::Value Result(Napi::Env env) override { return RemovalToJs(env, outcome_); }

  std::string reference_;
  bool force_;
  RemovalOutcome outcome_;
};

}  // namespace

Napi::Promise StartRemove(Napi::Env env, std::shared_ptr<CacheState> state, std::string reference, bool force,
                          Napi::Value cancel) {
  return (new RemoveWorker(env, std::move(state), std::move(reference), force, cancel))->Start();
}

}  // namespace msb

// prune(): msb's semantics — every image not pinned goes — in one set-based transaction
// (catalog.cc PruneRows), then the files.
#include "catalog.h"
#include "operations.h"
#include "promise_worker.h"
#include "removal.h"

namespace msb {
namespace {

class PruneWorker : public PromiseWorker {
 public:
  using PromiseWorker::PromiseWorker;

 private:
  void Run() override { outcome_ = RunRemoval(*state_, cancel_, [](Connection& conn) { return PruneRows(conn); }); }
  Napi::Value Result(Napi::Env env) override { return RemovalToJs(env, outcome_); }

  RemovalOutcome outcome_;
};

}  // namespace

Napi::Promise StartPrune(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Value cancel) {
  return (new PruneWorker(env, std::move(state), cancel))->Start();
}

}  // namespace msb

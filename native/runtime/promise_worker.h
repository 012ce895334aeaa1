// Base of every native operation: runs Run() on the libuv pool and settles a promise. Run()
// never touches JS; inputs are copied into C++ values before the worker is queued.
#pragma once
#include <napi.h>

#include <memory>
#include <optional>

#include "runtime/cache_state.h"
#include "base/cancel.h"
#include "base/errors.h"

namespace msb {

class PromiseWorker : public Napi::AsyncWorker {
 public:
  // `cancel` is the facade's Int32Array over a SharedArrayBuffer (or undefined).
  PromiseWorker(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Value cancel)
      : Napi::AsyncWorker(env, "msb-image-cache"), state_(std::move(state)), deferred_(Napi::Promise::Deferred::New(env)) {
    if (cancel.IsTypedArray() && cancel.As<Napi::TypedArray>().TypedArrayType() == napi_int32_array) {
      Napi::Int32Array cells = cancel.As<Napi::Int32Array>();
      if (cells.ElementLength() > 0) {
        cancelRef_ = Napi::Persistent(cells.As<Napi::Object>());
        cancel_ = CancelFlag(cells.Data());
      }
    }
  }

  Napi::Promise Start() {
    Queue();
    return deferred_.Promise();
  }

 protected:
  virtual void Run() = 0;
  virtual bool RequiresOpen() const { return true; }
  virtual Napi::Value Result(Napi::Env env) = 0;

  std::shared_ptr<CacheState> state_;
  CancelFlag cancel_;

 private:
  void Execute() override {
    try {
      if (RequiresOpen() && state_->IsClosed()) {
        throw CacheError(code::kCacheClosed, "this ImageCache is closed; create a new one to keep using the cache");
      }
      Run();
    } catch (const CacheError& e) {
      error_ = e;
    } catch (const std::exception& e) {
      error_ = CacheError(code::kInternal, std::string("internal error: ") + e.what());
    }
  }

  void OnOK() override {
    Napi::Env env = Env();
    if (error_) {
      deferred_.Reject(ToJsError(env, *error_).Value());
      return;
    }
    try {
      deferred_.Resolve(Result(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    }
  }

  void OnError(const Napi::Error& e) override { deferred_.Reject(e.Value()); }

  Napi::Promise::Deferred deferred_;
  Napi::ObjectReference cancelRef_;  // keeps the shared cell alive while Run() reads it
  std::optional<CacheError> error_;
};

}  // namespace msb

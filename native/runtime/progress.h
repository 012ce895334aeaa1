// onProgress for long operations (prune, verify): events made on the worker thread reach the
// JS callback through a thread-safe function. The facade waits for `events()` callbacks before
// it resolves, since they travel independently of the result.
#pragma once
#include <napi.h>

#include <string>

namespace msb {

class ProgressReporter {
 public:
  // On the JS thread (the worker's constructor); `fn` may be anything, only a function is used.
  void Init(Napi::Env env, Napi::Value fn) {
    if (!fn.IsFunction()) return;
    tsfn_ = Napi::ThreadSafeFunction::New(env, fn.As<Napi::Function>(), "msb-image-cache.progress", 0, 1);
    enabled_ = true;
  }
  bool enabled() const { return enabled_; }

  // Worker thread. Never blocks: an event the queue refuses is dropped (and not counted).
  void Report(const std::string& phase, double done, double total, double bytes) {
    if (!enabled_) return;
    auto* event = new Event{phase, done, total, bytes};
    napi_status status = tsfn_.NonBlockingCall(event, [](Napi::Env env, Napi::Function fn, Event* e) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("phase", e->phase);
      o.Set("done", e->done);
      o.Set("total", e->total);
      o.Set("bytes", e->bytes);
      delete e;
      fn.Call({o});
    });
    if (status == napi_ok) {
      events_++;
    } else {
      delete event;
    }
  }

  // Worker thread, once, when no more events will come.
  void Release() {
    if (enabled_) tsfn_.Release();
    enabled_ = false;
  }

  size_t events() const { return events_; }

  // Releases at the end of the worker's Run(), however it ends.
  struct ReleaseAtExit {
    ProgressReporter& reporter;
    ~ReleaseAtExit() { reporter.Release(); }
  };

 private:
  struct Event {
    std::string phase;
    double done, total, bytes;
  };
  Napi::ThreadSafeFunction tsfn_;
  bool enabled_ = false;
  size_t events_ = 0;
};

}  // namespace msb

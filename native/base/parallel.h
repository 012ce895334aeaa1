// A loop over [0, n) run on this thread and up to three more: for file-system work on big caches that is
// bound by system calls (stat, open and read of many small files), not by one core.
#pragma once
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <system_error>
#include <thread>
#include <utility>
#include <vector>

namespace msb {

// Threads for a loop over files of a file system on a device (see ParallelFor).
inline constexpr unsigned kDeviceThreads = 8;

// Loops over [0, n) (ParallelFor's, below), run by one thread, that another thread may join while it
// would otherwise wait for that one (HelpUntilFinished). The in-flight guard's preparation reads a new
// cache's files on a thread of its own while the caller deletes rows; a removal of one image is done
// with its rows long before the reads are, and its thread then takes part in them instead of waiting.
class SharedLoops {
 public:
  // ParallelFor(n, minForThreads, fn, maxThreads, waitsOnDevice), with any helper taking part. One
  // thread at a time runs loops. `batch`: how many indices a thread takes at a time (1 when each is a
  // big piece of work, such as a whole directory).
  template <typename Fn>
  void Run(size_t n, size_t minForThreads, Fn&& fn, unsigned maxThreads, bool waitsOnDevice, size_t batch = 32) {
    std::function<void(size_t)> f = [&fn](size_t i) { fn(i); };
    {
      std::lock_guard<std::mutex> lock(mu_);
      fn_ = &f;
      n_ = n;
      batch_ = std::max<size_t>(1, batch);
      next_.store(0);
      failed_ = nullptr;
    }
    cv_.notify_all();
    unsigned threads = std::max(1u, waitsOnDevice ? maxThreads : std::min(maxThreads, std::thread::hardware_concurrency()));
    std::vector<std::thread> pool;
    try {
      for (unsigned t = 1; t < threads && n > minForThreads; t++) pool.emplace_back([this] { Work(); });
    } catch (const std::system_error&) {
      // fewer threads than asked for: the ones started, this one and any helper do the rest
    }
    Work();
    for (std::thread& t : pool) t.join();
    std::exception_ptr failed;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return helpers_ == 0; });
      fn_ = nullptr;
      failed = std::exchange(failed_, nullptr);
    }
    if (failed) std::rethrow_exception(failed);
  }
  // From another thread: takes part in every loop run until Finish().
  void HelpUntilFinished() {
    std::unique_lock<std::mutex> lock(mu_);
    for (;;) {
      cv_.wait(lock, [this] { return finished_ || (fn_ != nullptr && next_.load() < n_); });
      if (finished_) return;
      helpers_++;
      lock.unlock();
      Work();
      lock.lock();
      helpers_--;
      cv_.notify_all();
    }
  }
  // No loop will come any more: a helper returns.
  void Finish() {
    {
      std::lock_guard<std::mutex> lock(mu_);
      finished_ = true;
    }
    cv_.notify_all();
  }

 private:
  void Work() {
    const size_t batch = batch_;
    try {
      for (size_t i = next_.fetch_add(batch); i < n_; i = next_.fetch_add(batch)) {
        for (size_t k = i; k < std::min(n_, i + batch); k++) (*fn_)(k);
      }
    } catch (...) {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failed_) failed_ = std::current_exception();
      next_.store(n_);
    }
  }

  std::mutex mu_;
  std::condition_variable cv_;
  const std::function<void(size_t)>* fn_ = nullptr;  // the loop under way
  size_t n_ = 0, batch_ = 32;
  std::atomic<size_t> next_{0};
  size_t helpers_ = 0;  // helpers inside the loop under way
  bool finished_ = false;
  std::exception_ptr failed_;
};

// Calls fn(i) once for every i in [0, n), in batches handed out to the threads (this one and up to
// maxThreads - 1 more, no more than the cores unless `waitsOnDevice`: work that mostly waits for a
// disk goes faster with more requests in flight than there are cores); extra threads only when n is
// above minForThreads. A thread that cannot be started leaves its share to the others (a process or
// memory limit must not end the process); the first exception fn throws stops the loop and is
// rethrown here once every thread has joined, so a caller never goes on with part of the work
// silently undone.
template <typename Fn>
void ParallelFor(size_t n, size_t minForThreads, Fn&& fn, unsigned maxThreads = 4, bool waitsOnDevice = false) {
  SharedLoops().Run(n, minForThreads, fn, maxThreads, waitsOnDevice);
}

// `fn` on a thread of its own, from construction until Wait() (the destructor joins it too, without
// rethrowing). When no thread can be started, Wait() runs it on the calling thread. Wait() rethrows
// what `fn` threw.
class Background {
 public:
  explicit Background(std::function<void()> fn) : fn_(std::move(fn)) {
    try {
      thread_ = std::thread([this] { Run(); });
    } catch (const std::system_error&) {
      // no thread: Wait() does the work
    }
  }
  Background(const Background&) = delete;
  Background& operator=(const Background&) = delete;
  ~Background() {
    if (thread_.joinable()) thread_.join();
  }
  // Whether fn runs on a thread of its own (else Wait() runs it).
  bool OnOwnThread() const { return thread_.joinable(); }
  void Wait() {
    if (thread_.joinable()) {
      thread_.join();
    } else if (!done_) {
      Run();
    }
    if (failed_) std::rethrow_exception(std::exchange(failed_, nullptr));
  }

 private:
  void Run() {
    try {
      fn_();
    } catch (...) {
      failed_ = std::current_exception();
    }
    done_ = true;
  }
  std::function<void()> fn_;
  std::exception_ptr failed_;
  bool done_ = false;
  std::thread thread_;
};

// Lets `garbage` go on a thread of its own: a big answer's working data is hundreds of thousands of small
// allocations (100,000 images: ~130 ms of frees), which need not delay the answer. Freed here when no
// thread can be started. The thread touches nothing but `garbage`.
template <typename T>
void DisposeInBackground(T garbage) {
  auto owned = std::make_unique<T>(std::move(garbage));
  try {
    std::thread([p = owned.get()] { delete p; }).detach();
    owned.release();  // the thread's now
  } catch (const std::system_error&) {
    // no thread: freed as `owned` goes
  }
}

}  // namespace msb

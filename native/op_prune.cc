// prune(options): by default msb's semantics — every image not pinned goes — narrowed by the
// policy (catalog.cc PruneRows), in one set-based transaction; then the files. One real prune
// per cache at a time across processes (a flock on the cache root's prune lock).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "cache_walk.h"
#include "catalog.h"
#include "errors.h"
#include "operations.h"
#include "progress.h"
#include "promise_worker.h"
#include "removal.h"

namespace msb {
namespace {

constexpr const char* kPruneLockName = ".msb-image-cache.prune.lock";

// Held for the whole prune: two prunes would race for the same files and both report them.
class PruneLock {
 public:
  explicit PruneLock(const std::string& cacheDir) {
    std::string path = cacheDir + "/" + kPruneLockName;
    fd_ = open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd_ < 0) {
      if (errno == ENOENT) return;  // no cache directory: no files to race for
      throw CacheError(code::kDatabase, "cannot open the prune lock " + path + ": " + std::strerror(errno));
    }
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      int e = errno;
      close(fd_);
      fd_ = -1;
      if (e == EWOULDBLOCK) {
        throw CacheError(code::kPruneInProgress,
                         "another prune of this cache is running (it holds " + path + "); retry when it ends");
      }
      throw CacheError(code::kDatabase, "cannot lock " + path + ": " + std::strerror(e));
    }
  }
  ~PruneLock() {
    if (fd_ >= 0) close(fd_);
  }

 private:
  int fd_ = -1;
};

std::vector<std::string> StringList(const Napi::Object& o, const char* key) {
  std::vector<std::string> out;
  Napi::Value v = o.Get(key);
  if (!v.IsArray()) return out;
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); i++) {
    Napi::Value item = a.Get(i);
    if (item.IsString()) out.push_back(item.As<Napi::String>().Utf8Value());
  }
  return out;
}

class PruneWorker : public PromiseWorker {
 public:
  // options: { dryRun, lastUsedBeforeMs, createdAfterMs, keep, referenceGlobs, labelsJson,
  // labelCount, onProgress } — validated by the facade.
  PruneWorker(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Object options, Napi::Value cancel)
      : PromiseWorker(env, std::move(state), cancel) {
    dryRun_ = options.Get("dryRun").ToBoolean().Value();
    if (options.Get("lastUsedBeforeMs").IsNumber()) {
      policy_.lastUsedBeforeMs = options.Get("lastUsedBeforeMs").As<Napi::Number>().DoubleValue();
    }
    if (options.Get("createdAfterMs").IsNumber()) {
      policy_.createdAfterMs = options.Get("createdAfterMs").As<Napi::Number>().DoubleValue();
    }
    if (options.Get("maxBytes").IsNumber()) {
      policy_.maxBytes = uint64_t(options.Get("maxBytes").As<Napi::Number>().DoubleValue());
    }
    if (options.Get("plan").IsObject()) {
      Napi::Object plan = options.Get("plan").As<Napi::Object>();
      PrunePlan p;
      std::vector<std::string> refs = StringList(plan, "references");
      std::vector<std::string> digests = StringList(plan, "referenceDigests");
      for (size_t i = 0; i < refs.size() && i < digests.size(); i++) p.references.emplace(refs[i], digests[i]);
      p.manifests = StringList(plan, "manifests");
      p.layers = StringList(plan, "layers");
      p.manifestsJson = plan.Get("manifestsJson").ToString().Utf8Value();
      p.layersJson = plan.Get("layersJson").ToString().Utf8Value();
      policy_.plan = std::move(p);
    }
    policy_.keep = StringList(options, "keep");
    policy_.referenceGlobs = StringList(options, "referenceGlobs");
    if (options.Get("labelsJson").IsString()) {
      policy_.labelsJson = options.Get("labelsJson").As<Napi::String>().Utf8Value();
      policy_.labelCount = options.Get("labelCount").As<Napi::Number>().Uint32Value();
    }
    if (options.Get("graceMs").IsNumber()) graceMs_ = options.Get("graceMs").As<Napi::Number>().DoubleValue();
    progress_.Init(env, options.Get("onProgress"));
  }

 private:
  void Run() override {
    RequireCacheDirForWrite(*state_, cancel_);  // before anything measures a wrong directory as empty
    RemovalOptions options;
    options.dryRun = dryRun_;
    options.sweep = true;
    options.sweepChangedBeforeSec = NowSeconds() - graceMs_ / 1000;
    if (progress_.enabled()) {
      options.progress = [this](const RemovalProgress& p) {
        progress_.Report(p.phase, double(p.done), double(p.total), double(p.bytes));
      };
    }
    ProgressReporter::ReleaseAtExit release{progress_};
    if (!dryRun_) {
      options.exclusive = [](const std::string& cacheDir) { return std::make_shared<PruneLock>(cacheDir); };
    }
    if (policy_.maxBytes) MeasureCache(state_->Paths().cacheDir);
    outcome_ = RunRemoval(*state_, cancel_, options, [this](Connection& conn) { return PruneRows(conn, policy_); });
  }

  // The cache as diskUsage() measures it, for maxBytes (before any lock is taken).
  void MeasureCache(const std::string& cacheDir) {
    int rootFd = open(cacheDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootFd < 0) return;
    std::vector<CacheFile> files = WalkCache(rootFd, cancel_);
    close(rootFd);
    policy_.totalBytes = TotalBytes(files);
    for (const CacheFile& f : files) {
      if (f.present) policy_.fileSizes.emplace(f.path, f.size);
    }
  }

  // `progressEvents`: how many onProgress calls are queued; the facade waits for them all before it
  // resolves, since they reach the JS thread independently of this result.
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = RemovalToJs(env, outcome_);
    o.Set("progressEvents", double(progress_.events()));
    return o;
  }

  bool dryRun_ = false;
  double graceMs_ = kDefaultGraceMs;
  PrunePolicy policy_;
  ProgressReporter progress_;
  RemovalOutcome outcome_;
};

}  // namespace

Napi::Promise StartPrune(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Object options, Napi::Value cancel) {
  return (new PruneWorker(env, std::move(state), options, cancel))->Start();
}

}  // namespace msb

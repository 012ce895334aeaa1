// prune(options): by default msb's semantics — every image not pinned goes — narrowed by the
// policy (catalog.cc PruneRows), in one set-based transaction; then the files. One real prune
// per cache at a time across processes (a flock on the cache root's prune lock).
#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <algorithm>
#include <cstring>
#include <optional>

#include "storage/budget.h"
#include "storage/cache_walk.h"
#include "storage/catalog.h"
#include "base/errors.h"
#include "operations/operations.h"
#include "runtime/progress.h"
#include "runtime/promise_worker.h"
#include "write_path/removal.h"

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

// A target as the facade passes it: { bytes } or { percent }.
std::optional<SpaceAmount> AmountOf(const Napi::Object& o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsObject()) return std::nullopt;
  Napi::Object t = v.As<Napi::Object>();
  SpaceAmount a;
  if (t.Get("bytes").IsNumber()) a.bytes = uint64_t(t.Get("bytes").As<Napi::Number>().DoubleValue());
  if (t.Get("percent").IsNumber()) a.percent = t.Get("percent").As<Napi::Number>().DoubleValue();
  if (!a.bytes && !a.percent) return std::nullopt;
  return a;
}

struct AmountTargets {
  std::optional<SpaceAmount> maxBytes, minFree, reserved;
  static AmountTargets From(const Napi::Object& o) {
    return {AmountOf(o, "maxBytes"), AmountOf(o, "minFreeSpace"), AmountOf(o, "reservedSpace")};
  }
  bool Any() const { return maxBytes || minFree || reserved; }
  bool AnyPercent() const {
    return (maxBytes && maxBytes->percent) || (minFree && minFree->percent) || (reserved && reserved->percent);
  }
  SpaceTargets Resolve(const FsSpace& fs) const {
    SpaceTargets t;
    if (maxBytes) t.maxBytes = maxBytes->Resolve(fs);
    if (minFree) t.minFree = minFree->Resolve(fs);
    if (reserved) t.reserved = reserved->Resolve(fs);
    return t;
  }
};

class PruneWorker : public PromiseWorker {
 public:
  // options: { dryRun, policies: [{ lastUsedBeforeMs, createdAfterMs, keep, judged, referenceGlobs,
  // labelsJson, labelCount, maxBytes, minFreeSpace, reservedSpace }], maxBytes, minFreeSpace,
  // reservedSpace, plan, graceMs, onProgress } — validated by the facade; targets are { bytes }
  // or { percent } of the file system's size.
  PruneWorker(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Object options, Napi::Value cancel)
      : PromiseWorker(env, std::move(state), cancel) {
    dryRun_ = options.Get("dryRun").ToBoolean().Value();
    topTargets_ = AmountTargets::From(options);
    Napi::Value list = options.Get("policies");
    Napi::Array policies = list.IsArray() ? list.As<Napi::Array>() : Napi::Array::New(env);
    for (uint32_t i = 0; i < std::max<uint32_t>(policies.Length(), 1); i++) {
      Napi::Object o = i < policies.Length() && policies.Get(i).IsObject() ? policies.Get(i).As<Napi::Object>() : options;
      PrunePolicy policy;
      if (o.Get("lastUsedBeforeMs").IsNumber()) {
        policy.lastUsedBeforeMs = o.Get("lastUsedBeforeMs").As<Napi::Number>().DoubleValue();
      }
      if (o.Get("createdAfterMs").IsNumber()) {
        policy.createdAfterMs = o.Get("createdAfterMs").As<Napi::Number>().DoubleValue();
      }
      policy.keep = StringList(o, "keep");
      if (o.Get("judged").IsArray()) {
        std::vector<std::string> judged = StringList(o, "judged");
        policy.judged.emplace(judged.begin(), judged.end());
      }
      policy.referenceGlobs = StringList(o, "referenceGlobs");
      if (o.Get("labelsJson").IsString()) {
        policy.labelsJson = o.Get("labelsJson").As<Napi::String>().Utf8Value();
        policy.labelCount = o.Get("labelCount").As<Napi::Number>().Uint32Value();
      }
      AmountTargets own = AmountTargets::From(o);
      if (!own.maxBytes) own.maxBytes = topTargets_.maxBytes;
      if (!own.minFree) own.minFree = topTargets_.minFree;
      if (!own.reserved) own.reserved = topTargets_.reserved;
      policyTargets_.push_back(own);
      run_.policies.push_back(std::move(policy));
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
      run_.plan = std::move(p);
    }
    if (options.Get("graceMs").IsNumber()) graceMs_ = options.Get("graceMs").As<Napi::Number>().DoubleValue();
    progress_.Init(env, options.Get("onProgress"));
    lists_.Init(env, options.Get("onRemovedLists"));
  }

 private:
  void Run() override {
    // First: a run that throws anywhere below must still let the process exit.
    ProgressReporter::ReleaseAtExit release{progress_};
    RemovedListsChannel::ReleaseAtExit releaseLists{lists_};
    RequireCacheDirForWrite(*state_, cancel_);  // before anything measures a wrong directory as empty
    RemovalOptions options;
    options.dryRun = dryRun_;
    options.sweep = true;
    options.cascadesByHand = true;  // PruneRows deletes the manifests' child rows itself when the keys are off
    options.sweepChangedBeforeSec = NowSeconds() - graceMs_ / 1000;
    if (progress_.enabled()) {
      options.progress = [this](const RemovalProgress& p) {
        progress_.Report(p.phase, double(p.done), double(p.total), double(p.bytes));
      };
    }
    options.rowsRemoved = [this](const RowRemoval& rows) { return lists_.Send(rows); };
    if (!dryRun_) {
      options.exclusive = [](const std::string& cacheDir) { return std::make_shared<PruneLock>(cacheDir); };
    }
    const std::string& cacheDir = state_->Paths().cacheDir;
    // The space the targets are measured on (before any lock is taken: a walk of a big cache must
    // not hold msb's write lock).
    fsBefore_ = StatFs(cacheDir);
    bool anyTargets = false;
    for (const AmountTargets& t : policyTargets_) anyTargets = anyTargets || t.Any();
    if (anyTargets && !fsBefore_) {
      throw CacheError(code::kHomeConfig, "cannot measure the file system holding the cache directory " + cacheDir +
                                               ": " + std::strerror(errno));
    }
    FsSpace fs = fsBefore_.value_or(FsSpace{});
    for (size_t i = 0; i < run_.policies.size(); i++) run_.policies[i].targets = policyTargets_[i].Resolve(fs);
    top_ = topTargets_.Resolve(fs);
    // The walk costs about what diskUsage() does: a plain prune (msb's, no targets) skips it and reports
    // no sizes; a preview, a plan's run and any target measure.
    measured_ = anyTargets || dryRun_ || run_.plan.has_value();
    if (measured_) MeasureCache(cacheDir, anyTargets);
    run_.fsFree = fs.free;
    outcome_ = RunRemoval(*state_, cancel_, options, [this](Connection& conn) { return PruneRows(conn, run_); });
    if (!dryRun_) fsAfter_ = StatFs(cacheDir);
  }

  // The cache's allocated bytes (diskUsage().allocatedBytes), per file when a target needs them.
  void MeasureCache(const std::string& cacheDir, bool perFile) {
    int rootFd = open(cacheDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootFd < 0) return;
    std::vector<CacheFile> files = WalkCache(rootFd, cancel_);
    close(rootFd);
    for (const CacheFile& f : files) {
      if (!f.present) continue;
      run_.cacheBytes += f.allocated;
      if (perFile) run_.allocated.emplace(f.path, f.allocated);
    }
  }

  // report.space: the cache's size before and after (allocated bytes), the file system's, and the
  // targets as resolved. A dry run's "after" is what its files' unlinks would free.
  Napi::Object Space(Napi::Env env) {
    auto num = [&](std::optional<uint64_t> v) -> Napi::Value {
      return v ? Napi::Number::New(env, double(*v)) : env.Null();
    };
    uint64_t freed = outcome_.files.allocatedReclaimed + outcome_.sweep.allocated;
    uint64_t after = run_.cacheBytes - std::min(freed, run_.cacheBytes);
    std::optional<uint64_t> fsFreeAfter;
    if (fsAfter_) fsFreeAfter = fsAfter_->free;
    else if (fsBefore_) fsFreeAfter = fsBefore_->free + freed;
    Napi::Object o = Napi::Object::New(env);
    o.Set("bytesBefore", measured_ ? Napi::Number::New(env, double(run_.cacheBytes)) : env.Null());
    o.Set("bytesAfter", measured_ ? Napi::Number::New(env, double(after)) : env.Null());
    o.Set("fsSize", fsBefore_ ? num(fsBefore_->size) : env.Null());
    o.Set("fsFreeBefore", fsBefore_ ? num(fsBefore_->free) : env.Null());
    o.Set("fsFreeAfter", num(fsFreeAfter));
    Napi::Object budget = Napi::Object::New(env);
    budget.Set("maxBytes", num(top_.maxBytes));
    budget.Set("minFreeSpace", num(top_.minFree));
    budget.Set("reservedSpace", num(top_.reserved));
    o.Set("budget", budget);
    Napi::Array policies = Napi::Array::New(env, run_.policies.size());
    bool met = true;
    for (uint32_t i = 0; i < run_.policies.size(); i++) {
      const SpaceTargets& t = run_.policies[i].targets;
      Napi::Object p = Napi::Object::New(env);
      p.Set("maxBytes", num(t.maxBytes));
      p.Set("minFreeSpace", num(t.minFree));
      p.Set("reservedSpace", num(t.reserved));
      policies.Set(i, p);
      if (t.maxBytes && after > *t.maxBytes) met = false;
      if (t.minFree && fsFreeAfter.value_or(0) < *t.minFree) met = false;
    }
    o.Set("targets", policies);
    o.Set("met", met);
    return o;
  }

  // `progressEvents`: how many onProgress calls are queued; the facade waits for them all before it
  // resolves, since they reach the JS thread independently of this result.
  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = RemovalToJs(env, outcome_);
    o.Set("space", Space(env));
    o.Set("progressEvents", double(progress_.events()));
    return o;
  }

  bool dryRun_ = false;
  bool measured_ = false;
  double graceMs_ = kDefaultGraceMs;
  AmountTargets topTargets_;
  std::vector<AmountTargets> policyTargets_;
  SpaceTargets top_;
  PruneRun run_;
  std::optional<FsSpace> fsBefore_, fsAfter_;
  ProgressReporter progress_;
  RemovedListsChannel lists_;
  RemovalOutcome outcome_;
};

}  // namespace

Napi::Promise StartPrune(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Object options, Napi::Value cancel) {
  return (new PruneWorker(env, std::move(state), options, cancel))->Start();
}

}  // namespace msb

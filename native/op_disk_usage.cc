// diskUsage(): what the cache holds on disk, by kind and by image. One read transaction for
// the rows; then every file under the cache root is listed and stat'ed (never followed) on a
// few threads; VMDK descriptors give each image's virtual size.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <unordered_map>

#include "cache_sweep.h"
#include "cache_walk.h"
#include "catalog.h"
#include "errors.h"
#include "operations.h"
#include "promise_worker.h"
#include "reference.h"
#include "vmdk.h"

namespace msb {
namespace {

std::optional<uint64_t> VirtualBytes(int rootFd, const std::string& path) {
  int fd = openat(rootFd, path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  std::string text(kMaxVmdkDescriptorBytes + 1, '\0');
  ssize_t n = pread(fd, text.data(), text.size(), 0);
  close(fd);
  if (n < 0) return std::nullopt;
  text.resize(size_t(n));
  VmdkDescriptor d = ParseVmdk(text);
  if (!d.ok) return std::nullopt;
  return d.virtualBytes;
}

struct ImageUsage {
  std::string reference, manifestDigest;
  std::optional<double> lastUsedAt;
  std::optional<uint64_t> virtualBytes;
  uint64_t uniqueBytes = 0, sharedBytes = 0;
  std::vector<std::string> pinnedBy;
};

class DiskUsageWorker : public PromiseWorker {
 public:
  using PromiseWorker::PromiseWorker;

 private:
  void Run() override {
    UsageCatalog catalog;
    {
      std::optional<CacheState::Lease> conn = state_->Acquire(Connection::Mode::kRead, cancel_);
      if (conn) {
        Transaction tx(**conn, Connection::Mode::kRead);
        catalog = LoadUsageCatalog(**conn);
      }
    }
    int rootFd = open(state_->Paths().cacheDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootFd < 0) {
      BuildImages(catalog, {}, -1);
      return;
    }
    std::vector<CacheFile> entries = WalkCache(rootFd, cancel_);
    if (cancel_.IsSet()) {
      close(rootFd);
      throw CacheError(code::kAborted, "the operation was aborted");
    }

    std::unordered_set<std::string> manifestDigests;
    for (const auto& [id, digest] : catalog.manifests) manifestDigests.insert(digest);
    std::unordered_set<std::string> metadataNames;
    for (const UsageCatalog::Ref& r : catalog.refs) {
      if (auto n = NormalizeReference(r.reference)) metadataNames.insert(MetadataFileStem(*n) + ".json");
    }
    std::unordered_map<std::string, const CacheFile*> byPath;
    for (const CacheFile& e : entries) {
      if (!e.present) continue;
      byPath.emplace(e.path, &e);
      total_ += e.size;
      allocated_ += e.allocated;
      *Kind(e.path, catalog, manifestDigests, metadataNames) += e.size;
    }
    BuildImages(catalog, byPath, rootFd);
    close(rootFd);
    // And what prune's sweep of flat/ and tmp/ would take now (its dry run, default grace).
    std::vector<std::string> unpinned;
    for (const auto& [id, digest] : catalog.manifests) {
      if (!catalog.pinnedBy.count(id)) unpinned.push_back(digest);
    }
    SweepReport sweep;
    double now = NowSeconds();
    SweepOptions dryRun{now - kDefaultGraceMs / 1000, now, true, cancel_};
    const std::string& cacheDir = state_->Paths().cacheDir;
    SweepFlat(cacheDir, unpinned, [](const std::string&) { return false; }, dryRun, &sweep);
    SweepTmp(cacheDir, dryRun, &sweep);
    reclaimable_ += sweep.bytes;
  }

  uint64_t* Kind(const std::string& path, const UsageCatalog& c, const std::unordered_set<std::string>& manifests,
                 const std::unordered_set<std::string>& metadataNames) {
    if (EndsWith(path, ".lock")) return &locks_;
    size_t slash = path.find('/');
    std::string top = slash == std::string::npos ? "" : path.substr(0, slash);
    std::string name = slash == std::string::npos ? path : path.substr(slash + 1);
    if (top == "flat") return &flat_;
    if (top == "tmp") return &tmp_;
    if (top == "layers" && EndsWith(name, ".erofs")) {
      auto d = DigestOfFileStem(name.substr(0, name.size() - 6));
      if (d && c.layerDiffIds.count(*d)) return &layers_;
    } else if (top == "fsmeta" && EndsWith(name, ".erofs")) {
      auto d = DigestOfFileStem(name.substr(0, name.size() - 6));
      if (d && manifests.count(*d)) return &fsmeta_;
    } else if (top == "vmdk" && EndsWith(name, ".vmdk")) {
      auto d = DigestOfFileStem(name.substr(0, name.size() - 5));
      if (d && manifests.count(*d)) return &vmdk_;
    } else if (top == "manifests" && metadataNames.count(name)) {
      return &metadata_;
    }
    return &orphans_;  // no row or reference names it (a leftover download, a crashed write, …)
  }

  void BuildImages(const UsageCatalog& c, const std::unordered_map<std::string, const CacheFile*>& byPath, int rootFd) {
    auto sizeOf = [&](const std::string& path) -> uint64_t {
      auto it = byPath.find(path);
      return it == byPath.end() ? 0 : it->second->size;
    };
    // Files of each reference, and how many references use each file.
    std::vector<std::vector<std::string>> filesOf(c.refs.size());
    std::unordered_map<std::string, uint32_t> users;
    std::unordered_map<std::string, std::optional<uint64_t>> virtualOf;
    for (size_t i = 0; i < c.refs.size(); i++) {
      const UsageCatalog::Ref& r = c.refs[i];
      std::vector<std::string>& files = filesOf[i];
      if (IsValidDigest(r.manifestDigest)) {
        std::string stem = DigestFileStem(r.manifestDigest);
        files.push_back("fsmeta/" + stem + ".erofs");
        files.push_back("vmdk/" + stem + ".vmdk");
        if (!virtualOf.count(r.manifestDigest)) {
          virtualOf[r.manifestDigest] = rootFd >= 0 ? VirtualBytes(rootFd, "vmdk/" + stem + ".vmdk") : std::nullopt;
        }
      }
      auto layers = c.layersOf.find(r.manifestId);
      if (layers != c.layersOf.end()) {
        for (const std::string& d : layers->second) {
          if (IsValidDigest(d)) files.push_back("layers/" + DigestFileStem(d) + ".erofs");
        }
      }
      if (auto n = NormalizeReference(r.reference)) files.push_back("manifests/" + MetadataFileStem(*n) + ".json");
      std::sort(files.begin(), files.end());
      files.erase(std::unique(files.begin(), files.end()), files.end());
      for (const std::string& f : files) users[f]++;
    }
    for (size_t i = 0; i < c.refs.size(); i++) {
      const UsageCatalog::Ref& r = c.refs[i];
      ImageUsage u{r.reference, r.manifestDigest, r.lastUsedAt, std::nullopt, 0, 0, {}};
      auto v = virtualOf.find(r.manifestDigest);
      if (v != virtualOf.end()) u.virtualBytes = v->second;
      for (const std::string& f : filesOf[i]) (users[f] == 1 ? u.uniqueBytes : u.sharedBytes) += sizeOf(f);
      auto pins = c.pinnedBy.find(r.manifestId);
      if (pins != c.pinnedBy.end()) u.pinnedBy = pins->second;
      images_.push_back(std::move(u));
    }

    // What prune() with no options would reclaim now (catalog.cc PruneRows), each file once.
    std::unordered_set<std::string> reclaim;
    std::unordered_set<std::string> keptLayers, heldKeys;
    for (const auto& [id, digest] : c.manifests) {
      if (!c.pinnedBy.count(id)) continue;
      auto layers = c.layersOf.find(id);
      if (layers != c.layersOf.end()) keptLayers.insert(layers->second.begin(), layers->second.end());
    }
    for (const UsageCatalog::Ref& r : c.refs) {
      if (!c.pinnedBy.count(r.manifestId)) continue;
      if (auto n = NormalizeReference(r.reference)) heldKeys.insert(*n);
    }
    for (const auto& [id, digest] : c.manifests) {
      if (c.pinnedBy.count(id) || !IsValidDigest(digest)) continue;
      reclaim.insert("fsmeta/" + DigestFileStem(digest) + ".erofs");
      reclaim.insert("vmdk/" + DigestFileStem(digest) + ".vmdk");
    }
    for (const std::string& d : c.layerDiffIds) {
      if (!keptLayers.count(d) && IsValidDigest(d)) reclaim.insert("layers/" + DigestFileStem(d) + ".erofs");
    }
    for (const UsageCatalog::Ref& r : c.refs) {
      if (c.pinnedBy.count(r.manifestId)) continue;
      auto n = NormalizeReference(r.reference);
      if (n && !heldKeys.count(*n)) reclaim.insert("manifests/" + MetadataFileStem(*n) + ".json");
    }
    for (const std::string& f : reclaim) reclaimable_ += sizeOf(f);
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("totalBytes", double(total_));
    o.Set("allocatedBytes", double(allocated_));
    Napi::Object kinds = Napi::Object::New(env);
    kinds.Set("layers", double(layers_));
    kinds.Set("fsmeta", double(fsmeta_));
    kinds.Set("vmdk", double(vmdk_));
    kinds.Set("metadata", double(metadata_));
    kinds.Set("flat", double(flat_));
    kinds.Set("tmp", double(tmp_));
    kinds.Set("orphans", double(orphans_));
    kinds.Set("locks", double(locks_));
    o.Set("byKind", kinds);
    Napi::Array images = Napi::Array::New(env, images_.size());
    for (uint32_t i = 0; i < images_.size(); i++) {
      const ImageUsage& u = images_[i];
      Napi::Object x = Napi::Object::New(env);
      x.Set("reference", u.reference);
      x.Set("manifestDigest", u.manifestDigest);
      x.Set("lastUsedAt", u.lastUsedAt ? Napi::Number::New(env, *u.lastUsedAt) : env.Null());
      x.Set("virtualBytes", u.virtualBytes ? Napi::Number::New(env, double(*u.virtualBytes)) : env.Null());
      x.Set("uniqueBytes", double(u.uniqueBytes));
      x.Set("sharedBytes", double(u.sharedBytes));
      Napi::Array pins = Napi::Array::New(env, u.pinnedBy.size());
      for (uint32_t k = 0; k < u.pinnedBy.size(); k++) pins.Set(k, u.pinnedBy[k]);
      x.Set("pinnedBy", pins);
      images.Set(i, x);
    }
    o.Set("images", images);
    o.Set("reclaimableBytes", double(reclaimable_));
    return o;
  }

  uint64_t total_ = 0, allocated_ = 0, reclaimable_ = 0;
  uint64_t layers_ = 0, fsmeta_ = 0, vmdk_ = 0, metadata_ = 0, flat_ = 0, tmp_ = 0, orphans_ = 0, locks_ = 0;
  std::vector<ImageUsage> images_;
};

}  // namespace

Napi::Promise StartDiskUsage(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Value cancel) {
  return (new DiskUsageWorker(env, std::move(state), cancel))->Start();
}

}  // namespace msb

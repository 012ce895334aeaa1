// prune()'s space targets (docs/api.md "Space targets"): which references to evict, least
// recently used first, so that the cache's on-disk size (allocated bytes, st_blocks × 512, as
// diskUsage().allocatedBytes and the CLI's df "On disk") falls to maxBytes, the file system
// holding the cache has minFreeSpace free, and the cache never shrinks below reservedSpace. A
// file counts as freed only when its last user goes: shared layers with their last manifest, a
// manifest's fsmeta and VMDK with its last reference, a metadata JSON with the last reference
// normalizing to it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "storage/catalog.h"

namespace msb {

struct BudgetCandidate {
  std::string reference;
  int64_t manifestId = 0;
  std::optional<double> lastUsedAt;
};

// The file system holding the cache directory (statvfs): free = f_bavail × f_frsize, the space
// unprivileged users may still take; size = f_blocks × f_frsize.
struct FsSpace {
  uint64_t size = 0;
  uint64_t free = 0;
};
// nullopt when statvfs fails (no cache directory).
std::optional<FsSpace> StatFs(const std::string& dir);

// A target as given: bytes, a share of the file system's size, or both (summed).
struct SpaceAmount {
  std::optional<uint64_t> bytes;
  std::optional<double> percent;
  // Both given (ensureFree: the bytes asked for plus a share kept free): their sum.
  uint64_t Resolve(const FsSpace& fs) const {
    uint64_t share = percent ? uint64_t(double(fs.size) * *percent / 100.0) : 0;
    return bytes.value_or(0) + share;
  }
};

// The state of one prune's evictions: what has gone so far, in allocated bytes.
class LruBudget {
 public:
  // `allocated`: path under the cache root -> allocated bytes of the files present;
  // `cacheBytes`: their total; `fsFree`: free bytes on the file system now.
  LruBudget(const UsageCatalog& catalog, std::unordered_map<std::string, uint64_t> allocated, uint64_t cacheBytes,
            uint64_t fsFree);

  // Bytes removing `c` now would free (files whose last user it is).
  uint64_t FreedBy(const BudgetCandidate& c) const;
  // Records `c` as removed.
  void Take(const BudgetCandidate& c);
  bool Met(const SpaceTargets& t) const;
  uint64_t CacheBytes() const { return cacheBytes_ - std::min(freed_, cacheBytes_); }
  uint64_t FsFree() const { return fsFree_ + freed_; }

  // Indexes of `candidates`, least recently used first (unknown lastUsedAt last, then by reference).
  static std::vector<size_t> LruOrder(const std::vector<BudgetCandidate>& candidates);

 private:
  uint64_t SizeOf(const std::string& path) const;
  const UsageCatalog& catalog_;
  std::unordered_map<std::string, uint64_t> allocated_;
  uint64_t cacheBytes_, fsFree_, freed_ = 0;
  std::unordered_map<int64_t, uint32_t> refsOfManifest_;
  std::unordered_map<std::string, uint32_t> refsOfMetadata_;
  std::unordered_map<std::string, uint32_t> manifestsOfLayer_;
};

}  // namespace msb

#include "storage/budget.h"

#include <sys/statvfs.h>

#include <algorithm>

#include "formats/reference.h"

namespace msb {

namespace {

std::optional<std::string> MetadataKey(const std::string& reference) {
  std::optional<std::string> n = NormalizeReference(reference);
  if (!n) return std::nullopt;
  return MetadataFileStem(*n);
}

}  // namespace

std::optional<FsSpace> StatFs(const std::string& dir) {
  struct statvfs s;
  if (statvfs(dir.c_str(), &s) != 0) return std::nullopt;
  return FsSpace{uint64_t(s.f_blocks) * uint64_t(s.f_frsize), uint64_t(s.f_bavail) * uint64_t(s.f_frsize)};
}

LruBudget::LruBudget(const UsageCatalog& catalog, std::unordered_map<std::string, uint64_t> allocated,
                     uint64_t cacheBytes, uint64_t fsFree)
    : catalog_(catalog), allocated_(std::move(allocated)), cacheBytes_(cacheBytes), fsFree_(fsFree) {
  for (const UsageCatalog::Ref& r : catalog.refs) {
    refsOfManifest_[r.manifestId]++;
    if (auto k = MetadataKey(r.reference)) refsOfMetadata_[*k]++;
  }
  for (const auto& [id, layers] : catalog.layersOf) {
    for (const std::string& d : layers) manifestsOfLayer_[d]++;
  }
}

uint64_t LruBudget::SizeOf(const std::string& path) const {
  auto it = allocated_.find(path);
  return it == allocated_.end() ? 0 : it->second;
}

uint64_t LruBudget::FreedBy(const BudgetCandidate& c) const {
  uint64_t freed = 0;
  if (auto k = MetadataKey(c.reference)) {
    auto it = refsOfMetadata_.find(*k);
    if (it != refsOfMetadata_.end() && it->second == 1) freed += SizeOf("manifests/" + *k + ".json");
  }
  auto refs = refsOfManifest_.find(c.manifestId);
  if (refs == refsOfManifest_.end() || refs->second != 1 || catalog_.pinnedBy.count(c.manifestId)) return freed;
  auto digest = catalog_.manifests.find(c.manifestId);
  if (digest != catalog_.manifests.end() && IsValidDigest(digest->second)) {
    std::string stem = DigestFileStem(digest->second);
    freed += SizeOf("fsmeta/" + stem + ".erofs") + SizeOf("vmdk/" + stem + ".vmdk");
  }
  auto layers = catalog_.layersOf.find(c.manifestId);
  if (layers == catalog_.layersOf.end()) return freed;
  std::unordered_map<std::string, uint32_t> here;  // a layer listed twice by one manifest
  for (const std::string& d : layers->second) here[d]++;
  for (const auto& [d, n] : here) {
    auto users = manifestsOfLayer_.find(d);
    if (users != manifestsOfLayer_.end() && users->second == n && IsValidDigest(d)) {
      freed += SizeOf("layers/" + DigestFileStem(d) + ".erofs");
    }
  }
  return freed;
}

void LruBudget::Take(const BudgetCandidate& c) {
  freed_ += FreedBy(c);
  if (auto k = MetadataKey(c.reference)) {
    auto it = refsOfMetadata_.find(*k);
    if (it != refsOfMetadata_.end() && it->second > 0) it->second--;
  }
  auto refs = refsOfManifest_.find(c.manifestId);
  if (refs == refsOfManifest_.end() || refs->second == 0) return;
  if (--refs->second != 0 || catalog_.pinnedBy.count(c.manifestId)) return;
  auto layers = catalog_.layersOf.find(c.manifestId);
  if (layers == catalog_.layersOf.end()) return;
  for (const std::string& d : layers->second) {
    auto users = manifestsOfLayer_.find(d);
    if (users != manifestsOfLayer_.end() && users->second > 0) users->second--;
  }
}

bool LruBudget::Met(const SpaceTargets& t) const {
  if (t.maxBytes && CacheBytes() > *t.maxBytes) return false;
  if (t.minFree && FsFree() < *t.minFree) return false;
  return true;
}

std::vector<size_t> LruBudget::LruOrder(const std::vector<BudgetCandidate>& candidates) {
  std::vector<size_t> order(candidates.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& x = candidates[a].lastUsedAt;
    const auto& y = candidates[b].lastUsedAt;
    if (x.has_value() != y.has_value()) return x.has_value();  // unknown last: not known to be old
    if (x && *x != *y) return *x < *y;
    return candidates[a].reference < candidates[b].reference;
  });
  return order;
}

}  // namespace msb

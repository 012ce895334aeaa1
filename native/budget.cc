#include "budget.h"

#include <algorithm>

#include "reference.h"

namespace msb {

std::vector<size_t> ChooseLruVictims(const std::vector<BudgetCandidate>& candidates, const UsageCatalog& catalog,
                                     const std::unordered_map<std::string, uint64_t>& sizes, uint64_t totalBytes,
                                     uint64_t maxBytes) {
  std::vector<size_t> victims;
  if (totalBytes <= maxBytes) return victims;
  auto sizeOf = [&](const std::string& path) -> uint64_t {
    auto it = sizes.find(path);
    return it == sizes.end() ? 0 : it->second;
  };
  auto metadataKey = [](const std::string& reference) -> std::optional<std::string> {
    std::optional<std::string> n = NormalizeReference(reference);
    if (!n) return std::nullopt;
    return MetadataFileStem(*n);
  };

  // Users of every file, over the whole catalog.
  std::unordered_map<int64_t, uint32_t> refsOfManifest;
  std::unordered_map<std::string, uint32_t> refsOfMetadata;
  for (const UsageCatalog::Ref& r : catalog.refs) {
    refsOfManifest[r.manifestId]++;
    if (auto k = metadataKey(r.reference)) refsOfMetadata[*k]++;
  }
  std::unordered_map<std::string, uint32_t> manifestsOfLayer;
  for (const auto& [id, layers] : catalog.layersOf) {
    for (const std::string& d : layers) manifestsOfLayer[d]++;
  }

  std::vector<size_t> order(candidates.size());
  for (size_t i = 0; i < order.size(); i++) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    const auto& x = candidates[a].lastUsedAt;
    const auto& y = candidates[b].lastUsedAt;
    if (x.has_value() != y.has_value()) return x.has_value();  // unknown last: not known to be old
    if (x && *x != *y) return *x < *y;
    return candidates[a].reference < candidates[b].reference;
  });

  uint64_t freed = 0;
  for (size_t i : order) {
    if (totalBytes - std::min(freed, totalBytes) <= maxBytes) break;
    const BudgetCandidate& c = candidates[i];
    victims.push_back(i);
    if (auto k = metadataKey(c.reference); k && --refsOfMetadata[*k] == 0) {
      freed += sizeOf("manifests/" + *k + ".json");
    }
    if (--refsOfManifest[c.manifestId] != 0 || catalog.pinnedBy.count(c.manifestId)) continue;
    auto digest = catalog.manifests.find(c.manifestId);
    if (digest != catalog.manifests.end() && IsValidDigest(digest->second)) {
      std::string stem = DigestFileStem(digest->second);
      freed += sizeOf("fsmeta/" + stem + ".erofs") + sizeOf("vmdk/" + stem + ".vmdk");
    }
    auto layers = catalog.layersOf.find(c.manifestId);
    if (layers == catalog.layersOf.end()) continue;
    for (const std::string& d : layers->second) {
      if (--manifestsOfLayer[d] == 0 && IsValidDigest(d)) freed += sizeOf("layers/" + DigestFileStem(d) + ".erofs");
    }
  }
  return victims;
}

}  // namespace msb

// prune({ maxBytes }): which references to evict, least recently used first, so that the cache's
// on-disk total (diskUsage().totalBytes) falls to the budget. A file is counted freed only when
// its last user goes: shared layers with their last manifest, a manifest's fsmeta and VMDK
// with its last reference, a metadata JSON with the last reference normalizing to it.
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "catalog.h"

namespace msb {

struct BudgetCandidate {
  std::string reference;
  int64_t manifestId = 0;
  std::optional<double> lastUsedAt;
};

// Indexes into `candidates` to remove, oldest lastUsedAt first (unknown last), until
// totalBytes - freed ≤ maxBytes or the candidates run out. `sizes`: path under the cache root
// -> apparent bytes of the files present.
std::vector<size_t> ChooseLruVictims(const std::vector<BudgetCandidate>& candidates, const UsageCatalog& catalog,
                                     const std::unordered_map<std::string, uint64_t>& sizes, uint64_t totalBytes,
                                     uint64_t maxBytes);

}  // namespace msb

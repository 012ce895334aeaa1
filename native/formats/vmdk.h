// Text VMDK descriptors as msb writes them (format spec §4.2). Only parsed, never trusted as
// paths to delete.
#pragma once
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace msb {

struct VmdkExtent {
  std::string access;   // RW, RDONLY, NOACCESS
  uint64_t sectors = 0;
  std::string type;     // FLAT, ZERO, ...
  std::string path;     // as written (absolute, unescaped)
  uint64_t offset = 0;  // in sectors
};

struct VmdkDescriptor {
  bool ok = false;
  std::string error;  // why it is not a descriptor (empty when ok)
  std::string createType;
  std::vector<VmdkExtent> extents;
  uint64_t virtualBytes = 0;  // Σ extent sectors × 512
};

// Descriptors larger than this are rejected unread (msb's are a few hundred bytes).
inline constexpr size_t kMaxVmdkDescriptorBytes = 1 << 20;

VmdkDescriptor ParseVmdk(std::string_view text);

}  // namespace msb

// Listing a cache directory: every file under the root, never following links, lstat'ed on a
// few threads (a big cache is stat-bound). Shared by diskUsage() and prune({ maxBytes }).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/cancel.h"

namespace msb {

struct CacheFile {
  std::string path;  // relative to the cache root
  uint64_t size = 0;       // apparent
  uint64_t allocated = 0;  // st_blocks × 512
  double ctime = 0;        // seconds since the epoch: the last change to the file or its inode
  bool present = false;    // false when it vanished between listing and lstat
};

// layers/, fsmeta/, vmdk/, manifests/ and other top-level directories one level deep; flat/ and
// tmp/ recursively; files at the root too.
std::vector<CacheFile> WalkCache(int rootFd, CancelFlag cancel);

// The whole of a regular file under `dirFd`, never through a symlink; nullopt when it cannot be
// read or is larger than `limit` bytes.
std::optional<std::string> ReadFileAt(int dirFd, const std::string& path, size_t limit);

// Σ apparent sizes of the files present.
uint64_t TotalBytes(const std::vector<CacheFile>& files);

}  // namespace msb

// Listing a cache directory: every file under the root, never following links, lstat'ed as it is
// read (tmpfs) or afterwards on a few threads (a file system on a device, where the look-ups wait
// for it). Shared by diskUsage() and prune({ maxBytes }).
#pragma once
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/cancel.h"
#include "base/parallel.h"
#include "platform/platform.h"

namespace msb {

struct CacheFile {
  std::string path;  // relative to the cache root
  uint64_t size = 0;       // apparent
  uint64_t allocated = 0;  // st_blocks × 512
  double ctime = 0;        // seconds since the epoch: the last change to the file or its inode
  bool present = false;    // false when it vanished between listing and lstat
};

// The same walk in a compact form (what diskUsage() reads, 800,000 files at 100,000 images): the
// paths packed NUL-terminated into a few big blocks, one 40-byte record per file, and no
// allocation per file.
struct CacheListing {
  struct File {
    const char* path = nullptr;  // relative to the cache root, NUL-terminated, in `blocks`
    uint32_t length = 0;
    bool present = false;  // as CacheFile's
    uint64_t size = 0, allocated = 0;
    double ctime = 0;
    std::string_view Path() const { return {path, length}; }
  };
  struct FreeBlock {
    size_t bytes = 0;  // as allocated (AllocateLarge)
    void operator()(char* p) const { FreeLarge(p, bytes); }
  };
  using Files = LargeVector<File>;
  Files files;
  std::vector<std::unique_ptr<char[], FreeBlock>> blocks;  // AllocateLarge
  char* next = nullptr;  // the free tail of the last block
  size_t left = 0;
  // With ListOptions::virtualBytes: each vmdk/*.vmdk that is a descriptor (a regular file of at most
  // kMaxVmdkDescriptorBytes that ParseVmdk accepts), as {its index in `files`, the disk's virtual
  // bytes}, by index.
  std::vector<std::pair<uint32_t, uint64_t>> virtualBytes;
};

struct ListOptions {
  // Read each vmdk/*.vmdk descriptor as it is listed (its inode is then still in the CPU's caches).
  bool virtualBytes = false;
  // Loops another thread may join (SharedLoops::HelpUntilFinished; the caller Finish()es them after):
  // it then takes whole top-level directories, the biggest first, and a share of the lstat passes.
  SharedLoops* loops = nullptr;
};

// layers/, fsmeta/, vmdk/, manifests/ and other top-level directories one level deep; flat/ and
// tmp/ recursively; files at the root too. The order is the same whichever thread listed what.
CacheListing ListCache(int rootFd, CancelFlag cancel, const ListOptions& options = {});
std::vector<CacheFile> WalkCache(int rootFd, CancelFlag cancel);  // the same, a string per path

// The whole of a regular file under `dirFd`, never through a symlink; nullopt when it cannot be
// read or is larger than `limit` bytes.
std::optional<std::string> ReadFileAt(int dirFd, const std::string& path, size_t limit);

// Σ apparent sizes of the files present.
uint64_t TotalBytes(const std::vector<CacheFile>& files);

}  // namespace msb

#include "storage/cache_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>

#include "base/parallel.h"
#include "platform/platform.h"

namespace msb {
namespace {

constexpr size_t kBlockBytes = size_t(1) << 20;

// `rel` + "/" + `name` (`name` alone at the root), NUL-terminated, in the listing's blocks.
const char* Store(CacheListing* out, std::string_view rel, std::string_view name, uint32_t* length) {
  size_t n = rel.empty() ? name.size() : rel.size() + 1 + name.size();
  if (out->left < n + 1) {
    size_t bytes = std::max(kBlockBytes, n + 1);
    out->blocks.emplace_back(new char[bytes]);
    out->next = out->blocks.back().get();
    out->left = bytes;
  }
  char* p = out->next;
  char* w = p;
  if (!rel.empty()) {
    std::memcpy(w, rel.data(), rel.size());
    w += rel.size();
    *w++ = '/';
  }
  std::memcpy(w, name.data(), name.size());
  w[name.size()] = '\0';
  out->next += n + 1;
  out->left -= n + 1;
  *length = uint32_t(n);
  return p;
}

// Every non-directory entry under `rel` (recursively), never following links.
void ListTree(int rootFd, const std::string& rel, bool recursive, CacheListing* out, CancelFlag cancel) {
  if (cancel.IsSet()) return;
  int fd = rel.empty() ? dup(rootFd) : openat(rootFd, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return;
  }
  std::vector<std::string> subdirs;
  while (dirent* d = readdir(dir)) {
    std::string_view name = d->d_name;
    if (name == "." || name == "..") continue;
    bool isDir = d->d_type == DT_DIR;
    if (d->d_type == DT_UNKNOWN) {
      struct stat st;
      isDir = fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (isDir) {
      // Recursively, or at the top level: descend per directory rules below.
      if (recursive || rel.empty()) subdirs.push_back(rel.empty() ? std::string(name) : rel + "/" + std::string(name));
    } else {
      CacheListing::File f;
      f.path = Store(out, rel, name, &f.length);
      out->files.push_back(f);
    }
  }
  closedir(dir);
  for (const std::string& sub : subdirs) {
    bool deep = recursive || sub == "flat" || sub == "tmp" || sub.rfind("flat/", 0) == 0;
    if (rel.empty() && !deep) {
      ListTree(rootFd, sub, false, out, cancel);  // layers/, fsmeta/, vmdk/, manifests/, others: one level
    } else {
      ListTree(rootFd, sub, true, out, cancel);
    }
  }
}

// lstat of every entry on a few threads: the listing of a big cache is stat-bound.
void StatAll(int rootFd, std::vector<CacheListing::File>* files) {
  ParallelFor(files->size(), 256, [&](size_t k) {
    CacheListing::File& f = (*files)[k];
    struct stat st;
    if (fstatat(rootFd, f.path, &st, AT_SYMLINK_NOFOLLOW) == 0) {
      f.present = true;
      f.size = uint64_t(st.st_size);
      f.allocated = uint64_t(st.st_blocks) * 512;
      f.ctime = ChangeTime(st);
    }
  });
}

}  // namespace

CacheListing ListCache(int rootFd, CancelFlag cancel) {
  CacheListing listing;
  ListTree(rootFd, "", false, &listing, cancel);
  if (!cancel.IsSet()) StatAll(rootFd, &listing.files);
  return listing;
}

std::vector<CacheFile> WalkCache(int rootFd, CancelFlag cancel) {
  CacheListing listing = ListCache(rootFd, cancel);
  std::vector<CacheFile> files;
  files.reserve(listing.files.size());
  for (const CacheListing::File& f : listing.files) {
    files.push_back({std::string(f.Path()), f.size, f.allocated, f.ctime, f.present});
  }
  return files;
}

std::optional<std::string> ReadFileAt(int dirFd, const std::string& path, size_t limit) {
  int fd = openat(dirFd, path.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0) return std::nullopt;
  struct stat st;
  std::optional<std::string> out;
  if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && uint64_t(st.st_size) <= limit) {
    std::string text(size_t(st.st_size), '\0');
    size_t got = 0;
    while (got < text.size()) {
      ssize_t n = pread(fd, text.data() + got, text.size() - got, off_t(got));
      if (n <= 0) break;
      got += size_t(n);
    }
    if (got == text.size()) out = std::move(text);
  }
  close(fd);
  return out;
}

uint64_t TotalBytes(const std::vector<CacheFile>& files) {
  uint64_t total = 0;
  for (const CacheFile& f : files) {
    if (f.present) total += f.size;
  }
  return total;
}

}  // namespace msb

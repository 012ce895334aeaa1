#include "storage/cache_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/parallel.h"
#include "platform/platform.h"

namespace msb {
namespace {

// Relative paths of every non-directory entry under `rel` (recursively), never following links.
void ListTree(int rootFd, const std::string& rel, bool recursive, std::vector<CacheFile>* out, CancelFlag cancel) {
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
    std::string name = d->d_name;
    if (name == "." || name == "..") continue;
    std::string path = rel.empty() ? name : rel + "/" + name;
    bool isDir = d->d_type == DT_DIR;
    if (d->d_type == DT_UNKNOWN) {
      struct stat st;
      isDir = fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode);
    }
    if (isDir) {
      if (recursive) subdirs.push_back(path);
      else if (rel.empty()) subdirs.push_back(path);  // top level: descend per directory rules below
    } else {
      out->push_back({path});
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
void StatAll(int rootFd, std::vector<CacheFile>* entries) {
  ParallelFor(entries->size(), 256, [&](size_t k) {
    CacheFile& e = (*entries)[k];
    struct stat st;
    if (fstatat(rootFd, e.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
      e.present = true;
      e.size = uint64_t(st.st_size);
      e.allocated = uint64_t(st.st_blocks) * 512;
      e.ctime = ChangeTime(st);
    }
  });
}

}  // namespace

std::vector<CacheFile> WalkCache(int rootFd, CancelFlag cancel) {
  std::vector<CacheFile> files;
  ListTree(rootFd, "", false, &files, cancel);
  if (!cancel.IsSet()) StatAll(rootFd, &files);
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

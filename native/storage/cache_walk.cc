#include "storage/cache_walk.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <numeric>

#include "base/parallel.h"
#include "formats/reference.h"
#include "formats/vmdk.h"
#include "platform/platform.h"

namespace msb {
namespace {

constexpr size_t kBlockBytes = kHugePageBytes;
// Entries a listing reserves room for at most before it knows (80 MB of address space, about
// 2.5 times the files of a 100,000-image cache).
constexpr uint64_t kMostRoomReserved = uint64_t(1) << 21;

// `rel` + "/" + `name` (`name` alone at the root), NUL-terminated, in the listing's blocks.
const char* Store(CacheListing* out, std::string_view rel, std::string_view name, uint32_t* length) {
  size_t n = rel.empty() ? name.size() : rel.size() + 1 + name.size();
  if (out->left < n + 1) {
    size_t bytes = std::max(kBlockBytes, n + 1);
    out->blocks.emplace_back(static_cast<char*>(AllocateLarge(bytes)), CacheListing::FreeBlock{bytes});
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

void Fill(CacheListing::File* f, const struct stat& st) {
  f->present = true;
  f->size = uint64_t(st.st_size);
  f->allocated = uint64_t(st.st_blocks) * 512;
  f->ctime = ChangeTime(st);
}

// The virtual bytes of the descriptor at `path` under `dirFd`, when it is one (read as ReadFileAt
// reads: never through a link, a regular file of at most kMaxVmdkDescriptorBytes).
std::optional<uint64_t> DescriptorVirtualBytes(int dirFd, const std::string& path) {
  std::optional<std::string> text = ReadFileAt(dirFd, path, kMaxVmdkDescriptorBytes);
  if (!text) return std::nullopt;
  VmdkDescriptor d = ParseVmdk(*text);
  if (!d.ok) return std::nullopt;
  return d.virtualBytes;
}

bool IsDescriptorName(std::string_view name) { return EndsWith(name, ".vmdk"); }

// The non-directory entries of `rel` (the root when empty) into `out`, never following links, and
// its subdirectories into `subdirs`; each entry lstat'ed as it is read when `statHere` (its inode
// is then still in the CPU's caches: on tmpfs about a quarter cheaper than a pass after the listing),
// and then, with `descriptors`, each VMDK descriptor read too.
void ListDir(int rootFd, const std::string& rel, bool statHere, bool descriptors, CacheListing* out,
             std::vector<std::string>* subdirs, CancelFlag cancel) {
  if (cancel.IsSet()) return;
  int fd = rel.empty() ? dup(rootFd) : openat(rootFd, rel.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return;
  }
  while (dirent* d = readdir(dir)) {
    std::string_view name = d->d_name;
    if (name == "." || name == "..") continue;
    bool isDir = d->d_type == DT_DIR;
    struct stat st;
    bool statted = false;
    if (d->d_type == DT_UNKNOWN || (statHere && !isDir)) {
      statted = fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0;
      isDir = statted && S_ISDIR(st.st_mode);
    }
    if (isDir) {
      subdirs->push_back(rel.empty() ? std::string(name) : rel + "/" + std::string(name));
    } else {
      CacheListing::File f;
      f.path = Store(out, rel, name, &f.length);
      if (statted) Fill(&f, st);
      if (descriptors && statted && S_ISREG(st.st_mode) && uint64_t(st.st_size) <= kMaxVmdkDescriptorBytes &&
          IsDescriptorName(name)) {
        std::optional<uint64_t> v = DescriptorVirtualBytes(dirfd(dir), d->d_name);
        if (v) out->virtualBytes.emplace_back(uint32_t(out->files.size()), *v);
      }
      out->files.push_back(f);
    }
  }
  closedir(dir);
}

// Every non-directory entry under `rel`, recursively.
void ListTree(int rootFd, const std::string& rel, bool statHere, CacheListing* out, CancelFlag cancel) {
  std::vector<std::string> subdirs;
  ListDir(rootFd, rel, statHere, false, out, &subdirs, cancel);
  for (const std::string& sub : subdirs) ListTree(rootFd, sub, statHere, out, cancel);
}

// lstat of every entry on a few threads: the listing of a big cache is stat-bound.
void StatAll(int rootFd, CacheListing::Files* files, SharedLoops& loops) {
  loops.Run(files->size(), 256, [&](size_t k) {
    CacheListing::File& f = (*files)[k];
    struct stat st;
    if (fstatat(rootFd, f.path, &st, AT_SYMLINK_NOFOLLOW) == 0) Fill(&f, st);
  }, 4, false);
}

// After StatAll: the VMDK descriptors of vmdk/ on the same threads.
void ReadDescriptors(int rootFd, CacheListing* listing, SharedLoops& loops) {
  std::vector<uint32_t> which;
  for (size_t k = 0; k < listing->files.size(); k++) {
    const CacheListing::File& f = listing->files[k];
    std::string_view path = f.Path();
    if (f.present && f.size <= kMaxVmdkDescriptorBytes && path.rfind("vmdk/", 0) == 0 &&
        path.find('/', 5) == std::string_view::npos && IsDescriptorName(path)) {
      which.push_back(uint32_t(k));
    }
  }
  std::vector<std::optional<uint64_t>> read(which.size());
  loops.Run(which.size(), 16, [&](size_t j) { read[j] = DescriptorVirtualBytes(rootFd, listing->files[which[j]].path); },
            4, false);
  for (size_t j = 0; j < which.size(); j++) {
    if (read[j]) listing->virtualBytes.emplace_back(which[j], *read[j]);
  }
}

}  // namespace

CacheListing ListCache(int rootFd, CancelFlag cancel, const ListOptions& options) {
  const bool onDevice = OnDeviceFileSystem(rootFd);
  SharedLoops own;
  SharedLoops& loops = options.loops ? *options.loops : own;
  CacheListing listing;
  std::vector<std::string> tops;
  ListDir(rootFd, "", !onDevice, false, &listing, &tops, cancel);
  // Each top-level directory into a part of its own, handed out one at a time, the biggest first (by
  // the directory's size, which grows with its entries), to this thread and any helper; the parts are
  // then joined in the root's order. Each part has room for all its entries from the start: a
  // directory's size is at least 16 bytes per entry on the file systems caches live on (tmpfs counts
  // 20; ext4, xfs and btrfs more), and room that is never written costs no memory. Growing by copies
  // would write two to three times as much, and a first write to a page is not free (on some VMs
  // about 10 µs).
  std::vector<uint64_t> room(tops.size(), 0);
  for (size_t k = 0; k < tops.size(); k++) {
    struct stat st;
    if (fstatat(rootFd, tops[k].c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) room[k] = uint64_t(st.st_size) / 16;
  }
  // The order: by the work each directory takes; reading a descriptor costs about twice an lstat.
  auto reads = [&](size_t k) { return options.virtualBytes && tops[k] == "vmdk"; };
  auto work = [&](size_t k) { return room[k] * (reads(k) ? 3 : 1); };
  std::vector<size_t> biggestFirst(tops.size());
  std::iota(biggestFirst.begin(), biggestFirst.end(), size_t(0));
  std::stable_sort(biggestFirst.begin(), biggestFirst.end(), [&](size_t a, size_t b) { return work(a) > work(b); });
  std::vector<CacheListing> parts(tops.size());
  loops.Run(tops.size(), tops.size(), [&](size_t j) {
    size_t k = biggestFirst[j];
    parts[k].files.reserve(size_t(std::min<uint64_t>(room[k], kMostRoomReserved)));
    if (tops[k] == "flat" || tops[k] == "tmp") {
      ListTree(rootFd, tops[k], !onDevice, &parts[k], cancel);  // recursively
    } else {
      std::vector<std::string> ignored;  // layers/, fsmeta/, vmdk/, manifests/, others: one level
      ListDir(rootFd, tops[k], !onDevice, reads(k), &parts[k], &ignored, cancel);
    }
  }, 1, false, 1);
  size_t files = listing.files.size();
  for (const CacheListing& part : parts) files += part.files.size();
  listing.files.reserve(files);
  for (CacheListing& part : parts) {
    uint32_t offset = uint32_t(listing.files.size());
    listing.files.insert(listing.files.end(), part.files.begin(), part.files.end());
    for (const auto& [k, v] : part.virtualBytes) listing.virtualBytes.emplace_back(offset + k, v);
    for (auto& block : part.blocks) listing.blocks.push_back(std::move(block));
    CacheListing::Files().swap(part.files);  // freed as the join goes: the peak is not two listings
  }
  if (onDevice && !cancel.IsSet()) {
    StatAll(rootFd, &listing.files, loops);
    if (options.virtualBytes) ReadDescriptors(rootFd, &listing, loops);
  }
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

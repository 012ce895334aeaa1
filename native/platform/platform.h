#pragma once
// What differs between the platforms msb runs on (Linux, macOS), in one place; the operations use
// these names and never test the platform themselves.

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <vector>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#if defined(__linux__)
#include <linux/magic.h>
#include <sys/vfs.h>
#endif

// Change notification for the in-flight guard: inotify on Linux. Elsewhere (macOS), or built with
// -DMSB_NO_INOTIFY (so CI runs the in-flight, race and crash tests against it on Linux), the guard
// lists manifests/, vmdk/ and tmp/ again at every call and batch instead.
#if defined(__linux__) && !defined(MSB_NO_INOTIFY)
#define MSB_HAVE_INOTIFY 1
#else
#define MSB_HAVE_INOTIFY 0
#endif

namespace msb {

// A file's status-change time (ctime) in seconds: Linux calls the field st_ctim, macOS st_ctimespec.
inline double ChangeTime(const struct stat& st) {
#if defined(__APPLE__)
  const struct timespec& c = st.st_ctimespec;
#else
  const struct timespec& c = st.st_ctim;
#endif
  return double(c.tv_sec) + double(c.tv_nsec) / 1e9;
}

// Whether the directory's file system is on a device, so reads and look-ups may wait for it: on
// Linux, anything but tmpfs and ramfs (whose pages are already in memory); elsewhere false. Where it
// is, asking for a file's pages ahead of its read (HintWillRead) and having many look-ups in flight
// (ParallelFor's waitsOnDevice) can save waits.
inline bool OnDeviceFileSystem(int dirFd) {
#if defined(__linux__)
  struct statfs fs;
  return dirFd >= 0 && fstatfs(dirFd, &fs) == 0 && fs.f_type != TMPFS_MAGIC && fs.f_type != RAMFS_MAGIC;
#else
  (void)dirFd;
  return false;
#endif
}

// Hands the heap's free pages back to the system: glibc keeps what big, short-lived allocations
// freed (in every thread's arena) until then. Elsewhere nothing.
inline void ReleaseFreeMemory() {
#if defined(__GLIBC__)
  malloc_trim(0);
#endif
}

// Starts reading the file's pages into the page cache and returns (nothing is read into memory here).
inline void HintWillRead(int fd) {
#if defined(__linux__)
  posix_fadvise(fd, 0, 0, POSIX_FADV_WILLNEED);
#else
  (void)fd;
#endif
}

// Memory for big arrays written once and soon freed (a listing of every file in the cache, the
// tables built over it, the columns a report travels in): mapped on its own, 2 MiB-aligned, so that
// Linux may back it with huge pages (MADV_HUGEPAGE, honoured when transparent huge pages are
// "madvise" or "always"), and unmapped when freed (nothing kept by malloc between calls). A first
// write to each 4 KiB page costs a fault, and on some VMs a fault costs about 10 µs: for the 10 MB
// of a 10,000-image listing that was a tenth of diskUsage()'s time. Smaller arrays, and other
// platforms: malloc. Not for memory kept between calls: huge pages round it up to 2 MiB resident.
inline constexpr size_t kHugePageBytes = size_t(2) << 20;
inline constexpr size_t kLargeFromBytes = kHugePageBytes / 4;

inline size_t LargeMappingBytes(size_t bytes) { return (bytes + kHugePageBytes - 1) / kHugePageBytes * kHugePageBytes; }

inline void* AllocateLarge(size_t bytes) {
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= kLargeFromBytes) {
    size_t rounded = LargeMappingBytes(bytes), span = rounded + kHugePageBytes;
    void* m = mmap(nullptr, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::bad_alloc();
    uintptr_t start = reinterpret_cast<uintptr_t>(m);
    uintptr_t aligned = (start + kHugePageBytes - 1) & ~uintptr_t(kHugePageBytes - 1);
    if (aligned > start) munmap(m, aligned - start);
    if (start + span > aligned + rounded) munmap(reinterpret_cast<void*>(aligned + rounded), start + span - (aligned + rounded));
    madvise(reinterpret_cast<void*>(aligned), rounded, MADV_HUGEPAGE);  // a hint: refused, small pages as before
    return reinterpret_cast<void*>(aligned);
  }
#endif
  void* p = std::malloc(bytes == 0 ? 1 : bytes);
  if (p == nullptr) throw std::bad_alloc();
  return p;
}

// Frees what AllocateLarge(bytes) returned (the same `bytes`).
inline void FreeLarge(void* p, size_t bytes) {
  if (p == nullptr) return;
#if defined(__linux__) && defined(MADV_HUGEPAGE)
  if (bytes >= kLargeFromBytes) {
    munmap(p, LargeMappingBytes(bytes));
    return;
  }
#endif
  (void)bytes;
  std::free(p);
}

// A std allocator over AllocateLarge, for std::vector.
template <typename T>
struct LargeAllocator {
  using value_type = T;
  LargeAllocator() = default;
  template <typename U>
  LargeAllocator(const LargeAllocator<U>&) {}
  T* allocate(size_t n) {
    if (n > size_t(-1) / sizeof(T)) throw std::bad_array_new_length();
    return static_cast<T*>(AllocateLarge(n * sizeof(T)));
  }
  void deallocate(T* p, size_t n) { FreeLarge(p, n * sizeof(T)); }
  template <typename U>
  bool operator==(const LargeAllocator<U>&) const { return true; }
  template <typename U>
  bool operator!=(const LargeAllocator<U>&) const { return false; }
};
template <typename T>
using LargeVector = std::vector<T, LargeAllocator<T>>;

}  // namespace msb

#pragma once
// What differs between the platforms msb runs on (Linux, macOS), in one place; the operations use
// these names and never test the platform themselves.

#include <sys/stat.h>

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

}  // namespace msb

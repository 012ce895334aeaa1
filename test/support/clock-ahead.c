// Preloaded into one test process (LD_PRELOAD) to run its wall clock MSB_CLOCK_AHEAD_SEC seconds
// ahead: every file the test just wrote is then "old" to it (test/interop/in-flight.test.ts). Only
// CLOCK_REALTIME moves; monotonic clocks, and so timeouts, are untouched. Built by the test with
// the machine's C compiler; small enough to preload after the sanitizer runtime (libfaketime and
// ASAN deadlock at start-up).
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

static long Ahead(void) {
  const char* s = getenv("MSB_CLOCK_AHEAD_SEC");
  return s ? atol(s) : 0;
}

int clock_gettime(clockid_t id, struct timespec* ts) {
  static int (*real)(clockid_t, struct timespec*);
  if (!real) real = (int (*)(clockid_t, struct timespec*))dlsym(RTLD_NEXT, "clock_gettime");
  int rc = real(id, ts);
  if (rc == 0 && (id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE)) ts->tv_sec += Ahead();
  return rc;
}

int gettimeofday(struct timeval* tv, void* tz) {
  static int (*real)(struct timeval*, void*);
  if (!real) real = (int (*)(struct timeval*, void*))dlsym(RTLD_NEXT, "gettimeofday");
  int rc = real(tv, tz);
  if (rc == 0 && tv) tv->tv_sec += Ahead();
  return rc;
}

time_t time(time_t* out) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  if (out) *out = ts.tv_sec;
  return ts.tv_sec;
}

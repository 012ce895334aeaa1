// What msb's lock protocol costs a prune, without the rest of it. For a list of cache files (relative to the
// cache root, as `find . -type f` prints them; other lines are ignored), it deletes them artifact by artifact
// the way the deleter must, on one thread:
// - metadata `manifests/<stem>.json` first: its `manifests/<stem>.lock` created, flock'ed, the JSON's status
//   taken, the JSON and then the lock unlinked (`msb load` leaves no such lock);
// - then each manifest, known by its `fsmeta/<digest>.erofs` line: under `fsmeta/<digest>.erofs.lock`, its VMDK
//   and fsmeta;
// - then each layer `layers/<diff>.erofs`, under `layers/<diff>.erofs.lock`.
// No database, no in-flight guard; within a kind the list's order is kept (the deleter's is the rows', which on
// a cache made in one go is the order the files were made: `find . -type f -printf '%i %p\n' | sort -n | cut
// -d' ' -f2` gives it). With `watch`, an inotify watch on manifests/, vmdk/ and tmp/ (the in-flight guard's,
// same mask) is read every 256 artifacts, as the guard drains it. With `threads=N`, each kind's list is cut in
// N runs of consecutive artifacts done side by side, and one kind is finished before the next begins (the
// order the deleter must keep): what the protocol could cost with parallel unlinks. Prints the time in ms.
//   cc -O2 -pthread -o /tmp/lock-floor bench/lock-floor.c && /tmp/lock-floor <home>/cache <list> [watch] [threads=N]
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { kMetadata, kManifest, kLayer, kKinds };
static double now(void) { struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e3 + t.tv_nsec / 1e6; }
static char **stems[kKinds]; static int counts[kKinds];

static void add(int kind, const char *stem) { stems[kind][counts[kind]++] = strdup(stem); }
// Takes the lock as msb does (creating it when `create`), or returns -1.
static int lock(int dir, const char *name, int create) {
  int fd = openat(dir, name, O_RDWR | O_NOFOLLOW | O_CLOEXEC | (create ? O_CREAT | O_EXCL : 0), 0600);
  if (fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0) { close(fd); return -1; }
  return fd;
}
static void drop(int dir, const char *name) {
  struct stat st;
  if (fstatat(dir, name, &st, AT_SYMLINK_NOFOLLOW) == 0) unlinkat(dir, name, 0);
}

static int manifests, vmdk, fsmeta, layers, watch = -1;
static char events[65536];

// Artifacts [from, to) of one kind, one after another.
struct Run { int kind; int from, to; };
static void *run(void *arg) {
  const struct Run *r = arg;
  char a[600], b[600];
  for (int i = r->from; i < r->to; i++) {
    const char *s = stems[r->kind][i];
    int fd;
    if (r->kind == kMetadata) {
      snprintf(a, sizeof a, "%s.lock", s); snprintf(b, sizeof b, "%s.json", s);
      if ((fd = lock(manifests, a, 1)) < 0) continue;
      drop(manifests, b);
      unlinkat(manifests, a, 0);
    } else if (r->kind == kManifest) {
      snprintf(a, sizeof a, "%s.erofs.lock", s);
      if ((fd = lock(fsmeta, a, 0)) < 0) continue;
      snprintf(b, sizeof b, "%s.vmdk", s); drop(vmdk, b);
      snprintf(b, sizeof b, "%s.erofs", s); drop(fsmeta, b);
    } else {
      snprintf(a, sizeof a, "%s.erofs.lock", s); snprintf(b, sizeof b, "%s.erofs", s);
      if ((fd = lock(layers, a, 0)) < 0) continue;
      drop(layers, b);
    }
    close(fd);
    // Each thread reads the events queued so far every 256 of its artifacts (the guard drains once a batch).
    if (watch >= 0 && ((i - r->from) & 255) == 255) while (read(watch, events, sizeof events) > 0) {}
  }
  return NULL;
}

int main(int argc, char **argv) {
  if (argc < 3) { fprintf(stderr, "usage: lock-floor <cache dir> <list> [watch] [threads=N]\n"); return 2; }
  int root = open(argv[1], O_RDONLY | O_DIRECTORY);
  FILE *list = fopen(argv[2], "r");
  if (root < 0 || !list) { perror("open"); return 1; }
  int threads = 1, wantWatch = 0;
  for (int i = 3; i < argc; i++) {
    if (!strcmp(argv[i], "watch")) wantWatch = 1;
    else if (!strncmp(argv[i], "threads=", 8) && (threads = atoi(argv[i] + 8)) >= 1 && threads <= 64) {}
    else { fprintf(stderr, "lock-floor: unknown argument %s\n", argv[i]); return 2; }
  }
  for (int k = 0; k < kKinds; k++) stems[k] = malloc(sizeof(char *) * 4000000);
  char line[4096];
  while (fgets(line, sizeof line, list)) {
    line[strcspn(line, "\n")] = 0;
    char *p = line + (strncmp(line, "./", 2) ? 0 : 2), *slash = strchr(p, '/'), *dot;
    if (!slash || !(dot = strchr(slash, '.'))) continue;
    int json = !strcmp(dot, ".json"), erofs = !strcmp(dot, ".erofs");
    *dot = 0;
    if (json && !strncmp(p, "manifests/", 10)) add(kMetadata, slash + 1);
    else if (erofs && !strncmp(p, "fsmeta/", 7)) add(kManifest, slash + 1);  // its VMDK goes with it
    else if (erofs && !strncmp(p, "layers/", 7)) add(kLayer, slash + 1);
  }
  manifests = openat(root, "manifests", O_RDONLY | O_DIRECTORY); vmdk = openat(root, "vmdk", O_RDONLY | O_DIRECTORY);
  fsmeta = openat(root, "fsmeta", O_RDONLY | O_DIRECTORY); layers = openat(root, "layers", O_RDONLY | O_DIRECTORY);
  if (wantWatch) {
    watch = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    const uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |
                          IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
    const char *subs[] = {"manifests", "vmdk", "tmp"};
    char path[4096];
    for (int i = 0; i < 3; i++) {
      snprintf(path, sizeof path, "%s/%s", argv[1], subs[i]);
      if (inotify_add_watch(watch, path, mask) < 0) { perror(path); return 1; }
    }
  }
  double t0 = now();
  for (int kind = 0; kind < kKinds; kind++) {
    pthread_t ids[64];
    struct Run runs[64];
    for (int t = 0; t < threads; t++) {
      runs[t] = (struct Run){kind, (int)((long)counts[kind] * t / threads), (int)((long)counts[kind] * (t + 1) / threads)};
      if (t > 0) pthread_create(&ids[t], NULL, run, &runs[t]);
    }
    run(&runs[0]);
    for (int t = 1; t < threads; t++) pthread_join(ids[t], NULL);
  }
  if (watch >= 0) while (read(watch, events, sizeof events) > 0) {}
  printf("%.0f ms: %d metadata, %d manifests, %d layers, %d thread%s\n", now() - t0, counts[kMetadata],
         counts[kManifest], counts[kLayer], threads, threads > 1 ? "s" : "");
  return 0;
}

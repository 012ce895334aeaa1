// The physical floor for diskUsage(): every entry under <cache> listed and lstat'ed (never
// following a link), and every vmdk/*.vmdk descriptor read (up to 1 MiB, kMaxVmdkDescriptorBytes),
// on one thread. Prints "<ms> <files> <apparent bytes> <allocated bytes> <vmdk bytes read> <cpu ms>"
// (cpu: user + system time of the walk, which a busy machine does not inflate as it does the wall time).
//
//   cc -O2 -o du-floor bench/du-floor.c && ./du-floor <home>/cache
#define _GNU_SOURCE
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static unsigned long long files, bytes, blocks, vmdkBytes;
static char buf[1 << 20];

static int endsWith(const char* s, const char* suffix) {
  size_t n = strlen(s), m = strlen(suffix);
  return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

static void walk(int dirFd, int isVmdkDir) {
  DIR* dir = fdopendir(dirFd);
  if (!dir) {
    close(dirFd);
    return;
  }
  struct dirent* d;
  while ((d = readdir(dir))) {
    if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..")) continue;
    struct stat st;
    if (fstatat(dirfd(dir), d->d_name, &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      int sub = openat(dirfd(dir), d->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (sub >= 0) walk(sub, strcmp(d->d_name, "vmdk") == 0);
      continue;
    }
    files++;
    bytes += (unsigned long long)st.st_size;
    blocks += (unsigned long long)st.st_blocks;
    if (isVmdkDir && S_ISREG(st.st_mode) && endsWith(d->d_name, ".vmdk")) {
      int fd = openat(dirfd(dir), d->d_name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
      if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n > 0) vmdkBytes += (unsigned long long)n;
        close(fd);
      }
    }
  }
  closedir(dir);
}

int main(int argc, char** argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: du-floor <cache dir>\n");
    return 2;
  }
  struct timespec t0, t1, c0, c1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
  int root = open(argv[1], O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (root < 0) {
    perror(argv[1]);
    return 1;
  }
  walk(root, 0);
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
  double cpu = (double)(c1.tv_sec - c0.tv_sec) * 1e3 + (double)(c1.tv_nsec - c0.tv_nsec) / 1e6;
  printf("%.3f %llu %llu %llu %llu %.3f\n", ms, files, bytes, blocks * 512, vmdkBytes, cpu);
  return 0;
}

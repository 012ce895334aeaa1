#include "write_path/cache_sweep.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <cstring>
#include <algorithm>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "storage/cache_walk.h"
#include "platform/platform.h"
#include "formats/reference.h"

namespace msb {
namespace {

std::string Chop(const std::string& s, const char* suffix) { return s.substr(0, s.size() - strlen(suffix)); }


int OpenDirAt(int dirFd, const char* name) {
  return openat(dirFd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
}

std::vector<std::string> Names(int dirFd) {
  std::vector<std::string> out;
  int fd = dup(dirFd);
  if (fd < 0) return out;
  DIR* dir = fdopendir(fd);
  if (dir == nullptr) {
    close(fd);
    return out;
  }
  rewinddir(dir);  // the dup shares dirFd's offset, which an earlier listing left at the end
  while (dirent* d = readdir(dir)) {
    if (strcmp(d->d_name, ".") != 0 && strcmp(d->d_name, "..") != 0) out.push_back(d->d_name);
  }
  closedir(dir);
  return out;
}

// Newest ctime and total apparent size of an entry (a directory: over its whole tree).
bool Measure(int dirFd, const std::string& name, double* newest, uint64_t* bytes, int depth = 0,
             uint64_t* allocated = nullptr) {
  struct stat st;
  if (fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) return false;
  *newest = std::max(*newest, ChangeTime(st));
  if (!S_ISDIR(st.st_mode)) {
    *bytes += uint64_t(st.st_size);
    if (allocated) *allocated += uint64_t(st.st_blocks) * 512;
    return true;
  }
  if (depth > 32) return false;
  int fd = OpenDirAt(dirFd, name.c_str());
  if (fd < 0) return false;
  bool ok = true;
  for (const std::string& child : Names(fd)) ok = Measure(fd, child, newest, bytes, depth + 1, allocated) && ok;
  close(fd);
  return ok;
}

// An msb lock, taken LOCK_NB and opened as msb opens it. With `create`, a missing lock file is
// made (someone may start on the entry meanwhile) and removed again, still held, at the end.
class HeldLock {
 public:
  enum class State { kHeld, kBusy, kFailed };
  HeldLock(int dirFd, const std::string& name, bool create) : dirFd_(dirFd), name_(name) {
    fd_ = dirFd < 0 ? -1 : openat(dirFd, name.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
    if (fd_ < 0 && dirFd >= 0 && errno == ENOENT && create) {
      fd_ = openat(dirFd, name.c_str(), O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
      created_ = fd_ >= 0;
    }
    if (fd_ < 0) {
      error_ = dirFd < 0 ? ENOENT : errno;
      state_ = State::kFailed;
      return;
    }
    if (flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      error_ = errno;
      state_ = error_ == EWOULDBLOCK ? State::kBusy : State::kFailed;
      close(fd_);
      fd_ = -1;
    }
  }
  HeldLock(HeldLock&& o) noexcept
      : dirFd_(o.dirFd_), name_(std::move(o.name_)), fd_(o.fd_), created_(o.created_), state_(o.state_), error_(o.error_) {
    o.fd_ = -1;
  }
  HeldLock(const HeldLock&) = delete;
  ~HeldLock() {
    if (fd_ < 0) return;
    if (created_) unlinkat(dirFd_, name_.c_str(), 0);
    close(fd_);
  }
  State state() const { return state_; }
  int error() const { return error_; }

 private:
  int dirFd_;
  std::string name_;
  int fd_ = -1;
  bool created_ = false;
  State state_ = State::kHeld;
  int error_ = 0;
};

class Dirs {
 public:
  explicit Dirs(const std::string& root) : root_(open(root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)) {}
  ~Dirs() {
    for (auto& [k, fd] : fds_) {
      if (fd >= 0) close(fd);
    }
    if (root_ >= 0) close(root_);
  }
  // "layers", "flat/locks", …: each component opened without following a symlink.
  int Get(const std::string& rel) {
    auto it = fds_.find(rel);
    if (it != fds_.end()) return it->second;
    int fd = -1;
    size_t slash = rel.rfind('/');
    int parent = slash == std::string::npos ? root_ : Get(rel.substr(0, slash));
    if (parent >= 0) fd = OpenDirAt(parent, rel.substr(slash == std::string::npos ? 0 : slash + 1).c_str());
    fds_.emplace(rel, fd);
    return fd;
  }
  int root() const { return root_; }

 private:
  int root_;
  std::unordered_map<std::string, int> fds_;
};

// Which msb lock guards a tmp/ entry while it is written (format spec §3): {dir, lock name}.
struct TmpGuard {
  enum class Kind { kLock, kPid, kNone, kLockFile } kind = Kind::kNone;
  std::string dir, lock;
  long pid = 0;
};

TmpGuard GuardOf(const std::string& name) {
  TmpGuard g;
  auto lock = [&](const std::string& stem, const char* dir, const std::string& lockName) {
    if (DigestOfFileStem(stem).has_value()) {
      g.kind = TmpGuard::Kind::kLock;
      g.dir = dir;
      g.lock = lockName;
    }
  };
  if (EndsWith(name, ".download.lock")) {
    g.kind = TmpGuard::Kind::kLockFile;
  } else if (EndsWith(name, ".erofs.part")) {
    std::string stem = Chop(name, ".erofs.part");
    lock(stem, "layers", stem + ".erofs.lock");
  } else if (EndsWith(name, ".spool")) {
    std::string stem = Chop(name, ".spool");
    lock(stem, "layers", stem + ".erofs.lock");
  } else if (EndsWith(name, ".part")) {
    std::string stem = Chop(name, ".part");
    lock(stem, "tmp", stem + ".download.lock");
  } else if (EndsWith(name, ".flat.work")) {
    std::string stem = Chop(name, ".flat.work");
    lock(stem, "flat/locks", stem + ".lock");
  } else if (EndsWith(name, ".work")) {
    std::string stem = Chop(name, ".work");
    lock(stem, "fsmeta", stem + ".erofs.lock");
  } else if (name.rfind("load-", 0) == 0 || name.rfind("save-", 0) == 0) {
    // load-<n>-<pid>-<id>.blob, save-<pid>-<id>.layer.tar: staging of a running msb process.
    size_t field = name[0] == 'l' ? 2 : 1;
    size_t pos = 0;
    for (size_t i = 0; i < field && pos != std::string::npos; i++) pos = name.find('-', pos + 1);
    if (pos != std::string::npos) {
      g.kind = TmpGuard::Kind::kPid;
      g.pid = strtol(name.c_str() + pos + 1, nullptr, 10);
    }
  }
  return g;
}

bool ProcessAlive(long pid) { return pid > 0 && (kill(pid_t(pid), 0) == 0 || errno == EPERM); }

// The value of a string field in compact JSON (msb's flat refs): digests need no unescaping.
std::optional<std::string> JsonField(const std::string& json, const std::string& key) {
  size_t at = json.find("\"" + key + "\"");
  if (at == std::string::npos) return std::nullopt;
  at += key.size() + 2;
  while (at < json.size() && (json[at] == ' ' || json[at] == ':')) at++;
  if (at >= json.size() || json[at] != '"') return std::nullopt;
  size_t end = json.find('"', at + 1);
  if (end == std::string::npos) return std::nullopt;
  return json.substr(at + 1, end - at - 1);
}

// A flat ref names its blob by artifact digest: `sha256_<hex>.raw` (or `<hex>.raw`).
void AddBlobNames(const std::string& digest, std::unordered_set<std::string>* names) {
  if (!IsValidDigest(digest)) return;
  std::string stem = DigestFileStem(digest);
  names->insert(stem + ".raw");
  names->insert(stem.substr(stem.find('_') + 1) + ".raw");
}

void Unlink(int dirFd, const std::string& dirRel, const std::string& name, const char* kind, const SweepOptions& o,
            SweepReport* r, uint32_t* counter) {
  uint64_t bytes = 0, allocated = 0;
  std::string error;
  if (!o.dryRun) {
    if (!RemoveEntry(dirFd, name, &bytes, &error, &allocated)) {
      r->errors.push_back({kind, dirRel + "/" + name, error});
      return;
    }
  } else {
    double newest = 0;
    Measure(dirFd, name, &newest, &bytes, 0, &allocated);
  }
  (*counter)++;
  r->bytes += bytes;
  r->allocated += allocated;
  r->removed.push_back({kind, dirRel + "/" + name, bytes});
}

}  // namespace

double NowSeconds() {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

bool RemoveEntry(int dirFd, const std::string& name, uint64_t* bytes, std::string* error, uint64_t* allocated) {
  struct stat st;
  if (fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno == ENOENT) return true;
    *error = name + ": " + std::strerror(errno);
    return false;
  }
  if (S_ISDIR(st.st_mode)) {
    int fd = OpenDirAt(dirFd, name.c_str());
    if (fd < 0) {
      *error = name + ": " + std::strerror(errno);
      return false;
    }
    bool ok = true;
    for (const std::string& child : Names(fd)) ok = RemoveEntry(fd, child, bytes, error, allocated) && ok;
    close(fd);
    if (!ok) return false;
    if (unlinkat(dirFd, name.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      *error = name + ": " + std::strerror(errno);
      return false;
    }
    return true;
  }
  // A symlink loses its link, never its target.
  if (unlinkat(dirFd, name.c_str(), 0) != 0 && errno != ENOENT) {
    *error = name + ": " + std::strerror(errno);
    return false;
  }
  *bytes += uint64_t(st.st_size);
  if (allocated) *allocated += uint64_t(st.st_blocks) * 512;
  return true;
}

void SweepTmp(const std::string& cacheDir, const SweepOptions& o, SweepReport* r) {
  Dirs dirs(cacheDir);
  int tmp = dirs.Get("tmp");
  if (tmp < 0) return;
  std::vector<std::string> names = Names(tmp);
  for (const std::string& name : names) {
    if (o.cancel.IsSet()) return;
    TmpGuard g = GuardOf(name);
    if (g.kind == TmpGuard::Kind::kLockFile) continue;  // msb's lock files stay (cache_sweep.h)
    double newest = 0;
    uint64_t bytes = 0;
    Measure(tmp, name, &newest, &bytes);
    if (newest >= o.changedBeforeSec) continue;  // within the grace period: someone may be writing it
    std::optional<HeldLock> lock;
    if (g.kind == TmpGuard::Kind::kLock) {
      lock.emplace(dirs.Get(g.dir), g.lock, true);
      if (lock->state() == HeldLock::State::kBusy) {
        r->skipped.push_back({"tmp", "tmp/" + name, "locked"});
        continue;
      }
      if (lock->state() == HeldLock::State::kFailed && lock->error() != ENOENT) {  // ENOENT: no such lock, none held
        r->errors.push_back({"tmp", "tmp/" + name, "cannot lock " + g.dir + "/" + g.lock + ": " + std::strerror(lock->error())});
        continue;
      }
      // Re-check under the lock: rewritten since it was measured?
      double again = 0;
      uint64_t ignored = 0;
      Measure(tmp, name, &again, &ignored);
      if (again >= o.changedBeforeSec) {
        r->skipped.push_back({"tmp", "tmp/" + name, "in-use-again"});
        continue;
      }
    } else if (g.kind == TmpGuard::Kind::kPid && ProcessAlive(g.pid)) {
      r->skipped.push_back({"tmp", "tmp/" + name, "in-use"});
      continue;
    }
    Unlink(tmp, "tmp", name, "tmp", o, r, &r->tmpRemoved);
  }
}

void SweepFlat(const std::string& cacheDir, const std::vector<std::string>& removedManifests,
               const std::function<bool(const std::string&)>& manifestExists, const SweepOptions& o, SweepReport* r) {
  Dirs dirs(cacheDir);
  int refs = dirs.Get("flat/refs");
  int locks = dirs.Get("flat/locks");
  std::unordered_set<std::string> removedRefs;
  if (refs >= 0) {
    // One listing of flat/refs (few entries) instead of a failed lstat for each manifest without one.
    std::vector<std::string> listed = Names(refs);
    std::unordered_set<std::string> present(listed.begin(), listed.end());
    for (const std::string& digest : removedManifests) {
      if (o.cancel.IsSet()) return;
      if (!IsValidDigest(digest)) continue;
      std::string name = DigestFileStem(digest) + ".json";
      if (!present.count(name)) continue;
      struct stat st;
      if (fstatat(refs, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      std::optional<HeldLock> lock;
      std::optional<std::string> text = ReadFileAt(refs, name, 1 << 20);
      std::optional<std::string> derivation = text ? JsonField(*text, "derivation_digest") : std::nullopt;
      if (derivation && IsValidDigest(*derivation) && locks >= 0) {
        lock.emplace(locks, DigestFileStem(*derivation) + ".lock", true);
        if (lock->state() == HeldLock::State::kBusy) {
          r->skipped.push_back({"flat-ref", "flat/refs/" + name, "locked"});
          continue;
        }
      }
      if (manifestExists(digest)) {
        r->skipped.push_back({"flat-ref", "flat/refs/" + name, "in-use-again"});
        continue;
      }
      if (fstatat(refs, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) continue;
      if (ChangeTime(st) >= o.startedSec) {
        r->skipped.push_back({"flat-ref", "flat/refs/" + name, "in-use-again"});
        continue;
      }
      Unlink(refs, "flat/refs", name, "flat-ref", o, r, &r->flatRemoved);
      removedRefs.insert(name);
    }
  }

  // Blobs: only with every flat lock held (no flat artifact is being made), and only when every
  // remaining ref could be read (an unreadable one might name any blob).
  int blobs = dirs.Get("flat/blobs");
  if (blobs < 0 || o.cancel.IsSet()) return;
  std::vector<HeldLock> held;
  if (locks >= 0) {
    for (const std::string& name : Names(locks)) {
      if (!EndsWith(name, ".lock")) continue;
      held.emplace_back(locks, name, false);
      if (held.back().state() == HeldLock::State::kBusy) {
        r->skipped.push_back({"flat-blob", "flat/blobs", "locked"});
        return;
      }
    }
  }
  std::unordered_set<std::string> named;
  if (refs >= 0) {
    for (const std::string& name : Names(refs)) {
      if (o.dryRun && removedRefs.count(name)) continue;  // the real run will have removed it
      std::optional<std::string> text = ReadFileAt(refs, name, 1 << 20);
      std::optional<std::string> artifact = text ? JsonField(*text, "artifact_digest") : std::nullopt;
      if (!artifact || !IsValidDigest(*artifact)) {
        r->skipped.push_back({"flat-ref", "flat/refs/" + name, "unreadable"});  // so no flat/ blob is swept
        return;
      }
      AddBlobNames(*artifact, &named);
    }
  }
  for (const std::string& name : Names(blobs)) {
    if (o.cancel.IsSet()) return;
    if (!EndsWith(name, ".raw") || named.count(name)) continue;
    std::string stem = Chop(name, ".raw");
    if (!DigestOfFileStem(stem).has_value() && !IsMetadataFileStem(stem)) continue;  // not a name msb writes: not ours to judge
    double newest = 0;
    uint64_t bytes = 0;
    if (!Measure(blobs, name, &newest, &bytes) || newest >= o.changedBeforeSec) continue;
    Unlink(blobs, "flat/blobs", name, "flat-blob", o, r, &r->flatRemoved);
  }
}

}  // namespace msb

#include "in_flight.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __linux__
#include <sys/inotify.h>
#endif

#include <cerrno>
#include <chrono>
#include <string_view>
#include <thread>
#include <vector>

#include "cache_walk.h"
#include "reference.h"
#include "sqlite_db.h"
#include "vmdk.h"

namespace msb {
namespace {

constexpr size_t kMaxMetadataBytes = 64u << 20;

double Ctime(const struct stat& st) { return double(st.st_ctim.tv_sec) + double(st.st_ctim.tv_nsec) / 1e9; }

bool ReadFile(int dirFd, const std::string& name, size_t limit, std::string* out) {
  if (dirFd < 0) return false;
  std::optional<std::string> text = ReadFileAt(dirFd, name, limit);
  if (!text) return false;
  *out = std::move(*text);
  return true;
}

// Every string value of `"key": "…"` in msb's compact JSON (keys inside the escaped raw_* strings
// never match: their quotes are preceded by a backslash).
std::vector<std::string> JsonStrings(std::string_view text, std::string_view key) {
  std::vector<std::string> out;
  std::string needle = "\"" + std::string(key) + "\"";
  for (size_t at = text.find(needle); at != std::string_view::npos; at = text.find(needle, at + 1)) {
    if (at > 0 && text[at - 1] == '\\') continue;
    size_t i = at + needle.size();
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    if (i >= text.size() || text[i] != ':') continue;
    i++;
    while (i < text.size() && (text[i] == ' ' || text[i] == '\t' || text[i] == '\n' || text[i] == '\r')) i++;
    if (i >= text.size() || text[i] != '"') continue;
    size_t end = text.find('"', i + 1);
    if (end == std::string_view::npos) break;
    out.emplace_back(text.substr(i + 1, end - i - 1));
  }
  return out;
}

std::vector<std::string> Names(int dirFd) {
  std::vector<std::string> out;
  if (dirFd < 0) return out;
  int fd = dup(dirFd);
  if (fd < 0) return out;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return out;
  }
  while (struct dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") out.emplace_back(n);
  }
  closedir(d);
  return out;
}

}  // namespace

struct InFlightGuard::State {
  InFlightInputs in;
  int root = -1, manifests = -1, vmdk = -1, tmp = -1, fsmeta = -1;
  int inotify = -1;
  int wdManifests = -1, wdVmdk = -1, wdTmp = -1;
  bool rescanEveryBatch = false;
  std::unordered_set<std::string> manifestsNamed;  // digests
  std::unordered_set<std::string> layersNamed;     // diff_ids
  std::unordered_set<std::string> workDirs;        // tmp/<stem>.work seen

  int Sub(const char* name) const {
    return root < 0 ? -1 : openat(root, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }

  void AddJson(const std::string& text) {
    for (const std::string& d : JsonStrings(text, "manifest_digest")) {
      if (IsValidDigest(d)) manifestsNamed.insert(d);
    }
    for (const std::string& d : JsonStrings(text, "diff_id")) {
      if (IsValidDigest(d)) layersNamed.insert(d);
    }
  }

  void AddVmdk(const std::string& text) {
    VmdkDescriptor v = ParseVmdk(text);
    if (!v.ok) return;
    for (const VmdkExtent& e : v.extents) {
      std::string_view p = e.path;
      size_t slash = p.rfind('/');
      if (slash == std::string_view::npos || slash == 0) continue;
      std::string_view file = p.substr(slash + 1);
      size_t dirStart = p.rfind('/', slash - 1);
      std::string_view dir = p.substr(dirStart == std::string_view::npos ? 0 : dirStart + 1,
                                      slash - (dirStart == std::string_view::npos ? 0 : dirStart + 1));
      if (!EndsWith(file, ".erofs")) continue;
      std::optional<std::string> digest = DigestOfFileStem(file.substr(0, file.size() - 6));
      if (!digest) continue;
      if (dir == "layers") layersNamed.insert(*digest);
      else if (dir == "fsmeta") manifestsNamed.insert(*digest);
    }
  }

  void ReadMetadata(const std::string& name) {
    std::string text;
    if (ReadFile(manifests, name, kMaxMetadataBytes, &text)) AddJson(text);
  }
  void ReadVmdk(int dirFd, const std::string& name) {
    std::string text;
    if (ReadFile(dirFd, name, kMaxVmdkDescriptorBytes, &text)) AddVmdk(text);
  }

  bool Recent(int dirFd, const std::string& name) const {
    struct stat st;
    return fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && Ctime(st) >= in.recentSince;
  }

  // Files without rows (and recently changed ones), other than those this run deletes.
  void Scan() {
    for (const std::string& n : Names(manifests)) {
      if (!EndsWith(n, ".json")) continue;
      std::string stem = n.substr(0, n.size() - 5);
      if (in.ownMetadataStems.count(stem)) continue;
      if (!in.rowMetadataStems.count(stem) || Recent(manifests, n)) ReadMetadata(n);
    }
    for (const std::string& n : Names(vmdk)) {
      if (!EndsWith(n, ".vmdk")) continue;
      std::optional<std::string> digest = DigestOfFileStem(std::string_view(n).substr(0, n.size() - 5));
      if (digest && in.ownManifests.count(*digest)) continue;
      if (!digest || !in.rowManifests.count(*digest) || Recent(vmdk, n)) ReadVmdk(vmdk, n);
    }
    for (const std::string& n : Names(tmp)) {
      if (EndsWith(n, ".work")) NoteWorkDir(n);
    }
  }

  void NoteWorkDir(const std::string& name) {
    workDirs.insert(name);
    int d = openat(tmp, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0) return;
    for (const std::string& n : Names(d)) {
      if (EndsWith(n, ".vmdk")) ReadVmdk(d, n);
    }
    close(d);
  }

  // New and rewritten files since the last call.
  void Drain() {
#ifdef __linux__
    if (inotify < 0) return;
    alignas(struct inotify_event) char buf[16384];
    for (;;) {
      ssize_t n = read(inotify, buf, sizeof buf);
      if (n <= 0) return;  // EAGAIN: nothing more
      for (char* p = buf; p < buf + n;) {
        auto* e = reinterpret_cast<struct inotify_event*>(p);
        p += sizeof(struct inotify_event) + e->len;
        if (e->mask & IN_Q_OVERFLOW) {
          Scan();
          continue;
        }
        if (e->len == 0) continue;
        std::string name = e->name;
        if (e->wd == wdManifests && EndsWith(name, ".json")) ReadMetadata(name);
        else if (e->wd == wdVmdk && EndsWith(name, ".vmdk")) ReadVmdk(vmdk, name);
        else if (e->wd == wdTmp && EndsWith(name, ".work")) NoteWorkDir(name);
      }
    }
#endif
  }

  // msb builds fsmeta and VMDK in tmp/<manifest>.work/ holding fsmeta/<manifest>.erofs.lock; wait
  // (within the busy budget) until no such build is under way, so its VMDK is in vmdk/ and read.
  // False when one is still running after that.
  bool WaitForBuilds() {
    auto deadline = std::chrono::steady_clock::now() + kBusyTimeout;
    for (auto it = workDirs.begin(); it != workDirs.end();) {
      const std::string& name = *it;
      struct stat st;
      if (fstatat(tmp, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        it = workDirs.erase(it);
        continue;
      }
      std::string lock = name.substr(0, name.size() - 5) + ".erofs.lock";
      int fd = fsmeta < 0 ? -1 : openat(fsmeta, lock.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) {  // no lock: not a build msb is running
        ++it;
        continue;
      }
      bool free = false;
      while (!(free = flock(fd, LOCK_EX | LOCK_NB) == 0) && errno == EWOULDBLOCK &&
             std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
      }
      close(fd);  // releases it
      if (!free) return false;
      NoteWorkDir(name);  // a VMDK it left there
      ++it;
    }
    Drain();
    return true;
  }
};

InFlightGuard::InFlightGuard(const std::string& cacheDir, InFlightInputs inputs) : s_(new State) {
  State& s = *s_;
  s.in = std::move(inputs);
  s.root = open(cacheDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  s.manifests = s.Sub("manifests");
  s.vmdk = s.Sub("vmdk");
  s.tmp = s.Sub("tmp");
  s.fsmeta = s.Sub("fsmeta");
#ifdef __linux__
  // Watches first, then the scan: nothing written in between is missed.
  s.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (s.inotify >= 0) {
    uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_ONLYDIR | IN_DONT_FOLLOW;
    auto watch = [&](const char* sub) { return inotify_add_watch(s.inotify, (cacheDir + "/" + sub).c_str(), mask); };
    s.wdManifests = watch("manifests");
    s.wdVmdk = watch("vmdk");
    s.wdTmp = watch("tmp");
    // A directory that is missing now is created by msb later: rescan then.
    if (s.wdManifests < 0 || s.wdVmdk < 0 || s.wdTmp < 0) s.rescanEveryBatch = true;
  } else {
    s.rescanEveryBatch = true;
  }
#else
  s.rescanEveryBatch = true;
#endif
  s.Scan();
}

InFlightGuard::~InFlightGuard() {
  for (int fd : {s_->root, s_->manifests, s_->vmdk, s_->tmp, s_->fsmeta, s_->inotify}) {
    if (fd >= 0) close(fd);
  }
}

void InFlightGuard::BeginBatch() {
  if (s_->rescanEveryBatch) s_->Scan();
}

const char* InFlightGuard::Check(const Artifact& a) {
  State& s = *s_;
  s.Drain();
  switch (a.kind) {
    case ArtifactKind::kMetadata: {
      // The file must still be the one the removed rows' image wrote: a load or pull that
      // re-tagged the reference to another image has rewritten it (and writes its rows next).
      if (a.expectDigests.empty()) return nullptr;
      std::string text;
      if (!ReadFile(s.manifests, MetadataFileStem(a.id) + ".json", kMaxMetadataBytes, &text)) return nullptr;
      std::vector<std::string> digests = JsonStrings(text, "manifest_digest");
      if (digests.empty()) return nullptr;  // not msb's JSON: msb treats it as absent
      for (const std::string& d : a.expectDigests) {
        if (d == digests.front()) return nullptr;
      }
      return "in-use-again";
    }
    case ArtifactKind::kManifest:
      return s.manifestsNamed.count(a.id) ? "in-use-by-files" : nullptr;
    case ArtifactKind::kLayer:
      if (!s.WaitForBuilds()) return "in-use-by-files";
      return s.layersNamed.count(a.id) ? "in-use-by-files" : nullptr;
    default:
      return nullptr;
  }
}

void InFlightGuard::Kept(const Artifact& a) {
  State& s = *s_;
  switch (a.kind) {
    case ArtifactKind::kMetadata:
      s.ReadMetadata(MetadataFileStem(a.id) + ".json");
      break;
    case ArtifactKind::kManifest:
      if (IsValidDigest(a.id)) {
        s.manifestsNamed.insert(a.id);
        s.ReadVmdk(s.vmdk, DigestFileStem(a.id) + ".vmdk");
      }
      break;
    default:
      break;
  }
}

}  // namespace msb

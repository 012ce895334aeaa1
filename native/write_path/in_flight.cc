#include "write_path/in_flight.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include "platform/platform.h"
#if MSB_HAVE_INOTIFY
#include <sys/inotify.h>
#endif

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/cache_walk.h"
#include "formats/reference.h"
#include "storage/sqlite_db.h"
#include "formats/vmdk.h"

namespace msb {
namespace {

constexpr size_t kMaxMetadataBytes = 64u << 20;

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

// What one file names, as ids of interned digests: metadata JSON, its manifest digest and layer
// diff_ids; a VMDK, the fsmeta (manifest digests) and layers of its extents. Read lazily: only
// the files a removal needs.
struct NamedBy {
  double ctime = 0;  // when the file last changed, as of the event or listing that recorded it
  bool read = false;
  uint32_t manifestCount = 0;  // ids[0, manifestCount): manifest digests; the rest: layers
  std::vector<uint32_t> ids;
};

// VMDK entries are keyed by the manifest digest their name gives, or by "!" + the stem of a name
// that gives none (such a file is always read: no row can name it).
std::string VmdkKey(std::string_view stem) {
  std::optional<std::string> d = DigestOfFileStem(stem);
  return d ? std::move(*d) : "!" + std::string(stem);
}
std::string VmdkFileName(const std::string& key) {
  return (key[0] == '!' ? key.substr(1) : DigestFileStem(key)) + ".vmdk";
}

struct FileNames {
  std::vector<std::string> manifests, layers;
};

FileNames ParseJsonNames(const std::string& text) {
  FileNames out;
  for (std::string& d : JsonStrings(text, "manifest_digest")) {
    if (IsValidDigest(d)) out.manifests.push_back(std::move(d));
  }
  for (std::string& d : JsonStrings(text, "diff_id")) {
    if (IsValidDigest(d)) out.layers.push_back(std::move(d));
  }
  return out;
}

FileNames ParseVmdkNames(const std::string& text) {
  FileNames out;
  VmdkDescriptor v = ParseVmdk(text);
  if (!v.ok) return out;
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
    if (dir == "layers") out.layers.push_back(std::move(*digest));
    else if (dir == "fsmeta") out.manifests.push_back(std::move(*digest));
  }
  return out;
}

FileNames ReadNames(int dirFd, const std::string& name, bool json) {
  std::string text;
  if (!ReadFile(dirFd, name, json ? kMaxMetadataBytes : kMaxVmdkDescriptorBytes, &text)) return {};
  return json ? ParseJsonNames(text) : ParseVmdkNames(text);
}

struct DirId {
  dev_t dev = 0;
  ino_t ino = 0;
  bool operator==(const DirId& o) const { return dev == o.dev && ino == o.ino; }
};

std::optional<DirId> IdOf(int fd) {
  struct stat st;
  if (fd < 0 || fstat(fd, &st) != 0) return std::nullopt;
  return DirId{st.st_dev, st.st_ino};
}

}  // namespace

class InFlightIndex {
 public:
  ~InFlightIndex() {
    if (inotify >= 0) close(inotify);
  }
  std::mutex mu;  // held by a guard for its lifetime
  // Valid while `live`: watches on manifests/, vmdk/ and tmp/ of `cacheDir` (these directories),
  // set before the listing the entries came from.
  bool live = false;
  std::string cacheDir;
  std::optional<DirId> ids[3];
  int inotify = -1, wdManifests = -1, wdVmdk = -1, wdTmp = -1;
  std::unordered_map<std::string, NamedBy> metadata;  // by file stem (<stem>.json)
  std::unordered_map<std::string, NamedBy> vmdks;     // by VmdkKey
  std::unordered_map<std::string, uint32_t> digestIds;  // every digest an entry read names
  // Each reference's metadata file stem (a normalization and a sha256), keyed by views of referenceKeys.
  std::unordered_map<std::string_view, std::optional<std::string>> stemOfReference;
  std::deque<std::string> referenceKeys;
  size_t referencesLastSeen = 0;
  // The row names the last removal saw, and the database state they are of (TakeRowNames).
  std::shared_ptr<RowNames> rowNames;
  RowStamp rowNamesAt;

  uint32_t Intern(const std::string& digest) {
    return digestIds.emplace(digest, uint32_t(digestIds.size())).first->second;
  }
  std::optional<uint32_t> IdOfDigest(const std::string& digest) const {
    auto it = digestIds.find(digest);
    return it == digestIds.end() ? std::nullopt : std::optional<uint32_t>(it->second);
  }
  void Unwatch() {
    if (inotify >= 0) close(inotify);
    inotify = wdManifests = wdVmdk = wdTmp = -1;
    live = false;
  }
};

std::shared_ptr<InFlightIndex> NewInFlightIndex() { return std::make_shared<InFlightIndex>(); }

DigestSet MetadataStemsOf(InFlightIndex& index, const ReferenceSource& references) {
  std::lock_guard<std::mutex> lock(index.mu);
  // References removed since are forgotten by starting over once the memo outgrows the rows by much.
  if (index.stemOfReference.size() > 2 * index.referencesLastSeen + 1024) {
    index.stemOfReference.clear();
    index.referenceKeys.clear();
  }
  DigestSet out;
  size_t seen = 0;
  references([&](std::string_view r) {
    seen++;
    auto it = index.stemOfReference.find(r);
    if (it == index.stemOfReference.end()) {
      std::optional<std::string> n = NormalizeReference(std::string(r));
      index.referenceKeys.emplace_back(r);
      it = index.stemOfReference
               .emplace(index.referenceKeys.back(), n ? std::optional<std::string>(MetadataFileStem(*n)) : std::nullopt)
               .first;
    }
    if (it->second) out.Add(*it->second);
  });
  index.referencesLastSeen = seen;
  out.Seal();
  return out;
}

std::shared_ptr<RowNames> TakeRowNames(InFlightIndex& index, const RowStamp& at) {
  std::lock_guard<std::mutex> lock(index.mu);
  std::shared_ptr<RowNames> names = std::move(index.rowNames);
  index.rowNames.reset();
  return names && index.rowNamesAt == at ? names : nullptr;
}

void KeepRowNames(InFlightIndex& index, const RowStamp& at, std::shared_ptr<RowNames> names) {
  std::lock_guard<std::mutex> lock(index.mu);
  index.rowNames = std::move(names);
  index.rowNamesAt = at;
}

struct InFlightGuard::State {
  std::shared_ptr<InFlightIndex> holder;
  InFlightIndex& index;
  std::unique_lock<std::mutex> lock;
  InFlightInputs in;
  std::string cacheDir;
  int root = -1, manifests = -1, vmdk = -1, tmp = -1, fsmeta = -1;
  bool scanned = false;  // `inUse` holds what the in-flight files name of this run's artifacts
  size_t checksSinceDrain = 0;
  // This run's manifests and layers that in-flight files name, and (strings) names that files
  // written during the run, kept artifacts and fsmeta builds add.
  std::unordered_set<std::string> inUseManifests, inUseLayers;

  explicit State(std::shared_ptr<InFlightIndex> idx) : holder(std::move(idx)), index(*holder), lock(index.mu) {}

  int Sub(const char* name) const {
    return root < 0 ? -1 : openat(root, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  }

  void Add(const FileNames& n) {
    inUseManifests.insert(n.manifests.begin(), n.manifests.end());
    inUseLayers.insert(n.layers.begin(), n.layers.end());
  }

  // The entry's names, read if not read since the file last changed.
  const NamedBy& Read(int dirFd, const std::string& name, NamedBy& e, bool json) {
    if (!e.read) {
      FileNames n = ReadNames(dirFd, name, json);
      e.read = true;
      e.ids.clear();
      e.ids.reserve(n.manifests.size() + n.layers.size());
      for (const std::string& d : n.manifests) e.ids.push_back(index.Intern(d));
      e.manifestCount = uint32_t(e.ids.size());
      for (const std::string& d : n.layers) e.ids.push_back(index.Intern(d));
      e.ids.shrink_to_fit();
    }
    return e;
  }

  // A file created, rewritten or renamed into place: record its change time; its names are read
  // when needed. Once this run has scanned, a file written now is in flight: its names count at once.
  void Changed(std::unordered_map<std::string, NamedBy>& entries, int dirFd, std::string key, const std::string& name,
               bool json) {
    struct stat st;
    if (dirFd < 0 || fstatat(dirFd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      entries.erase(key);
      return;
    }
    NamedBy& e = entries[std::move(key)];
    e.ctime = ChangeTime(st);
    e.read = false;
    if (scanned) Add(ReadNames(dirFd, name, json));
  }
  void MetadataChanged(const std::string& name) {
    Changed(index.metadata, manifests, name.substr(0, name.size() - 5), name, true);
  }
  void VmdkChanged(const std::string& name) {
    Changed(index.vmdks, vmdk, VmdkKey(std::string_view(name).substr(0, name.size() - 5)), name, false);
  }

  // Every file of manifests/ and vmdk/, as a listing finds them (names unread).
  void List() {
    index.metadata.clear();
    index.vmdks.clear();
    index.digestIds.clear();
    for (const std::string& n : msb::Names(manifests)) {
      if (EndsWith(n, ".json")) MetadataChanged(n);
    }
    for (const std::string& n : msb::Names(vmdk)) {
      if (EndsWith(n, ".vmdk")) VmdkChanged(n);
    }
  }

  // Watches first, then the listing: nothing written in between is missed.
  void Rebuild() {
    index.Unwatch();
    index.cacheDir.clear();
#if MSB_HAVE_INOTIFY
    index.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (index.inotify >= 0) {
      uint32_t mask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM | IN_DELETE_SELF |
                      IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
      const char* subs[3] = {"manifests", "vmdk", "tmp"};
      int fds[3] = {manifests, vmdk, tmp};
      int* wds[3] = {&index.wdManifests, &index.wdVmdk, &index.wdTmp};
      bool ok = true;
      for (int i = 0; i < 3; i++) {
        std::string path = cacheDir + "/" + subs[i];
        *wds[i] = inotify_add_watch(index.inotify, path.c_str(), mask);
        // The watched directory must be the one opened (not swapped in between). A directory
        // missing now is made by msb later: until then every call and batch lists again.
        index.ids[i] = IdOf(fds[i]);
        struct stat st;
        ok = ok && *wds[i] >= 0 && index.ids[i] && stat(path.c_str(), &st) == 0 &&
             DirId{st.st_dev, st.st_ino} == *index.ids[i];
      }
      index.live = ok;
      if (ok) index.cacheDir = cacheDir;
    }
#endif
    List();
  }

  bool StillWatched() const {
    if (!index.live || index.cacheDir != cacheDir) return false;
    int fds[3] = {manifests, vmdk, tmp};
    for (int i = 0; i < 3; i++) {
      std::optional<DirId> id = IdOf(fds[i]);
      if (!id || !index.ids[i] || !(*id == *index.ids[i])) return false;
    }
    return true;
  }

  // Which of this run's manifests and layers the in-flight files name: files without rows, and
  // metadata files changed recently (a re-tag rewrites one before its rows), other than the ones
  // this run deletes. Only those files are read.
  //
  // A VMDK whose manifest a row names is never read, however recent: it names that manifest's
  // fsmeta and layers, which its manifest_layer rows name too. If those rows were there when this
  // run deleted its rows, none of its layers was unused and none is this run's; if they came after
  // (a load committing), the layer rows came with them, and the re-check under each layer's lock,
  // which comes after the row names were read, finds them.
  void Scan() {
    std::unordered_map<uint32_t, const std::string*> targetManifests, targetLayers;
    for (const std::string& d : in.ownManifests) {
      if (auto id = index.IdOfDigest(d)) targetManifests.emplace(*id, &d);
    }
    for (const std::string& d : in.ownLayers) {
      if (auto id = index.IdOfDigest(d)) targetLayers.emplace(*id, &d);
    }
    auto match = [&](const NamedBy& e) {
      for (uint32_t k = 0; k < e.ids.size(); k++) {
        auto& targets = k < e.manifestCount ? targetManifests : targetLayers;
        auto it = targets.find(e.ids[k]);
        if (it != targets.end()) (k < e.manifestCount ? inUseManifests : inUseLayers).insert(*it->second);
      }
    };
    // Digests interned by the reads below are new ids: targets are matched again afterwards.
    std::vector<const NamedBy*> fresh;
    for (auto& [stem, e] : index.metadata) {
      if (in.ownMetadataStems.count(stem)) continue;
      if (e.ctime < in.recentSince && in.rows->metadataStems.Has(stem)) continue;
      if (!e.read) fresh.push_back(&Read(manifests, stem + ".json", e, true));
      else match(e);
    }
    for (auto& [key, e] : index.vmdks) {
      bool digest = key[0] != '!';
      if (digest && in.ownManifests.count(key)) continue;
      if (digest && in.rows->manifests.Has(key)) continue;  // however recent (above)
      if (!e.read) fresh.push_back(&Read(vmdk, VmdkFileName(key), e, false));
      else match(e);
    }
    if (!fresh.empty()) {
      for (const std::string& d : in.ownManifests) {
        if (auto id = index.IdOfDigest(d)) targetManifests.emplace(*id, &d);
      }
      for (const std::string& d : in.ownLayers) {
        if (auto id = index.IdOfDigest(d)) targetLayers.emplace(*id, &d);
      }
      for (const NamedBy* e : fresh) match(*e);
    }
    scanned = true;
    for (const std::string& n : msb::Names(tmp)) {
      if (EndsWith(n, ".work")) NoteWorkDir(n);
    }
  }

  // Lists everything again (no usable watch, or the event queue overflowed).
  void Relist() {
    List();
    Scan();
  }

  std::unordered_set<std::string> workDirs;  // tmp/<stem>.work seen

  void NoteWorkDir(const std::string& name) {
    workDirs.insert(name);
    int d = openat(tmp, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (d < 0) return;
    for (const std::string& n : msb::Names(d)) {
      if (EndsWith(n, ".vmdk")) Add(ReadNames(d, n, false));
    }
    close(d);
  }

  // Files created, rewritten, renamed or removed since the last look (by anyone, this process too).
  void Drain() {
    checksSinceDrain = 0;
#if MSB_HAVE_INOTIFY
    if (index.inotify < 0) return;
    alignas(struct inotify_event) char buf[16384];
    bool relist = false;
    for (;;) {
      ssize_t n = read(index.inotify, buf, sizeof buf);
      if (n <= 0) break;  // EAGAIN: nothing more
      for (char* p = buf; p < buf + n;) {
        auto* e = reinterpret_cast<struct inotify_event*>(p);
        p += sizeof(struct inotify_event) + e->len;
        if (e->mask & IN_Q_OVERFLOW) {
          relist = true;
          continue;
        }
        if (e->mask & (IN_IGNORED | IN_DELETE_SELF | IN_MOVE_SELF | IN_UNMOUNT)) {
          index.live = false;  // a watched directory went: list again now and at the next call
          relist = true;
          continue;
        }
        if (e->len == 0) continue;
        std::string name = e->name;
        bool gone = (e->mask & (IN_DELETE | IN_MOVED_FROM)) != 0;
        if (e->wd == index.wdManifests && EndsWith(name, ".json")) {
          gone ? void(index.metadata.erase(name.substr(0, name.size() - 5))) : MetadataChanged(name);
        } else if (e->wd == index.wdVmdk && EndsWith(name, ".vmdk")) {
          gone ? void(index.vmdks.erase(VmdkKey(std::string_view(name).substr(0, name.size() - 5)))) : VmdkChanged(name);
        } else if (e->wd == index.wdTmp && !gone && EndsWith(name, ".work") && scanned) {
          NoteWorkDir(name);
        }
      }
    }
    if (relist) scanned ? Relist() : List();
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

  // A manifest or layer this run did not announce (ownManifests/ownLayers): every eligible file.
  bool NamedAnywhere(const std::string& digest, bool manifest) {
    std::optional<uint32_t> id = index.IdOfDigest(digest);
    auto names = [&](const NamedBy& e) {
      auto from = manifest ? e.ids.begin() : e.ids.begin() + e.manifestCount;
      auto to = manifest ? e.ids.begin() + e.manifestCount : e.ids.end();
      return id && std::find(from, to, *id) != to;
    };
    for (auto& [stem, e] : index.metadata) {
      if (in.ownMetadataStems.count(stem) || (e.ctime < in.recentSince && in.rows->metadataStems.Has(stem))) continue;
      Read(manifests, stem + ".json", e, true);
      id = index.IdOfDigest(digest);
      if (names(e)) return true;
    }
    for (auto& [key, e] : index.vmdks) {
      bool d = key[0] != '!';
      if (d && (in.ownManifests.count(key) || in.rows->manifests.Has(key))) continue;
      Read(vmdk, VmdkFileName(key), e, false);
      id = index.IdOfDigest(digest);
      if (names(e)) return true;
    }
    return false;
  }
};

InFlightGuard::InFlightGuard(const std::string& cacheDir, InFlightInputs inputs, std::shared_ptr<InFlightIndex> index)
    : s_(new State(std::move(index))) {
  State& s = *s_;
  s.in = std::move(inputs);
  s.cacheDir = cacheDir;
  s.root = open(cacheDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  s.manifests = s.Sub("manifests");
  s.vmdk = s.Sub("vmdk");
  s.tmp = s.Sub("tmp");
  s.fsmeta = s.Sub("fsmeta");
  if (s.StillWatched()) {
    s.Drain();  // brings the entries up to date
  }
  // Digests of files long gone stay interned: start over once they far outnumber the files.
  bool bloated = s.index.digestIds.size() > 8 * (s.index.metadata.size() + s.index.vmdks.size()) + 4096;
  if (bloated || !s.StillWatched()) s.Rebuild();
  s.Scan();
}

InFlightGuard::~InFlightGuard() {
  for (int fd : {s_->root, s_->manifests, s_->vmdk, s_->tmp, s_->fsmeta}) {
    if (fd >= 0) close(fd);
  }
}

void InFlightGuard::BeginBatch() {
  if (!s_->index.live) s_->Relist();
}

const char* InFlightGuard::Check(const Artifact& a) {
  State& s = *s_;
  switch (a.kind) {
    case ArtifactKind::kMetadata: {
      // This run's own unlinks queue an event each: read them now and then so the queue (16,384
      // events by default) does not overflow into a full listing.
      if (++s.checksSinceDrain >= 1024) s.Drain();
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
      s.Drain();  // what was written since the last look (a layer's check drains in WaitForBuilds)
      if (s.inUseManifests.count(a.id)) return "in-use-by-files";
      return !s.in.ownManifests.count(a.id) && s.NamedAnywhere(a.id, true) ? "in-use-by-files" : nullptr;
    case ArtifactKind::kLayer:
      if (!s.WaitForBuilds()) return "in-use-by-files";
      if (s.inUseLayers.count(a.id)) return "in-use-by-files";
      return !s.in.ownLayers.count(a.id) && s.NamedAnywhere(a.id, false) ? "in-use-by-files" : nullptr;
    default:
      return nullptr;
  }
}

void InFlightGuard::Kept(const Artifact& a) {
  State& s = *s_;
  switch (a.kind) {
    case ArtifactKind::kMetadata:
      s.Add(ReadNames(s.manifests, MetadataFileStem(a.id) + ".json", true));
      break;
    case ArtifactKind::kManifest:
      if (IsValidDigest(a.id)) {
        s.inUseManifests.insert(a.id);
        s.Add(ReadNames(s.vmdk, DigestFileStem(a.id) + ".vmdk", false));
      }
      break;
    default:
      break;
  }
}

}  // namespace msb

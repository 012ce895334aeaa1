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
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <optional>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <vector>

#include "storage/cache_walk.h"
#include "write_path/cache_sweep.h"  // NowSeconds
#include "formats/reference.h"
#include "storage/sqlite_db.h"
#include "formats/vmdk.h"
#include "base/digest_table.h"
#include "base/mapped_array.h"
#include "base/parallel.h"

namespace msb {
namespace {

constexpr size_t kMaxMetadataBytes = 64u << 20;

// The text of the open file `fd` into `out`: false if it is not a regular file of at most `limit`
// bytes that could be read whole. A file shorter than the first read (msb's metadata files are a few
// KB) costs one read; a longer one is checked and read on.
bool ReadOpenFile(int fd, size_t limit, std::string* out) {
  char first[16384];
  ssize_t n = pread(fd, first, sizeof first, 0);
  bool ok = n >= 0 && size_t(n) <= limit;
  if (ok && size_t(n) < sizeof first) {
    out->assign(first, size_t(n));
  } else if (ok) {
    struct stat st;
    ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && uint64_t(st.st_size) <= limit && size_t(st.st_size) >= size_t(n);
    if (ok) {
      out->resize(size_t(st.st_size));
      std::memcpy(out->data(), first, size_t(n));
      size_t got = size_t(n);
      while (got < out->size()) {
        ssize_t more = pread(fd, out->data() + got, out->size() - got, off_t(got));
        if (more <= 0) break;
        got += size_t(more);
      }
      ok = got == out->size();
    }
  }
  return ok;
}
int OpenToRead(int dirFd, const char* name) {
  return dirFd < 0 ? -1 : openat(dirFd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
}
bool ReadFile(int dirFd, const char* name, size_t limit, std::string* out) {
  int fd = OpenToRead(dirFd, name);
  if (fd < 0) return false;
  bool ok = ReadOpenFile(fd, limit, out);
  close(fd);
  return ok;
}
bool ReadFile(int dirFd, const std::string& name, size_t limit, std::string* out) {
  return ReadFile(dirFd, name.c_str(), limit, out);
}

// The manifest digest of a metadata file as msb writes it, from its first bytes alone: msb's compact
// JSON begins `{"manifest_digest":"sha256:<64 hex>"`. Reading those 92 bytes, not the file's few KB,
// spares the copy of the rest and the search for the key in it (with them, ~6% of a first removal's
// CPU samples at 100,000 files, where every file is read). False when the file begins otherwise: the
// caller reads it whole. Another "manifest_digest" further on (never in msb's files; serde rejects a
// duplicate key, so msb would take the file as absent) is not looked for: keeping this one only keeps more.
bool ReadLeadingManifest(int fd, Digest32* manifest) {
  static constexpr std::string_view kLead = "{\"manifest_digest\":\"sha256:";
  char head[kLead.size() + 64 + 1];
  ssize_t n = pread(fd, head, sizeof head, 0);
  if (n != ssize_t(sizeof head) || std::string_view(head, kLead.size()) != kLead || head[sizeof head - 1] != '"') return false;
  return ParseHex32(std::string_view(head + kLead.size(), 64), manifest);
}

// Every string value of `"key": "…"` in msb's compact JSON (keys inside the escaped raw_* strings
// never match: their quotes are preceded by a backslash).
std::vector<std::string> JsonStrings(std::string_view text, std::string_view key) {
  std::vector<std::string> out;
  std::string needle = "\"" + std::string(key) + "\"";
  auto find = [&](size_t from) -> size_t {  // memmem: a JSON text is mostly quotes, which slow a first-byte scan
    if (from >= text.size()) return std::string_view::npos;
    const void* p = memmem(text.data() + from, text.size() - from, needle.data(), needle.size());
    return p == nullptr ? std::string_view::npos : size_t(static_cast<const char*>(p) - text.data());
  };
  for (size_t at = find(0); at != std::string_view::npos; at = find(at + 1)) {
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

// Calls fn(name, inode) for every entry of the directory but . and .. (no name is kept).
template <typename Fn>
void ForEachEntry(int dirFd, Fn&& fn) {
  if (dirFd < 0) return;
  int fd = dup(dirFd);
  if (fd < 0) return;
  DIR* d = fdopendir(fd);
  if (d == nullptr) {
    close(fd);
    return;
  }
  while (struct dirent* e = readdir(d)) {
    std::string_view n = e->d_name;
    if (n != "." && n != "..") fn(n, uint64_t(e->d_ino));
  }
  closedir(d);
}
// The same, fn(name).
template <typename Fn>
void ForEachName(int dirFd, Fn&& fn) {
  ForEachEntry(dirFd, [&fn](std::string_view n, uint64_t) { fn(n); });
}

std::vector<std::string> Names(int dirFd) {
  std::vector<std::string> out;
  ForEachName(dirFd, [&](std::string_view n) { out.emplace_back(n); });
  return out;
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

// A metadata file: when its status last changed (as of the event or listing that recorded it) and,
// once read, what it names. Most name one manifest, and that is all that is kept: its layers count
// only while the manifest has no rows or is this run's (otherwise its manifest_layer rows name them,
// and the re-check under each layer's lock finds those), and the file is read again then.
struct MetadataEntry {
  enum class Read : uint8_t { kNo, kNothing, kOneManifest, kAll };
  Digest32 manifest{};             // kOneManifest
  std::unique_ptr<FileNames> all;  // kAll: everything it names
  // Its change time in whole seconds, rounded up: 4 bytes a file, not 8 (rounding up only keeps a file
  // recent a moment longer). kUnknown while a listing has not asked.
  uint32_t ctime = 0;
  Read read = Read::kNo;
  static constexpr uint32_t kUnknown = UINT32_MAX;
  static uint32_t Seconds(double t) { return t <= 0 ? 0 : t >= 4294967294.0 ? 4294967294u : uint32_t(std::ceil(t)); }
};
// A VMDK file: null until read (only files whose manifest has no rows are), then what it names.
using VmdkEntry = std::unique_ptr<FileNames>;

// The VMDKs of vmdk/: those msb names (sha256_<hex>.vmdk) as the manifest's 32 bytes in a set (the
// names of the few read kept beside it), any other by its stem.
struct VmdkTable {
  DigestTable<uint8_t> byKey;  // (no value: a set)
  std::unordered_map<Digest32, FileNames, Digest32Hash> namesByKey;
  std::unordered_map<std::string, VmdkEntry> byText;
  void Clear() {  // and give the memory back
    byKey.Clear();
    decltype(namesByKey)().swap(namesByKey);
    decltype(byText)().swap(byText);
  }
};

// The metadata files of manifests/ by stem: the names msb gives (64 hex digits) by their 32 bytes,
// any other by its text.
struct MetadataTable {
  DigestTable<MetadataEntry> byKey;
  std::unordered_map<std::string, MetadataEntry> byText;
  void Clear() {  // and give the memory back
    byKey.Clear();
    decltype(byText)().swap(byText);
  }
};

// A listing of manifests/ handed, as it goes, from the thread that lists to the one that reads: the stems
// of msb-named files in the directory's order, and room beside each for what a read of it finds. Both in
// mapped arrays (base/mapped_array.h) of `capacity`; stems past it (the directory grew past the guess) are
// kept on the heap and never handed over: they are read after the listing, as on a disk.
class ListedStems {
 public:
  explicit ListedStems(size_t capacity) : stems_(capacity), read_(stems_.capacity()) {}
  // The listing thread's.
  void Add(const Digest32& stem) {
    if (stems_.made() == stems_.capacity() || read_.capacity() == 0) {
      overflow_.push_back(stem);
      return;
    }
    stems_.Make(stem);
    if (stems_.made() % kHandEvery == 0) Hand(false);
  }
  // When the listing ends, however it ends (else a reader waits for ever).
  void Close() { Hand(true); }
  // The stems [from, to) handed over since the last call, waiting for one; empty once closed and all taken.
  std::pair<size_t, size_t> Next() {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [this] { return closed_ || taken_ < handed_; });
    size_t from = std::exchange(taken_, handed_);
    return {from, taken_};
  }
  // Once closed: every stem, in the directory's order.
  size_t size() const { return stems_.made() + overflow_.size(); }
  const Digest32& operator[](size_t i) const { return i < stems_.made() ? stems_[i] : overflow_[i - stems_.made()]; }
  // The reading thread's: a stem handed over (below what Next returned), and room for what the reads of
  // stems [0, to) find (one thread at a time).
  const Digest32& Handed(size_t i) const { return stems_[i]; }
  void MakeReadsUpTo(size_t to) { read_.MakeUpTo(to); }
  MetadataEntry& Read(size_t i) { return read_[i]; }
  size_t readsMade() const { return read_.made(); }

 private:
  static constexpr size_t kHandEvery = 256;
  void Hand(bool last) {
    std::lock_guard<std::mutex> lock(mu_);
    handed_ = stems_.made();
    closed_ = closed_ || last;
    cv_.notify_all();
  }
  MappedArray<Digest32> stems_;
  MappedArray<MetadataEntry> read_;
  std::vector<Digest32> overflow_;
  std::mutex mu_;
  std::condition_variable cv_;
  size_t handed_ = 0, taken_ = 0;
  bool closed_ = false;
};

// A metadata file stem (`<64 hex>`) as its bytes.
bool MetadataKey(std::string_view stem, Digest32* k) { return ParseHex32(stem, k); }
// A VMDK file stem (`sha256_<64 hex>`) as the manifest digest's bytes.
bool VmdkKey(std::string_view stem, Digest32* k) {
  return stem.size() == kSha256Prefix.size() + 64 && stem.substr(0, 6) == "sha256" && stem[6] == '_' &&
         ParseHex32(stem.substr(7), k);
}
std::string VmdkFileName(const Digest32& k) { return "sha256_" + Hex32(k) + ".vmdk"; }
// `<64 hex>.json`, made without an allocation (one per file of a big cache adds up).
struct MetadataFileName {
  explicit MetadataFileName(const Digest32& stem) {
    WriteHex(stem.data(), stem.size(), text);
    std::memcpy(text + 64, ".json", 6);
  }
  char text[70];
};

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

// Files whose names are read on more than one thread from this many on.
constexpr size_t kThreadedFrom = 2048;

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
  MetadataTable metadata;
  VmdkTable vmdks;
  // The row names the last removal saw, and the database state they are of (TakeRowNames); a lock of
  // their own, since a removal takes them while its guard holds `mu`.
  std::mutex rowMu;
  std::shared_ptr<RowNames> rowNames;
  RowStamp rowNamesAt;

  void Unwatch() {
    if (inotify >= 0) close(inotify);
    inotify = wdManifests = wdVmdk = wdTmp = -1;
    live = false;
  }
};

std::shared_ptr<InFlightIndex> NewInFlightIndex() { return std::make_shared<InFlightIndex>(); }

void RowNames::AddReference(std::string_view reference) {
  const uint32_t n = uint32_t(reference.size());  // SQLite's text is under 2^31 bytes
  references_.append(reinterpret_cast<const char*>(&n), sizeof n).append(reference);
}

void RowNames::RemoveMetadataStem(const std::string& stem) {
  hashed_ ? metadataStems_.Remove(stem) : removedStems_.push_back(stem);
}

const DigestSet& RowNames::MetadataStems() {
  if (hashed_) return metadataStems_;
  std::vector<std::string_view> refs;
  for (size_t at = 0; at + sizeof(uint32_t) <= references_.size();) {
    uint32_t n;
    memcpy(&n, references_.data() + at, sizeof n);
    refs.emplace_back(references_.data() + at + sizeof n, n);
    at += sizeof n + n;
  }
  std::vector<Digest32> stems(refs.size());
  std::vector<uint8_t> ok(refs.size(), 0);
  ParallelFor(refs.size(), 4 * kThreadedFrom, [&](size_t i) {
    std::optional<std::string> n = NormalizeReference(refs[i]);
    ok[i] = n && ParseHex32(MetadataFileStem(*n), &stems[i]);
  });
  for (size_t i = 0; i < refs.size(); i++) {
    if (ok[i]) metadataStems_.AddBytes(stems[i], false);
  }
  metadataStems_.Seal();
  for (const std::string& stem : removedStems_) metadataStems_.Remove(stem);
  std::string().swap(references_);
  std::vector<std::string>().swap(removedStems_);
  hashed_ = true;
  return metadataStems_;
}

std::shared_ptr<RowNames> TakeRowNames(InFlightIndex& index, const RowStamp& at) {
  std::lock_guard<std::mutex> lock(index.rowMu);
  std::shared_ptr<RowNames> names = std::move(index.rowNames);
  index.rowNames.reset();
  return names && index.rowNamesAt == at ? names : nullptr;
}

void KeepRowNames(InFlightIndex& index, const RowStamp& at, std::shared_ptr<RowNames> names) {
  std::lock_guard<std::mutex> lock(index.rowMu);
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
  // Only this run's manifests and layers among them (what a file that was there before the run names).
  void AddOwn(const FileNames& n) {
    for (const std::string& d : n.manifests) {
      if (in.ownManifests.Has(d)) inUseManifests.insert(d);
    }
    for (const std::string& d : n.layers) {
      if (in.ownLayers.Has(d)) inUseLayers.insert(d);
    }
  }

  // Whether a manifest's layers are named by rows that outlast this run: it has rows and is not this run's.
  bool LayersHaveRows(const Digest32& m) const {
    return !in.ownManifests.HasBytes(m, true) && in.rows->manifests.HasBytes(m, true);
  }

  // Metadata files this run looks into: not its own, and either without a row or recently changed.
  bool MetadataCounts(const Digest32& stem, const MetadataEntry& e) {
    return !in.ownMetadataStems.HasBytes(stem, false) && !(double(e.ctime) < in.recentSince && in.rows->MetadataStems().HasBytes(stem, false));
  }
  bool MetadataCounts(const std::string& stem, const MetadataEntry& e) {
    return !in.ownMetadataStems.Has(stem) && !(double(e.ctime) < in.recentSince && in.rows->MetadataStems().Has(stem));
  }
  // VMDKs this run reads: a VMDK whose manifest a row names is never read, however recent (Scan).
  bool VmdkCounts(const Digest32& m) const { return !in.ownManifests.HasBytes(m, true) && !in.rows->manifests.HasBytes(m, true); }
  bool VmdkCounts(const std::string& stem) const {
    std::optional<std::string> d = DigestOfFileStem(stem);
    return !d || (!in.ownManifests.Has(*d) && !in.rows->manifests.Has(*d));
  }

  // Reads a metadata file into its entry (any thread: it touches only `e` and `text`). Unless `all`,
  // keeps only the manifest when the file names one (NamesOf reads it again when more counts).
  void ReadMetadata(const char* name, MetadataEntry& e, std::string& text, bool all = false) const {
    e.all.reset();
    e.read = MetadataEntry::Read::kNothing;
    int fd = OpenToRead(manifests, name);
    if (fd < 0) return;
    if (!all && ReadLeadingManifest(fd, &e.manifest)) {
      close(fd);
      e.read = MetadataEntry::Read::kOneManifest;
      return;
    }
    bool ok = ReadOpenFile(fd, kMaxMetadataBytes, &text);
    close(fd);
    if (!ok) return;
    std::vector<std::string> named = all ? std::vector<std::string>{} : JsonStrings(text, "manifest_digest");
    if (named.size() == 1 && ParseSha256(named[0], &e.manifest)) {
      e.read = MetadataEntry::Read::kOneManifest;
      return;
    }
    FileNames n = ParseJsonNames(text);
    if (n.manifests.empty() && n.layers.empty()) return;
    e.all = std::make_unique<FileNames>(std::move(n));
    e.read = MetadataEntry::Read::kAll;
  }
  // The entry's names when its layers count (see MetadataEntry), reading it (again, if only its
  // manifest was kept) when they do.
  template <typename NameFn>
  const FileNames* NamesOf(NameFn&& name, MetadataEntry& e) {
    std::string text;
    if (e.read == MetadataEntry::Read::kNo) ReadMetadata(name().c_str(), e, text);
    if (e.read == MetadataEntry::Read::kOneManifest && !LayersHaveRows(e.manifest)) {
      ReadMetadata(name().c_str(), e, text, true);
    }
    return e.read == MetadataEntry::Read::kAll ? e.all.get() : nullptr;
  }
  const FileNames& NamesOf(int dirFd, const std::string& name, VmdkEntry& e) {
    if (!e) e = std::make_unique<FileNames>(ReadNames(dirFd, name, false));
    return *e;
  }

  // Calls fn(name, entry) for every metadata file this run looks into; `name()` makes the file name.
  template <typename Fn>
  void ForCountingMetadata(Fn&& fn) {
    index.metadata.byKey.ForEach([&](const Digest32& stem, MetadataEntry& e) {
      if (MetadataCounts(stem, e)) fn([&stem] { return Hex32(stem) + ".json"; }, e);
    });
    for (auto& [stem, e] : index.metadata.byText) {
      if (MetadataCounts(stem, e)) fn([&stem = stem] { return stem + ".json"; }, e);
    }
  }
  template <typename Fn>
  void ForCountingVmdks(Fn&& fn) {  // fn(what the VMDK names)
    index.vmdks.byKey.ForEach([&](const Digest32& m, uint8_t&) {
      if (!VmdkCounts(m)) return;
      auto it = index.vmdks.namesByKey.find(m);
      if (it == index.vmdks.namesByKey.end()) it = index.vmdks.namesByKey.emplace(m, ReadNames(vmdk, VmdkFileName(m), false)).first;
      fn(it->second);
    });
    for (auto& [stem, e] : index.vmdks.byText) {
      if (VmdkCounts(stem)) fn(NamesOf(vmdk, stem + ".vmdk", e));
    }
  }

  // A file created, rewritten or renamed into place: record its change time; its names are read
  // when needed. Once this run has scanned, a file written now is in flight: its names count at once.
  void MetadataChanged(const std::string& name) {
    std::string stem = name.substr(0, name.size() - 5);
    Digest32 k;
    bool binary = MetadataKey(stem, &k);
    struct stat st;
    if (manifests < 0 || fstatat(manifests, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      binary ? index.metadata.byKey.Erase(k) : void(index.metadata.byText.erase(stem));
      return;
    }
    MetadataEntry& e = binary ? index.metadata.byKey[k] : index.metadata.byText[stem];
    e.ctime = MetadataEntry::Seconds(ChangeTime(st));
    e.read = MetadataEntry::Read::kNo;
    e.all.reset();
    if (scanned) Add(ReadNames(manifests, name, true));
  }
  void MetadataGone(const std::string& name) {
    std::string_view stem = std::string_view(name).substr(0, name.size() - 5);
    Digest32 k;
    MetadataKey(stem, &k) ? index.metadata.byKey.Erase(k) : void(index.metadata.byText.erase(std::string(stem)));
  }
  void VmdkChanged(const std::string& name) {
    VmdkListed(name);
    if (scanned) Add(ReadNames(vmdk, name, false));
  }
  // Present, names unread.
  void VmdkListed(std::string_view name) {
    std::string_view stem = name.substr(0, name.size() - 5);
    Digest32 k;
    if (VmdkKey(stem, &k)) {
      index.vmdks.byKey[k];
      index.vmdks.namesByKey.erase(k);
    } else {
      index.vmdks.byText[std::string(stem)].reset();
    }
  }
  void VmdkGone(const std::string& name) {
    std::string_view stem = std::string_view(name).substr(0, name.size() - 5);
    Digest32 k;
    if (VmdkKey(stem, &k)) {
      index.vmdks.byKey.Erase(k);
      index.vmdks.namesByKey.erase(k);
    } else {
      index.vmdks.byText.erase(std::string(stem));
    }
  }

  // Every file of manifests/ and vmdk/, as a listing finds them (names unread).
  void List() {
    ListMetadata();
    ListVmdks();
  }
  void ListVmdks() {
    index.vmdks.Clear();
    std::vector<Digest32> keys;
    ForEachName(vmdk, [&](std::string_view n) {
      if (!EndsWith(n, ".vmdk")) return;
      Digest32 k;
      if (VmdkKey(n.substr(0, n.size() - 5), &k)) keys.push_back(k);
      else VmdkListed(n);
    });
    index.vmdks.byKey.Assign(std::move(keys));  // (a VMDK's change time is never needed)
  }
  // Every file of manifests/, with its change time (SetChangeTimes). A listing keeps its stems in the
  // order the directory gave them (ListedStems, Listed), and Prepare reads in that order on tmpfs (on a
  // disk, in inode order): it touches the kernel's inodes and pages about in the order they were made, not
  // at random as in digest order: at 100,000 files on tmpfs, an open, read and close costs 1.7 µs against
  // 3.0 (bench/read-floor.c, one thread, directory order against sorted).
  void ListMetadata() {
    ListedStems stems(0);
    ListMetadataNames(stems);
    Listed listed(stems);
    IndexListing(listed, loops);
  }
  // The listing itself: msb-named files into `to`, any other name into the table (its own thread may
  // run it, beside the reads of what it has listed so far; nothing else touches the table meanwhile).
  // `inodes`: each stem's inode number, in the same order (Prepare's reads on a disk).
  void ListMetadataNames(ListedStems& to, std::vector<uint64_t>* inodes = nullptr) {
    struct CloseAtExit {
      ListedStems& stems;
      ~CloseAtExit() { stems.Close(); }
    } close{to};
    index.metadata.Clear();
    ForEachEntry(manifests, [&](std::string_view n, uint64_t inode) {
      if (!EndsWith(n, ".json")) return;
      std::string_view stem = n.substr(0, n.size() - 5);
      Digest32 k;
      if (MetadataKey(stem, &k)) {
        to.Add(k);
        if (inodes) inodes->push_back(inode);
      } else {
        index.metadata.byText[std::string(stem)].ctime = MetadataEntry::kUnknown;
      }
    });
  }
  // A finished listing's msb-named stems in the directory's order, and the entry of each in the table
  // (null for a file gone before its change time was asked).
  struct Listed {
    explicit Listed(ListedStems& s) : stems(s), entries(s.size()) {
      if (entries.capacity() < s.size()) throw std::bad_alloc();  // (as a vector that could not grow)
    }
    ListedStems& stems;
    MappedArray<MetadataEntry*> entries;
  };
  // The table made from a finished listing (`with`: the loops this thread may run).
  void IndexListing(Listed& listed, SharedLoops& with) {
    std::vector<Digest32> keys(listed.stems.size());
    for (size_t i = 0; i < keys.size(); i++) keys[i] = listed.stems[i];
    index.metadata.byKey.Assign(std::move(keys));
    for (size_t i = 0; i < listed.stems.size(); i++) listed.entries.Make(index.metadata.byKey.Find(listed.stems[i]));
    SetChangeTimes(listed, with);
  }
  // What reads as the listing went found, into the table.
  void TakeReads(Listed& listed) {
    for (size_t i = 0; i < listed.stems.readsMade() && i < listed.entries.made(); i++) {
      MetadataEntry* e = listed.entries[i];
      MetadataEntry& found = listed.stems.Read(i);
      if (e == nullptr || found.read == MetadataEntry::Read::kNo) continue;
      e->read = found.read;
      e->manifest = found.manifest;
      e->all = std::move(found.all);
    }
  }
  // Reads the files of a listing under way as it hands them over, when its first batch says that most
  // of the directory changed since `listRecentSince` (msb filled the cache minutes ago: Prepare would
  // read every file once the listing is done). One thread reading behind the listing costs a fifth
  // less CPU than two reading after it, and leaves a core to the caller's rows and the VMDK listing:
  // at 100,000 files on tmpfs, 180 ms and 230 ms of CPU against 170–200 ms and 290–345 ms
  // (bench/read-floor.c, `1 1 behind` against `2 1`). The caller's thread joins the reads once its
  // rows are done (Begin).
  void ReadAsListed(ListedStems& stems) {
    struct stat dir;
    if (manifests < 0 || fstat(manifests, &dir) != 0 || ChangeTime(dir) < listRecentSince) return;
    for (bool first = true;; first = false) {
      const std::pair<size_t, size_t> got = stems.Next();
      const size_t from = got.first, n = got.second - got.first;
      if (n == 0 || (first && !MostlyRecent(n, [&](size_t i) -> const Digest32& { return stems.Handed(from + i); }))) return;
      stems.MakeReadsUpTo(got.second);
      ReadUnread(n, [&](size_t i) { return std::pair<const Digest32&, MetadataEntry&>(stems.Handed(from + i), stems.Read(from + i)); });
      if (abandoned.load(std::memory_order_relaxed)) return;
    }
  }
  // The change times of a new listing's files (`listed`: their stems, in the directory's order). One is
  // asked for only when it may be recent (after `recentSince`): msb writes each file as
  // <stem>.json.part and renames it into place, which changes the directory too, so the directory's
  // change time, taken after the listing, bounds every listed file's write; when that is older, it
  // stands for all. When most of a sample is recent (msb filled the cache minutes ago), every file
  // counts as recent. Otherwise they are asked for on two threads at scale.
  void SetChangeTimes(Listed& listed, SharedLoops& with) {
    index.metadata.byKey.ForEach([](const Digest32&, MetadataEntry& e) { e.ctime = MetadataEntry::kUnknown; });
    struct stat dir;
    if (manifests >= 0 && fstat(manifests, &dir) == 0 && ChangeTime(dir) < listRecentSince) {
      index.metadata.byKey.ForEach([&](const Digest32&, MetadataEntry& e) { e.ctime = MetadataEntry::Seconds(ChangeTime(dir)); });
      for (auto& [stem, e] : index.metadata.byText) e.ctime = MetadataEntry::Seconds(ChangeTime(dir));
      return;
    }
    if (MostlyRecent(listed.stems.size(), [&](size_t i) -> const Digest32& { return listed.stems[i]; })) {
      // msb filled this cache minutes ago: every file will be read (Prepare), so a status call each
      // (a quarter of the system calls; about 250 ms at 100,000 files on this project's VM) decides
      // nothing. The time now stands for each: no earlier than its change (later ones have queued
      // events), so a file counts as recent no shorter than it is.
      const uint32_t now = MetadataEntry::Seconds(NowSeconds());
      index.metadata.byKey.ForEach([&](const Digest32&, MetadataEntry& e) { e.ctime = now; });
      for (auto& [stem, e] : index.metadata.byText) e.ctime = now;
      return;
    }
    with.Run(listed.entries.made(), kThreadedFrom,
             [&](size_t i) {
               if (abandoned.load(std::memory_order_relaxed) || listed.entries[i] == nullptr) return;  // Prepare drops the listing
               listed.entries[i]->ctime = ChangeTimeOf(MetadataFileName(listed.stems[i]).text);
             }, maxThreads, onDevice);
    for (auto& [stem, e] : index.metadata.byText) e.ctime = ChangeTimeOf((stem + ".json").c_str());
    // Files gone since the listing.
    for (size_t i = 0; i < listed.entries.made(); i++) {
      if (listed.entries[i] != nullptr && listed.entries[i]->ctime == MetadataEntry::kUnknown) listed.entries[i] = nullptr;
    }
    index.metadata.byKey.EraseIf([](const Digest32&, const MetadataEntry& e) { return e.ctime == MetadataEntry::kUnknown; });
    for (auto it = index.metadata.byText.begin(); it != index.metadata.byText.end();) {
      it = it->second.ctime == MetadataEntry::kUnknown ? index.metadata.byText.erase(it) : std::next(it);
    }
  }

  uint32_t ChangeTimeOf(const char* name) const {
    struct stat st;
    return fstatat(manifests, name, &st, AT_SYMLINK_NOFOLLOW) == 0 ? MetadataEntry::Seconds(ChangeTime(st))
                                                                   : MetadataEntry::kUnknown;
  }
  // Whether at least two thirds of a sample of these files (up to 64, spread over the listing)
  // changed after `listRecentSince`: reading every file then costs less than a status call each and
  // reading the recent ones (three system calls a file against one plus three for each recent one).
  template <typename StemAt>
  bool MostlyRecent(size_t n, StemAt&& stemAt) const {
    const size_t sample = std::min<size_t>(64, n);
    size_t recent = 0;
    for (size_t i = 0; i < sample; i++) {
      uint32_t t = ChangeTimeOf(MetadataFileName(stemAt(i * n / sample)).text);
      if (t != MetadataEntry::kUnknown && double(t) >= listRecentSince) recent++;
    }
    return sample > 0 && 3 * recent >= 2 * sample;
  }

  // Before any listing: nothing written in between is missed. Watches manifests/ and tmp/; vmdk/ is
  // watched by WatchVmdks, on the thread that lists it next: adding a watch marks every entry of the
  // directory (~7 ms at 100,000), and the metadata listing waits for its own only.
  void Watch() {
    index.Unwatch();
    index.cacheDir.clear();
#if MSB_HAVE_INOTIFY
    index.inotify = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (index.inotify >= 0) {
      bool ok = WatchDirectory(0);
      ok = WatchDirectory(2) && ok;
      index.live = ok;  // (and vmdk/'s, WatchVmdks)
      if (ok) index.cacheDir = cacheDir;
    }
#endif
  }
  // Until it returns, nothing else may look at whether the index is watched.
  void WatchVmdks() {
    if (index.inotify >= 0 && !WatchDirectory(1)) {
      index.live = false;
      index.cacheDir.clear();
    }
  }
  // Watches manifests/ (0), vmdk/ (1) or tmp/ (2): whether it is the directory opened, watched.
  bool WatchDirectory(int i) {
#if MSB_HAVE_INOTIFY
    static constexpr uint32_t kMask = IN_CREATE | IN_MOVED_TO | IN_CLOSE_WRITE | IN_DELETE | IN_MOVED_FROM |
                                      IN_DELETE_SELF | IN_MOVE_SELF | IN_ONLYDIR | IN_DONT_FOLLOW;
    const char* subs[3] = {"manifests", "vmdk", "tmp"};
    int fds[3] = {manifests, vmdk, tmp};
    int* wds[3] = {&index.wdManifests, &index.wdVmdk, &index.wdTmp};
    std::string path = cacheDir + "/" + subs[i];
    *wds[i] = inotify_add_watch(index.inotify, path.c_str(), kMask);
    // The watched directory must be the one opened (not swapped in between). A directory
    // missing now is made by msb later: until then every call and batch lists again.
    index.ids[i] = IdOf(fds[i]);
    struct stat st;
    return *wds[i] >= 0 && index.ids[i] && stat(path.c_str(), &st) == 0 && DirId{st.st_dev, st.st_ino} == *index.ids[i];
#else
    (void)i;
    return false;
#endif
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
  // this run deletes. Only those files are read; metadata files not read before, on two threads at
  // scale (on a cache filled minutes ago, that is every one of them).
  //
  // A VMDK whose manifest a row names is never read, however recent: it names that manifest's
  // fsmeta and layers, which its manifest_layer rows name too. If those rows were there when this
  // run deleted its rows, none of its layers was unused and none is this run's; if they came after
  // (a load committing), the layer rows came with them, and the re-check under each layer's lock,
  // which comes after the row names were read, finds them. The same holds for the layers a metadata
  // file names, while its manifest has rows.
  void Scan() {
    // Two passes, the first for the files to read (after a removal or two: none), so that no list of
    // every counting file is made (on a cache filled minutes ago, all 100,000 count).
    std::vector<std::pair<const Digest32*, MetadataEntry*>> unread;
    bool anyOld = false;
    index.metadata.byKey.ForEach([&](const Digest32& stem, MetadataEntry& e) {
      anyOld = anyOld || double(e.ctime) < in.recentSince;
      if (e.read == MetadataEntry::Read::kNo && MetadataCounts(stem, e)) unread.emplace_back(&stem, &e);
    });
    ReadUnread(unread);
    std::vector<std::pair<const Digest32*, MetadataEntry*>>().swap(unread);
    // Which files' names may add to this run's, on two threads at scale: a look-up of a file's manifest
    // among the rows' is a cache miss or two (~130 ns; 13 ms at 100,000 files, every one counting on a
    // cache filled minutes ago). The rows' stems are hashed first, here, when a file may ask for them.
    if (anyOld) in.rows->MetadataStems();
    auto namesMayCount = [&](const Digest32& stem, const MetadataEntry& e) {
      if (!MetadataCounts(stem, e) || e.read == MetadataEntry::Read::kNothing) return false;
      return !(e.read == MetadataEntry::Read::kOneManifest && LayersHaveRows(e.manifest));
    };
    auto addNames = [&](const Digest32& stem, MetadataEntry& e) {
      if (const FileNames* n = NamesOf([&stem] { return Hex32(stem) + ".json"; }, e)) AddOwn(*n);
    };
    std::vector<uint8_t> mayCount(index.metadata.byKey.Slots(), 0);
    loops.Run(mayCount.size(), kThreadedFrom, [&](size_t i) {
      index.metadata.byKey.AtSlot(i, [&](const Digest32& stem, MetadataEntry& e) { mayCount[i] = namesMayCount(stem, e); });
    }, maxThreads, false);
    for (size_t i = 0; i < mayCount.size(); i++) {
      if (mayCount[i]) index.metadata.byKey.AtSlot(i, addNames);
    }
    index.metadata.byKey.ForEachAdded([&](const Digest32& stem, MetadataEntry& e) {
      if (namesMayCount(stem, e)) addNames(stem, e);
    });
    for (auto& [stem, e] : index.metadata.byText) {
      if (!MetadataCounts(stem, e)) continue;
      if (const FileNames* n = NamesOf([&stem = stem] { return stem + ".json"; }, e)) AddOwn(*n);
    }
    ForCountingVmdks([&](const FileNames& n) { AddOwn(n); });
    scanned = true;
    for (const std::string& n : msb::Names(tmp)) {
      if (EndsWith(n, ".work")) NoteWorkDir(n);
    }
  }

  // Reads these metadata files (not read since they changed) into their entries, on two threads at scale.
  void ReadUnread(const std::vector<std::pair<const Digest32*, MetadataEntry*>>& unread) {
    ReadUnread(unread.size(), [&](size_t i) { return std::pair<const Digest32&, MetadataEntry&>(*unread[i].first, *unread[i].second); });
  }
  // The same for `at(i)`, i in [0, n): a stem and its entry.
  template <typename At>
  void ReadUnread(size_t n, At&& at) {
    loops.Run(n, kThreadedFrom, [&](size_t i) {
      if (abandoned.load(std::memory_order_relaxed)) return;  // left unread: read when next needed
      thread_local std::string text;
      std::pair<const Digest32&, MetadataEntry&> file = at(i);
      ReadMetadata(MetadataFileName(file.first).text, file.second, text);
      if (text.capacity() > (1u << 20)) std::string().swap(text);  // a thread of the pool keeps it
    }, maxThreads, onDevice);
  }

  // What does not depend on the rows, done while the caller deletes them: the entries brought up to
  // date, and the metadata files changed since `recentSince` and not read since, read.
  void Prepare(double recentSince) {
    listRecentSince = recentSince;
    // Beside the caller's thread, which deletes the rows meanwhile: a core is left to it.
    // On a disk the reads wait on the device: many in flight at once, whatever the cores.
    onDevice = OnDeviceFileSystem(manifests);
    maxThreads = onDevice ? kDeviceThreads : std::max(1u, std::thread::hardware_concurrency()) - 1;
    if (StillWatched()) Drain();
    std::optional<Background> listingVmdks;  // joined on every way out
    std::optional<ListedStems> stems;  // a new listing's
    std::optional<Listed> listed;
    std::vector<uint64_t> inodes;  // a disk listing's, per stem
    if (!StillWatched()) {
      Watch();
      // Only the scan needs the VMDKs: they are listed on a thread of their own beside the metadata
      // listing and reads (each listing is ~50 ms of a core at 100,000 images).
      listingVmdks.emplace([this] {
        WatchVmdks();
        ListVmdks();
      });
      if (onDevice) {
        stems.emplace(0);  // (reads wait on the disk: many at once after the listing, ReadUnread)
        ListMetadataNames(*stems, &inodes);
        listed.emplace(*stems);
        IndexListing(*listed, loops);
      } else {
        // Room for the stems: tmpfs counts 20 bytes of a directory's size an entry; a quarter more for
        // files written meanwhile (any past that are read after the listing).
        struct stat dir;
        const size_t entries = manifests >= 0 && fstat(manifests, &dir) == 0 ? size_t(dir.st_size) / 20 : 0;
        stems.emplace(entries + entries / 4 + 1024);
        // The listing and then its table on a thread of their own, while this one reads what it lists.
        SharedLoops listingLoops;
        Background listing([&] {
          ListMetadataNames(*stems);
          listed.emplace(*stems);
          IndexListing(*listed, listingLoops);
        });
        if (!listing.OnOwnThread()) listing.Wait();  // (no thread: listed first, then read)
        ReadAsListed(*stems);
        listing.Wait();
        TakeReads(*listed);
      }
    }
    auto unreadAndRecent = [recentSince](const MetadataEntry& e) {
      return e.read == MetadataEntry::Read::kNo && double(e.ctime) >= recentSince;
    };
    std::vector<std::pair<const Digest32*, MetadataEntry*>> recent;
    if (!listed) {
      index.metadata.byKey.ForEach([&](const Digest32& stem, MetadataEntry& e) {
        if (unreadAndRecent(e)) recent.emplace_back(&stem, &e);
      });
    } else {
      std::vector<size_t> order;  // of the listing's files to read
      for (size_t i = 0; i < listed->entries.made(); i++) {
        MetadataEntry* e = listed->entries[i];
        if (e != nullptr && unreadAndRecent(*e)) order.push_back(i);
      }
      // On a disk, in the order of the files' inodes, not the directory's (on ext4, the order of the
      // names' hashes): files written one after another have neighbouring inodes and data blocks, so the
      // device reads ahead what comes next instead of seeking for each. At 10,000 files on an ext4 loop,
      // cold: 140–180 ms against 480–710 on 8 threads (bench/read-floor.c `8 1 inode` against `8 1`).
      if (inodes.size() == listed->entries.made()) {
        std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return inodes[a] < inodes[b]; });
      }
      recent.reserve(order.size());
      for (size_t i : order) recent.emplace_back(&listed->stems[i], listed->entries[i]);
    }
    std::vector<uint64_t>().swap(inodes);
    ReadUnread(recent);  // (a name of another form is read by the scan, if it counts)
    if (listingVmdks) listingVmdks->Wait();
    maxThreads = 4;
    // Cut short (the run failed before it needed the guard): a listing may be part done; the next run lists again.
    if (abandoned) index.Unwatch();
  }
  unsigned maxThreads = 4;  // for the file-system loops
  bool onDevice = false;    // manifests/ is on a disk's file system (not tmpfs)
  double listRecentSince = 0;  // a listing asks for the change times of files that may be changed since
  std::atomic<bool> abandoned{false};  // the run ended before Begin: stop reading
  // The file-system loops, which Begin's thread joins while Prepare is still under way.
  SharedLoops loops;
  std::optional<Background> preparing;

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
          gone ? MetadataGone(name) : MetadataChanged(name);
        } else if (e->wd == index.wdVmdk && EndsWith(name, ".vmdk")) {
          gone ? VmdkGone(name) : VmdkChanged(name);
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

  // A manifest or layer this run did not announce (ownManifests/ownLayers): every file this run looks into.
  bool NamedAnywhere(const std::string& digest, bool manifest) {
    bool found = false;
    auto in = [&](const FileNames& n) {
      const std::vector<std::string>& v = manifest ? n.manifests : n.layers;
      return std::find(v.begin(), v.end(), digest) != v.end();
    };
    ForCountingMetadata([&](auto name, MetadataEntry& e) {
      if (found) return;
      if (e.read == MetadataEntry::Read::kNo) {
        std::string text;
        ReadMetadata(name().c_str(), e, text);
      }
      if (manifest && e.read == MetadataEntry::Read::kOneManifest && Sha256Text(e.manifest) == digest) {
        found = true;
      } else if (const FileNames* n = NamesOf(name, e)) {
        found = in(*n);
      }
    });
    ForCountingVmdks([&](const FileNames& n) { found = found || in(n); });
    return found;
  }
};

InFlightGuard::InFlightGuard(const std::string& cacheDir, std::shared_ptr<InFlightIndex> index, double recentSince)
    : s_(new State(std::move(index))) {
  State& s = *s_;
  s.cacheDir = cacheDir;
  s.root = open(cacheDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  s.manifests = s.Sub("manifests");
  s.vmdk = s.Sub("vmdk");
  s.tmp = s.Sub("tmp");
  s.fsmeta = s.Sub("fsmeta");
  s.preparing.emplace([&s, recentSince] {
    struct FinishAtExit {
      SharedLoops& loops;
      ~FinishAtExit() { loops.Finish(); }
    } finish{s.loops};
    s.Prepare(recentSince);
  });
}

void InFlightGuard::Begin(InFlightInputs inputs) {
  State& s = *s_;
  // The rows are gone: this thread reads with the preparation's until it is done.
  if (s.preparing->OnOwnThread()) s.loops.HelpUntilFinished();
  s.preparing->Wait();
  s.in = std::move(inputs);
  s.listRecentSince = s.in.recentSince;
  if (s.StillWatched()) s.Drain();  // what was written while the rows went
  for (DigestSet* own : {&s.in.ownManifests, &s.in.ownLayers, &s.in.ownMetadataStems}) own->Seal();
  s.Scan();
}

InFlightGuard::~InFlightGuard() {
  s_->abandoned = true;
  s_->preparing.reset();  // joins
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
      // The file must still be the one the removed rows' image wrote: a load or pull that
      // re-tagged the reference to another image has rewritten it (and writes its rows next).
      if (a.expectDigests.empty()) {
        // This run's own unlinks queue an event each: read them now and then so the queue (16,384
        // events by default) does not overflow into a full listing.
        if (++s.checksSinceDrain >= 1024) s.Drain();
        return nullptr;
      }
      const std::string stem = MetadataFileStem(a.id);
      // Known without reading it when the index read it and no event for it has come since (drained
      // now: inotify queues a rename into place before the rename returns). On a cache written in the
      // last minutes the guard's preparation read every file; elsewhere it is read here.
      s.Drain();
      Digest32 key;
      if (s.index.live && s.index.inotify >= 0 && MetadataKey(stem, &key)) {
        const MetadataEntry* e = s.index.metadata.byKey.Find(key);
        if (e != nullptr && e->read == MetadataEntry::Read::kOneManifest) {
          const std::string named = Sha256Text(e->manifest);
          for (const std::string& d : a.expectDigests) {
            if (d == named) return nullptr;
          }
          return "in-use-again";
        }
      }
      std::string text;
      if (!ReadFile(s.manifests, stem + ".json", kMaxMetadataBytes, &text)) return nullptr;
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
      return !s.in.ownManifests.Has(a.id) && s.NamedAnywhere(a.id, true) ? "in-use-by-files" : nullptr;
    case ArtifactKind::kLayer:
      if (!s.WaitForBuilds()) return "in-use-by-files";
      if (s.inUseLayers.count(a.id)) return "in-use-by-files";
      return !s.in.ownLayers.Has(a.id) && s.NamedAnywhere(a.id, false) ? "in-use-by-files" : nullptr;
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

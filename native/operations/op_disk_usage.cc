// diskUsage(): what the cache holds on disk, by kind and by image. One read transaction for
// the rows while every file under the cache root is listed and stat'ed (never followed) on other
// threads; VMDK descriptors give each image's virtual size.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstring>
#include <algorithm>
#include <string_view>
#include <tuple>
#include <unordered_map>

#include "write_path/cache_sweep.h"
#include "base/parallel.h"
#include "storage/cache_walk.h"
#include "storage/catalog.h"
#include "base/errors.h"
#include "runtime/js_values.h"
#include "operations/operations.h"
#include "runtime/promise_worker.h"
#include "formats/reference.h"

namespace msb {
namespace {

// Rows from which diskUsage's look-ups of their files run on every core: below, starting threads
// costs more than it saves.
constexpr size_t kLookupsOnThreadsFrom = 4096;


class DiskUsageWorker : public PromiseWorker {
 public:
  using PromiseWorker::PromiseWorker;

 private:
  void Run() override {
    UsageCatalog catalog;
    // The walk (bound by lstat; it reads the VMDK descriptors too) runs on a thread of its own while
    // the rows are read and the metadata stems hashed here, and this thread then joins it; it starts
    // once the cache directory is known to be the right one.
    int rootFd = -1;
    struct CloseFd {
      int& fd;
      ~CloseFd() {
        if (fd >= 0) close(fd);
      }
    } closeRoot{rootFd};
    CacheListing listing;
    CacheListing::Files& entries = listing.files;
    SharedLoops walkLoops;
    std::optional<Background> walk;  // after rootFd, entries and walkLoops: joined before they go
    auto startWalk = [&] {
      rootFd = open(state_->Paths().cacheDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (rootFd < 0) return;
      walk.emplace([&] {
        struct FinishLoops {
          SharedLoops& loops;
          ~FinishLoops() { loops.Finish(); }  // also when the walk throws: the helper below returns
        } finish{walkLoops};
        listing = ListCache(rootFd, cancel_, ListOptions{true, &walkLoops});
      });
    };
    bool started = false;
    {
      std::optional<CacheState::Lease> conn = state_->Acquire(Connection::Mode::kRead, cancel_);
      if (conn) {
        Transaction tx(**conn, Connection::Mode::kRead);
        // Files measured in a wrong directory would report 0 B as if it were the truth.
        state_->RequireCacheDir(**conn, "refusing to measure it (its sizes would be those of another directory, or 0 B)");
        startWalk();
        started = true;
        catalog = LoadUsageCatalog(**conn);
      }
    }
    if (!started) startWalk();
    // Each reference's metadata file stem, computed once (a normalization and a sha256 each).
    std::vector<std::optional<std::string>> stems;
    stems.reserve(catalog.refs.size());
    for (const UsageCatalog::Ref& r : catalog.refs) {
      std::optional<std::string> n = NormalizeReference(r.reference);
      stems.push_back(n ? std::optional<std::string>(MetadataFileStem(*n)) : std::nullopt);
    }
    // What needs only the rows, made while the walk may still run: the layers and metadata stems a
    // pinned manifest holds (prune keeps them), and the rows' digests as lists the look-ups below
    // can share out between threads.
    std::unordered_set<std::string> keptLayers, heldStems;
    for (const auto& [id, digest] : catalog.manifests) {
      if (!catalog.pinnedBy.count(id)) continue;
      auto layers = catalog.layersOf.find(id);
      if (layers != catalog.layersOf.end()) keptLayers.insert(layers->second.begin(), layers->second.end());
    }
    for (size_t i = 0; i < catalog.refs.size(); i++) {
      if (catalog.pinnedBy.count(catalog.refs[i].manifestId) && stems[i]) heldStems.insert(*stems[i]);
    }
    std::vector<const std::string*> layerRows;
    layerRows.reserve(catalog.layerDiffIds.size());
    for (const std::string& d : catalog.layerDiffIds) layerRows.push_back(&d);
    std::vector<std::pair<int64_t, const std::string*>> manifestRows;
    manifestRows.reserve(catalog.manifests.size());
    for (const auto& [id, d] : catalog.manifests) manifestRows.emplace_back(id, &d);
    if (rootFd < 0) {
      CacheListing none;
      FileIndex files(&none.files);
      BuildImages(catalog, std::vector<std::optional<uint32_t>>(catalog.refs.size()), none, files);
      return;
    }
    // What prune's sweep of flat/ and tmp/ would take now (its dry run, default grace), while the walk
    // may still run: it lists those two directories itself.
    std::vector<std::string> unpinned;
    for (const auto& [id, digest] : catalog.manifests) {
      if (!catalog.pinnedBy.count(id)) unpinned.push_back(digest);
    }
    SweepReport sweep;
    double now = NowSeconds();
    SweepOptions dryRun{now - kDefaultGraceMs / 1000, now, true, cancel_};
    const std::string& cacheDir = state_->Paths().cacheDir;
    SweepFlat(cacheDir, unpinned, [](const std::string&) { return false; }, dryRun, &sweep);
    SweepTmp(cacheDir, dryRun, &sweep);
    reclaimable_ += sweep.bytes;
    if (walk->OnOwnThread()) walkLoops.HelpUntilFinished();  // (else Wait() below walks on this thread)
    walk->Wait();
    if (cancel_.IsSet()) throw CacheError(code::kAborted, "the operation was aborted");

    // Files by path (views into `entries`, which stays as it is from here on), and each file's
    // kind: by where it is, then by the rows that name it (looked up from the catalog's side: a
    // few look-ups per row instead of parsing every file name).
    FileIndex files(&entries);
    files.Reserve(entries.size());
    LargeVector<uint64_t*> kindOf(entries.size(), nullptr);
    for (size_t i = 0; i < entries.size(); i++) {
      const CacheListing::File& e = entries[i];
      if (!e.present) continue;
      total_ += e.size;
      allocated_ += e.allocated;
      kindOf[i] = KindByLocation(e.Path());
      // Only these can be named by a row (no row names a lock file, or anything in flat/ or tmp/).
      if (kindOf[i] == &orphans_) files.Add(uint32_t(i));
    }
    auto named = [&](std::optional<uint32_t> f, uint64_t* kind) {
      if (f && kindOf[*f] == &orphans_) kindOf[*f] = kind;
    };
    // In the same look-ups, what prune() with no options would reclaim now (catalog.cc PruneRows),
    // each file once: the fsmeta and VMDK of unpinned manifests, layers no pinned manifest uses,
    // metadata of unpinned references that no pinned reference shares.
    std::vector<bool> reclaim(entries.size(), false);
    auto take = [&](std::optional<uint32_t> f) {
      if (f) reclaim[*f] = true;
    };
    // The look-ups (a hash, a probe, a compare with the file's name: bound by memory at 100,000 images)
    // share out between the cores, each writing only its own slot; their results are applied in order
    // after, so every total is what one thread would have added up.
    std::vector<std::optional<uint32_t>> layerFile(layerRows.size());
    ParallelFor(layerRows.size(), kLookupsOnThreadsFrom, [&](size_t i) {
      if (IsValidDigest(*layerRows[i])) layerFile[i] = files.FindDigest(FileIndex::kLayers, *layerRows[i]);
    });
    std::vector<std::pair<std::optional<uint32_t>, std::optional<uint32_t>>> fsmetaAndVmdk(manifestRows.size());
    ParallelFor(manifestRows.size(), kLookupsOnThreadsFrom, [&](size_t i) {
      const std::string& d = *manifestRows[i].second;
      if (IsValidDigest(d)) fsmetaAndVmdk[i] = {files.FindDigest(FileIndex::kFsmeta, d), files.FindDigest(FileIndex::kVmdk, d)};
    });
    // Each reference's metadata file, kept for BuildImages.
    std::vector<std::optional<uint32_t>> stemFile(stems.size());
    ParallelFor(stems.size(), kLookupsOnThreadsFrom, [&](size_t i) {
      if (stems[i]) stemFile[i] = files.FindStem(*stems[i]);
    });
    for (size_t i = 0; i < layerRows.size(); i++) {
      named(layerFile[i], &layers_);
      if (layerFile[i] && (keptLayers.empty() || !keptLayers.count(*layerRows[i]))) take(layerFile[i]);
    }
    for (size_t i = 0; i < manifestRows.size(); i++) {
      const auto& [fsmeta, vmdk] = fsmetaAndVmdk[i];
      named(fsmeta, &fsmeta_);
      named(vmdk, &vmdk_);
      if (!catalog.pinnedBy.count(manifestRows[i].first)) {
        take(fsmeta);
        take(vmdk);
      }
    }
    for (size_t i = 0; i < stems.size(); i++) {
      if (!stemFile[i]) continue;
      named(stemFile[i], &metadata_);
      if (!catalog.pinnedBy.count(catalog.refs[i].manifestId) && (heldStems.empty() || !heldStems.count(*stems[i]))) {
        take(stemFile[i]);
      }
    }
    for (size_t i = 0; i < entries.size(); i++) {
      if (kindOf[i]) *kindOf[i] += entries[i].size;
      if (reclaim[i]) reclaimable_ += entries[i].size;
    }
    BuildImages(catalog, stemFile, listing, files);
    // The rows' strings and hash nodes (about a million at 100,000 images) are freed on another thread
    // while the answer is handed over.
    DisposeInBackground(std::make_tuple(std::move(catalog), std::move(stems), std::move(unpinned)));
  }

  // A file's kind by its location alone: orphans until a row names it (Run).
  uint64_t* KindByLocation(std::string_view path) {
    if (EndsWith(path, ".lock")) return &locks_;
    if (path.rfind("flat/", 0) == 0) return &flat_;
    if (path.rfind("tmp/", 0) == 0) return &tmp_;
    return &orphans_;  // unless a row or reference names it (a leftover download, a crashed write, …)
  }

  // The files a row can name, as indices into the walk's entries, keyed by their digest or stem:
  // layers/ and fsmeta/ `<algo>_<hex>.erofs`, vmdk/ `<algo>_<hex>.vmdk` (sha256: 64 hex, sha512: 128),
  // manifests/ `<64 hex>.json`. One open-addressing table of 8-byte slots (a tag and the index),
  // hashed from the hex text; a hit is confirmed against the file's whole name, so an answer is
  // always exact text equality, as a look-up of the path was. Names of any other form are not
  // held: no valid digest or stem could name them.
  class FileIndex {
   public:
    enum Dir : uint8_t { kLayers, kFsmeta, kVmdk, kManifests, kDirs };

    explicit FileIndex(const CacheListing::Files* entries) : entries_(entries) {
      seed_ = uint64_t(std::chrono::steady_clock::now().time_since_epoch().count()) * 0x9E3779B97F4A7C15ull;
    }
    void Reserve(size_t n) {
      size_t cap = 16;
      while (cap < 2 * n) cap *= 2;
      slots_.assign(cap, 0);
      mask_ = cap - 1;
    }
    // Adds entry i when its path has one of the forms above (Reserve first, for at least as many).
    void Add(uint32_t i) {
      std::string_view path = (*entries_)[i].Path();
      for (uint8_t d = 0; d < kDirs; d++) {
        const Shape& sh = kShapes[d];
        if (path.size() <= sh.dir.size() + sh.suffix.size() || path.substr(0, sh.dir.size()) != sh.dir ||
            path.substr(path.size() - sh.suffix.size()) != sh.suffix) {
          continue;
        }
        std::string_view name = path.substr(sh.dir.size(), path.size() - sh.dir.size() - sh.suffix.size());
        std::string_view hex;
        if (d == kManifests) {
          if (name.size() == 64) hex = name;
        } else if ((name.size() == 7 + 64 && name.substr(0, 7) == "sha256_") ||
                   (name.size() == 7 + 128 && name.substr(0, 7) == "sha512_")) {
          hex = name.substr(7);
        }
        if (hex.empty() || size_ + 1 > slots_.size() / 2) return;
        uint64_t h = Hash(Dir(d), hex);
        size_t pos = h & mask_;
        while (slots_[pos] != 0) pos = (pos + 1) & mask_;  // a path is listed once: no duplicates
        slots_[pos] = (h >> 32) << 32 | (uint64_t(i) + 1);
        size_++;
        return;
      }
    }
    // The file of a valid digest ("sha256:…" is stored as "sha256_…", DigestFileStem).
    std::optional<uint32_t> FindDigest(Dir d, std::string_view digest) const {
      return Find(d, digest.substr(0, 6), digest.substr(7));
    }
    // manifests/<stem>.json.
    std::optional<uint32_t> FindStem(std::string_view stem) const { return Find(kManifests, {}, stem); }
    uint64_t Size(uint32_t i) const { return (*entries_)[i].size; }
    size_t EntryCount() const { return entries_->size(); }

   private:
    struct Shape {
      std::string_view dir, suffix;
    };
    static constexpr Shape kShapes[kDirs] = {
        {"layers/", ".erofs"}, {"fsmeta/", ".erofs"}, {"vmdk/", ".vmdk"}, {"manifests/", ".json"}};

    uint64_t Hash(Dir d, std::string_view hex) const {
      uint64_t h = seed_ ^ (uint64_t(d) << 56) ^ hex.size();
      size_t k = 0;
      for (; k + 8 <= hex.size(); k += 8) {
        uint64_t w;
        std::memcpy(&w, hex.data() + k, 8);
        h = (h ^ w) * 0xBF58476D1CE4E5B9ull;
        h ^= h >> 31;
      }
      for (; k < hex.size(); k++) h = (h ^ uint8_t(hex[k])) * 0x94D049BB133111EBull;
      h ^= h >> 29;
      h *= 0x94D049BB133111EBull;
      return h ^ (h >> 32);
    }
    // The entry named <dir><algo>_<hex><suffix> (no algo, no "_" for manifests/).
    std::optional<uint32_t> Find(Dir d, std::string_view algo, std::string_view hex) const {
      if (size_ == 0) return std::nullopt;
      const Shape& sh = kShapes[d];
      size_t nameSize = algo.empty() ? hex.size() : algo.size() + 1 + hex.size();
      uint64_t h = Hash(d, hex);
      uint64_t tag = h >> 32;
      for (size_t pos = h & mask_; slots_[pos] != 0; pos = (pos + 1) & mask_) {
        if (slots_[pos] >> 32 != tag) continue;
        uint32_t i = uint32_t(slots_[pos] & 0xFFFFFFFFu) - 1;
        std::string_view path = (*entries_)[i].Path();
        if (path.size() != sh.dir.size() + nameSize + sh.suffix.size() || path.substr(0, sh.dir.size()) != sh.dir ||
            path.substr(path.size() - sh.suffix.size()) != sh.suffix) {
          continue;
        }
        std::string_view name = path.substr(sh.dir.size(), nameSize);
        if (!algo.empty() && (name.substr(0, algo.size()) != algo || name[algo.size()] != '_')) continue;
        if (name.substr(nameSize - hex.size()) == hex) return i;
      }
      return std::nullopt;
    }

    const CacheListing::Files* entries_;
    LargeVector<uint64_t> slots_;  // (tag << 32) | (index + 1); 0: empty
    size_t mask_ = 0, size_ = 0;
    uint64_t seed_ = 0;
  };

  // Each reference's record (`stemFile`: its metadata file, when on disk; its virtual size from its
  // VMDK descriptor, read by the walk).
  void BuildImages(const UsageCatalog& c, const std::vector<std::optional<uint32_t>>& stemFile,
                   const CacheListing& listing, const FileIndex& files) {
    auto virtualBytesOfFile = [&](uint32_t f) -> std::optional<uint64_t> {
      auto it = std::lower_bound(listing.virtualBytes.begin(), listing.virtualBytes.end(), std::make_pair(f, uint64_t(0)));
      if (it == listing.virtualBytes.end() || it->first != f) return std::nullopt;
      return it->second;
    };
    // Files of each reference (those on disk: a missing one counts 0 bytes), and how many
    // references use each file: each reference's in its own span of one array (room for its fsmeta,
    // VMDK, layers and metadata file), filled on the cores.
    std::vector<const std::vector<std::string>*> layersOfRef(c.refs.size(), nullptr);
    std::vector<size_t> spanOf(c.refs.size() + 1, 0);
    for (size_t i = 0; i < c.refs.size(); i++) {
      auto layers = c.layersOf.find(c.refs[i].manifestId);
      if (layers != c.layersOf.end()) layersOfRef[i] = &layers->second;
      spanOf[i + 1] = spanOf[i] + 3 + (layersOfRef[i] ? layersOfRef[i]->size() : 0);
    }
    LargeVector<uint32_t> fileSpans(spanOf.back());
    std::vector<uint32_t> filesIn(c.refs.size(), 0);  // how many of its span hold a file
    std::vector<std::optional<uint64_t>> virtualBytesOf(c.refs.size());
    ParallelFor(c.refs.size(), kLookupsOnThreadsFrom, [&](size_t i) {
      const UsageCatalog::Ref& r = c.refs[i];
      uint32_t* mine = fileSpans.data() + spanOf[i];
      uint32_t n = 0;
      auto add = [&](std::optional<uint32_t> f) {
        if (f) mine[n++] = *f;
      };
      if (IsValidDigest(r.manifestDigest)) {
        add(files.FindDigest(FileIndex::kFsmeta, r.manifestDigest));
        std::optional<uint32_t> vmdk = files.FindDigest(FileIndex::kVmdk, r.manifestDigest);
        add(vmdk);
        if (vmdk) virtualBytesOf[i] = virtualBytesOfFile(*vmdk);
      }
      if (layersOfRef[i]) {
        for (const std::string& d : *layersOfRef[i]) {
          if (IsValidDigest(d)) add(files.FindDigest(FileIndex::kLayers, d));
        }
      }
      add(stemFile[i]);
      std::sort(mine, mine + n);
      filesIn[i] = uint32_t(std::unique(mine, mine + n) - mine);
    });
    auto filesOf = [&](size_t i) { return std::make_pair(fileSpans.data() + spanOf[i], fileSpans.data() + spanOf[i] + filesIn[i]); };
    std::vector<uint32_t> users(files.EntryCount(), 0);
    for (size_t i = 0; i < c.refs.size(); i++) {
      for (auto [f, end] = filesOf(i); f != end; f++) users[*f]++;
    }
    // One record per reference, in columns made here on the worker thread (the facade makes the
    // objects in slices): reference, manifest digest; lastUsedAt, virtualBytes (NaN: null),
    // uniqueBytes, sharedBytes. Pins, for the pinned ones only, by record index.
    for (size_t i = 0; i < c.refs.size(); i++) {
      const UsageCatalog::Ref& r = c.refs[i];
      uint64_t unique = 0, shared = 0;
      for (auto [f, end] = filesOf(i); f != end; f++) (users[*f] == 1 ? unique : shared) += files.Size(*f);
      const std::optional<uint64_t>& virtualBytes = virtualBytesOf[i];
      images_.Text(r.reference);
      images_.Text(r.manifestDigest);
      images_.Number(r.lastUsedAt ? *r.lastUsedAt : std::nan(""));
      images_.Number(virtualBytes ? double(*virtualBytes) : std::nan(""));
      images_.Number(double(unique));
      images_.Number(double(shared));
      images_.EndRecord();
      auto pins = c.pinnedBy.find(r.manifestId);
      if (pins != c.pinnedBy.end()) pinsOf_.emplace_back(uint32_t(i), pins->second);
    }
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    o.Set("totalBytes", double(total_));
    o.Set("allocatedBytes", double(allocated_));
    Napi::Object kinds = Napi::Object::New(env);
    kinds.Set("layers", double(layers_));
    kinds.Set("fsmeta", double(fsmeta_));
    kinds.Set("vmdk", double(vmdk_));
    kinds.Set("metadata", double(metadata_));
    kinds.Set("flat", double(flat_));
    kinds.Set("tmp", double(tmp_));
    kinds.Set("orphans", double(orphans_));
    kinds.Set("locks", double(locks_));
    o.Set("byKind", kinds);
    Napi::Object images = RecordColumnsToJs(env, std::move(images_));
    Napi::Object pins = Napi::Object::New(env);
    for (const auto& [i, names] : pinsOf_) {
      Napi::Array a = Napi::Array::New(env, names.size());
      for (uint32_t k = 0; k < names.size(); k++) a.Set(k, names[k]);
      pins.Set(i, a);
    }
    images.Set("pins", pins);
    o.Set("images", images);
    o.Set("reclaimableBytes", double(reclaimable_));
    return o;
  }

  uint64_t total_ = 0, allocated_ = 0, reclaimable_ = 0;
  uint64_t layers_ = 0, fsmeta_ = 0, vmdk_ = 0, metadata_ = 0, flat_ = 0, tmp_ = 0, orphans_ = 0, locks_ = 0;
  RecordColumns images_;
  std::vector<std::pair<uint32_t, std::vector<std::string>>> pinsOf_;
};

}  // namespace

Napi::Promise StartDiskUsage(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Value cancel) {
  return (new DiskUsageWorker(env, std::move(state), cancel))->Start();
}

}  // namespace msb

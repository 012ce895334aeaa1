// verify({ repair }): checks the cache against its rows (format spec §3, §4) and reports every
// fault with its path, digest and references. Repair removes only what nothing names — orphan
// files and stale tmp/ entries — under the same locks as prune,
// and rewrites a VMDK descriptor that points into another home when this cache has every file
// it names. It never deletes anything a row, a manifests/*.json or a pin names. Lock files of
// artifacts that are gone are not faults and are never removed: a 0-byte flock file costs no space,
// and unlinking one another process holds or is about to open would give two holders two inodes.
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdlib>
#include <cstring>
#include <map>
#include <unordered_map>
#include <unordered_set>

#include "storage/artifact_deleter.h"
#include "write_path/cache_sweep.h"
#include "storage/cache_walk.h"
#include "storage/catalog.h"
#include "formats/erofs.h"
#include "base/errors.h"
#include "operations/operations.h"
#include "runtime/progress.h"
#include "runtime/promise_worker.h"
#include "formats/reference.h"
#include "write_path/removal.h"
#include "formats/vmdk.h"

namespace msb {
namespace {

struct Finding {
  std::string kind, path, digest;
  std::vector<std::string> references;
  std::string message;
  uint64_t bytes = 0;
  bool repairable = false, repaired = false;
};

// The VMDK of a manifest against the files it must name, in order: fsmeta, then each layer
// bottom to top (format spec §4.2).
struct VmdkCheck {
  enum class Result { kOk, kMissing, kUnreadable, kMismatch, kForeign } result = Result::kOk;
  std::string message;
  std::string rewritten;  // kForeign and every file here: the descriptor pointing into this cache
};

VmdkCheck CheckVmdk(const std::string& text, const std::string& cacheReal, const std::vector<std::string>& expected,
                    const std::unordered_map<std::string, const CacheFile*>& files) {
  VmdkCheck c;
  VmdkDescriptor d = ParseVmdk(text);
  if (!d.ok) {
    c.result = VmdkCheck::Result::kUnreadable;
    c.message = "not a VMDK descriptor: " + d.error;
    return c;
  }
  // Runs of extents over one file, with their offsets continuing.
  struct Run {
    std::string path;
    uint64_t sectors = 0;
  };
  std::vector<Run> runs;
  for (const VmdkExtent& e : d.extents) {
    if (!runs.empty() && runs.back().path == e.path && e.offset == runs.back().sectors) {
      runs.back().sectors += e.sectors;
    } else {
      if (e.offset != 0) {
        c.result = VmdkCheck::Result::kMismatch;
        c.message = "extent of " + e.path + " starts at sector " + std::to_string(e.offset);
        return c;
      }
      runs.push_back({e.path, e.sectors});
    }
  }
  if (runs.size() != expected.size()) {
    c.result = VmdkCheck::Result::kMismatch;
    c.message = "names " + std::to_string(runs.size()) + " files; the image has " + std::to_string(expected.size()) +
                " (fsmeta + layers)";
    return c;
  }
  bool foreign = false;
  std::string rewritten = text;
  for (size_t i = 0; i < runs.size(); i++) {
    const std::string& rel = expected[i];
    const std::string& path = runs[i].path;
    if (path.size() <= rel.size() || path.compare(path.size() - rel.size(), rel.size(), rel) != 0 ||
        path[path.size() - rel.size() - 1] != '/') {
      c.result = VmdkCheck::Result::kMismatch;
      c.message = "extent " + std::to_string(i) + " names " + path + ", expected …/" + rel;
      return c;
    }
    std::string prefix = path.substr(0, path.size() - rel.size() - 1);
    if (prefix != cacheReal) foreign = true;
    auto f = files.find(rel);
    if (f == files.end() || !f->second->present) {
      c.result = VmdkCheck::Result::kMismatch;
      c.message = "extent " + std::to_string(i) + " names " + rel + ", which is missing";
      return c;
    }
    if (runs[i].sectors * 512 != f->second->size) {
      c.result = VmdkCheck::Result::kMismatch;
      c.message = "extent " + std::to_string(i) + " (" + rel + ") has " + std::to_string(runs[i].sectors) +
                  " sectors; the file has " + std::to_string(f->second->size) + " bytes";
      return c;
    }
    if (prefix != cacheReal) {
      std::string from = "\"" + path + "\"", to = "\"" + cacheReal + "/" + rel + "\"";
      for (size_t at = rewritten.find(from); at != std::string::npos; at = rewritten.find(from, at + to.size())) {
        rewritten.replace(at, from.size(), to);
      }
    }
  }
  if (foreign) {
    c.result = VmdkCheck::Result::kForeign;
    c.message = "extents point into " + runs[0].path.substr(0, runs[0].path.size() - expected[0].size() - 1) +
                ", not this cache (" + cacheReal + "); every file they name is here with the right size";
    c.rewritten = std::move(rewritten);
  }
  return c;
}

// Replaces vmdk/<stem>.vmdk with `text` under msb's fsmeta lock (which covers VMDK generation):
// written beside it, then renamed over it (a symlink there is replaced, never followed).
std::string RewriteVmdk(int rootFd, const std::string& stem, const std::string& expectedOld, const std::string& text) {
  int fsmeta = openat(rootFd, "fsmeta", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  int vmdk = openat(rootFd, "vmdk", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  std::string error;
  int lock = fsmeta < 0 ? -1 : openat(fsmeta, (stem + ".erofs.lock").c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fsmeta < 0 || vmdk < 0 || lock < 0) {
    error = std::string("cannot open the cache's fsmeta/vmdk directories or lock: ") + std::strerror(errno);
  } else if (flock(lock, LOCK_EX | LOCK_NB) != 0) {
    error = "locked";
  } else {
    // Re-read under the lock: changed since the check means someone else rewrote it.
    std::string name = stem + ".vmdk";
    std::optional<std::string> now = ReadFileAt(vmdk, name, kMaxVmdkDescriptorBytes);
    std::string part = "." + stem + ".vmdk.msb-image-cache.part";
    if (!now || *now != expectedOld) {
      error = "in-use-again";
    } else {
      int fd = openat(vmdk, part.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
      bool ok = fd >= 0 && write(fd, text.data(), text.size()) == ssize_t(text.size()) && fsync(fd) == 0;
      if (fd >= 0) close(fd);
      if (!ok || renameat(vmdk, part.c_str(), vmdk, name.c_str()) != 0) {
        error = std::string("cannot write vmdk/") + name + ": " + std::strerror(errno);
        unlinkat(vmdk, part.c_str(), 0);
      }
    }
  }
  if (lock >= 0) close(lock);
  if (vmdk >= 0) close(vmdk);
  if (fsmeta >= 0) close(fsmeta);
  return error;
}

class VerifyWorker : public PromiseWorker {
 public:
  VerifyWorker(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Object options, Napi::Value cancel)
      : PromiseWorker(env, std::move(state), cancel) {
    repair_ = options.Get("repair").ToBoolean().Value();
    if (options.Get("graceMs").IsNumber()) graceMs_ = options.Get("graceMs").As<Napi::Number>().DoubleValue();
    progress_.Init(env, options.Get("onProgress"));
  }

 private:
  void Run() override {
    ProgressReporter::ReleaseAtExit release{progress_};
    const std::string& cacheDir = state_->Paths().cacheDir;
    double start = NowSeconds();
    changedBefore_ = start - graceMs_ / 1000;
    progress_.Report("scan", 0, 1, 0);

    // A cache without a database: msb may still use its files (a cache hit needs no rows), so
    // there is nothing this library can call an orphan.
    std::optional<CacheState::Lease> lease = state_->Acquire(Connection::Mode::kRead, cancel_);
    if (!lease) return;
    Connection& conn = **lease;
    // A wrong cache directory while rows name images: one finding (every file would be "missing"),
    // and a repair refuses.
    if (std::string problem = state_->CacheDirFault(conn); !problem.empty()) {
      const HomePaths& paths = state_->Paths();
      if (repair_) throw CacheDirInvalid(paths.cacheDir, problem, paths.dbPath, "refusing to repair anything");
      Add({"cache-dir-invalid", "", "", {},
           CacheDirInvalid(paths.cacheDir, problem, paths.dbPath, "no file of theirs could be checked").message});
      progress_.Report("scan", 1, 1, 0);
      return;
    }
    int rootFd = open(cacheDir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (rootFd < 0) return;
    struct CloseFd {
      int fd;
      ~CloseFd() { close(fd); }
    } closeRoot{rootFd};
    char real[PATH_MAX];
    std::string cacheReal = realpath(cacheDir.c_str(), real) ? std::string(real) : cacheDir;

    std::vector<CacheFile> walk = WalkCache(rootFd, cancel_);
    CheckCancel();
    std::unordered_map<std::string, const CacheFile*> files;
    for (const CacheFile& f : walk) {
      if (f.present) files.emplace(f.path, &f);
    }
    checkedFiles_ = files.size();

    UsageCatalog c;
    std::vector<std::pair<std::string, std::string>> orphanSnapshots;
    std::unordered_map<std::string, std::optional<MetadataNames>> metadata;  // file stem -> what it names
    {
      Transaction tx(conn, Connection::Mode::kRead);
      c = LoadUsageCatalog(conn);
      orphanSnapshots = SnapshotsWithoutManifest(conn);
      for (const auto& [path, f] : files) {
        if (path.rfind("manifests/", 0) != 0 || !EndsWith(path, ".json")) continue;
        std::optional<std::string> text = ReadFileAt(rootFd, path, 64 << 20);
        metadata[path.substr(10, path.size() - 15)] = text ? ParseMetadata(conn, *text) : std::nullopt;
        CheckCancel();
      }
    }
    progress_.Report("scan", 1, 1, 0);

    // Who names what: rows first.
    std::unordered_map<int64_t, std::vector<std::string>> refsOf;  // manifest id -> references
    std::unordered_map<std::string, std::vector<std::string>> refsOfStem;  // metadata stem -> references
    for (const UsageCatalog::Ref& r : c.refs) {
      refsOf[r.manifestId].push_back(r.reference);
      if (auto n = NormalizeReference(r.reference)) refsOfStem[MetadataFileStem(*n)].push_back(r.reference);
    }
    std::unordered_set<std::string> manifestDigests, namedManifests, namedLayers;
    for (const auto& [id, digest] : c.manifests) manifestDigests.insert(digest);
    namedManifests = manifestDigests;
    namedLayers = c.layerDiffIds;
    // Then metadata files: one a row names, or one too new to judge (a pull writes it before its
    // rows), protects what it names. One nothing names is an orphan, and so is what only it names.
    for (const auto& [stem, names] : metadata) {
      const CacheFile* f = files.at("manifests/" + stem + ".json");
      if (!names || (!refsOfStem.count(stem) && f->ctime < changedBefore_)) continue;
      namedManifests.insert(names->manifestDigest);
      namedLayers.insert(names->diffIds.begin(), names->diffIds.end());
    }

    ProtectPinnedWithoutRows(conn, rootFd, files, &namedManifests, &namedLayers);
    CheckRows(c, refsOf, refsOfStem, metadata, files, rootFd, cacheReal);
    for (const auto& [name, digest] : orphanSnapshots) {
      Add({"snapshot-without-manifest", "", digest, {}, "snapshot " + name + " names manifest " + digest + ", which has no row"});
    }
    progress_.Report("check", 1, 2, 0);
    FindOrphans(files, refsOfStem, namedManifests, namedLayers);
    SweepReport tmpPlan;
    SweepOptions plan{changedBefore_, start, true, cancel_};
    SweepTmp(cacheDir, plan, &tmpPlan);
    if (!repair_) {  // a repair re-does the sweep for real and reports its skips then
      skipped_.insert(skipped_.end(), tmpPlan.skipped.begin(), tmpPlan.skipped.end());
    }
    for (const SweepItem& i : tmpPlan.removed) {
      Add({"stale-tmp", i.path, "", {}, "unchanged for longer than the grace period and not locked", i.bytes, true});
    }
    progress_.Report("check", 2, 2, 0);
    CheckCancel();
    if (repair_) Repair(conn, rootFd);
  }

  void CheckCancel() {
    if (cancel_.IsSet()) throw CacheError(code::kAborted, "the operation was aborted; nothing was changed");
  }

  void Add(Finding f) { findings_.push_back(std::move(f)); }

  void CheckRows(const UsageCatalog& c, const std::unordered_map<int64_t, std::vector<std::string>>& refsOf,
                 const std::unordered_map<std::string, std::vector<std::string>>& refsOfStem,
                 const std::unordered_map<std::string, std::optional<MetadataNames>>& metadata,
                 const std::unordered_map<std::string, const CacheFile*>& files, int rootFd, const std::string& cacheReal) {
    checkedReferences_ = c.refs.size();
    checkedManifests_ = c.manifests.size();
    checkedLayers_ = c.layerDiffIds.size();
    auto present = [&](const std::string& rel) {
      auto it = files.find(rel);
      return it != files.end() && it->second->present;
    };
    std::unordered_map<std::string, std::vector<std::string>> refsOfLayer;
    for (const auto& [id, layers] : c.layersOf) {
      auto refs = refsOf.find(id);
      if (refs == refsOf.end()) continue;
      for (const std::string& d : layers) {
        std::vector<std::string>& out = refsOfLayer[d];
        out.insert(out.end(), refs->second.begin(), refs->second.end());
      }
    }
    // EROFS files: present and valid as msb tests them.
    auto checkErofs = [&](const std::string& rel, const std::string& digest, const std::vector<std::string>& refs) {
      if (!present(rel)) {
        Add({"missing-file", rel, digest, refs, "a row names it but the file is missing"});
        return;
      }
      int fd = openat(rootFd, rel.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
      ErofsInfo info;
      if (fd < 0) {
        info.problem = std::string("cannot open: ") + std::strerror(errno);
      } else {
        info = InspectErofsFd(fd);
        close(fd);
      }
      if (!info.valid) Add({"invalid-erofs", rel, digest, refs, "not a valid EROFS image: " + info.problem, files.at(rel)->size});
    };
    for (const std::string& d : c.layerDiffIds) {
      CheckCancel();
      if (!IsValidDigest(d)) {
        Add({"invalid-digest", "", d, {}, "layer row whose diff_id is not a digest; never used as a file name"});
        continue;
      }
      auto refs = refsOfLayer.find(d);
      checkErofs("layers/" + DigestFileStem(d) + ".erofs", d, refs == refsOfLayer.end() ? std::vector<std::string>{} : refs->second);
    }
    for (const auto& [id, digest] : c.manifests) {
      CheckCancel();
      auto it = refsOf.find(id);
      std::vector<std::string> refs = it == refsOf.end() ? std::vector<std::string>{} : it->second;
      if (refs.empty()) {
        bool pinned = c.pinnedBy.count(id) != 0;
        Add({"dangling-manifest", "", digest, {},
             pinned ? "no reference names it; pinned, so prune keeps it" : "no reference names it; the next prune removes it"});
      }
      if (!IsValidDigest(digest)) {
        Add({"invalid-digest", "", digest, refs, "manifest row whose digest is not a digest; never used as a file name"});
        continue;
      }
      std::string stem = DigestFileStem(digest);
      std::string fsmeta = "fsmeta/" + stem + ".erofs", vmdk = "vmdk/" + stem + ".vmdk";
      checkErofs(fsmeta, digest, refs);
      if (!present(vmdk)) {
        Add({"missing-file", vmdk, digest, refs, "a row names it but the file is missing"});
        continue;
      }
      std::vector<std::string> expected{fsmeta};
      auto layers = c.layersOf.find(id);
      if (layers != c.layersOf.end()) {
        for (const std::string& d : layers->second) {
          expected.push_back(IsValidDigest(d) ? "layers/" + DigestFileStem(d) + ".erofs" : "layers/<invalid>");
        }
      }
      std::optional<std::string> text = ReadFileAt(rootFd, vmdk, kMaxVmdkDescriptorBytes);
      VmdkCheck check = text ? CheckVmdk(*text, cacheReal, expected, files) : VmdkCheck{VmdkCheck::Result::kUnreadable, "unreadable", ""};
      if (check.result == VmdkCheck::Result::kForeign) {
        Add({"vmdk-foreign-path", vmdk, digest, refs, check.message, 0, true});
        rewrites_.push_back({findings_.size() - 1, stem, *text, check.rewritten});
      } else if (check.result != VmdkCheck::Result::kOk) {
        Add({"vmdk-mismatch", vmdk, digest, refs, check.message});
      }
    }
    for (const auto& [stem, refs] : refsOfStem) {
      std::string rel = "manifests/" + stem + ".json";
      auto m = metadata.find(stem);
      if (m == metadata.end()) {
        Add({"invalid-metadata", rel, "", refs, "the reference's manifests/*.json is missing (msb re-pulls)"});
      } else if (!m->second) {
        Add({"invalid-metadata", rel, "", refs, "not msb's metadata JSON (msb treats it as absent)", files.at(rel)->size});
      }
    }
  }

  // fsmeta/VMDK files of a digest that a pin names though its manifest row is gone (msb's own
  // prune ignores sandbox-config pins) are named, and so are the layer files that VMDK names.
  void ProtectPinnedWithoutRows(Connection& conn, int rootFd, const std::unordered_map<std::string, const CacheFile*>& files,
                                std::unordered_set<std::string>* manifests, std::unordered_set<std::string>* layers) {
    for (const auto& [path, f] : files) {
      bool fsmeta = path.rfind("fsmeta/", 0) == 0 && EndsWith(path, ".erofs");
      bool vmdk = path.rfind("vmdk/", 0) == 0 && EndsWith(path, ".vmdk");
      if (!fsmeta && !vmdk) continue;
      std::string name = path.substr(path.find('/') + 1);
      auto d = DigestOfFileStem(name.substr(0, name.rfind('.')));
      if (!d || manifests->count(*d) || !ManifestDigestPinned(conn, *d)) continue;
      manifests->insert(*d);
      std::optional<std::string> text = ReadFileAt(rootFd, "vmdk/" + DigestFileStem(*d) + ".vmdk", kMaxVmdkDescriptorBytes);
      if (!text) continue;
      for (const VmdkExtent& e : ParseVmdk(*text).extents) {
        size_t slash = e.path.rfind('/');
        std::string file = e.path.substr(slash == std::string::npos ? 0 : slash + 1);
        if (EndsWith(file, ".erofs")) {
          if (auto layer = DigestOfFileStem(file.substr(0, file.size() - 6))) layers->insert(*layer);
        }
      }
    }
  }

  // Files in layers/, fsmeta/, vmdk/ and manifests/ nothing names (and older than the grace).
  void FindOrphans(const std::unordered_map<std::string, const CacheFile*>& files,
                   const std::unordered_map<std::string, std::vector<std::string>>& refsOfStem,
                   const std::unordered_set<std::string>& namedManifests, const std::unordered_set<std::string>& namedLayers) {
    std::map<std::string, const CacheFile*> sorted(files.begin(), files.end());
    for (const auto& [path, f] : sorted) {
      size_t slash = path.find('/');
      if (slash == std::string::npos || EndsWith(path, ".lock")) continue;
      std::string top = path.substr(0, slash), name = path.substr(slash + 1);
      std::optional<Artifact> artifact;
      std::string digest;
      bool known = false;
      if (top == "layers" && EndsWith(name, ".erofs")) {
        auto d = DigestOfFileStem(name.substr(0, name.size() - 6));
        if (d && namedLayers.count(*d)) continue;
        if (d) artifact = Artifact{ArtifactKind::kLayer, *d};
        known = true;
      } else if (top == "layers" && EndsWith(name, ".tar.gz")) {
        auto d = DigestOfFileStem(name.substr(0, name.size() - 7));
        if (d) artifact = Artifact{ArtifactKind::kLayerBlob, *d};
        known = true;
      } else if ((top == "fsmeta" && EndsWith(name, ".erofs")) || (top == "vmdk" && EndsWith(name, ".vmdk"))) {
        auto d = DigestOfFileStem(name.substr(0, name.rfind('.')));
        if (d && namedManifests.count(*d)) continue;
        if (d) artifact = Artifact{ArtifactKind::kManifest, *d};
        known = true;
      } else if (top == "manifests" && (EndsWith(name, ".json") || EndsWith(name, ".json.part"))) {
        std::string stem = name.substr(0, name.find('.'));
        if (EndsWith(name, ".json") && refsOfStem.count(stem)) continue;
        if (IsMetadataFileStem(stem)) artifact = Artifact{ArtifactKind::kMetadataStem, stem};
        known = true;
      } else if (top == "layers" || top == "fsmeta" || top == "vmdk" || top == "manifests") {
        known = false;
      } else {
        continue;  // tmp/ and flat/ have their own rules; other directories are not msb's
      }
      if (f->ctime >= changedBefore_) {
        skipped_.push_back({"orphan", path, "too-new"});
        continue;
      }
      Finding finding{"orphan-file", path, artifact ? artifact->id : "", {},
                      known ? "no row and no manifests/*.json names it" : "not a file msb writes here; left alone",
                      f->size, artifact.has_value()};
      Add(std::move(finding));
      if (artifact) orphans_.push_back({findings_.size() - 1, *artifact});  // fsmeta + vmdk: one artifact, two findings
    }
  }

  void Repair(Connection& conn, int rootFd) {
    const std::string& cacheDir = state_->Paths().cacheDir;
    // Repair changes the cache: not while msb installs, upgrades or downgrades (as prune and remove).
    WaitOutMaintenance(cancel_, [&conn] {
      Transaction read(conn, Connection::Mode::kRead);
      CheckNoMaintenance(conn);
    });
    // Orphans: under each artifact's lock, re-checked against the rows.
    std::vector<Artifact> artifacts;
    std::unordered_set<std::string> queued;
    for (const auto& [index, a] : orphans_) {
      if (queued.insert(std::to_string(int(a.kind)) + a.id).second) artifacts.push_back(a);
    }
    RecheckFn recheck = [&conn](const std::vector<const Artifact*>& batch) {
      Transaction read(conn, Connection::Mode::kRead);
      return ArtifactsNamedByRows(conn, batch);
    };
    size_t total = artifacts.size() + 2 + rewrites_.size();
    progress_.Report("repair", 0, double(total), 0);
    DeletionReport deleted = DeleteArtifacts(cacheDir, artifacts, recheck, cancel_, changedBefore_, false,
                                             [&](size_t done, size_t, uint64_t bytes) {
                                               progress_.Report("repair", double(done), double(total), double(bytes));
                                             });
    std::unordered_set<std::string> removedIds;
    for (const DeletionReport::Removed& r : deleted.removed) removedIds.insert(r.id);
    for (const auto& [index, a] : orphans_) {
      if (!removedIds.count(a.id)) continue;
      Finding& f = findings_[index];
      // An artifact's files go together; each finding is one of them: repaired when it is gone.
      struct stat st;
      if (fstatat(rootFd, f.path.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) f.repaired = true;
    }
    removed_ += deleted.filesRemoved;
    bytesReclaimed_ += deleted.bytesReclaimed;
    skipped_.insert(skipped_.end(), deleted.skipped.begin(), deleted.skipped.end());
    errors_.insert(errors_.end(), deleted.errors.begin(), deleted.errors.end());
    aborted_ = deleted.aborted;
    if (aborted_) return;

    // Stale tmp/ entries. Lock files stay, those of the orphans just removed too (see the top).
    SweepReport swept;
    SweepOptions real{changedBefore_, changedBefore_, false, cancel_};
    SweepTmp(cacheDir, real, &swept);
    progress_.Report("repair", double(artifacts.size() + 1), double(total), double(bytesReclaimed_ + swept.bytes));
    std::unordered_set<std::string> sweptPaths;
    for (const SweepItem& i : swept.removed) sweptPaths.insert(i.path);
    for (Finding& f : findings_) {
      if (f.kind == "stale-tmp" && sweptPaths.count(f.path)) f.repaired = true;
    }
    for (const SweepItem& i : swept.removed) {
      bool known = false;
      for (const Finding& f : findings_) known = known || f.path == i.path;
      if (!known) Add({"stale-tmp", i.path, "", {}, "became stale during this repair", i.bytes, true, true});
    }
    removed_ += uint32_t(swept.removed.size());
    bytesReclaimed_ += swept.bytes;
    skipped_.insert(skipped_.end(), swept.skipped.begin(), swept.skipped.end());
    errors_.insert(errors_.end(), swept.errors.begin(), swept.errors.end());
    aborted_ = cancel_.IsSet();
    if (aborted_) return;

    for (const Rewrite& w : rewrites_) {
      std::string error = RewriteVmdk(rootFd, w.stem, w.oldText, w.newText);
      if (error.empty()) {
        findings_[w.finding].repaired = true;
        rewritten_++;
      } else if (error == "locked" || error == "in-use-again") {
        skipped_.push_back({"vmdk", findings_[w.finding].path, error});
      } else {
        errors_.push_back({"vmdk", findings_[w.finding].path, error});
      }
    }
    progress_.Report("repair", double(total), double(total), double(bytesReclaimed_));
  }

  Napi::Value Result(Napi::Env env) override {
    Napi::Object o = Napi::Object::New(env);
    bool ok = true;
    Napi::Array list = Napi::Array::New(env, findings_.size());
    for (uint32_t i = 0; i < findings_.size(); i++) {
      const Finding& f = findings_[i];
      // Facts about a healthy cache's life, not faults: a dangling manifest prune will take.
      if (!f.repaired && f.kind != "dangling-manifest") ok = false;
      Napi::Object x = Napi::Object::New(env);
      x.Set("kind", f.kind);
      if (f.kind == "cache-dir-invalid") x.Set("path", state_->Paths().cacheDir);
      else x.Set("path", f.path.empty() ? env.Null() : Napi::String::New(env, state_->Paths().cacheDir + "/" + f.path));
      x.Set("digest", f.digest.empty() ? env.Null() : Napi::String::New(env, f.digest));
      Napi::Array refs = Napi::Array::New(env, f.references.size());
      for (uint32_t k = 0; k < f.references.size(); k++) refs.Set(k, f.references[k]);
      x.Set("references", refs);
      x.Set("message", f.message);
      x.Set("bytes", double(f.bytes));
      x.Set("repairable", f.repairable);
      x.Set("repaired", f.repaired);
      list.Set(i, x);
    }
    o.Set("ok", ok);
    o.Set("findings", list);
    Napi::Object checked = Napi::Object::New(env);
    checked.Set("references", double(checkedReferences_));
    checked.Set("manifests", double(checkedManifests_));
    checked.Set("layers", double(checkedLayers_));
    checked.Set("files", double(checkedFiles_));
    o.Set("checked", checked);
    Napi::Object repaired = Napi::Object::New(env);
    repaired.Set("removed", double(removed_));
    repaired.Set("rewritten", double(rewritten_));
    repaired.Set("bytesReclaimed", double(bytesReclaimed_));
    o.Set("repaired", repaired);
    o.Set("skipped", ReportItemsToJs(env, skipped_, "reason"));
    o.Set("errors", ReportItemsToJs(env, errors_, "message"));
    o.Set("aborted", aborted_);
    o.Set("dryRun", !repair_);
    o.Set("progressEvents", double(progress_.events()));
    return o;
  }

  struct Rewrite {
    size_t finding;
    std::string stem, oldText, newText;
  };
  bool repair_ = false;
  double graceMs_ = kDefaultGraceMs;
  double changedBefore_ = 0;
  ProgressReporter progress_;
  std::vector<Finding> findings_;
  std::vector<std::pair<size_t, Artifact>> orphans_;  // finding index, artifact
  std::vector<Rewrite> rewrites_;
  std::vector<DeletionReport::Item> skipped_, errors_;
  size_t checkedReferences_ = 0, checkedManifests_ = 0, checkedLayers_ = 0, checkedFiles_ = 0;
  uint32_t removed_ = 0, rewritten_ = 0;
  uint64_t bytesReclaimed_ = 0;
  bool aborted_ = false;
};

}  // namespace

Napi::Promise StartVerify(Napi::Env env, std::shared_ptr<CacheState> state, Napi::Object options, Napi::Value cancel) {
  return (new VerifyWorker(env, std::move(state), options, cancel))->Start();
}

}  // namespace msb

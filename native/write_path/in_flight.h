// Files an image msb is still writing needs. msb writes an image's layers, then its fsmeta and
// VMDK, then its manifests/*.json, and its database rows only at the very end, holding no lock in
// between (a load writes the rows of every image in the archive after all their files). A deleter
// that asks only the rows may, inside that window, take a layer or manifest file the new image
// reuses from one it just pruned: msb then commits rows for an image whose files are gone.
//
// InFlightGuard reads what the files without rows (and recently changed metadata files) name — metadata
// JSON: a manifest digest and layer diff_ids; VMDK: its fsmeta and layer files — and keeps those
// names alive. It watches manifests/, vmdk/ and tmp/ with inotify from before its first scan, so
// files written while the deletion runs are seen before the next unlink; where inotify is not
// available it rescans before every batch. It also waits (up to the busy budget) for msb's fsmeta
// builds under way (a tmp/<manifest>.work/ directory whose fsmeta lock another process holds),
// whose VMDK, once renamed into vmdk/, names their layers.
//
// What remains open: msb decides that a layer file is there (no lock), then builds fsmeta from it.
// If the file goes in between, msb's build fails (the load reports an error; no image is left
// without its files), and if msb has read it but not yet created its work directory, the guard
// cannot see that build.
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>
#include <vector>

#include "storage/artifact_deleter.h"
#include "base/digest_set.h"

namespace msb {

// Every metadata and VMDK file of one cache (its name as 32 bytes; a metadata file's change time and,
// once read, the manifest it names), kept by its CacheState between removals and brought up to date
// by inotify events queued since the last one: a removal re-reads only the files changed since, not
// every file of the cache. Rebuilt from a full listing when a watch is lost, the event queue
// overflowed, or the directories are not the ones watched. About 120 bytes per image (in sorted
// tables, base/digest_table.h).
class InFlightIndex;
std::shared_ptr<InFlightIndex> NewInFlightIndex();

// What the rows name, as the guard asks it.
class RowNames {
 public:
  DigestSet manifests;  // manifest digests a row names, sealed

  // The references of the rows (each reference row's text), in the read transaction.
  void AddReference(std::string_view reference);
  // A metadata file this process deleted the rows of (removal.cc keeps names between removals).
  void RemoveMetadataStem(const std::string& stem);
  // The metadata file stems (sha256 of the normalized reference) the references make, hashed on up
  // to two threads at the first call. A guard asks only about files older than its recent window:
  // on a cache filled minutes ago none is, and a first removal there hashes nothing (100,000
  // references: ~110 ms of a core). One thread at a time (the guard's, under the index's lock).
  const DigestSet& MetadataStems();

 private:
  std::string references_;  // each as its length (4 bytes) and text, until hashed
  std::vector<std::string> removedStems_;
  bool hashed_ = false;
  DigestSet metadataStems_;
};

struct InFlightInputs {
  std::shared_ptr<RowNames> rows;
  DigestSet ownManifests;      // manifests this run deletes the files of
  DigestSet ownLayers;         // layers this run deletes the files of
  DigestSet ownMetadataStems;  // metadata files this run deletes (stems)
  double recentSince = 0;  // metadata files changed at or after this (epoch s) are read even when a row names them
};

// Which database state a RowNames was read from: the connection, its data_version (changed by
// every other connection's commit, never by its own) and how many write transactions it has
// committed itself (Connection::OwnCommits).
struct RowStamp {
  uint64_t connection = 0;
  int64_t dataVersion = 0;
  uint64_t ownCommits = 0;
  bool operator==(const RowStamp& o) const {
    return connection == o.connection && dataVersion == o.dataVersion && ownCommits == o.ownCommits;
  }
};

// Reading RowNames is two full scans (and, when asked, a hash per reference): ~50 ms at 100,000
// images. The index keeps the last one read between removals. A removal takes it out when it
// begins (with its write lock held): it gets it only if nothing has committed since it was read
// (`at` equals its stamp); either way none is kept until the removal puts one back, so a removal
// that fails midway leaves nothing stale.
std::shared_ptr<RowNames> TakeRowNames(InFlightIndex& index, const RowStamp& at);
void KeepRowNames(InFlightIndex& index, const RowStamp& at, std::shared_ptr<RowNames> names);

class InFlightGuard : public DeletionGuard {
 public:
  // Holds the index for its lifetime (removals on one cache take turns here), and brings it up to
  // date on a thread of its own while the caller deletes the rows: the events since the last
  // removal (or a new listing), and the metadata files changed since `recentSince` read.
  InFlightGuard(const std::string& cacheDir, std::shared_ptr<InFlightIndex> index, double recentSince);
  // Once the rows are gone, before the first Check: what the in-flight files name of this run's artifacts.
  void Begin(InFlightInputs inputs);
  ~InFlightGuard() override;
  const char* Check(const Artifact& a) override;
  void Kept(const Artifact& a) override;
  void BeginBatch() override;

 private:
  struct State;
  std::unique_ptr<State> s_;
};

}  // namespace msb

// Deleting cache files after their rows are gone (format spec §3, §5 "Locks"). The one place
// that unlinks anything. Rules: names are built only from validated digests (or the sha256 of
// a normalized reference); every unlink is relative to a directory opened without following
// symlinks, under the artifact's msb flock, after re-checking that no row names it again.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/cancel.h"

namespace msb {

// kMetadataStem and kLayerBlob are for files no row names (verify's orphans): a metadata file
// known only by its stem, and a downloaded layer blob (`layers/<blob>.tar.gz`) left by a pull.
enum class ArtifactKind { kManifest, kMetadata, kLayer, kMetadataStem, kLayerBlob };

struct Artifact {
  ArtifactKind kind;
  // manifest digest, normalized reference, layer diff_id, metadata file stem (64 hex), blob digest
  std::string id;
  // kMetadata: the manifest digests the removed rows named; the guard keeps a file that names
  // another one (it was rewritten for another image).
  std::vector<std::string> expectDigests = {};
  uint32_t tag = 0;  // the caller's (RunRemoval: the index in its list of rows), given back in Removed
};

struct DeletionReport {
  uint32_t vmdkRemoved = 0;
  uint32_t fsmetaRemoved = 0;
  uint32_t layerFilesRemoved = 0;
  uint32_t metadataRemoved = 0;
  uint32_t otherFilesRemoved = 0;  // layer blobs (.tar.gz)
  uint64_t bytesReclaimed = 0;
  uint64_t allocatedReclaimed = 0;  // the same files' allocated bytes (st_blocks × 512)
  uint32_t filesRemoved = 0;
  bool aborted = false;
  struct Item {
    std::string kind;  // layer, fsmeta, vmdk, metadata
    std::string id;
    std::string detail;  // skip reason, or error message
  };
  std::vector<Item> skipped;  // reasons: locked, in-use-again, in-use-by-files, aborted
  std::vector<Item> errors;
  struct Removed {
    ArtifactKind kind;
    std::string id;
    uint32_t tag = 0;    // Artifact::tag
    uint64_t bytes = 0;  // apparent bytes of its files unlinked (or, in a dry run, that would be)
  };
  std::vector<Removed> removed;  // artifacts at least one of whose files went
};

// Called after each batch: (artifacts handled, artifacts in all, bytes so far).
using DeletionProgressFn = std::function<void(size_t done, size_t total, uint64_t bytes)>;

// Called with a batch of artifacts whose locks are held; returns, per artifact, whether a row
// names it again (then it is kept).
using RecheckFn = std::function<std::vector<bool>(const std::vector<const Artifact*>&)>;

// Optional second opinion (in_flight.h): asked under each artifact's lock, after the rows, right
// before its files go; told of every artifact that is kept, whatever the reason.
class DeletionGuard {
 public:
  virtual ~DeletionGuard() = default;
  virtual void BeginBatch() {}
  // Why `a` must stay (a skip reason), or nullptr.
  virtual const char* Check(const Artifact& a) = 0;
  virtual void Kept(const Artifact& a) = 0;
};

// Order: metadata JSON, then each manifest's VMDK and fsmeta, then layers — msb's cache-hit test
// starts from the JSON, and no remaining file ever names one already gone.
// `notBeforeSec`: files whose status changed at or after this time (seconds since the epoch,
// taken before the rows were deleted) were just written by someone else and are kept.
// `dryRun`: everything but the unlink (locks are tried and released, rows re-checked, sizes
// read), so the report is the one a real run would give now.
DeletionReport DeleteArtifacts(const std::string& cacheDir, std::vector<Artifact> artifacts,
                               const RecheckFn& recheck, CancelFlag cancel, double notBeforeSec, bool dryRun = false,
                               const DeletionProgressFn& progress = nullptr, DeletionGuard* guard = nullptr);

}  // namespace msb

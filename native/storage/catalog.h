// The image catalog in msb's database: every SQL statement this library runs lives in
// catalog.cc. Functions take an open Connection and run inside the caller's transaction.
#pragma once
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "storage/sqlite_db.h"
#include "base/digest_set.h"

namespace msb {

struct ImageRecord {
  int64_t refId = 0;
  int64_t manifestId = 0;
  std::string reference;
  std::optional<std::string> manifestDigest, architecture, os;
  std::optional<int64_t> layerCount, sizeBytes;
  std::optional<double> createdAt, lastUsedAt;  // ms since epoch; nullopt when unparseable
  int32_t createdAtSubMsNanos = 0, lastUsedAtSubMsNanos = 0;  // the nanoseconds below the ms (0..999999)
};

struct ConfigRecord {
  std::optional<std::string> digest, env, cmd, entrypoint, workingDir, user, labels, stopSignal;
};

struct LayerRecord {
  std::string diffId, blobDigest;
  std::optional<std::string> mediaType;
  std::optional<int64_t> compressedSizeBytes, erofsSizeBytes;
  int64_t position = 0;
};

struct Pins {
  std::vector<std::string> sandboxes;  // names
  std::vector<std::string> snapshots;  // names, or digests of unnamed snapshots
  bool Any() const { return !sandboxes.empty() || !snapshots.empty(); }
};

// What a committed removal left for the file system.
struct RowRemoval {
  uint32_t imageRefsRemoved = 0;
  std::vector<std::string> manifestDigests;  // manifests whose rows were deleted
  std::vector<std::string> layerDiffIds;     // layers whose rows were deleted
  std::vector<std::string> metadataKeys;     // normalized references whose manifests/*.json may go
  // Kept, with why (remove only): {kind, id, reason}
  struct Kept {
    std::string kind, id, reason;
  };
  std::vector<Kept> kept;
  std::string reference, manifestDigest;  // remove only
  // prune only: the references removed, {reference, manifest digest}, and the ones a policy kept
  // ({"reference", ref, "pinned" | "too-new" | "kept"}).
  std::vector<std::pair<std::string, std::string>> references;
  std::vector<uint32_t> referencePolicies;  // prune only: the policy (index) that took each
  std::vector<Kept> skipped;
};

// A dry run's report handed back to prune(): the real run takes only these items.
struct PrunePlan {
  std::unordered_map<std::string, std::string> references;  // reference -> manifest digest
  std::vector<std::string> manifests, layers;
  std::string manifestsJson, layersJson;  // the same, as JSON arrays for SQL
};

// Resolved space targets of a prune, in bytes (budget.h; docs/api.md "Space targets").
struct SpaceTargets {
  std::optional<uint64_t> maxBytes;  // the cache's allocated bytes at most this
  std::optional<uint64_t> minFree;   // the file system's free bytes at least this
  std::optional<uint64_t> reserved;  // never shrink the cache below this
  bool AnyGoal() const { return maxBytes.has_value() || minFree.has_value(); }
  bool Any() const { return AnyGoal() || reserved.has_value(); }
};

// Which references one policy of a prune may take (all optional; the default is msb's: every
// unpinned one).
struct PrunePolicy {
  std::optional<double> lastUsedBeforeMs;  // olderThan: only references last used before this
  std::optional<double> createdAfterMs;    // minAge: references created at or after this stay
  std::vector<std::string> keep;           // references or globs never removed
  std::vector<std::string> referenceGlobs;  // filter.reference: candidates must match one
  std::optional<std::string> labelsJson;    // filter.label as a JSON object: all must match
  size_t labelCount = 0;
  // keep as a function: the stored references the facade asked it about; others (arrived since)
  // are not candidates of this run.
  std::optional<std::unordered_set<std::string>> judged;
  SpaceTargets targets;  // effective (its own, else the prune's)
  bool Filtered() const { return !referenceGlobs.empty() || labelsJson.has_value(); }
  bool Restricted() const { return Filtered() || lastUsedBeforeMs.has_value() || judged.has_value() || targets.Any(); }
};

// One prune: its policies in order (BuildKit's semantics: a policy with space goals evicts least
// recently used first only while they are unmet; one without removes all its candidates), with
// the cache measured before the write transaction (a walk of a big cache must not hold msb's
// write lock).
struct PruneRun {
  std::vector<PrunePolicy> policies;
  std::optional<PrunePlan> plan;
  // Allocated bytes of the cache's files (path -> bytes), their total, and the free bytes of the
  // file system holding the cache.
  std::unordered_map<std::string, uint64_t> allocated;
  uint64_t cacheBytes = 0;
  uint64_t fsFree = 0;
  bool Restricted() const {
    return plan.has_value() || policies.size() != 1 || policies[0].Restricted();
  }
};

// Checks, once per connection, that the tables and columns this library uses exist, and
// records the optional ones. Throws CacheError(schemaUnsupported) naming what is missing.
void CheckSchema(Connection& conn);

// Every image, newest first, without a copy (list() of 100,000 images writes them straight into its columns):
// the views live until `visit` returns.
struct ImageRowView {
  std::string_view reference;
  std::optional<std::string_view> manifestDigest, architecture, os;
  std::optional<int64_t> layerCount, sizeBytes;
  std::optional<double> createdAt, lastUsedAt;  // ms since epoch; nullopt when unparseable
  int32_t createdAtSubMsNanos = 0, lastUsedAtSubMsNanos = 0;
};
void ForEachImage(Connection& conn, const std::function<void(const ImageRowView&)>& visit);

// Exact reference, else the unique reference with the same normalized form, else a manifest
// digest. Throws imageNotFound / ambiguousReference.
ImageRecord ResolveImage(Connection& conn, const std::string& reference);

std::optional<ConfigRecord> LoadConfig(Connection& conn, int64_t manifestId);
std::vector<LayerRecord> LoadLayers(Connection& conn, int64_t manifestId);
Pins PinsOf(Connection& conn, int64_t manifestId, const std::string& manifestDigest);

// Whether any image_ref, manifest or layer row exists (then the cache directory must be msb's).
bool CatalogHasImageRows(Connection& conn);

// Refuses while msb holds its install_exclusive maintenance lease. Throws maintenanceInProgress.
void CheckNoMaintenance(Connection& conn);

// Inside a write transaction. Throws imageInUse when pinned and !force. With the connection's
// foreign keys off (ForeignKeysOff, msb's keys only) it deletes what their cascades would.
RowRemoval RemoveImageRows(Connection& conn, const std::string& reference, bool force);
RowRemoval PruneRows(Connection& conn, const PruneRun& run);

// Everything diskUsage() needs from the database, read in one transaction.
struct UsageCatalog {
  struct Ref {
    std::string reference, manifestDigest;
    std::optional<double> lastUsedAt;
    int64_t manifestId = 0;
  };
  std::vector<Ref> refs;
  std::unordered_map<int64_t, std::string> manifests;                    // id -> digest
  std::unordered_map<int64_t, std::vector<std::string>> layersOf;        // manifest id -> diff_ids
  std::unordered_set<std::string> layerDiffIds;                          // every layer row
  std::unordered_map<int64_t, std::vector<std::string>> pinnedBy;        // manifest id -> "sandbox:x", "snapshot:y"
};
UsageCatalog LoadUsageCatalog(Connection& conn);

// Snapshots naming a manifest digest that has no manifest row: {name or digest, manifest digest}.
std::vector<std::pair<std::string, std::string>> SnapshotsWithoutManifest(Connection& conn);

// What a manifests/*.json names (format spec §3.2), parsed with SQLite's JSON functions;
// nullopt when it is not JSON or has no manifest_digest (msb treats it as absent).
struct MetadataNames {
  std::string manifestDigest;
  std::vector<std::string> diffIds;
};
std::optional<MetadataNames> ParseMetadata(Connection& conn, const std::string& json);

// Whether a pin (snapshot, or a sandbox's config naming it) names this manifest digest, with or
// without a manifest row: a stopped sandbox re-reads vmdk/<digest>.vmdk at every restart.
bool ManifestDigestPinned(Connection& conn, const std::string& digest);

// For re-checks under file locks, in a fresh read transaction.
bool ManifestExists(Connection& conn, const std::string& digest);
bool LayerExists(Connection& conn, const std::string& diffId);
std::unordered_set<std::string> NormalizedReferences(Connection& conn);
// Whether a reference row normalizes to `normalized` (a scan with a cheap text filter first).
bool NormalizedReferenceHeld(Connection& conn, const std::string& normalized);
// Every reference as stored, each passed to `visit` (the view lives until it returns).
void ForEachReference(Connection& conn, const std::function<void(std::string_view)>& visit);
// Every manifest digest a row holds, in one buffer.
DigestSet ManifestDigestSet(Connection& conn);  // sealed
// PRAGMA data_version: changes when another connection has committed (read inside a transaction:
// as of its snapshot).
int64_t DataVersion(Connection& conn);
// Every manifest digest a row holds.
std::unordered_set<std::string> ManifestDigests(Connection& conn);

}  // namespace msb

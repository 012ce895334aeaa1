#include "storage/catalog.h"

#include <fnmatch.h>

#include <algorithm>
#include <chrono>
#include <map>
#include <set>
#include <unordered_map>

#include "storage/budget.h"
#include "base/errors.h"
#include "formats/reference.h"
#include "formats/timestamp.h"
#include "platform/platform.h"

namespace msb {
namespace {

// ---- Schema -------------------------------------------------------------------------------

struct RequiredTable {
  const char* name;
  std::vector<const char*> columns;
};

const std::vector<RequiredTable>& RequiredTables() {
  static const std::vector<RequiredTable> tables = {
      {"manifest", {"id", "digest", "architecture", "os", "layer_count", "total_size_bytes"}},
      {"image_ref", {"id", "reference", "manifest_id", "created_at", "updated_at"}},
      {"config", {"manifest_id", "digest", "env", "cmd", "entrypoint", "working_dir", "user", "labels", "stop_signal"}},
      {"layer", {"id", "diff_id", "blob_digest", "media_type", "compressed_size_bytes", "erofs_size_bytes"}},
      {"manifest_layer", {"manifest_id", "layer_id", "position"}},
      {"sandbox", {"id", "name", "config", "active_config"}},
      {"sandbox_rootfs", {"sandbox_id", "manifest_id"}},
  };
  return tables;
}

// Optional: absent in databases older than the migration that adds them; when present, the
// columns must be there (snapshot pins must never be silently ignored).
const std::vector<RequiredTable>& OptionalTables() {
  static const std::vector<RequiredTable> tables = {
      {"snapshot_index", {"digest", "name", "image_manifest_digest"}},
      {"maintenance_lease", {"name", "lease_expires_at"}},
  };
  return tables;
}

constexpr char kSchemaColumns[] =
    "SELECT m.name, p.name FROM sqlite_schema AS m JOIN pragma_table_info(m.name) AS p "
    "WHERE m.type = 'table'";

// Every foreign key onto manifest or layer: (child table, column, parent, ON DELETE).
constexpr char kImageKeys[] =
    "SELECT m.name, f.\"from\", f.\"table\", f.on_delete FROM sqlite_schema AS m, pragma_foreign_key_list(m.name) AS f "
    "WHERE m.type = 'table' AND f.\"table\" IN ('manifest', 'layer')";

// ---- Images -------------------------------------------------------------------------------

#define MSB_IMAGE_SELECT                                                                        \
  "SELECT r.id, m.id, r.reference, m.digest, m.architecture, m.os, "                            \
  "COALESCE(m.layer_count, (SELECT count(*) FROM manifest_layer AS ml WHERE ml.manifest_id = m.id)), " \
  "m.total_size_bytes, r.created_at, r.updated_at "                                             \
  "FROM image_ref AS r JOIN manifest AS m ON m.id = r.manifest_id "

constexpr char kListImages[] = MSB_IMAGE_SELECT "ORDER BY r.created_at DESC";
constexpr char kFindExact[] = MSB_IMAGE_SELECT "WHERE r.reference = ?1";
// instr() on the last path component is a cheap filter before normalizing every reference.
constexpr char kFindNormalized[] = MSB_IMAGE_SELECT
    "WHERE CASE WHEN instr(r.reference, ?2) > 0 THEN msb_normalize(r.reference) = ?1 ELSE 0 END "
    "ORDER BY r.reference";
constexpr char kFindByDigest[] = MSB_IMAGE_SELECT "WHERE m.digest = ?1 ORDER BY r.reference";

// A TEXT timestamp column as epoch ms and the nanoseconds below them; left empty (nullopt, 0) when
// it is not text or does not parse.
void ReadTime(const Statement& s, int col, std::optional<double>* ms, int32_t* subMsNanos) {
  *ms = std::nullopt;
  *subMsNanos = 0;
  if (auto t = s.StrictTextView(col)) {
    if (auto ts = ParseTimestamp(*t)) {
      *ms = ts->ms;
      *subMsNanos = ts->subMsNanos;
    }
  }
}

// The image row MSB_IMAGE_SELECT gives, as views into the statement (valid until the next step).
ImageRowView ReadImageRow(const Statement& s) {
  ImageRowView r;
  r.reference = s.TextView(2);
  r.manifestDigest = s.OptTextView(3);
  r.architecture = s.OptTextView(4);
  r.os = s.OptTextView(5);
  r.layerCount = s.OptInt(6);
  r.sizeBytes = s.OptInt(7);
  ReadTime(s, 8, &r.createdAt, &r.createdAtSubMsNanos);
  ReadTime(s, 9, &r.lastUsedAt, &r.lastUsedAtSubMsNanos);
  return r;
}

std::optional<std::string> Owned(const std::optional<std::string_view>& v) {
  return v ? std::optional<std::string>(std::string(*v)) : std::nullopt;
}

ImageRecord ReadImage(Statement& s) {
  ImageRowView v = ReadImageRow(s);
  ImageRecord r;
  r.refId = s.Int(0);
  r.manifestId = s.Int(1);
  r.reference = std::string(v.reference);
  r.manifestDigest = Owned(v.manifestDigest);
  r.architecture = Owned(v.architecture);
  r.os = Owned(v.os);
  r.layerCount = v.layerCount;
  r.sizeBytes = v.sizeBytes;
  r.createdAt = v.createdAt;
  r.lastUsedAt = v.lastUsedAt;
  r.createdAtSubMsNanos = v.createdAtSubMsNanos;
  r.lastUsedAtSubMsNanos = v.lastUsedAtSubMsNanos;
  return r;
}

std::vector<ImageRecord> Collect(Statement& s) {
  std::vector<ImageRecord> out;
  while (s.Step()) out.push_back(ReadImage(s));
  return out;
}

// ---- Config and layers --------------------------------------------------------------------

constexpr char kLoadConfig[] =
    "SELECT digest, env, cmd, entrypoint, working_dir, user, labels, stop_signal FROM config WHERE manifest_id = ?1";
constexpr char kLoadLayers[] =
    "SELECT l.diff_id, l.blob_digest, l.media_type, l.compressed_size_bytes, l.erofs_size_bytes, ml.position "
    "FROM manifest_layer AS ml JOIN layer AS l ON l.id = ml.layer_id WHERE ml.manifest_id = ?1 "
    "ORDER BY ml.position";

// ---- Pins (format spec §2.3) --------------------------------------------------------------

// A sandbox's config / active_config names `manifest_digest` at its top level. A value that is
// not valid JSON but contains the digest counts too: never lose a live image to a parse error.
#define MSB_CONFIG_NAMES(col, digest)                                                                 \
  "(CASE WHEN json_valid(" col ") THEN json_extract(" col ", '$.manifest_digest') IS " digest " "   \
  "WHEN " col " IS NOT NULL THEN instr(" col ", " digest ") > 0 ELSE 0 END)"

constexpr char kPinsOfSandboxes[] =
    "SELECT COALESCE(sb.name, '#' || r.sandbox_id) FROM sandbox_rootfs AS r LEFT JOIN sandbox AS sb "
    "ON sb.id = r.sandbox_id WHERE r.manifest_id = ?1 "
    "UNION SELECT sb.name FROM sandbox AS sb WHERE " MSB_CONFIG_NAMES("sb.config", "?2") " OR "
    MSB_CONFIG_NAMES("sb.active_config", "?2") " ORDER BY 1";
constexpr char kPinsOfSnapshots[] =
    "SELECT DISTINCT COALESCE(name, digest) FROM snapshot_index WHERE image_manifest_digest = ?1 ORDER BY 1";

#define MSB_PINNED_BASE                                                                             \
  "pinned(id) AS (SELECT manifest_id FROM sandbox_rootfs WHERE manifest_id IS NOT NULL "           \
  "UNION SELECT m.id FROM manifest AS m JOIN sandbox AS sb ON " MSB_CONFIG_NAMES("sb.config", "m.digest") \
  " OR " MSB_CONFIG_NAMES("sb.active_config", "m.digest")
#define MSB_PINNED_WITH_SNAPSHOTS \
  MSB_PINNED_BASE " UNION SELECT m.id FROM manifest AS m JOIN snapshot_index AS s ON s.image_manifest_digest = m.digest)"
#define MSB_PINNED_NO_SNAPSHOTS MSB_PINNED_BASE ")"

// One row per reference: whether its manifest is pinned, and how many wanted labels it has.
#define MSB_PRUNE_CANDIDATES(pinned)                                                                     \
  "WITH " pinned " SELECT r.id, r.reference, r.created_at, r.updated_at, m.digest, "                    \
  "r.manifest_id IN (SELECT id FROM pinned), "                                                          \
  "CASE WHEN ?1 IS NULL THEN 0 ELSE (SELECT count(*) FROM json_each(?1) AS want WHERE EXISTS "          \
  "(SELECT 1 FROM json_each(CASE WHEN json_valid(c.labels) THEN c.labels ELSE '{}' END) AS have "      \
  "WHERE have.key = want.key AND have.value = want.value)) END, r.manifest_id "                         \
  "FROM image_ref AS r JOIN manifest AS m ON m.id = r.manifest_id LEFT JOIN config AS c ON c.manifest_id = r.manifest_id"
// Unpinned manifests left without references: those of the references just removed, plus
// (when no filter restricts the prune) older dangling ones, as msb does.
// Each NOT IN is one pass that builds a look-up table: msb indexes neither image_ref by manifest_id
// nor manifest_layer by layer_id, and a correlated NOT EXISTS scanned the whole table once per row
// (22 s of a prune keeping half of 10,000 images).
#define MSB_PRUNE_MANIFESTS(pinned)                                                                   \
  "WITH " pinned " DELETE FROM manifest WHERE id NOT IN (SELECT id FROM pinned) AND id NOT IN "      \
  "(SELECT manifest_id FROM image_ref WHERE manifest_id IS NOT NULL) AND "                            \
  "(?1 OR id IN (SELECT value FROM json_each(?2))) AND (?3 IS NULL OR digest IN (SELECT value FROM json_each(?3))) " \
  "RETURNING digest, id"

constexpr char kPruneCandidates[] = MSB_PRUNE_CANDIDATES(MSB_PINNED_WITH_SNAPSHOTS);
constexpr char kPruneCandidatesNoSnapshots[] = MSB_PRUNE_CANDIDATES(MSB_PINNED_NO_SNAPSHOTS);
constexpr char kPruneManifests[] = MSB_PRUNE_MANIFESTS(MSB_PINNED_WITH_SNAPSHOTS);
constexpr char kPruneManifestsNoSnapshots[] = MSB_PRUNE_MANIFESTS(MSB_PINNED_NO_SNAPSHOTS);
constexpr char kCreateVictims[] = "CREATE TEMP TABLE IF NOT EXISTS prune_victim(id INTEGER PRIMARY KEY)";
constexpr char kClearVictims[] = "DELETE FROM temp.prune_victim";
constexpr char kInsertVictim[] = "INSERT INTO temp.prune_victim(id) VALUES (?1)";
constexpr char kDeleteVictims[] =
    "DELETE FROM image_ref WHERE id IN (SELECT id FROM temp.prune_victim) RETURNING reference, manifest_id";
// ?1: a plan's layers (JSON array), or NULL for every unused layer.
constexpr char kPruneLayers[] =
    "DELETE FROM layer WHERE id NOT IN (SELECT layer_id FROM manifest_layer WHERE layer_id IS NOT NULL) "
    "AND (?1 IS NULL OR diff_id IN (SELECT value FROM json_each(?1))) RETURNING diff_id";
// With foreign keys off, the cascades of the manifests a prune deleted (?1: their ids, a JSON array).
constexpr char kPruneManifestLayers[] = "DELETE FROM manifest_layer WHERE manifest_id IN (SELECT value FROM json_each(?1))";
constexpr char kPruneManifestConfigs[] = "DELETE FROM config WHERE manifest_id IN (SELECT value FROM json_each(?1))";
// Whether a prune of every reference (?1 of them) empties the image tables: every reference is one, no
// manifest is pinned, and no child row names a manifest that is not there (the set-wise path keeps such rows).
#define MSB_EVERYTHING_GOES(pinned)                                                                 \
  "WITH " pinned " SELECT (SELECT count(*) FROM image_ref) = ?1 AND NOT EXISTS (SELECT 1 FROM pinned) " \
  "AND NOT EXISTS (SELECT 1 FROM manifest_layer WHERE manifest_id NOT IN (SELECT id FROM manifest)) "    \
  "AND NOT EXISTS (SELECT 1 FROM config WHERE manifest_id NOT IN (SELECT id FROM manifest))"
constexpr char kEverythingGoes[] = MSB_EVERYTHING_GOES(MSB_PINNED_WITH_SNAPSHOTS);
constexpr char kEverythingGoesNoSnapshots[] = MSB_EVERYTHING_GOES(MSB_PINNED_NO_SNAPSHOTS);
// Then each table is read once and emptied whole: a DELETE without WHERE frees a table's pages without
// visiting its rows and index entries one by one (SQLite's truncate optimization).
constexpr char kAllRefs[] = "SELECT reference, manifest_id FROM image_ref ORDER BY id";
constexpr char kAllManifests[] = "SELECT digest, id FROM manifest ORDER BY id";
constexpr char kAllLayers[] = "SELECT diff_id FROM layer ORDER BY id";
constexpr const char* kEmptyImageTables[] = {"DELETE FROM image_ref", "DELETE FROM manifest_layer", "DELETE FROM config",
                                             "DELETE FROM manifest", "DELETE FROM layer"};

// ---- Removal of one reference -------------------------------------------------------------

// Whether image_ref.reference normalizes to `key`; msb_normalize runs only where the key's last path
// component occurs in the reference (`last`), which rules out nearly every row for the price of an instr.
#define MSB_NORMALIZES_TO(key, last) \
  "CASE WHEN instr(reference, " last ") > 0 THEN msb_normalize(reference) = " key " ELSE 0 END"

constexpr char kDeleteRef[] = "DELETE FROM image_ref WHERE id = ?1";
// One pass over image_ref (msb gives its manifest_id no index, so each question asked of it alone is a scan of
// its own): how many references the manifest still has, and whether one still normalizes to ?2 (the metadata
// file's key; NULL when the removed reference does not normalize).
constexpr char kLeftAfterRefRemoved[] =
    "SELECT count(*) FILTER (WHERE manifest_id = ?1), coalesce(max(" MSB_NORMALIZES_TO("?2", "?3") "), 0) FROM image_ref";
constexpr char kLayersOfManifest[] =
    "SELECT l.id, l.diff_id FROM manifest_layer AS ml JOIN layer AS l ON l.id = ml.layer_id "
    "WHERE ml.manifest_id = ?1 ORDER BY ml.position";
// Which of the manifest's layers another manifest uses: one pass over manifest_layer for all of them
// (no index on layer_id: asking per layer is a pass each).
constexpr char kSharedLayersOfManifest[] =
    "SELECT DISTINCT layer_id FROM manifest_layer WHERE manifest_id <> ?1 AND layer_id IN "
    "(SELECT layer_id FROM manifest_layer WHERE manifest_id = ?1)";
constexpr char kDeleteManifest[] = "DELETE FROM manifest WHERE id = ?1";
// With foreign keys off, what the keys' ON DELETE CASCADE would delete (msb indexes both by manifest_id).
constexpr char kDeleteManifestLayers[] = "DELETE FROM manifest_layer WHERE manifest_id = ?1";
constexpr char kDeleteManifestConfig[] = "DELETE FROM config WHERE manifest_id = ?1";
// Only layers kSharedLayersOfManifest found no other manifest using, in the same write transaction. No NOT
// EXISTS here: asking again would be one more scan of manifest_layer per layer (no index on layer_id), and
// with foreign keys on, manifest_layer's RESTRICT key refuses the delete of a layer still in use anyway.
constexpr char kDeleteUnusedLayer[] = "DELETE FROM layer WHERE id = ?1 RETURNING diff_id";
constexpr char kNormalizedHeld[] = "SELECT 1 FROM image_ref WHERE " MSB_NORMALIZES_TO("?1", "?2") " LIMIT 1";

// ---- Disk usage ---------------------------------------------------------------------------

constexpr char kUsageRefs[] =
    "SELECT r.reference, m.digest, r.updated_at, m.id FROM image_ref AS r JOIN manifest AS m ON m.id = r.manifest_id "
    "ORDER BY r.created_at DESC";
constexpr char kUsageManifests[] = "SELECT id, digest FROM manifest";
constexpr char kUsageLayers[] = "SELECT diff_id FROM layer";
constexpr char kUsageManifestLayers[] =
    "SELECT ml.manifest_id, l.diff_id FROM manifest_layer AS ml JOIN layer AS l ON l.id = ml.layer_id "
    "ORDER BY ml.manifest_id, ml.position";
constexpr char kUsageSandboxPins[] =
    "SELECT r.manifest_id, COALESCE(sb.name, '#' || r.sandbox_id) FROM sandbox_rootfs AS r LEFT JOIN sandbox AS sb "
    "ON sb.id = r.sandbox_id WHERE r.manifest_id IS NOT NULL "
    "UNION SELECT m.id, sb.name FROM manifest AS m JOIN sandbox AS sb ON " MSB_CONFIG_NAMES("sb.config", "m.digest")
    " OR " MSB_CONFIG_NAMES("sb.active_config", "m.digest");
constexpr char kUsageSnapshotPins[] =
    "SELECT DISTINCT m.id, COALESCE(s.name, s.digest) FROM manifest AS m JOIN snapshot_index AS s "
    "ON s.image_manifest_digest = m.digest";

// ---- verify() ----------------------------------------------------------------------------

constexpr char kSnapshotsWithoutManifest[] =
    "SELECT COALESCE(s.name, s.digest), s.image_manifest_digest FROM snapshot_index AS s "
    "WHERE s.image_manifest_digest IS NOT NULL AND NOT EXISTS (SELECT 1 FROM manifest AS m WHERE m.digest = s.image_manifest_digest)";
constexpr char kDigestPinned[] =
    "SELECT 1 FROM sandbox AS sb WHERE " MSB_CONFIG_NAMES("sb.config", "?1") " OR " MSB_CONFIG_NAMES("sb.active_config", "?1");
constexpr char kDigestPinnedBySnapshot[] = "SELECT 1 FROM snapshot_index WHERE image_manifest_digest = ?1";
constexpr char kMetadataDigest[] = "SELECT json_extract(?1, '$.manifest_digest') WHERE json_valid(?1)";
constexpr char kMetadataLayers[] =
    "SELECT json_extract(value, '$.diff_id') FROM json_each(?1, '$.layers') WHERE json_valid(?1)";

// ---- Re-checks ----------------------------------------------------------------------------

constexpr char kManifestExists[] = "SELECT 1 FROM manifest WHERE digest = ?1";
constexpr char kAnyImageRows[] =
    "SELECT EXISTS (SELECT 1 FROM image_ref) OR EXISTS (SELECT 1 FROM manifest) OR EXISTS (SELECT 1 FROM layer)";
constexpr char kAllManifestDigests[] = "SELECT digest FROM manifest";
constexpr char kLayerExists[] = "SELECT 1 FROM layer WHERE diff_id = ?1";
constexpr char kAllNormalized[] = "SELECT msb_normalize(reference) FROM image_ref";
constexpr char kAllReferences[] = "SELECT reference FROM image_ref";
constexpr char kDataVersion[] = "PRAGMA data_version";
constexpr char kMaintenanceLease[] =
    "SELECT lease_expires_at FROM maintenance_lease WHERE name = 'install_exclusive'";

// The last path component of a normalized reference (`docker.io/library/python:3` -> `python`):
// every reference that normalizes to it contains this text.
std::string LastPathComponent(const std::string& normalized) {
  std::string name = normalized.substr(0, normalized.find('@'));
  size_t slash = name.rfind('/');
  size_t colon = name.rfind(':');
  if (colon != std::string::npos && (slash == std::string::npos || colon > slash)) name.resize(colon);
  slash = name.rfind('/');
  return slash == std::string::npos ? name : name.substr(slash + 1);
}

double NowMs() {
  return double(std::chrono::duration_cast<std::chrono::milliseconds>(
                    std::chrono::system_clock::now().time_since_epoch())
                    .count());
}

}  // namespace

void CheckSchema(Connection& conn) {
  std::map<std::string, std::set<std::string>> columns;
  {
    Statement& s = conn.Prepare(kSchemaColumns);
    StatementScope scope(s);
    while (s.Step()) columns[s.Text(0)].insert(s.Text(1));
  }
  std::vector<std::string> missing;
  auto check = [&](const RequiredTable& t) {
    auto it = columns.find(t.name);
    if (it == columns.end()) {
      missing.push_back(t.name);
      return;
    }
    for (const char* c : t.columns) {
      if (it->second.count(c) == 0) missing.push_back(std::string(t.name) + "." + c);
    }
  };
  for (const RequiredTable& t : RequiredTables()) check(t);
  for (const RequiredTable& t : OptionalTables()) {
    if (columns.count(t.name) != 0) check(t);
  }
  if (!missing.empty()) {
    std::string list;
    for (const std::string& m : missing) list += (list.empty() ? "" : ", ") + m;
    CacheError e(code::kSchemaUnsupported,
                 "the database at " + conn.path() + " does not have the microsandbox image schema this library "
                 "reads (missing: " + list + "); is it a microsandbox home from release 0.6.14 or later?");
    e.missing = missing;
    throw e;
  }
  conn.schema.snapshotIndex = columns.count("snapshot_index") != 0;
  conn.schema.maintenanceLease = columns.count("maintenance_lease") != 0;
  // msb's keys onto manifest and layer, as RemoveImageRows deletes by hand. Any other set (a table
  // a later msb adds, a key changed) leaves the deleting to SQLite's foreign keys.
  std::set<std::string> keys;
  {
    Statement& s = conn.Prepare(kImageKeys);
    StatementScope scope(s);
    while (s.Step()) keys.insert(s.Text(0) + "." + s.Text(1) + " -> " + s.Text(2) + " " + s.Text(3));
  }
  conn.schema.imageKeysKnown = keys == std::set<std::string>{
                                           "image_ref.manifest_id -> manifest CASCADE",
                                           "config.manifest_id -> manifest CASCADE",
                                           "manifest_layer.manifest_id -> manifest CASCADE",
                                           "manifest_layer.layer_id -> layer RESTRICT",
                                           "sandbox_rootfs.manifest_id -> manifest RESTRICT",
                                       };
}

void ForEachImage(Connection& conn, const std::function<void(const ImageRowView&)>& visit) {
  Statement& s = conn.Prepare(kListImages);
  StatementScope scope(s);
  while (s.Step()) visit(ReadImageRow(s));
}

ImageRecord ResolveImage(Connection& conn, const std::string& reference) {
  {
    Statement& s = conn.Prepare(kFindExact);
    StatementScope scope(s);
    s.Bind(1, reference);
    if (s.Step()) return ReadImage(s);
  }
  auto single = [&](std::vector<ImageRecord> found, const char* how) -> std::optional<ImageRecord> {
    if (found.empty()) return std::nullopt;
    if (found.size() == 1) return std::move(found[0]);
    CacheError e(code::kAmbiguousReference, "\"" + reference + "\" matches " + std::to_string(found.size()) +
                                                " cached images " + how + ": ");
    for (size_t i = 0; i < found.size(); i++) {
      e.message += (i ? ", " : "") + found[i].reference;
      e.candidates.push_back(found[i].reference);
    }
    e.message += "; use one of these references";
    e.reference = reference;
    throw e;
  };
  if (std::optional<std::string> normalized = NormalizeReference(reference)) {
    Statement& s = conn.Prepare(kFindNormalized);
    StatementScope scope(s);
    s.Bind(1, *normalized).Bind(2, LastPathComponent(*normalized));
    if (auto r = single(Collect(s), "by normalized reference")) return *r;
  }
  if (IsValidDigest(reference)) {
    Statement& s = conn.Prepare(kFindByDigest);
    StatementScope scope(s);
    s.Bind(1, reference);
    if (auto r = single(Collect(s), "by manifest digest")) return *r;
  }
  CacheError e(code::kImageNotFound, "image not found: " + reference);
  e.reference = reference;
  throw e;
}

std::optional<ConfigRecord> LoadConfig(Connection& conn, int64_t manifestId) {
  Statement& s = conn.Prepare(kLoadConfig);
  StatementScope scope(s);
  s.Bind(1, manifestId);
  if (!s.Step()) return std::nullopt;
  ConfigRecord c;
  c.digest = s.OptText(0);
  c.env = s.OptText(1);
  c.cmd = s.OptText(2);
  c.entrypoint = s.OptText(3);
  c.workingDir = s.OptText(4);
  c.user = s.OptText(5);
  c.labels = s.OptText(6);
  c.stopSignal = s.OptText(7);
  return c;
}

std::vector<LayerRecord> LoadLayers(Connection& conn, int64_t manifestId) {
  Statement& s = conn.Prepare(kLoadLayers);
  StatementScope scope(s);
  s.Bind(1, manifestId);
  std::vector<LayerRecord> out;
  while (s.Step()) {
    LayerRecord l;
    l.diffId = s.Text(0);
    l.blobDigest = s.Text(1);
    l.mediaType = s.OptText(2);
    l.compressedSizeBytes = s.OptInt(3);
    l.erofsSizeBytes = s.OptInt(4);
    l.position = s.Int(5);
    out.push_back(std::move(l));
  }
  return out;
}

Pins PinsOf(Connection& conn, int64_t manifestId, const std::string& manifestDigest) {
  Pins pins;
  {
    Statement& s = conn.Prepare(kPinsOfSandboxes);
    StatementScope scope(s);
    s.Bind(1, manifestId).Bind(2, manifestDigest);
    while (s.Step()) pins.sandboxes.push_back(s.Text(0));
  }
  if (conn.schema.snapshotIndex) {
    Statement& s = conn.Prepare(kPinsOfSnapshots);
    StatementScope scope(s);
    s.Bind(1, manifestDigest);
    while (s.Step()) pins.snapshots.push_back(s.Text(0));
  }
  return pins;
}

void CheckNoMaintenance(Connection& conn) {
  if (!conn.schema.maintenanceLease) return;
  Statement& s = conn.Prepare(kMaintenanceLease);
  StatementScope scope(s);
  if (!s.Step()) return;
  std::optional<std::string> text = s.StrictText(0);
  std::optional<double> until = text ? ParseTimestampMs(*text) : std::nullopt;
  // An unreadable expiry is treated as held: refusing to write is the safe side.
  if (!s.IsNull(0) && (!until || *until > NowMs())) {
    throw CacheError(code::kMaintenance,
                     "microsandbox is installing, upgrading or downgrading (its install_exclusive lease runs until " +
                         (text ? *text : std::string("an unreadable time")) +
                         "); the image cache must not be changed now, retry after it finishes");
  }
}

RowRemoval RemoveImageRows(Connection& conn, const std::string& reference, bool force) {
  RowRemoval out;
  ImageRecord image = ResolveImage(conn, reference);
  std::string digest = image.manifestDigest.value_or("");
  out.reference = image.reference;
  out.manifestDigest = digest;
  Pins pins = PinsOf(conn, image.manifestId, digest);
  if (pins.Any() && !force) {
    std::string who;
    for (const std::string& n : pins.sandboxes) who += (who.empty() ? "sandbox " : ", sandbox ") + n;
    for (const std::string& n : pins.snapshots) who += (who.empty() ? "snapshot " : ", snapshot ") + n;
    CacheError e(code::kImageInUse, "image in use: " + image.reference + " is used by " + who +
                                        "; remove those first or pass force to drop only the reference");
    e.reference = image.reference;
    e.sandboxes = pins.sandboxes;
    e.snapshots = pins.snapshots;
    throw e;
  }
  {
    Statement& s = conn.Prepare(kDeleteRef);
    StatementScope scope(s);
    s.Bind(1, image.refId).Step();
  }
  out.imageRefsRemoved = 1;

  std::optional<std::string> normalized = NormalizeReference(image.reference);
  int64_t remaining;
  bool metadataHeld;
  {
    Statement& s = conn.Prepare(kLeftAfterRefRemoved);
    StatementScope scope(s);
    s.Bind(1, image.manifestId);
    if (normalized) s.Bind(2, *normalized).Bind(3, LastPathComponent(*normalized));
    else s.BindNull(2).BindNull(3);
    s.Step();
    remaining = s.Int(0);
    metadataHeld = s.Int(1) != 0;
  }
  if (remaining > 0) {
    out.kept.push_back({"manifest", digest, "referenced"});
  } else if (pins.Any()) {
    out.kept.push_back({"manifest", digest, "pinned"});
  } else {
    std::set<int64_t> shared;
    {
      Statement& s = conn.Prepare(kSharedLayersOfManifest);
      StatementScope scope(s);
      s.Bind(1, image.manifestId);
      while (s.Step()) shared.insert(s.Int(0));
    }
    std::vector<std::pair<int64_t, std::string>> candidates;
    {
      Statement& s = conn.Prepare(kLayersOfManifest);
      StatementScope scope(s);
      s.Bind(1, image.manifestId);
      while (s.Step()) {
        if (shared.count(s.Int(0)) != 0) {
          out.kept.push_back({"layer", s.Text(1), "shared"});
        } else {
          candidates.emplace_back(s.Int(0), s.Text(1));
        }
      }
    }
    // Keys off (RunRemoval, when they are exactly msb's): their cascades by hand. Nothing else is
    // left pointing at the manifest: no reference (remaining is 0), no sandbox_rootfs (not pinned);
    // none at the layers deleted below (not shared, and this manifest's rows go here).
    if (!conn.ForeignKeysOn()) {
      for (const char* sql : {kDeleteManifestLayers, kDeleteManifestConfig}) {
        Statement& s = conn.Prepare(sql);
        StatementScope scope(s);
        s.Bind(1, image.manifestId).Step();
      }
    }
    {
      Statement& s = conn.Prepare(kDeleteManifest);
      StatementScope scope(s);
      s.Bind(1, image.manifestId).Step();
    }
    out.manifestDigests.push_back(digest);
    for (const auto& [id, diffId] : candidates) {
      Statement& s = conn.Prepare(kDeleteUnusedLayer);
      StatementScope scope(s);
      s.Bind(1, id);
      while (s.Step()) out.layerDiffIds.push_back(s.Text(0));
    }
  }

  if (normalized) {
    if (metadataHeld) {
      out.kept.push_back({"metadata", *normalized, "referenced"});
    } else {
      out.metadataKeys.push_back(*normalized);
    }
  }
  return out;
}

namespace {

// keep and filter.reference patterns. A pattern matches a reference by glob (Docker's path.Match:
// `*` stops at `/`) on the stored or the normalized form, or by normalized equality. Compiled once
// per prune: a pattern without a glob character matches by equality alone, so those are hash
// look-ups (a keep function's verdicts arrive as thousands of plain references); globs are tried in turn.
class ReferencePatterns {
 public:
  explicit ReferencePatterns(const std::vector<std::string>& patterns) {
    for (const std::string& p : patterns) {
      std::optional<std::string> normalized = NormalizeReference(p);
      if (p.find_first_of("*?[\\") == std::string::npos) {
        plain_.insert(p);
        if (normalized) plainNormalized_.insert(std::move(*normalized));
      } else {
        globs_.push_back({p, std::move(normalized)});
      }
    }
  }
  bool empty() const { return plain_.empty() && globs_.empty(); }
  bool Matches(const std::string& reference, const std::optional<std::string>& normalized) const {
    if (plain_.count(reference)) return true;
    if (normalized && (plain_.count(*normalized) || plainNormalized_.count(*normalized))) return true;
    for (const Glob& g : globs_) {
      if (fnmatch(g.pattern.c_str(), reference.c_str(), FNM_PATHNAME) == 0) return true;
      if (normalized && fnmatch(g.pattern.c_str(), normalized->c_str(), FNM_PATHNAME) == 0) return true;
      if (g.normalized && normalized && *g.normalized == *normalized) return true;
    }
    return false;
  }

 private:
  struct Glob {
    std::string pattern;
    std::optional<std::string> normalized;
  };
  std::unordered_set<std::string> plain_, plainNormalized_;
  std::vector<Glob> globs_;
};

struct PruneCandidate {
  int64_t refId;
  std::string digest;
  BudgetCandidate budget;
};

// One policy's candidates: unpinned references it selects and does not keep; the ones it would
// select but may not take are reported in `skipped`.
LargeVector<PruneCandidate> PolicyCandidates(Connection& conn, const PrunePolicy& policy,
                                             std::vector<RowRemoval::Kept>* skipped) {
  LargeVector<PruneCandidate> candidates;
  Statement& s = conn.Prepare(conn.schema.snapshotIndex ? kPruneCandidates : kPruneCandidatesNoSnapshots);
  StatementScope scope(s);
  if (policy.labelsJson) s.Bind(1, *policy.labelsJson);
  const ReferencePatterns filter(policy.referenceGlobs), keep(policy.keep);
  while (s.Step()) {
    std::string reference = s.Text(1);
    std::optional<std::string> normalized = NormalizeReference(reference);
    bool wanted = (filter.empty() || filter.Matches(reference, normalized)) &&
                  (!policy.labelsJson || size_t(s.Int(6)) == policy.labelCount);
    if (!wanted) continue;
    if (policy.lastUsedBeforeMs) {
      std::optional<std::string> text = s.StrictText(3);
      std::optional<double> lastUsed = text ? ParseTimestampMs(*text) : std::nullopt;
      if (!lastUsed || *lastUsed >= *policy.lastUsedBeforeMs) continue;  // unknown: not known to be old
    }
    if (s.Int(5) != 0) {
      skipped->push_back({"reference", reference, "pinned"});
      continue;
    }
    if (keep.Matches(reference, normalized)) {
      skipped->push_back({"reference", reference, "kept"});
      continue;
    }
    if (policy.judged && !policy.judged->count(reference)) continue;  // arrived after keep() ran
    if (policy.createdAfterMs) {
      std::optional<std::string> text = s.StrictText(2);
      std::optional<double> created = text ? ParseTimestampMs(*text) : std::nullopt;
      if (!created || *created >= *policy.createdAfterMs) {  // unknown: not known to be old enough
        skipped->push_back({"reference", reference, "too-new"});
        continue;
      }
    }
    std::optional<std::string> lastUsedText = s.StrictText(3);
    candidates.push_back({s.Int(0), s.Text(4),
                          {reference, s.Int(7), lastUsedText ? ParseTimestampMs(*lastUsedText) : std::nullopt}});
  }
  return candidates;
}

// What a plan named that this run did not take, because something changed in between.
void ReportPlanChanges(const PrunePlan& plan, RowRemoval* out) {
  std::unordered_set<std::string> taken, reported;
  for (const auto& [reference, digest] : out->references) taken.insert(reference);
  for (const RowRemoval::Kept& k : out->skipped) reported.insert(k.id);
  for (const auto& [reference, digest] : plan.references) {
    if (!taken.count(reference) && !reported.count(reference)) out->skipped.push_back({"reference", reference, "in-use-again"});
  }
  std::unordered_set<std::string> manifests(out->manifestDigests.begin(), out->manifestDigests.end());
  for (const std::string& d : plan.manifests) {
    if (!manifests.count(d)) out->skipped.push_back({"manifest", d, "in-use-again"});
  }
  std::unordered_set<std::string> layers(out->layerDiffIds.begin(), out->layerDiffIds.end());
  for (const std::string& d : plan.layers) {
    if (!layers.count(d)) out->skipped.push_back({"layer", d, "in-use-again"});
  }
}

}  // namespace

RowRemoval PruneRows(Connection& conn, const PruneRun& run) {
  RowRemoval out;
  bool snapshots = conn.schema.snapshotIndex;
  conn.Exec(kCreateVictims);
  conn.Exec(kClearVictims);
  // Each reference taken: its manifest digest and the policy (index) that took it. One map, not one per
  // field: at 100,000 references each map of strings costs ~50 ms to fill and ask.
  struct Victim {
    std::string digest;
    uint32_t policy;
  };
  std::unordered_map<std::string, Victim> taken;
  std::vector<RowRemoval::Kept> skipped;
  bool anyTargets = false;
  for (const PrunePolicy& p : run.policies) anyTargets = anyTargets || p.targets.Any();
  std::optional<UsageCatalog> catalog;
  std::optional<LruBudget> budget;
  if (anyTargets && !run.plan) {
    catalog.emplace(LoadUsageCatalog(conn));
    budget.emplace(*catalog, run.allocated, run.cacheBytes, run.fsFree);
  }
  // msb's plain prune with nothing pinned, kept or left out (the common case, and the biggest): every
  // table is emptied whole (kEverythingGoes). Decided once the candidates are known.
  bool everything = false;
  Statement& insert = conn.Prepare(kInsertVictim);
  auto take = [&](const PruneCandidate& c, uint32_t policy) {
    if (!everything) {
      StatementScope insertScope(insert);
      insert.Bind(1, c.refId).Step();
    }
    taken.emplace(c.budget.reference, Victim{c.digest, policy});
  };
  for (uint32_t pi = 0; pi < run.policies.size(); pi++) {
    const PrunePolicy& policy = run.policies[pi];
    LargeVector<PruneCandidate> candidates = PolicyCandidates(conn, policy, &skipped);
    if (!taken.empty()) {  // an earlier policy's references are not this one's
      candidates.erase(std::remove_if(candidates.begin(), candidates.end(),
                                      [&](const PruneCandidate& c) { return taken.count(c.budget.reference) != 0; }),
                       candidates.end());
    }
    if (pi == 0) taken.reserve(candidates.size());
    if (run.plan) {
      // A plan fixes the set: only its references, still naming the same manifest, still eligible.
      for (const PruneCandidate& c : candidates) {
        auto it = run.plan->references.find(c.budget.reference);
        if (it != run.plan->references.end() && it->second == c.digest) take(c, pi);
      }
      continue;
    }
    if (!policy.targets.Any()) {
      // Only with the keys off (RunRemoval turns them off when they are exactly msb's): any other key must
      // see each row go.
      if (!run.Restricted() && !conn.ForeignKeysOn() && skipped.empty()) {
        Statement& q = conn.Prepare(conn.schema.snapshotIndex ? kEverythingGoes : kEverythingGoesNoSnapshots);
        StatementScope qScope(q);
        everything = q.Bind(1, int64_t(candidates.size())).Step() && q.Int(0) == 1;
      }
      for (const PruneCandidate& c : candidates) {
        if (budget) budget->Take(c.budget);  // later policies measure what is left
        take(c, pi);
      }
      continue;
    }
    // Least recently used first, while the goals are unmet (all of them when there are none),
    // stopping before the first removal that would take the cache below the reserve.
    std::vector<BudgetCandidate> lru;
    for (const PruneCandidate& c : candidates) lru.push_back(c.budget);
    for (size_t i : LruBudget::LruOrder(lru)) {
      if (policy.targets.AnyGoal() && budget->Met(policy.targets)) break;
      if (policy.targets.reserved) {
        uint64_t freed = budget->FreedBy(lru[i]);
        if (budget->CacheBytes() < *policy.targets.reserved + freed) break;
      }
      budget->Take(lru[i]);
      take(candidates[i], pi);
    }
  }
  // A reference one policy keeps and a later one takes is reported once, as taken.
  {
    std::set<std::pair<std::string, std::string>> seen;
    for (RowRemoval::Kept& k : skipped) {
      if (taken.count(k.id) || !seen.emplace(k.id, k.reason).second) continue;
      out.skipped.push_back(std::move(k));
    }
  }
  std::vector<std::string> removedKeys;  // sorted and unique below
  std::string manifestIds = "[";
  {
    std::unordered_set<int64_t> seen;  // (every manifest goes when everything does: no list of them)
    Statement& s = conn.Prepare(everything ? kAllRefs : kDeleteVictims);
    StatementScope scope(s);
    out.references.reserve(taken.size());
    out.referencePolicies.reserve(taken.size());
    removedKeys.reserve(taken.size());
    while (s.Step()) {
      out.imageRefsRemoved++;
      std::string reference = s.Text(0);
      int64_t manifestId = s.Int(1);
      if (!everything && seen.insert(manifestId).second) {
        manifestIds += (manifestIds.size() > 1 ? "," : "") + std::to_string(manifestId);
      }
      if (std::optional<std::string> n = NormalizeReference(reference)) removedKeys.push_back(std::move(*n));
      auto victim = taken.find(reference);
      bool known = victim != taken.end();
      out.references.emplace_back(std::move(reference), known ? std::move(victim->second.digest) : std::string());
      out.referencePolicies.push_back(known ? victim->second.policy : 0);
    }
  }
  manifestIds += "]";
  std::sort(removedKeys.begin(), removedKeys.end());
  removedKeys.erase(std::unique(removedKeys.begin(), removedKeys.end()), removedKeys.end());
  if (everything) {
    {
      Statement& s = conn.Prepare(kAllManifests);
      StatementScope scope(s);
      while (s.Step()) out.manifestDigests.push_back(s.Text(0));
    }
    {
      Statement& s = conn.Prepare(kAllLayers);
      StatementScope scope(s);
      while (s.Step()) out.layerDiffIds.push_back(s.Text(0));
    }
    for (const char* sql : kEmptyImageTables) conn.Exec(sql);
    out.metadataKeys = std::move(removedKeys);  // no reference is left
    return out;
  }
  {
    Statement& s = conn.Prepare(snapshots ? kPruneManifests : kPruneManifestsNoSnapshots);
    StatementScope scope(s);
    // With a plan, any unused manifest it names may go (?3 limits them), old dangling ones too.
    s.Bind(1, int64_t(!run.Restricted() || run.plan ? 1 : 0)).Bind(2, manifestIds);
    if (run.plan) s.Bind(3, run.plan->manifestsJson);
    std::string deletedIds = "[";
    while (s.Step()) {
      out.manifestDigests.push_back(s.Text(0));
      deletedIds += (deletedIds.size() > 1 ? "," : "") + std::to_string(s.Int(1));
    }
    deletedIds += "]";
    // Keys off (RunRemoval, when they are exactly msb's): their cascades by hand. No reference names
    // these manifests and no sandbox_rootfs pins them (the statement above chose them so).
    if (!conn.ForeignKeysOn() && !out.manifestDigests.empty()) {
      for (const char* sql : {kPruneManifestLayers, kPruneManifestConfigs}) {
        Statement& c = conn.Prepare(sql);
        StatementScope cascade(c);
        c.Bind(1, deletedIds).Step();
      }
    }
  }
  {
    Statement& s = conn.Prepare(kPruneLayers);
    StatementScope scope(s);
    if (run.plan) s.Bind(1, run.plan->layersJson);
    while (s.Step()) out.layerDiffIds.push_back(s.Text(0));
  }
  if (run.plan) ReportPlanChanges(*run.plan, &out);
  if (!removedKeys.empty()) {
    std::unordered_set<std::string> held = NormalizedReferences(conn);
    for (const std::string& key : removedKeys) {
      if (held.count(key) == 0) out.metadataKeys.push_back(key);
    }
  }
  return out;
}

UsageCatalog LoadUsageCatalog(Connection& conn) {
  UsageCatalog c;
  {
    Statement& s = conn.Prepare(kUsageRefs);
    StatementScope scope(s);
    while (s.Step()) {
      std::optional<std::string> t = s.StrictText(2);
      c.refs.push_back({s.Text(0), s.Text(1), t ? ParseTimestampMs(*t) : std::nullopt, s.Int(3)});
    }
  }
  {
    Statement& s = conn.Prepare(kUsageManifests);
    StatementScope scope(s);
    while (s.Step()) c.manifests.emplace(s.Int(0), s.Text(1));
  }
  {
    Statement& s = conn.Prepare(kUsageLayers);
    StatementScope scope(s);
    while (s.Step()) c.layerDiffIds.insert(s.Text(0));
  }
  {
    Statement& s = conn.Prepare(kUsageManifestLayers);
    StatementScope scope(s);
    while (s.Step()) c.layersOf[s.Int(0)].push_back(s.Text(1));
  }
  {
    Statement& s = conn.Prepare(kUsageSandboxPins);
    StatementScope scope(s);
    while (s.Step()) c.pinnedBy[s.Int(0)].push_back("sandbox:" + s.Text(1));
  }
  if (conn.schema.snapshotIndex) {
    Statement& s = conn.Prepare(kUsageSnapshotPins);
    StatementScope scope(s);
    while (s.Step()) c.pinnedBy[s.Int(0)].push_back("snapshot:" + s.Text(1));
  }
  return c;
}

std::vector<std::pair<std::string, std::string>> SnapshotsWithoutManifest(Connection& conn) {
  std::vector<std::pair<std::string, std::string>> out;
  if (!conn.schema.snapshotIndex) return out;
  Statement& s = conn.Prepare(kSnapshotsWithoutManifest);
  StatementScope scope(s);
  while (s.Step()) out.emplace_back(s.Text(0), s.Text(1));
  return out;
}

bool ManifestDigestPinned(Connection& conn, const std::string& digest) {
  {
    Statement& s = conn.Prepare(kDigestPinned);
    StatementScope scope(s);
    s.Bind(1, digest);
    if (s.Step()) return true;
  }
  if (!conn.schema.snapshotIndex) return false;
  Statement& s = conn.Prepare(kDigestPinnedBySnapshot);
  StatementScope scope(s);
  s.Bind(1, digest);
  return s.Step();
}

std::optional<MetadataNames> ParseMetadata(Connection& conn, const std::string& json) {
  MetadataNames names;
  {
    Statement& s = conn.Prepare(kMetadataDigest);
    StatementScope scope(s);
    s.Bind(1, json);
    if (!s.Step()) return std::nullopt;
    std::optional<std::string> digest = s.StrictText(0);
    if (!digest) return std::nullopt;
    names.manifestDigest = *digest;
  }
  Statement& s = conn.Prepare(kMetadataLayers);
  StatementScope scope(s);
  s.Bind(1, json);
  while (s.Step()) {
    if (std::optional<std::string> d = s.StrictText(0)) names.diffIds.push_back(*d);
  }
  return names;
}

bool ManifestExists(Connection& conn, const std::string& digest) {
  Statement& s = conn.Prepare(kManifestExists);
  StatementScope scope(s);
  s.Bind(1, digest);
  return s.Step();
}

bool CatalogHasImageRows(Connection& conn) {
  Statement& s = conn.Prepare(kAnyImageRows);
  StatementScope scope(s);
  return s.Step() && s.Int(0) != 0;
}

bool LayerExists(Connection& conn, const std::string& diffId) {
  Statement& s = conn.Prepare(kLayerExists);
  StatementScope scope(s);
  s.Bind(1, diffId);
  return s.Step();
}

std::unordered_set<std::string> ManifestDigests(Connection& conn) {
  Statement& s = conn.Prepare(kAllManifestDigests);
  StatementScope scope(s);
  std::unordered_set<std::string> out;
  while (s.Step()) out.insert(s.Text(0));
  return out;
}

std::unordered_set<std::string> NormalizedReferences(Connection& conn) {
  Statement& s = conn.Prepare(kAllNormalized);
  StatementScope scope(s);
  std::unordered_set<std::string> out;
  while (s.Step()) {
    if (!s.IsNull(0)) out.insert(s.Text(0));
  }
  return out;
}

bool NormalizedReferenceHeld(Connection& conn, const std::string& normalized) {
  Statement& s = conn.Prepare(kNormalizedHeld);
  StatementScope scope(s);
  s.Bind(1, normalized).Bind(2, LastPathComponent(normalized));
  return s.Step();
}

void ForEachReference(Connection& conn, const std::function<void(std::string_view)>& visit) {
  Statement& s = conn.Prepare(kAllReferences);
  StatementScope scope(s);
  while (s.Step()) visit(s.TextView(0));
}

DigestSet ManifestDigestSet(Connection& conn) {
  Statement& s = conn.Prepare(kAllManifestDigests);
  StatementScope scope(s);
  DigestSet out;
  while (s.Step()) out.Add(s.TextView(0));
  out.Seal();
  return out;
}

int64_t DataVersion(Connection& conn) {
  Statement& s = conn.Prepare(kDataVersion);
  StatementScope scope(s);
  s.Step();
  return s.Int(0);
}

}  // namespace msb

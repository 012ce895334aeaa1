#include "write_path/removal.h"

#include "platform/platform.h"

#include <algorithm>
#include <chrono>
#include <thread>

#include "base/errors.h"
#include "base/parallel.h"
#include "write_path/in_flight.h"
#include "formats/reference.h"

namespace msb {
namespace {

// Files changed this long before a removal began are read for what they name even when rows
// name them: a load re-tagging a reference rewrites its metadata file before its rows.
constexpr double kInFlightRecentSec = 600;

Napi::Array ItemsToJs(Napi::Env env, const std::vector<DeletionReport::Item>& items, const char* detailKey) {
  Napi::Array a = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", items[i].kind);
    o.Set("id", items[i].id);
    o.Set(detailKey, items[i].detail);
    a.Set(i, o);
  }
  return a;
}

}  // namespace

Napi::Array SweepItemsToJs(Napi::Env env, const std::vector<SweepItem>& items) {
  Napi::Array a = Napi::Array::New(env, items.size());
  for (uint32_t i = 0; i < items.size(); i++) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("kind", items[i].kind);
    o.Set("path", items[i].path);
    o.Set("bytes", double(items[i].bytes));
    a.Set(i, o);
  }
  return a;
}

Napi::Array ReportItemsToJs(Napi::Env env, const std::vector<DeletionReport::Item>& items, const char* detailKey) {
  return ItemsToJs(env, items, detailKey);
}

void WaitOutMaintenance(CancelFlag cancel, const std::function<void()>& check) {
  auto started = std::chrono::steady_clock::now();
  auto backoff = std::chrono::milliseconds(2);
  for (;;) {
    try {
      check();
      return;
    } catch (const CacheError& e) {
      if (e.code != code::kMaintenance || std::chrono::steady_clock::now() - started >= kMaintenanceWait) throw;
    }
    if (cancel.IsSet()) throw CacheError(code::kAborted, "the operation was aborted; nothing was changed");
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(100));
  }
}

std::vector<bool> ArtifactsNamedByRows(Connection& conn, const std::vector<const Artifact*>& batch) {
  std::optional<std::unordered_set<std::string>> normalized, stems;
  // A few metadata files are asked one by one; more, against every reference normalized once.
  size_t metadataCount = 0;
  for (const Artifact* a : batch) metadataCount += a->kind == ArtifactKind::kMetadata;
  std::vector<bool> named;
  for (const Artifact* a : batch) {
    if (a->kind == ArtifactKind::kMetadata && metadataCount <= 16) {
      named.push_back(NormalizedReferenceHeld(conn, a->id));
      continue;
    }
    switch (a->kind) {
      case ArtifactKind::kManifest:
        named.push_back(ManifestExists(conn, a->id) || ManifestDigestPinned(conn, a->id));
        break;
      case ArtifactKind::kLayer: named.push_back(LayerExists(conn, a->id)); break;
      case ArtifactKind::kMetadata:
      case ArtifactKind::kMetadataStem:
        if (!normalized) normalized = NormalizedReferences(conn);
        if (a->kind == ArtifactKind::kMetadata) {
          named.push_back(normalized->count(a->id) != 0);
          break;
        }
        if (!stems) {
          stems.emplace();
          for (const std::string& n : *normalized) stems->insert(MetadataFileStem(n));
        }
        named.push_back(stems->count(a->id) != 0);
        break;
      case ArtifactKind::kLayerBlob: named.push_back(false); break;  // no row ever names a download
    }
  }
  return named;
}

namespace {

// {reference, manifestDigest, policy} of each removed reference.
void ReferenceColumns(const RowRemoval& rows, RecordColumns* to) {
  for (size_t i = 0; i < rows.references.size(); i++) {
    to->Text(rows.references[i].first);
    to->Text(rows.references[i].second);
    to->Number(i < rows.referencePolicies.size() ? double(rows.referencePolicies[i]) : 0.0);
    to->EndRecord();
  }
}

// {digest} or {diffId}: the names without their bytes (RemovedListsChannel).
void NameColumns(const std::vector<std::string>& ids, RecordColumns* to) {
  for (const std::string& id : ids) {
    to->Text(id);
    to->EndRecord();
  }
}

void RemovedColumns(RemovalOutcome* out) {
  if (!out->listsSent) ReferenceColumns(out->rows, &out->removedReferences);
  // Each artifact's tag is its index in the row list it came from (RunRemoval).
  std::vector<uint64_t> manifestBytes(out->rows.manifestDigests.size()), layerBytes(out->rows.layerDiffIds.size());
  for (const DeletionReport::Removed& x : out->files.removed) {
    std::vector<uint64_t>* bytes = x.kind == ArtifactKind::kManifest ? &manifestBytes
                                   : x.kind == ArtifactKind::kLayer  ? &layerBytes
                                                                     : nullptr;
    if (bytes && x.tag < bytes->size()) (*bytes)[x.tag] = x.bytes;
  }
  auto add = [&](const std::vector<std::string>& ids, const std::vector<uint64_t>& bytes, RecordColumns* to) {
    for (size_t i = 0; i < ids.size(); i++) {
      if (!out->listsSent) to->Text(ids[i]);
      to->Number(double(bytes[i]));
      to->EndRecord();
    }
  };
  add(out->rows.manifestDigests, manifestBytes, &out->removedManifests);
  add(out->rows.layerDiffIds, layerBytes, &out->removedLayers);
}

}  // namespace

void RemovedListsChannel::Init(Napi::Env env, Napi::Value fn) {
  if (!fn.IsFunction()) return;
  tsfn_ = Napi::ThreadSafeFunction::New(env, fn.As<Napi::Function>(), "msb-image-cache.removed-lists", 0, 1);
  enabled_ = true;
}

bool RemovedListsChannel::Send(const RowRemoval& rows) {
  if (!enabled_) return false;
  struct Lists {
    RecordColumns references, manifests, layers;
  };
  auto* lists = new Lists;
  ReferenceColumns(rows, &lists->references);
  NameColumns(rows.manifestDigests, &lists->manifests);
  NameColumns(rows.layerDiffIds, &lists->layers);
  napi_status status = tsfn_.NonBlockingCall(lists, [](Napi::Env env, Napi::Function fn, Lists* l) {
    Napi::Object o = Napi::Object::New(env);
    o.Set("references", RecordColumnsToJs(env, std::move(l->references)));
    o.Set("manifests", RecordColumnsToJs(env, std::move(l->manifests)));
    o.Set("layers", RecordColumnsToJs(env, std::move(l->layers)));
    delete l;
    fn.Call({o});
  });
  if (status == napi_ok) return true;
  delete lists;
  return false;
}

void RemovedListsChannel::Release() {
  if (enabled_) tsfn_.Release();
  enabled_ = false;
}

void RequireCacheDirForWrite(CacheState& state, CancelFlag cancel) {
  std::optional<CacheState::Lease> lease = state.Acquire(Connection::Mode::kRead, cancel);
  if (lease) state.RequireCacheDir(**lease, kRefuseWrite);
}

RemovalOutcome RunRemoval(CacheState& state, CancelFlag cancel, const RemovalOptions& options,
                          const std::function<RowRemoval(Connection&)>& deleteRows) {
  RemovalOutcome out;
  out.dryRun = options.dryRun;
  auto report = [&](const char* phase, size_t done, size_t total, uint64_t bytes) {
    if (options.progress) options.progress({phase, done, total, bytes});
  };
  std::optional<CacheState::Lease> lease = state.Acquire(Connection::Mode::kWrite, cancel);
  if (!lease) return out;
  out.haveDatabase = true;
  Connection& conn = **lease;
  // What the in-flight guard can do before the rows are known (in_flight.h), on its own thread meanwhile.
  std::optional<InFlightGuard> guard;
  guard.emplace(state.Paths().cacheDir, state.InFlight(), NowSeconds() - kInFlightRecentSec);
  report("rows", 0, 1, 0);
  double notBefore = 0;
  // Each key SQLite checks on a delete is a full scan of a table msb does not index by it.
  std::optional<ForeignKeysOff> keysOff;
  if (options.cascadesByHand && conn.schema.imageKeysKnown) keysOff.emplace(conn);
  std::optional<Transaction> tx;
  WaitOutMaintenance(cancel, [&] {
    // Taken before the rows go: a file changed after this was rewritten by someone else.
    notBefore = NowSeconds();
    tx.emplace(conn, Connection::Mode::kWrite);
    try {
      CheckNoMaintenance(conn);
    } catch (...) {
      tx.reset();  // rolled back: msb needs the write lock to release its lease
      throw;
    }
  });
  // Under the write lock: the rows about to go have their files in this cache directory.
  state.RequireCacheDir(conn, kRefuseWrite);
  // The row names the last removal kept, if nothing has committed since (a dry run leaves them be).
  std::shared_ptr<RowNames> rowNames;
  RowStamp atStart;
  if (!options.dryRun) {
    atStart = {conn.Serial(), DataVersion(conn), conn.OwnCommits()};
    rowNames = TakeRowNames(*state.InFlight(), atStart);
  }
  // Taken once the write lock is held and msb is not installing: a refused or read-only run
  // leaves no lock file behind.
  std::shared_ptr<void> exclusive = options.exclusive ? options.exclusive(state.Paths().cacheDir) : nullptr;
  out.rows = deleteRows(conn);
  if (cancel.IsSet()) throw CacheError(code::kAborted, "the operation was aborted; nothing was changed");
  if (!options.dryRun) tx->Commit();
  report("rows", 1, 1, 0);
  // The names go to the caller on a thread of their own: copying 100,000 references into columns
  // (~130 ms) overlaps the work below. Nothing changes out.rows until it is joined.
  std::optional<Background> sendingLists;
  if (options.rowsRemoved) sendingLists.emplace([&out, &options] { out.listsSent = options.rowsRemoved(out.rows); });

  // The manifest digests each removed reference's metadata file should still name: {key, digest},
  // sorted by key (a sort, not a map of vectors: three allocations fewer per reference).
  std::vector<std::pair<std::string, std::string>> digestsOfKey;
  digestsOfKey.reserve(out.rows.references.size() + 1);
  auto removedRef = [&](const std::string& reference, const std::string& digest) {
    if (std::optional<std::string> n = NormalizeReference(reference)) digestsOfKey.emplace_back(std::move(*n), digest);
  };
  for (const auto& [reference, digest] : out.rows.references) removedRef(reference, digest);
  if (!out.rows.reference.empty()) removedRef(out.rows.reference, out.rows.manifestDigest);
  std::sort(digestsOfKey.begin(), digestsOfKey.end());

  // In the order the deleter takes them (metadata, manifests, layers), each tagged with its index in its row list.
  std::vector<Artifact> artifacts;
  artifacts.reserve(out.rows.metadataKeys.size() + out.rows.manifestDigests.size() + out.rows.layerDiffIds.size());
  InFlightInputs inFlight;
  std::vector<std::string> ownStems;
  for (uint32_t i = 0; i < out.rows.metadataKeys.size(); i++) {
    const std::string& k = out.rows.metadataKeys[i];
    std::vector<std::string> expect;
    auto it = std::lower_bound(digestsOfKey.begin(), digestsOfKey.end(), k,
                               [](const std::pair<std::string, std::string>& e, const std::string& key) { return e.first < key; });
    for (; it != digestsOfKey.end() && it->first == k; ++it) expect.push_back(it->second);
    artifacts.push_back({ArtifactKind::kMetadata, k, std::move(expect), i});
    ownStems.push_back(MetadataFileStem(k));
    inFlight.ownMetadataStems.Add(ownStems.back());
  }
  for (uint32_t i = 0; i < out.rows.manifestDigests.size(); i++) {
    artifacts.push_back({ArtifactKind::kManifest, out.rows.manifestDigests[i], {}, i});
    inFlight.ownManifests.Add(out.rows.manifestDigests[i]);
  }
  for (uint32_t i = 0; i < out.rows.layerDiffIds.size(); i++) {
    artifacts.push_back({ArtifactKind::kLayer, out.rows.layerDiffIds[i], {}, i});
    inFlight.ownLayers.Add(out.rows.layerDiffIds[i]);
  }

  // Under the artifacts' locks: does a row name them again? A dry run asks inside its own
  // (uncommitted) transaction, which sees the cache as the real run would leave it.
  RecheckFn recheck = [&conn, dryRun = options.dryRun](const std::vector<const Artifact*>& batch) {
    std::optional<Transaction> read;
    if (!dryRun) read.emplace(conn, Connection::Mode::kRead);
    return ArtifactsNamedByRows(conn, batch);
  };
  // And do files msb is still writing (rows not there yet) need them? (in_flight.h)
  bool rowNamesRead = false;  // every row read (and maybe hashed): many short-lived allocations
  if (rowNames) {
    // The kept names were the database's at this removal's start: what it committed is all that changed.
    for (const std::string& d : out.rows.manifestDigests) rowNames->manifests.Remove(d);
    for (const std::string& stem : ownStems) rowNames->RemoveMetadataStem(stem);
    // No other connection could commit while this one held the write lock: its data_version stands.
    KeepRowNames(*state.InFlight(), {atStart.connection, atStart.dataVersion, conn.OwnCommits()}, rowNames);
  } else if (!artifacts.empty()) {
    rowNamesRead = true;
    std::optional<Transaction> read;
    if (!options.dryRun) read.emplace(conn, Connection::Mode::kRead);
    rowNames = std::make_shared<RowNames>();
    RowStamp at{conn.Serial(), DataVersion(conn), conn.OwnCommits()};
    rowNames->manifests = ManifestDigestSet(conn);
    ForEachReference(conn, [&](std::string_view r) { rowNames->AddReference(r); });
    if (!options.dryRun) KeepRowNames(*state.InFlight(), at, rowNames);
  }
  DeletionGuard* guardOfFiles = nullptr;  // begun only when there are files to delete
  if (!artifacts.empty()) {
    guardOfFiles = &*guard;
    inFlight.rows = rowNames;
    inFlight.recentSince = notBefore - kInFlightRecentSec;
    guard->Begin(std::move(inFlight));
  }
  // Work committed above is reported even when the caller aborts from here on.
  conn.SetCancel(CancelFlag());
  out.files = DeleteArtifacts(state.Paths().cacheDir, std::move(artifacts), recheck, cancel, notBefore,
                              options.dryRun, [&](size_t done, size_t total, uint64_t bytes) {
                                report("files", done, total, bytes);
                              }, guardOfFiles);
  out.aborted = out.files.aborted;
  if (options.sweep && !out.aborted) {
    SweepOptions sweep{options.sweepChangedBeforeSec, notBefore, options.dryRun, cancel};
    auto manifestExists = [&conn, dryRun = options.dryRun](const std::string& digest) {
      std::optional<Transaction> read;
      if (!dryRun) read.emplace(conn, Connection::Mode::kRead);
      return ManifestExists(conn, digest);
    };
    report("sweep", 0, 1, out.files.bytesReclaimed);
    SweepFlat(state.Paths().cacheDir, out.rows.manifestDigests, manifestExists, sweep, &out.sweep);
    SweepTmp(state.Paths().cacheDir, sweep, &out.sweep);
    out.aborted = cancel.IsSet();
    report("sweep", 1, 1, out.files.bytesReclaimed + out.sweep.bytes);
  }
  if (sendingLists) sendingLists->Wait();
  RemovedColumns(&out);
  guard.reset();
  // What a first removal on a big cache allocated for a moment (the references, file names, reads) is
  // not kept by a long-lived service.
  if (rowNamesRead) ReleaseFreeMemory();
  return out;  // a dry run's transaction rolls back here
}

Napi::Object RemovalToJs(Napi::Env env, RemovalOutcome& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("imageRefsRemoved", r.rows.imageRefsRemoved);
  o.Set("manifestsRemoved", uint32_t(r.rows.manifestDigests.size()));
  o.Set("layersRemoved", uint32_t(r.rows.layerDiffIds.size()));
  o.Set("fsmetaRemoved", r.files.fsmetaRemoved);
  o.Set("vmdkRemoved", r.files.vmdkRemoved);
  bool anyFile = r.files.filesRemoved + r.sweep.removed.size() > 0;
  o.Set("bytesReclaimed", anyFile ? Napi::Number::New(env, double(r.files.bytesReclaimed + r.sweep.bytes)) : env.Null());
  o.Set("flatRemoved", r.sweep.flatRemoved);
  o.Set("tmpRemoved", r.sweep.tmpRemoved);
  o.Set("layerFilesRemoved", r.files.layerFilesRemoved);
  o.Set("metadataRemoved", r.files.metadataRemoved);
  o.Set("aborted", r.aborted);
  o.Set("dryRun", r.dryRun);
  Napi::Object removed = Napi::Object::New(env);
  removed.Set("references", RecordColumnsToJs(env, std::move(r.removedReferences)));
  removed.Set("manifests", RecordColumnsToJs(env, std::move(r.removedManifests)));
  removed.Set("layers", RecordColumnsToJs(env, std::move(r.removedLayers)));
  removed.Set("files", SweepItemsToJs(env, r.sweep.removed));
  removed.Set("listsSent", r.listsSent);
  o.Set("removed", removed);
  o.Set("reference", r.rows.reference.empty() ? env.Null() : Napi::String::New(env, r.rows.reference));
  o.Set("manifestDigest", r.rows.manifestDigest.empty() ? env.Null() : Napi::String::New(env, r.rows.manifestDigest));
  Napi::Array kept = Napi::Array::New(env, r.rows.kept.size());
  for (uint32_t i = 0; i < r.rows.kept.size(); i++) {
    Napi::Object k = Napi::Object::New(env);
    k.Set("kind", r.rows.kept[i].kind);
    k.Set("id", r.rows.kept[i].id);
    k.Set("reason", r.rows.kept[i].reason);
    kept.Set(i, k);
  }
  o.Set("kept", kept);
  std::vector<DeletionReport::Item> skipped;
  for (const RowRemoval::Kept& k : r.rows.skipped) skipped.push_back({k.kind, k.id, k.reason});
  skipped.insert(skipped.end(), r.files.skipped.begin(), r.files.skipped.end());
  skipped.insert(skipped.end(), r.sweep.skipped.begin(), r.sweep.skipped.end());
  std::vector<DeletionReport::Item> errors = r.files.errors;
  errors.insert(errors.end(), r.sweep.errors.begin(), r.sweep.errors.end());
  o.Set("skipped", ItemsToJs(env, skipped, "reason"));
  o.Set("errors", ItemsToJs(env, errors, "message"));
  return o;
}

}  // namespace msb

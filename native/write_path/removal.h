// The write path shared by remove() and prune(): delete rows in one BEGIN IMMEDIATE
// transaction, commit, then delete the files those rows owned (artifact_deleter.h). A dry run
// does all of it but the unlinks and rolls the rows back, so it reports what a real run would.
#pragma once
#include <napi.h>

#include <chrono>
#include <functional>

#include "storage/artifact_deleter.h"
#include "write_path/cache_sweep.h"
#include "runtime/cache_state.h"
#include "storage/catalog.h"
#include "runtime/js_values.h"

namespace msb {

struct RemovalProgress {
  const char* phase;  // "rows", "files"
  size_t done = 0;
  size_t total = 0;
  uint64_t bytes = 0;
};

struct RemovalOptions {
  bool dryRun = false;
  // Called from the worker thread.
  std::function<void(const RemovalProgress&)> progress;
  // Taken inside the write transaction, after the maintenance check; held to the end (prune: one
  // per cache at a time).
  std::function<std::shared_ptr<void>(const std::string& cacheDir)> exclusive;
  // prune: after the artifacts, flat/ files of removed manifests and unnamed flat blobs, and stale
  // tmp/ entries (cache_sweep.h), of entries changed before this time.
  bool sweep = false;
  double sweepChangedBeforeSec = 0;
  // deleteRows does the cascades of msb's foreign keys itself (RemoveImageRows): the keys are off
  // for the transaction when the database has exactly msb's (Connection::Schema::imageKeysKnown).
  bool cascadesByHand = false;
  // Called from the worker thread once the rows are gone (committed; a dry run's, deleted in its
  // transaction), before any file is: returns whether the caller took report.removed's lists of
  // names (RemovedListsChannel), which the report then sends as bytes only.
  std::function<bool(const RowRemoval&)> rowsRemoved;
};

struct RemovalOutcome {
  bool haveDatabase = false;
  bool dryRun = false;
  bool aborted = false;  // the caller's signal fired after work began
  RowRemoval rows;
  DeletionReport files;
  SweepReport sweep;
  // report.removed's big lists, made on the worker thread (js_values.h RecordColumns):
  // references {reference, manifestDigest, policy}; manifests {digest, bytes}; layers {diffId, bytes}.
  RecordColumns removedReferences, removedManifests, removedLayers;
  bool listsSent = false;  // RemovalOptions::rowsRemoved took the names: the columns hold only bytes
};

// prune's report.removed lists, sent to JS as soon as the rows are gone, so the facade makes their
// objects while the files are deleted (40,000 objects for 10,000 images: as long as the rows' commit)
// instead of after. Their bytes follow in the result: {manifests, layers} hold one number each.
class RemovedListsChannel {
 public:
  // On the JS thread; `fn`: (lists: {references, manifests, layers}) => void, or not a function.
  void Init(Napi::Env env, Napi::Value fn);
  // Worker thread: whether the lists were queued for `fn` (never blocks).
  bool Send(const RowRemoval& rows);
  // Worker thread, once, at the end of its Run (however it ends).
  void Release();
  struct ReleaseAtExit {
    RemovedListsChannel& channel;
    ~ReleaseAtExit() { channel.Release(); }
  };

 private:
  Napi::ThreadSafeFunction tsfn_;
  bool enabled_ = false;
};

// Every msb command holds the install_exclusive lease for a moment at its start (seen with msb
// 0.6.18: holder = its pid, expiry 30 min ahead, released within milliseconds). A write that meets
// the lease waits that long for it to go before refusing with MaintenanceError: `check` (which
// throws it) is retried with a short backoff; it must not hold the write lock between tries.
inline constexpr std::chrono::milliseconds kMaintenanceWait{2000};
void WaitOutMaintenance(CancelFlag cancel, const std::function<void()>& check);

// Under the artifacts' locks: for each, whether a row names it now (the caller chooses the
// transaction it is asked in).
std::vector<bool> ArtifactsNamedByRows(Connection& conn, const std::vector<const Artifact*>& batch);

// A missing, non-directory or non-msb cache directory while the database has image rows: every
// write (remove, prune, a prune's dry run, verify's repair) refuses with cacheDirInvalid and changes
// nothing — its rows' files may live elsewhere. Checked on a read connection (none: no database).
inline constexpr const char* kRefuseWrite =
    "refusing to change anything (a remove or prune would drop rows whose files may live elsewhere; a dry run "
    "refuses too, since its plan would say the same)";
void RequireCacheDirForWrite(CacheState& state, CancelFlag cancel);

RemovalOutcome RunRemoval(CacheState& state, CancelFlag cancel, const RemovalOptions& options,
                          const std::function<RowRemoval(Connection&)>& deleteRows);

// Report pieces shared with verify(): {kind, path, bytes} and {kind, id, <detailKey>}.
Napi::Array SweepItemsToJs(Napi::Env env, const std::vector<SweepItem>& items);
Napi::Array ReportItemsToJs(Napi::Env env, const std::vector<DeletionReport::Item>& items, const char* detailKey);

// The report object both operations resolve with.
// Moves the outcome's columns into the result.
Napi::Object RemovalToJs(Napi::Env env, RemovalOutcome& outcome);

}  // namespace msb

#include "removal.h"

#include <chrono>

#include "errors.h"

namespace msb {
namespace {

double NowSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

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

RemovalOutcome RunRemoval(CacheState& state, CancelFlag cancel,
                          const std::function<RowRemoval(Connection&)>& deleteRows) {
  RemovalOutcome out;
  std::optional<CacheState::Lease> lease = state.Acquire(Connection::Mode::kWrite, cancel);
  if (!lease) return out;
  out.haveDatabase = true;
  Connection& conn = **lease;
  // Taken before the rows go: a file changed after this was rewritten by someone else.
  double notBefore = NowSeconds();
  {
    Transaction tx(conn, Connection::Mode::kWrite);
    CheckNoMaintenance(conn);
    out.rows = deleteRows(conn);
    if (cancel.IsSet()) throw CacheError(code::kAborted, "the operation was aborted; nothing was changed");
    tx.Commit();
  }
  std::vector<Artifact> artifacts;
  for (const std::string& d : out.rows.manifestDigests) artifacts.push_back({ArtifactKind::kManifest, d});
  for (const std::string& k : out.rows.metadataKeys) artifacts.push_back({ArtifactKind::kMetadata, k});
  for (const std::string& d : out.rows.layerDiffIds) artifacts.push_back({ArtifactKind::kLayer, d});

  RecheckFn recheck = [&conn](const std::vector<const Artifact*>& batch) {
    Transaction read(conn, Connection::Mode::kRead);
    std::optional<std::unordered_set<std::string>> held;
    std::vector<bool> named;
    for (const Artifact* a : batch) {
      switch (a->kind) {
        case ArtifactKind::kManifest: named.push_back(ManifestExists(conn, a->id)); break;
        case ArtifactKind::kLayer: named.push_back(LayerExists(conn, a->id)); break;
        case ArtifactKind::kMetadata:
          if (!held) held = NormalizedReferences(conn);
          named.push_back(held->count(a->id) != 0);
          break;
      }
    }
    return named;
  };
  // Work committed above is reported even when the caller aborts from here on.
  conn.SetCancel(CancelFlag());
  out.files = DeleteArtifacts(state.Paths().cacheDir, std::move(artifacts), recheck, cancel, notBefore);
  return out;
}

Napi::Object RemovalToJs(Napi::Env env, const RemovalOutcome& r) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("imageRefsRemoved", r.rows.imageRefsRemoved);
  o.Set("manifestsRemoved", uint32_t(r.rows.manifestDigests.size()));
  o.Set("layersRemoved", uint32_t(r.rows.layerDiffIds.size()));
  o.Set("fsmetaRemoved", r.files.fsmetaRemoved);
  o.Set("vmdkRemoved", r.files.vmdkRemoved);
  o.Set("bytesReclaimed", r.files.filesRemoved > 0 ? Napi::Number::New(env, double(r.files.bytesReclaimed)) : env.Null());
  o.Set("layerFilesRemoved", r.files.layerFilesRemoved);
  o.Set("metadataRemoved", r.files.metadataRemoved);
  o.Set("aborted", r.files.aborted);
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
  o.Set("skipped", ItemsToJs(env, r.files.skipped, "reason"));
  o.Set("errors", ItemsToJs(env, r.files.errors, "message"));
  return o;
}

}  // namespace msb

// Reclaiming what no row owns: stale tmp/ entries, flat/ artifacts of removed manifests and
// flat blobs no ref names. Used by prune (tmp, flat) and verify (tmp, as findings; removed with
// repair). msb's lock files are never removed, not even those of artifacts that are gone: a 0-byte
// flock file costs no space, and unlinking one another process holds or is about to open would
// give two holders two different inodes (no mutual exclusion). Same rules as artifact_deleter.h: only
// names this library understands, every unlink relative to a directory opened without
// following symlinks, each entry under the msb lock that guards it (taken LOCK_NB: busy means
// someone is working on it, so it stays), and nothing changed within the grace period.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "storage/artifact_deleter.h"
#include "base/cancel.h"

namespace msb {

// Files and tmp/ entries changed more recently than this are left alone by default: someone may
// still be writing them (a pull or load writes files before rows).
inline constexpr double kDefaultGraceMs = 60 * 60 * 1000;

// Seconds since the epoch (the clock ctimes are compared with).
double NowSeconds();

struct SweepItem {
  std::string kind;  // tmp, flat-ref, flat-blob, lock
  std::string path;  // relative to the cache root
  uint64_t bytes = 0;
};

struct SweepReport {
  uint32_t tmpRemoved = 0;
  uint32_t flatRemoved = 0;
  uint64_t bytes = 0;
  uint64_t allocated = 0;  // the same entries' allocated bytes (st_blocks × 512)
  std::vector<SweepItem> removed;  // in a dry run: what would go
  std::vector<DeletionReport::Item> skipped, errors;
};

struct SweepOptions {
  double changedBeforeSec = 0;  // entries whose newest ctime is at or after this stay (the grace)
  double startedSec = 0;        // flat refs of removed manifests changed since then were rewritten: they stay
  bool dryRun = false;
  CancelFlag cancel;
};

// tmp/ entries (files and staging directories) older than the grace period, each under the
// lock msb holds while it writes one (download, layer, fsmeta, flat locks; a live pid for
// load-/save- staging files). Lock files stay (tmp/<blob>.download.lock too, after its part goes).
void SweepTmp(const std::string& cacheDir, const SweepOptions& options, SweepReport* report);

// flat/refs/<manifest>.json of each removed manifest (unless `manifestExists` says a row names
// it again), then flat/blobs/*.raw that no remaining ref names — only while every flat lock is
// free, held for the sweep.
void SweepFlat(const std::string& cacheDir, const std::vector<std::string>& removedManifests,
               const std::function<bool(const std::string& digest)>& manifestExists, const SweepOptions& options,
               SweepReport* report);

// Deletes `name` under `dirFd`: a file, or a directory tree, never following a symlink.
// Adds the apparent bytes of the files removed to *bytes. False with *error set on failure.
// `allocated`, when given, gets their allocated bytes (st_blocks × 512).
bool RemoveEntry(int dirFd, const std::string& name, uint64_t* bytes, std::string* error, uint64_t* allocated = nullptr);

}  // namespace msb

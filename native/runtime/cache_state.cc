#include "runtime/cache_state.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "storage/catalog.h"
#include "base/errors.h"
#include "write_path/in_flight.h"

namespace msb {
namespace {
constexpr size_t kMaxIdleReaders = 4;
constexpr size_t kMaxIdleWriters = 1;

CacheError Closed() {
  return CacheError(code::kCacheClosed, "this ImageCache is closed; create a new one to keep using the cache");
}
}  // namespace

const HomePaths& CacheState::Paths() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!paths_) paths_ = ResolveHome(options_);
  return *paths_;
}

CacheState::Lease::~Lease() {
  if (conn_) owner_->Return(std::move(conn_));
}

std::optional<CacheState::Lease> CacheState::Acquire(Connection::Mode mode, CancelFlag cancel) {
  const HomePaths& paths = Paths();
  std::unique_ptr<Connection> conn;
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (closed_) throw Closed();
    auto& idle = mode == Connection::Mode::kRead ? idleReaders_ : idleWriters_;
    if (!idle.empty()) {
      conn = std::move(idle.back());
      idle.pop_back();
    }
  }
  if (!conn) {
    struct stat st;
    if (stat(paths.dbPath.c_str(), &st) != 0) {
      if (errno == ENOENT || errno == ENOTDIR) return std::nullopt;  // never create msb's database
      if (errno == EACCES) throw PermissionDenied("cannot reach the microsandbox database", paths.dbPath);
      throw CacheError(code::kDatabase,
                       "cannot reach the microsandbox database at " + paths.dbPath + ": " + std::strerror(errno));
    }
    if (!S_ISREG(st.st_mode)) {
      throw CacheError(code::kDatabaseCorrupt, "the microsandbox database at " + paths.dbPath +
                                                   " is not a regular file (a directory or a device); nothing was changed");
    }
    try {
      conn = Connection::Open(paths.dbPath, mode);
    } catch (const CacheError& e) {
      // SQLite says "unable to open database file"; say which permission it was.
      if ((e.sqliteCode & 0xff) == SQLITE_CANTOPEN && access(paths.dbPath.c_str(), R_OK) != 0 && errno == EACCES) {
        throw PermissionDenied("cannot open the microsandbox database", paths.dbPath);
      }
      throw;
    }
    conn->SetCancel(cancel);
    try {
      CheckSchema(*conn);
    } catch (const CacheError& e) {
      // A WAL database read by a process that may not write its directory: SQLite needs
      // <db>-shm, which msb deletes when its last connection closes, and cannot create it. With
      // no <db>-wal either, the database file holds everything: read it as immutable (no locks,
      // no WAL index). Such a connection is used for one operation only (never pooled): once
      // msb runs again, -shm exists and a normal read-only connection works.
      bool walIndexMissing = e.sqliteCode == SQLITE_READONLY_DIRECTORY || e.sqliteCode == SQLITE_READONLY_CANTINIT;
      if (mode != Connection::Mode::kRead || !walIndexMissing) throw;
      struct stat wal;
      if (stat((paths.dbPath + "-wal").c_str(), &wal) == 0 && wal.st_size > 0) {
        CacheError why(code::kDatabaseReadOnly,
                       "cannot read the microsandbox database at " + paths.dbPath + ": its write-ahead log " +
                           paths.dbPath + "-wal needs " + paths.dbPath +
                           "-shm, which this process may not create (the directory is read-only for it); run "
                           "with write access to that directory, or read while msb is running");
        why.sqliteCode = e.sqliteCode;
        throw why;
      }
      conn = Connection::Open(paths.dbPath, mode, /*immutable=*/true);
      conn->SetCancel(cancel);
      CheckSchema(*conn);
    }
  }
  conn->SetCancel(cancel);
  return Lease(this, std::move(conn));
}

std::string CacheState::CacheDirFault(Connection& conn) {
  std::string problem = CacheDirProblem(Paths().cacheDir);
  if (problem.empty() || !CatalogHasImageRows(conn)) return "";
  return problem;
}

void CacheState::RequireCacheDir(Connection& conn, const std::string& refusing) {
  std::string problem = CacheDirFault(conn);
  if (!problem.empty()) throw CacheDirInvalid(Paths().cacheDir, problem, Paths().dbPath, refusing);
}

void CacheState::Return(std::unique_ptr<Connection> conn) {
  conn->SetCancel(CancelFlag());
  std::lock_guard<std::mutex> lock(mu_);
  auto& idle = conn->mode() == Connection::Mode::kRead ? idleReaders_ : idleWriters_;
  size_t cap = conn->mode() == Connection::Mode::kRead ? kMaxIdleReaders : kMaxIdleWriters;
  if (!closed_ && idle.size() < cap && !conn->immutable() && conn->ForeignKeysOn()) idle.push_back(std::move(conn));
  // otherwise the connection closes here
}

void CacheState::Close() {
  std::vector<std::unique_ptr<Connection>> closing;
  {
    std::lock_guard<std::mutex> lock(mu_);
    closed_ = true;
    for (auto& c : idleReaders_) closing.push_back(std::move(c));
    for (auto& c : idleWriters_) closing.push_back(std::move(c));
    idleReaders_.clear();
    idleWriters_.clear();
    inFlight_.reset();  // its inotify descriptor closes with the last guard holding it
  }
}

std::shared_ptr<InFlightIndex> CacheState::InFlight() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!inFlight_) inFlight_ = NewInFlightIndex();
  return inFlight_;
}

bool CacheState::IsClosed() {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

}  // namespace msb

// What one ImageCache holds between calls: its resolved paths and its open connections.
// Shared (shared_ptr) by the JS object and every worker in flight, so close() and GC never
// pull a connection from under a running query.
#pragma once
#include <memory>
#include <mutex>
#include <optional>
#include <vector>

#include "base/cancel.h"
#include "storage/home.h"
#include "storage/sqlite_db.h"

namespace msb {

class InFlightIndex;

class CacheState {
 public:
  explicit CacheState(HomeOptions options) : options_(std::move(options)) {}

  // Resolved at the first call, on a worker thread (reads config.json). Throws CacheError.
  const HomePaths& Paths();

  // A connection on loan for one operation; it goes back to the pool when the lease ends.
  class Lease {
   public:
    Lease(CacheState* owner, std::unique_ptr<Connection> conn) : owner_(owner), conn_(std::move(conn)) {}
    Lease(Lease&&) = default;
    ~Lease();
    Connection& operator*() { return *conn_; }
    Connection* operator->() { return conn_.get(); }

   private:
    CacheState* owner_;
    std::unique_ptr<Connection> conn_;
  };

  // nullopt when the home has no database (then it has no images). Throws CacheError.
  std::optional<Lease> Acquire(Connection::Mode mode, CancelFlag cancel);

  // The cache directory's problem (home.h CacheDirProblem: "missing", "not-a-directory",
  // "not-msb-layout") while the database has image rows; "" when it is usable or there are no rows
  // (a fresh home). Throws permissionDenied.
  std::string CacheDirFault(Connection& conn);
  // Throws cacheDirInvalid when CacheDirFault is not empty; `refusing`: what is refused, and why.
  void RequireCacheDir(Connection& conn, const std::string& refusing);

  // Closes idle connections now and loaned ones when they come back; later calls fail.
  void Close();
  bool IsClosed();

  // What the cache's metadata and VMDK files name, kept between removals (in_flight.h).
  std::shared_ptr<InFlightIndex> InFlight();

 private:
  void Return(std::unique_ptr<Connection> conn);

  HomeOptions options_;
  std::mutex mu_;
  std::optional<HomePaths> paths_;
  bool closed_ = false;
  std::vector<std::unique_ptr<Connection>> idleReaders_;
  std::vector<std::unique_ptr<Connection>> idleWriters_;
  std::shared_ptr<InFlightIndex> inFlight_;
};

}  // namespace msb

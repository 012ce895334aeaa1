#include "cache_state.h"

#include <sys/stat.h>

#include <cerrno>
#include <cstring>

#include "catalog.h"
#include "errors.h"

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
      throw CacheError(code::kDatabase,
                       "cannot reach the microsandbox database at " + paths.dbPath + ": " + std::strerror(errno));
    }
    conn = Connection::Open(paths.dbPath, mode);
    conn->SetCancel(cancel);
    CheckSchema(*conn);
  }
  conn->SetCancel(cancel);
  return Lease(this, std::move(conn));
}

void CacheState::Return(std::unique_ptr<Connection> conn) {
  conn->SetCancel(CancelFlag());
  std::lock_guard<std::mutex> lock(mu_);
  auto& idle = conn->mode() == Connection::Mode::kRead ? idleReaders_ : idleWriters_;
  size_t cap = conn->mode() == Connection::Mode::kRead ? kMaxIdleReaders : kMaxIdleWriters;
  if (!closed_ && idle.size() < cap) idle.push_back(std::move(conn));
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
  }
}

bool CacheState::IsClosed() {
  std::lock_guard<std::mutex> lock(mu_);
  return closed_;
}

}  // namespace msb

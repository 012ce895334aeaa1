#include "storage/sqlite_db.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <thread>

#include "base/errors.h"
#include "formats/reference.h"

namespace msb {

Statement& Statement::Bind(int index, std::string_view text) {
  int rc = sqlite3_bind_text(stmt_, index, text.data(), int(text.size()), SQLITE_TRANSIENT);
  if (rc != SQLITE_OK) conn_->Fail(rc, "bind");
  return *this;
}

Statement& Statement::Bind(int index, int64_t value) {
  int rc = sqlite3_bind_int64(stmt_, index, value);
  if (rc != SQLITE_OK) conn_->Fail(rc, "bind");
  return *this;
}

Statement& Statement::BindNull(int index) {
  int rc = sqlite3_bind_null(stmt_, index);
  if (rc != SQLITE_OK) conn_->Fail(rc, "bind");
  return *this;
}

bool Statement::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  sqlite3_reset(stmt_);
  conn_->Fail(rc, sqlite3_sql(stmt_));
}

void Statement::Reset() {
  sqlite3_reset(stmt_);
  sqlite3_clear_bindings(stmt_);
}

std::string Statement::Text(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return std::string();
  return std::string(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(stmt_, col)));
}

std::string_view Statement::TextView(int col) const {
  const unsigned char* p = sqlite3_column_text(stmt_, col);
  if (p == nullptr) return std::string_view();
  return std::string_view(reinterpret_cast<const char*>(p), size_t(sqlite3_column_bytes(stmt_, col)));
}

std::optional<std::string> Statement::OptText(int col) const {
  if (IsNull(col)) return std::nullopt;
  return Text(col);
}

std::optional<std::string_view> Statement::OptTextView(int col) const {
  if (IsNull(col)) return std::nullopt;
  return TextView(col);
}

std::optional<std::string_view> Statement::StrictTextView(int col) const {
  if (sqlite3_column_type(stmt_, col) != SQLITE_TEXT) return std::nullopt;
  return TextView(col);
}

std::optional<std::string> Statement::StrictText(int col) const {
  if (sqlite3_column_type(stmt_, col) != SQLITE_TEXT) return std::nullopt;
  return Text(col);
}

std::optional<int64_t> Statement::OptInt(int col) const {
  int type = sqlite3_column_type(stmt_, col);
  if (type == SQLITE_INTEGER) return sqlite3_column_int64(stmt_, col);
  if (type == SQLITE_FLOAT) {
    double v = sqlite3_column_double(stmt_, col);
    if (v >= -9.2e18 && v <= 9.2e18 && v == double(int64_t(v))) return int64_t(v);
  }
  return std::nullopt;
}

namespace {
// msb_normalize(ref): the Docker-normalized form of a reference, or NULL when it is not one.
void NormalizeFunction(sqlite3_context* ctx, int, sqlite3_value** argv) {
  if (sqlite3_value_type(argv[0]) != SQLITE_TEXT) return sqlite3_result_null(ctx);
  const char* text = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
  std::optional<std::string> n = NormalizeReference(std::string_view(text, size_t(sqlite3_value_bytes(argv[0]))));
  if (!n) return sqlite3_result_null(ctx);
  sqlite3_result_text(ctx, n->data(), int(n->size()), SQLITE_TRANSIENT);
}
}  // namespace

std::unique_ptr<Connection> Connection::Open(const std::string& path, Mode mode, bool immutable) {
  int flags = SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_EXRESCODE |
              (mode == Mode::kRead ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE);
  std::string name = path;
  if (immutable) {
    // file: URI, the path percent-encoded where URI syntax would read it otherwise.
    name = "file:";
    for (unsigned char c : path) {
      if (c == '%' || c == '?' || c == '#' || c < 0x20 || c >= 0x7f) {
        static const char* hex = "0123456789ABCDEF";
        name += '%';
        name += hex[c >> 4];
        name += hex[c & 15];
      } else {
        name += char(c);
      }
    }
    name += "?immutable=1";
    flags |= SQLITE_OPEN_URI;
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(name.c_str(), &db, flags, nullptr);
  std::unique_ptr<Connection> conn(new Connection(db, path, mode));
  conn->immutable_ = immutable;
  static std::atomic<uint64_t> serials{0};
  conn->serial_ = ++serials;
  if (rc != SQLITE_OK) conn->Fail(rc, "open");
  // SQLite opens a file it may not write read-only instead of failing: a write connection that
  // cannot write is refused here, before any lock is taken or file touched.
  if (mode == Mode::kWrite && sqlite3_db_readonly(db, "main") == 1) conn->Fail(SQLITE_READONLY, "open");
  sqlite3_busy_handler(db, &Connection::BusyHandler, conn.get());
  sqlite3_progress_handler(db, 1000, &Connection::ProgressHandler, conn.get());
  if (mode == Mode::kWrite) {
    // Leave msb's -wal/-shm in place when this connection is the last to close.
    int persist = 1;
    sqlite3_file_control(db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
  }
  sqlite3_create_function_v2(db, "msb_normalize", 1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_DIRECTONLY, nullptr,
                             &NormalizeFunction, nullptr, nullptr, nullptr);
  conn->Exec("PRAGMA foreign_keys = ON");
  return conn;
}

Connection::~Connection() {
  statements_.clear();
  if (db_ != nullptr) sqlite3_close_v2(db_);
}

Statement& Connection::Prepare(const char* sql) {
  auto it = statements_.find(sql);
  if (it != statements_.end()) return *it->second;
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
  if (rc != SQLITE_OK) Fail(rc, sql);
  auto inserted = statements_.emplace(sql, std::make_unique<Statement>(this, stmt));
  return *inserted.first->second;
}

void Connection::Exec(const char* sql) {
  char* message = nullptr;
  int rc = sqlite3_exec(db_, sql, nullptr, nullptr, &message);
  sqlite3_free(message);
  if (rc != SQLITE_OK) Fail(rc, sql);
}

void Connection::Fail(int rc, std::string_view context) {
  int primary = rc & 0xff;
  std::string detail = db_ != nullptr && sqlite3_extended_errcode(db_) == rc ? sqlite3_errmsg(db_) : sqlite3_errstr(rc);
  const char* c = code::kDatabase;
  std::string message;
  switch (primary) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
      c = code::kDatabaseBusy;
      message = "the microsandbox database at " + path_ + " stayed locked by another process for longer than " +
                std::to_string(kBusyTimeout.count() / 1000) + " s; retry later (" + detail + ")";
      break;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
      c = code::kDatabaseCorrupt;
      message = "the file at " + path_ + " is not a readable SQLite database (" + detail +
                "); nothing was changed. Check it with `sqlite3 " + path_ + " 'PRAGMA integrity_check'`";
      break;
    case SQLITE_READONLY: {
      c = code::kDatabaseReadOnly;
      // Name the path whose permission refused, when file modes are why.
      std::string dir = path_.find('/') == std::string::npos ? "." : path_.substr(0, path_.rfind('/'));
      if (dir.empty()) dir = "/";
      std::string denied;
      if (access(path_.c_str(), W_OK) != 0 && errno == EACCES) denied = "permission denied: this process may not write " + path_ + "; ";
      else if (access(dir.c_str(), W_OK) != 0 && errno == EACCES) denied = "permission denied: this process may not write " + dir + " (SQLite makes its journal files there); ";
      message = denied + "the microsandbox database at " + path_ + " is read-only for this process (" + detail +
                "); reads work, changes need write access to the file and its directory";
      break;
    }
    case SQLITE_INTERRUPT:
      c = code::kAborted;
      message = "the operation was aborted";
      break;
    case SQLITE_CANTOPEN:
      message = "cannot open the microsandbox database at " + path_ + " (" + detail + ")";
      break;
    default:
      message = "database error on " + path_ + ": " + detail + " (in: " + std::string(context.substr(0, 200)) + ")";
  }
  CacheError e(c, message);
  e.sqliteCode = rc;
  throw e;
}

int Connection::BusyHandler(void* self, int attempts) {
  auto* conn = static_cast<Connection*>(self);
  auto now = std::chrono::steady_clock::now();
  if (attempts == 0) conn->busySince_ = now;
  if (conn->Cancelled() || now - conn->busySince_ >= kBusyTimeout) return 0;
  // Short sleeps so an abort is noticed quickly; SQLite retries the lock after each.
  std::this_thread::sleep_for(std::chrono::milliseconds(attempts < 10 ? 1 : 10));
  return 1;
}

int Connection::ProgressHandler(void* self) { return static_cast<Connection*>(self)->Cancelled() ? 1 : 0; }

Transaction::Transaction(Connection& conn, Connection::Mode mode) : conn_(conn) {
  if (mode == Connection::Mode::kRead) {
    conn_.Exec("BEGIN");
    open_ = true;
    return;
  }
  // The busy handler already waits up to kBusyTimeout inside each attempt; the retries cover
  // SQLITE_BUSY returned without waiting (as msb retries), within the same overall budget.
  write_ = true;
  auto started = std::chrono::steady_clock::now();
  auto backoff = std::chrono::milliseconds(10);
  for (int attempt = 1;; attempt++) {
    int rc = sqlite3_exec(conn_.handle(), "BEGIN IMMEDIATE", nullptr, nullptr, nullptr);
    if (rc == SQLITE_OK) break;
    if (conn_.Cancelled()) throw CacheError(code::kAborted, "the operation was aborted; nothing was changed");
    bool outOfTime = std::chrono::steady_clock::now() - started >= kBusyTimeout;
    if ((rc & 0xff) != SQLITE_BUSY || attempt == 8 || outOfTime) conn_.Fail(rc, "BEGIN IMMEDIATE");
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::milliseconds(500));
  }
  open_ = true;
}

Transaction::~Transaction() {
  if (open_) sqlite3_exec(conn_.handle(), "ROLLBACK", nullptr, nullptr, nullptr);
}

ForeignKeysOff::ForeignKeysOff(Connection& conn) : conn_(conn) {
  conn_.Exec("PRAGMA foreign_keys = OFF");
  conn_.foreignKeysOn_ = false;
}

ForeignKeysOff::~ForeignKeysOff() {
  // Outside a transaction this cannot fail for want of a lock or I/O; if it ever did, the
  // connection stays marked off and its pool closes it (CacheState::Return) rather than reuse it.
  if (sqlite3_get_autocommit(conn_.handle()) != 0 &&
      sqlite3_exec(conn_.handle(), "PRAGMA foreign_keys = ON", nullptr, nullptr, nullptr) == SQLITE_OK) {
    conn_.foreignKeysOn_ = true;
  }
}

void Transaction::Commit() {
  conn_.Exec("COMMIT");
  open_ = false;
  if (write_) conn_.ownCommits_++;
}

}  // namespace msb

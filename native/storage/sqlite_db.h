// Thin RAII wrappers over the vendored SQLite: a connection that owns its prepared
// statements, and statement helpers that turn SQLite failures into CacheErrors.
#pragma once
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "base/cancel.h"

namespace msb {

class Connection;

class Statement {
 public:
  Statement(Connection* conn, sqlite3_stmt* stmt) : conn_(conn), stmt_(stmt) {}
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  Statement& Bind(int index, std::string_view text);
  Statement& Bind(int index, int64_t value);
  Statement& BindNull(int index);
  bool Step();  // true while a row is available
  void Reset();

  bool IsNull(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  std::string Text(int col) const;
  // The text without a copy: valid until the next Step or Reset.
  std::string_view TextView(int col) const;
  std::optional<std::string_view> OptTextView(int col) const;
  std::optional<std::string_view> StrictTextView(int col) const;  // only a TEXT value
  std::optional<std::string> OptText(int col) const;
  // Text only when the stored value is text (not an integer, real or blob).
  std::optional<std::string> StrictText(int col) const;
  int64_t Int(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::optional<int64_t> OptInt(int col) const;

 private:
  Connection* conn_;
  sqlite3_stmt* stmt_;
};

// Resets the statement (and clears its bindings) when it goes out of scope.
class StatementScope {
 public:
  explicit StatementScope(Statement& s) : s_(s) {}
  ~StatementScope() { s_.Reset(); }
  Statement& operator*() { return s_; }
  Statement* operator->() { return &s_; }

 private:
  Statement& s_;
};

class Connection {
 public:
  enum class Mode { kRead, kWrite };

  // Opens an existing database; never creates one. Throws CacheError. `immutable` (reads only):
  // SQLite's immutable=1 — no locks, no WAL index (see CacheState::Acquire for when).
  static std::unique_ptr<Connection> Open(const std::string& path, Mode mode, bool immutable = false);
  ~Connection();

  Mode mode() const { return mode_; }
  bool immutable() const { return immutable_; }
  sqlite3* handle() const { return db_; }
  const std::string& path() const { return path_; }

  // A cached prepared statement (prepared once per connection, keyed by its SQL text).
  Statement& Prepare(const char* sql);
  void Exec(const char* sql);

  // The caller's cancel flag for the duration of one operation: the busy handler and the
  // progress handler stop waiting / interrupt when it is set.
  void SetCancel(CancelFlag flag) { cancel_ = flag; }
  bool Cancelled() const { return cancel_.IsSet(); }

  // Optional tables found by CheckSchema (catalog.cc) when the connection was opened.
  struct Schema {
    bool snapshotIndex = false;
    bool maintenanceLease = false;
    // The foreign keys onto manifest and layer are exactly msb's (catalog.cc kImageKeys): a
    // removal may delete their child rows itself with the keys off (ForeignKeysOff).
    bool imageKeysKnown = false;
  } schema;

  // False while a ForeignKeysOff is in effect.
  bool ForeignKeysOn() const { return foreignKeysOn_; }

  // Unique to this connection in the process (addresses are reused, these are not).
  uint64_t Serial() const { return serial_; }
  // Write transactions this connection has committed: PRAGMA data_version counts only the others'.
  uint64_t OwnCommits() const { return ownCommits_; }

  // Throws the CacheError for a failed SQLite call.
  [[noreturn]] void Fail(int rc, std::string_view context);

 private:
  Connection(sqlite3* db, std::string path, Mode mode) : db_(db), path_(std::move(path)), mode_(mode) {}
  static int BusyHandler(void* self, int attempts);
  static int ProgressHandler(void* self);

  sqlite3* db_;
  std::string path_;
  Mode mode_;
  bool immutable_ = false;
  uint64_t serial_ = 0;
  uint64_t ownCommits_ = 0;
  bool foreignKeysOn_ = true;
  friend class Transaction;
  friend class ForeignKeysOff;
  CancelFlag cancel_;
  std::chrono::steady_clock::time_point busySince_;
  // Keyed by the address of the SQL text: every statement is a constant in catalog.cc.
  std::unordered_map<const char*, std::unique_ptr<Statement>> statements_;
};

// PRAGMA foreign_keys off for a scope that must begin and end outside any transaction (SQLite
// ignores the pragma inside one): declared before the Transaction it covers, so it ends after it.
class ForeignKeysOff {
 public:
  explicit ForeignKeysOff(Connection& conn);
  ~ForeignKeysOff();
  ForeignKeysOff(const ForeignKeysOff&) = delete;
  ForeignKeysOff& operator=(const ForeignKeysOff&) = delete;

 private:
  Connection& conn_;
};

// How long a statement waits for another process's lock, like msb's busy_timeout.
inline constexpr std::chrono::milliseconds kBusyTimeout{5000};

// A transaction that rolls back unless committed. Writes use BEGIN IMMEDIATE, retried on
// SQLITE_BUSY the way msb retries its writes (8 tries, 10 ms backoff doubling to 500 ms).
class Transaction {
 public:
  Transaction(Connection& conn, Connection::Mode mode);
  ~Transaction();
  void Commit();

 private:
  Connection& conn_;
  bool open_ = false;
  bool write_ = false;
};

}  // namespace msb

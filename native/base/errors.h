// Errors raised by native work. Execute() runs off the JS thread, so failures are carried
// as plain data (CacheError) and turned into JS Error objects only in OnOK/OnError.
#pragma once
#include <napi.h>

#include <exception>
#include <string>
#include <vector>

namespace msb {

// Codes match the TypeScript error classes (lib/errors.ts maps code -> class).
namespace code {
inline constexpr const char* kImageNotFound = "imageNotFound";
inline constexpr const char* kImageInUse = "imageInUse";
inline constexpr const char* kInvalidReference = "invalidReference";
inline constexpr const char* kAmbiguousReference = "ambiguousReference";
inline constexpr const char* kDatabase = "database";
inline constexpr const char* kDatabaseCorrupt = "databaseCorrupt";
inline constexpr const char* kDatabaseBusy = "databaseBusy";
inline constexpr const char* kDatabaseReadOnly = "databaseReadOnly";
inline constexpr const char* kSchemaUnsupported = "schemaUnsupported";
inline constexpr const char* kMaintenance = "maintenanceInProgress";
inline constexpr const char* kCacheClosed = "cacheClosed";
inline constexpr const char* kPruneInProgress = "pruneInProgress";
inline constexpr const char* kAborted = "aborted";
inline constexpr const char* kHomeConfig = "homeConfig";
inline constexpr const char* kHomeNotFound = "homeNotFound";
inline constexpr const char* kCacheDirInvalid = "cacheDirInvalid";
inline constexpr const char* kPermissionDenied = "permissionDenied";
inline constexpr const char* kInternal = "internal";
}  // namespace code

struct CacheError : std::exception {
  CacheError(std::string c, std::string m) : code(std::move(c)), message(std::move(m)) {}
  const char* what() const noexcept override { return message.c_str(); }

  std::string code;
  std::string message;
  // Optional details, copied onto the JS error when non-empty.
  std::string reference;
  std::vector<std::string> sandboxes;   // imageInUse: sandbox names
  std::vector<std::string> snapshots;   // imageInUse: snapshot names (or digests)
  std::vector<std::string> candidates;  // ambiguousReference: stored references
  std::vector<std::string> missing;     // schemaUnsupported: "table" or "table.column"
  int sqliteCode = 0;                   // extended SQLite result code, when one caused it
  std::string path;                     // homeNotFound, cacheDirInvalid, permissionDenied: the path concerned
  std::string problem;                  // cacheDirInvalid: "missing", "not-a-directory", "not-msb-layout"
};

Napi::Error ToJsError(Napi::Env env, const CacheError& e);

}  // namespace msb

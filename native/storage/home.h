// Where a microsandbox home keeps its database and cache (format spec §1).
#pragma once
#include <optional>
#include <string>

#include "base/errors.h"

namespace msb {

// Everything the facade knows when the cache is created: options and a snapshot of the
// environment taken on the JS thread (process.env may differ from the C environment).
struct HomeOptions {
  std::optional<std::string> home;      // explicit option
  std::optional<std::string> cacheDir;  // explicit option
  std::optional<std::string> envMsbHome;
  std::optional<std::string> envConfigPath;
  std::optional<std::string> userHome;  // os.homedir()
};

struct HomePaths {
  std::string home;
  std::string configPath;
  std::string dbPath;
  std::string cacheDir;
};

// Precedence: explicit option > MSB_HOME > config.json (`home`, `paths.cache`) > ~/.microsandbox.
// Reads config.json, so it runs on a worker thread. Throws CacheError: homeConfig; homeNotFound when
// a home named explicitly (option, MSB_HOME, config.json's `home`) does not exist, or any home is not
// a directory (only the implicit default may be absent: msb not used yet); permissionDenied.
HomePaths ResolveHome(const HomeOptions& options);

// permissionDenied for `path` (what: "cannot read the microsandbox config file"): names the path
// that refused — `path` itself, or the first ancestor directory this process may not enter.
CacheError PermissionDenied(const std::string& what, const std::string& path);

// Whether `dir` is usable as msb's cache directory: "" when it is; else "missing",
// "not-a-directory" or "not-msb-layout" (a directory without any of layers/, fsmeta/, vmdk/,
// manifests/). Throws permissionDenied when the process may not look.
std::string CacheDirProblem(const std::string& dir);

// cacheDirInvalid for a cache directory with that problem, while the database at dbPath has rows.
CacheError CacheDirInvalid(const std::string& dir, const std::string& problem, const std::string& dbPath,
                           const std::string& refusing);

}  // namespace msb

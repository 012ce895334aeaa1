// Where a microsandbox home keeps its database and cache (format spec §1).
#pragma once
#include <optional>
#include <string>

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
// Reads config.json, so it runs on a worker thread. Throws CacheError(homeConfig).
HomePaths ResolveHome(const HomeOptions& options);

}  // namespace msb

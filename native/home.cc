#include "home.h"

#include <sqlite3.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "errors.h"

namespace msb {
namespace {

struct ConfigValues {
  std::optional<std::string> home;
  std::optional<std::string> cache;
};

[[noreturn]] void ConfigFail(const std::string& path, const std::string& why) {
  throw CacheError(code::kHomeConfig, "cannot use the microsandbox config file " + path + ": " + why);
}

// Reads `home` and `paths.cache` with SQLite's JSON functions (strict JSON, like msb's parser),
// so the addon carries no second JSON library.
ConfigValues ReadConfig(const std::string& path) {
  ConfigValues out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT || errno == ENOTDIR) return out;  // missing file = defaults
    ConfigFail(path, std::strerror(errno));
  }
  std::ostringstream text;
  text << in.rdbuf();
  std::string json = text.str();

  sqlite3* db = nullptr;
  if (sqlite3_open_v2(":memory:", &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_MEMORY, nullptr) != SQLITE_OK) {
    sqlite3_close(db);
    ConfigFail(path, "cannot start the JSON reader");
  }
  sqlite3_stmt* stmt = nullptr;
  const char* sql =
      "SELECT json_valid(?1), json_type(?1, '$.home'), json_extract(?1, '$.home'), "
      "json_type(?1, '$.paths.cache'), json_extract(?1, '$.paths.cache')";
  std::string error;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK) {
    sqlite3_bind_text(stmt, 1, json.data(), int(json.size()), SQLITE_STATIC);
    if (sqlite3_step(stmt) == SQLITE_ROW) {
      auto text = [&](int col) { return std::string(reinterpret_cast<const char*>(sqlite3_column_text(stmt, col))); };
      if (sqlite3_column_int(stmt, 0) != 1) {
        error = "not valid JSON";
      } else {
        if (sqlite3_column_type(stmt, 1) != SQLITE_NULL) {
          if (text(1) == "text") out.home = text(2);
          else if (text(1) != "null") error = "\"home\" is not a string";
        }
        if (sqlite3_column_type(stmt, 3) != SQLITE_NULL) {
          if (text(3) == "text") out.cache = text(4);
          else if (text(3) != "null") error = "\"paths.cache\" is not a string";
        }
      }
    } else {
      error = sqlite3_errmsg(db);
    }
  } else {
    error = sqlite3_errmsg(db);
  }
  sqlite3_finalize(stmt);
  sqlite3_close(db);
  if (!error.empty()) ConfigFail(path, error);
  return out;
}

std::string Join(const std::string& dir, const char* leaf) {
  if (!dir.empty() && dir.back() == '/') return dir + leaf;
  return dir + "/" + leaf;
}

}  // namespace

HomePaths ResolveHome(const HomeOptions& o) {
  std::string baseHome;
  if (o.home) {
    baseHome = *o.home;
  } else if (o.envMsbHome && !o.envMsbHome->empty()) {
    baseHome = *o.envMsbHome;
  } else if (o.userHome && !o.userHome->empty()) {
    baseHome = Join(*o.userHome, ".microsandbox");
  } else {
    baseHome = "./.microsandbox";
  }
  HomePaths p;
  p.configPath = o.envConfigPath && !o.envConfigPath->empty() ? *o.envConfigPath : Join(baseHome, "config.json");
  ConfigValues config = ReadConfig(p.configPath);
  // config.json's `home` moves everything but the config file, unless an option or MSB_HOME
  // named the home explicitly.
  bool explicitHome = o.home || (o.envMsbHome && !o.envMsbHome->empty());
  p.home = !explicitHome && config.home && !config.home->empty() ? *config.home : baseHome;
  p.dbPath = Join(Join(p.home, "db"), "msb.db");
  if (o.cacheDir) {
    p.cacheDir = *o.cacheDir;
  } else if (config.cache && !config.cache->empty()) {
    p.cacheDir = *config.cache;
  } else {
    p.cacheDir = Join(p.home, "cache");
  }
  return p;
}

}  // namespace msb

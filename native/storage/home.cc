#include "storage/home.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

#include "base/errors.h"

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
    if (errno == EACCES) throw PermissionDenied("cannot read the microsandbox config file", path);
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

// A home that is named (explicit) must exist; any home that exists must be a directory.
void CheckHome(const std::string& home, bool named, const std::string& source) {
  struct stat st;
  if (stat(home.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode)) return;
    CacheError e(code::kHomeNotFound, "the microsandbox home " + home + " (" + source +
                                          ") is not a directory; nothing was read. Give the directory that holds db/msb.db");
    e.path = home;
    throw e;
  }
  int err = errno;
  if (err == EACCES) throw PermissionDenied("cannot reach the microsandbox home", home);
  if (err == ENOENT && !named) return;  // the default home before msb's first run: no images
  CacheError e(code::kHomeNotFound,
               "the microsandbox home " + home + " (" + source + ") " +
                   (err == ENOENT ? std::string("does not exist")
                    : err == ENOTDIR ? std::string("is not a directory (a part of the path is a file)")
                                     : std::string("cannot be used: ") + std::strerror(err)) +
                   "; nothing was read. Check the path (msb creates a home at its first command)");
  e.path = home;
  throw e;
}

}  // namespace

CacheError PermissionDenied(const std::string& what, const std::string& path) {
  // The first ancestor this process may not enter, else the path itself.
  std::string refused = path;
  for (size_t at = path.find('/', 1); at != std::string::npos; at = path.find('/', at + 1)) {
    std::string dir = path.substr(0, at);
    if (access(dir.c_str(), X_OK) != 0 && errno == EACCES) {
      refused = dir;
      break;
    }
  }
  std::string message = "permission denied: " + what + " " + path;
  if (refused != path) message += " (this process may not enter " + refused + ")";
  message += "; nothing was changed. Run as a user who may read it (msb's own user), or fix its permissions";
  CacheError e(code::kPermissionDenied, message);
  e.path = refused;
  return e;
}

std::string CacheDirProblem(const std::string& dir) {
  struct stat st;
  if (stat(dir.c_str(), &st) != 0) {
    if (errno == EACCES) throw PermissionDenied("cannot reach the cache directory", dir);
    return errno == ENOTDIR ? "not-a-directory" : "missing";
  }
  if (!S_ISDIR(st.st_mode)) return "not-a-directory";
  int fd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) {
    if (errno == EACCES) throw PermissionDenied("cannot read the cache directory", dir);
    return "missing";
  }
  bool layout = false;
  for (const char* sub : {"layers", "fsmeta", "vmdk", "manifests"}) {
    struct stat s;
    if (fstatat(fd, sub, &s, 0) == 0 && S_ISDIR(s.st_mode)) layout = true;
  }
  close(fd);
  return layout ? "" : "not-msb-layout";
}

CacheError CacheDirInvalid(const std::string& dir, const std::string& problem, const std::string& dbPath,
                           const std::string& refusing) {
  std::string what = problem == "missing"           ? "does not exist"
                     : problem == "not-a-directory" ? "is not a directory"
                                                    : "is not msb's cache (none of layers/, fsmeta/, vmdk/, manifests/ is in it)";
  CacheError e(code::kCacheDirInvalid,
               "the cache directory " + dir + " " + what + ", but the database " + dbPath +
                   " lists images: " + refusing +
                   ". Check the home, the cacheDir option and config.json's paths.cache; if the files are really gone, "
                   "msb image prune clears the rows");
  e.path = dir;
  e.problem = problem;
  return e;
}

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
  bool fromConfig = !explicitHome && config.home && !config.home->empty();
  p.home = fromConfig ? *config.home : baseHome;
  CheckHome(p.home, explicitHome || fromConfig,
            o.home ? "given as the home option, CLI --home"
            : explicitHome ? "from MSB_HOME"
            : fromConfig ? "from \"home\" in " + p.configPath
                         : "the default home");
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

#!/usr/bin/env bash
# Refreshes deps/sqlite from the upstream amalgamation shipped, unmodified, inside the
# sqlite3 npm tarball (the only place these machines can fetch it from; see toolchain.md).
# Usage: scripts/vendor-sqlite.sh [sqlite3-npm-version] [autoconf-tarball-name]
set -euo pipefail
npm_version=${1:-6.0.1}
autoconf=${2:-sqlite-autoconf-3520000}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
npm pack --silent "sqlite3@${npm_version}" >/dev/null
tar -xzf "sqlite3-${npm_version}.tgz" "package/deps/${autoconf}.tar.gz"
tarball_sha=$(sha256sum "package/deps/${autoconf}.tar.gz" | cut -d' ' -f1)
tar -xzf "package/deps/${autoconf}.tar.gz"
dest="$root/deps/sqlite"
mkdir -p "$dest"
for f in sqlite3.c sqlite3.h sqlite3ext.h; do cp "${autoconf}/$f" "$dest/$f"; done
version=$(sed -n 's/^#define SQLITE_VERSION *"\(.*\)"/\1/p' "$dest/sqlite3.h")
{
  echo "SQLite ${version}, amalgamation from ${autoconf}.tar.gz (unmodified upstream),"
  echo "taken from the npm tarball sqlite3@${npm_version} (package/deps/${autoconf}.tar.gz)."
  echo "Refresh with: scripts/vendor-sqlite.sh ${npm_version} ${autoconf}"
  echo
  echo "sha256:"
  echo "${tarball_sha}  ${autoconf}.tar.gz"
  (cd "$dest" && sha256sum sqlite3.c sqlite3.h sqlite3ext.h)
} > "$dest/VERSION"
cat "$dest/VERSION"

#!/usr/bin/env bash
# Make sure the programs the tests run, besides msb (scripts/install-msb.sh), are here, so that
# `npm ci && npm test` works on a bare machine: erofs-utils (mkfs.erofs makes real EROFS images, dump.erofs and
# fsck.erofs are the independent oracles the format and fixture tests check our reader against) and python3
# (the tests write SQL into msb's database with its sqlite3 module). Idempotent: does nothing when all are there.
# Missing erofs-utils is installed with apt-get when running as root on Debian/Ubuntu; anywhere else the
# script fails with the exact command to run, never letting the tests skip or fail later for a missing tool.
set -euo pipefail

missing=()
for tool in mkfs.erofs dump.erofs fsck.erofs; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done

if ((${#missing[@]} > 0)); then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "install-test-tools: ${missing[*]} missing; installing erofs-utils with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq erofs-utils >/dev/null
  else
    {
      echo "install-test-tools: the tests need ${missing[*]} (erofs-utils), which is not installed."
      if command -v apt-get >/dev/null; then
        echo "  run: sudo apt-get install -y erofs-utils   (then npm test again)"
      elif command -v dnf >/dev/null; then
        echo "  run: sudo dnf install -y erofs-utils   (then npm test again)"
      elif command -v apk >/dev/null; then
        echo "  run: sudo apk add erofs-utils   (then npm test again)"
      else
        echo "  install erofs-utils (mkfs.erofs, dump.erofs, fsck.erofs) with your package manager, then npm test again"
      fi
    } >&2
    exit 1
  fi
  for tool in "${missing[@]}"; do
    command -v "$tool" >/dev/null || { echo "install-test-tools: $tool is still missing after installing erofs-utils" >&2; exit 1; }
  done
fi

python3 -c 'import sqlite3' 2>/dev/null || {
  echo "install-test-tools: the tests need python3 with its sqlite3 module (run: sudo apt-get install -y python3)" >&2
  exit 1
}
echo "install-test-tools: mkfs.erofs, dump.erofs, fsck.erofs and python3 ok"

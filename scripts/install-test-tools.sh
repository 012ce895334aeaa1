#!/usr/bin/env bash
# Make sure the programs the tests run, besides msb (scripts/install-msb.sh), are here, so that
# `npm ci && npm test` works on a bare machine: erofs-utils (mkfs.erofs makes real EROFS images, dump.erofs and
# fsck.erofs are the independent oracles the format and fixture tests check our reader against), python3
# (the tests write SQL into msb's database with its sqlite3 module) and libfaketime (package faketime).
# Idempotent: does nothing when all are there.
# Missing erofs-utils or faketime is installed with apt-get when running as root on Debian/Ubuntu; anywhere else the
# script fails with the exact command to run, never letting the tests skip or fail later for a missing tool.
set -euo pipefail

missing=()   # what is missing, to name it
packages=()  # the Debian packages that bring it
for tool in mkfs.erofs dump.erofs fsck.erofs; do
  command -v "$tool" >/dev/null || missing+=("$tool")
done
((${#missing[@]} == 0)) || packages+=(erofs-utils)
# libfaketime: the in-flight tests run one instance two hours ahead, so every file is "old" to it
# (test/support/faketime.ts looks for the library in the same places).
faketime_lib() {
  for d in /usr/lib/x86_64-linux-gnu /usr/lib/aarch64-linux-gnu /usr/lib64 /usr/lib /usr/local/lib; do
    [[ -f "$d/faketime/libfaketime.so.1" ]] && return 0
  done
  return 1
}
faketime_lib || { missing+=(libfaketime); packages+=(faketime); }

if ((${#missing[@]} > 0)); then
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    echo "install-test-tools: ${missing[*]} missing; installing ${packages[*]} with apt-get"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${packages[@]}" >/dev/null
  else
    {
      echo "install-test-tools: the tests need ${missing[*]} (${packages[*]}), which is not installed."
      if command -v apt-get >/dev/null; then
        echo "  run: sudo apt-get install -y ${packages[*]}   (then npm test again)"
      elif command -v dnf >/dev/null; then
        echo "  run: sudo dnf install -y ${packages[*]/faketime/libfaketime}   (then npm test again)"
      elif command -v apk >/dev/null; then
        echo "  run: sudo apk add ${packages[*]/faketime/libfaketime}   (then npm test again)"
      else
        echo "  install ${packages[*]} with your package manager, then npm test again"
      fi
    } >&2
    exit 1
  fi
  for tool in mkfs.erofs dump.erofs fsck.erofs; do
    command -v "$tool" >/dev/null || { echo "install-test-tools: $tool is still missing after installing erofs-utils" >&2; exit 1; }
  done
  faketime_lib || { echo "install-test-tools: libfaketime.so.1 is still missing after installing faketime" >&2; exit 1; }
fi

python3 -c 'import sqlite3' 2>/dev/null || {
  echo "install-test-tools: the tests need python3 with its sqlite3 module (run: sudo apt-get install -y python3)" >&2
  exit 1
}
echo "install-test-tools: mkfs.erofs, dump.erofs, fsck.erofs, libfaketime and python3 ok"
